"""`FillMaskPredictor`: what `lab.predict` and `lab.serve` do with a masked-LM run.

It works from the exported model alone and imports inference-side code only, never the
training module or the data module, so serving does not load Lightning.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from lab.inference.predictors import Predictor

if TYPE_CHECKING:
    from omegaconf import DictConfig


class FillMaskPredictor(Predictor):
    """The likeliest tokens at each mask token of `text`: `filled_text` (each mask replaced
    by its first guess) and `predictions` (per mask, the `top_k` tokens and probabilities)."""

    outputs = ("filled_text", "predictions")

    def __init__(self, model: Any, tokenizer: Any, cfg: DictConfig, top_k: int = 5) -> None:
        super().__init__(model, tokenizer, cfg)
        self.top_k = top_k

    def check(self, row: dict[str, Any]) -> str | None:
        """The text must hold the tokenizer's mask token."""
        problem = super().check(row)
        if problem is None and self.tokenizer.mask_token not in row["text"]:
            return f"field 'text' has no mask token {self.tokenizer.mask_token}"
        return problem

    def predict(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """One result per row (see the class doc)."""
        inputs = self.tokenizer(
            [row["text"] for row in rows],
            return_tensors="pt",
            padding=True,
            truncation=True,
            max_length=self.max_length,
        ).to(self.device)
        with torch.no_grad():
            logits = self.model(**inputs).logits
        # Embedding tables are often padded beyond the tokenizer (tiny_bert: 2048 rows for 775
        # tokens, ModernBERT 50368 for 50280): a row no token names cannot be a guess.
        logits[..., len(self.tokenizer) :] = float("-inf")
        probabilities = logits.softmax(dim=-1)
        results = []
        for ids, probs in zip(inputs["input_ids"], probabilities, strict=True):
            guesses = []
            filled = ids.clone()
            for position in (ids == self.tokenizer.mask_token_id).nonzero().flatten().tolist():
                top = probs[position].topk(self.top_k)
                tokens = self.tokenizer.convert_ids_to_tokens(top.indices.tolist())
                guesses.append(
                    [
                        {"token": token, "score": round(float(score), 6)}
                        for token, score in zip(tokens, top.values.tolist(), strict=True)
                    ]
                )
                filled[position] = top.indices[0]
            text = self.tokenizer.decode(filled, skip_special_tokens=True)
            results.append({"filled_text": text, "predictions": guesses})
        return results
