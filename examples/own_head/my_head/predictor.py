"""What lab.predict, lab.serve and lab.demo run on raw rows for this head."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from lab.inference.predictors import Predictor


class BoundedScorePredictor(Predictor):
    fields = ("text",)  # every row gives a non-empty `text` (lab.predict: columns.text=<column>)
    outputs = ("score",)  # the result keys: lab.predict's CSV header

    def predict(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        inputs = self.tokenizer(
            [row["text"] for row in rows],
            truncation=True,
            max_length=self.max_length,
            padding=True,
            return_tensors="pt",
        ).to(self.device)
        score_max = float(self.cfg.task.module.score_max)  # the run's config
        with torch.no_grad():
            logits = self.model(**inputs).logits.squeeze(-1).float()
        # Unrounded: a weak model's scores differ in the 5th decimal, and a rounded one ties
        # rows whose ranks (Spearman) it told apart.
        return [{"score": float(s)} for s in torch.sigmoid(logits) * score_max]
