"""`FillMaskPredictor`: what `lab.predict` and `lab.serve` do with a masked-LM run.

It works from the exported model alone and imports inference-side code only, never the
training module or the data module, so serving does not load Lightning.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from lab.errors import ConfigError
from lab.inference.cuts import TRUNCATED, cut_note, input_cuts, with_cuts
from lab.inference.predictors import Predictor

if TYPE_CHECKING:
    from omegaconf import DictConfig


class FillMaskPredictor(Predictor):
    """The likeliest tokens at each mask token of `text`: `filled_text` (each mask replaced
    by its first guess) and `predictions` (per mask, the `top_k` tokens and probabilities).

    A text is read up to `data.max_length` tokens (the tokenizer's `model_max_length` where
    the run set none); a text whose masks lie past it is refused (`check`), one cut after its
    last mask is guessed from the tokens before the cut: its result has `truncated` too, and
    `notes` counts such rows (`lab.inference.cuts`). Training read blocks of joined rows, so
    the note does not say "as in training"."""

    outputs = ("filled_text", "predictions", TRUNCATED)
    #: what the cut leaves, in `lab.predict`'s note and `lab.serve`'s log line
    cut_read = "the guesses seeing only the tokens read"

    def __init__(self, model: Any, tokenizer: Any, cfg: DictConfig, top_k: int = 5) -> None:
        super().__init__(model, tokenizer, cfg)
        config = getattr(model, "config", None)
        # The guesses are the tokenizer's tokens: rows of the embedding table past them (a
        # table padded to a round size) are never guessed (`predict`), so they do not count.
        vocabulary = min(int(getattr(config, "vocab_size", 0) or len(tokenizer)), len(tokenizer))
        if top_k > vocabulary:  # past it: torch's `topk` fails, or guesses no token names
            raise ConfigError(
                f"task.predictor.top_k={top_k} is more guesses than the tokenizer has tokens "
                f"({vocabulary}); give at most {vocabulary}"
            )
        self.top_k = top_k
        if not cfg.data.get("max_length"):  # the base class's fallback: name what cuts
            self.cut_setting = "the tokenizer's model_max_length"
        self.cut_rows = 0  # texts cut at max_length (`notes`)

    def notes(self) -> list[str]:
        """How many texts ran past the tokens read, if any."""
        if not self.cut_rows:
            return []
        read = self.cut_read
        return [
            cut_note(self.cut_rows, self.cut_setting, self.max_length, self.tokenizer, read=read)
        ]

    def check(self, row: dict[str, Any]) -> str | None:
        """The text must hold the tokenizer's mask token, every one of them within the
        model's length (a mask past the cut would get no guess, silently)."""
        problem = super().check(row)
        mask = self.tokenizer.mask_token
        if problem is not None:
            return problem
        if mask not in row["text"]:
            return f"field 'text' has no mask token {mask}"
        ids = self.tokenizer(row["text"], truncation=True, max_length=self.max_length)["input_ids"]
        kept, written = ids.count(self.tokenizer.mask_token_id), row["text"].count(mask)
        if kept < written:
            return (
                f"field 'text' has {written} mask{'s' if written > 1 else ''}, "
                f"{written - kept} of {'them' if written > 1 else 'it'} past the "
                f"{self.max_length} tokens the model reads at once: shorten or split the text"
            )
        return None

    def predict(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """One result per row (see the class doc)."""
        texts = [row["text"] for row in rows]
        encoded = self.tokenizer(
            texts, return_tensors="pt", padding=True, truncation=True, max_length=self.max_length
        )
        cuts = input_cuts(self.tokenizer, encoded, texts)
        inputs = encoded.to(self.device)
        with torch.no_grad():
            logits = self.model(**inputs).logits
        # Embedding tables are often padded beyond the tokenizer (tiny_bert: 2048 rows for 775
        # tokens, ModernBERT 50368 for 50280): a row no token names cannot be a guess.
        logits[..., len(self.tokenizer) :] = float("-inf")
        probabilities = logits.softmax(dim=-1)
        results = []
        for row, ids, probs in zip(rows, inputs["input_ids"], probabilities, strict=True):
            guesses = []
            for position in (ids == self.tokenizer.mask_token_id).nonzero().flatten().tolist():
                top = probs[position].topk(self.top_k)
                tokens = self.tokenizer.convert_ids_to_tokens(top.indices.tolist())
                guesses.append(
                    [
                        {"token": token, "score": round(float(score), 6)}
                        for token, score in zip(tokens, top.values.tolist(), strict=True)
                    ]
                )
            filled = self.fill(row["text"], [guess[0]["token"] for guess in guesses])
            results.append({"filled_text": filled, "predictions": guesses})
        # Counted once the batch is done: a row retried alone is not counted twice.
        self.cut_rows += with_cuts(results, cuts)
        return results

    def fill(self, text: str, tokens: Sequence[str]) -> str:
        """`text` with its masks, in order, replaced by `tokens` (as text) and nothing else
        changed: decoding the whole sequence instead dropped unknown characters and
        lower-cased or re-spaced the rest with an uncased vocabulary."""
        mask, parts = self.tokenizer.mask_token, text.split(self.tokenizer.mask_token)
        out = [parts[0]]
        for token, after in zip(tokens, parts[1:], strict=True):
            piece = self.token_text(token)
            # A word's first token carries its own leading space (" old"): not after a space
            # or at the start; a continuation piece ("ventive") joins the text before it.
            # A continuation guessed where a word starts is no word: shown as the token, so
            # WordPiece's "##ventive" keeps its marks ("happy ##ventive day", not "ventive").
            if out[-1][-1:].isspace() or not out[-1]:
                piece = piece.lstrip() if piece[:1].isspace() else token
            out.append(piece + after)
        return "".join(out) if len(tokens) == len(parts) - 1 else mask.join(parts)

    def token_text(self, token: str) -> str:
        """`token` as text where it follows another token: " old" for a word's first token
        (WordPiece "old", byte-level BPE "Ġold", SentencePiece "▁old"), "ventive" for a piece
        that continues a word (WordPiece "##ventive", which alone reads back as is)."""
        mask = self.tokenizer.mask_token
        joined = self.tokenizer.convert_tokens_to_string([mask, token])
        if joined.startswith(mask):
            return joined[len(mask) :]
        return self.tokenizer.convert_tokens_to_string([token])
