"""`SequenceClassificationPredictor`: what `lab.predict` and `lab.serve` do with a sequence
classification run, whatever its `data.problem_type` (single-label, multi-label, regression).

It works from the exported model alone and imports no data or training module, so serving
does not load Lightning.
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


class SequenceClassificationPredictor(Predictor):
    """Single-label (`label`, `probabilities`), multi-label (`labels` over each class's
    threshold, `probabilities`) or regression (`score`), by the run's `data.problem_type`;
    a row cut at `data.max_length` also `truncated` (`lab.inference.cuts`)."""

    settings = ("threshold",)  # a multi-label run's (only its task.module has one)

    def __init__(self, model: Any, tokenizer: Any, cfg: DictConfig) -> None:
        super().__init__(model, tokenizer, cfg)
        self.text_field = str(cfg.data.get("text_column") or "text")
        self.pair_field = cfg.data.get("text_pair_column")
        self.fields = (self.text_field, *([str(self.pair_field)] if self.pair_field else []))
        self.problem = str(cfg.data.get("problem_type") or "single_label")
        self.labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
        threshold = cfg.task.module.get("threshold", 0.5)
        self.thresholds = (
            [float(t) for t in threshold]
            if isinstance(threshold, Sequence) and not isinstance(threshold, str)
            else [float(threshold)] * len(self.labels)
        )
        if len(self.thresholds) != len(self.labels):  # a list set at predict time
            from lab.config.rules import threshold_count_message

            raise ConfigError(threshold_count_message(len(self.thresholds), len(self.labels)))
        self.cut_rows = 0  # rows cut at data.max_length (`notes`)
        self.outputs = {
            "single_label": ("label", "probabilities", TRUNCATED),
            "multi_label": ("labels", "probabilities", TRUNCATED),
            "regression": ("score", TRUNCATED),
        }[self.problem]

    def notes(self) -> list[str]:
        """How many rows ran past `data.max_length` tokens, if any (their results read the
        rows as training read them: cut)."""
        if not self.cut_rows:
            return []
        return [cut_note(self.cut_rows, self.cut_setting, self.max_length, self.tokenizer)]

    def predict(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """One result per row (see the class doc for the keys)."""
        texts = [row[self.text_field] for row in rows]
        pairs = [row[str(self.pair_field)] for row in rows] if self.pair_field else None
        encoded = self.tokenizer(
            texts,
            pairs,
            truncation=True,
            max_length=self.max_length,
            padding=True,
            return_tensors="pt",
        )
        # Rows cut at max_length, as training counts them (`lab.data.cut_counts`).
        cuts = input_cuts(self.tokenizer, encoded, texts, pairs)
        inputs = encoded.to(self.device)
        with torch.no_grad():
            logits = self.model(**inputs).logits.float()
        results = self.results(logits)
        self.cut_rows += with_cuts(results, cuts)  # once the batch is done: a retry not twice
        return results

    def results(self, logits: torch.Tensor) -> list[dict[str, Any]]:
        """Each row's result from its logits, by the run's problem type."""
        if self.problem == "regression":
            return [{"score": float(v)} for v in logits[:, 0].tolist()]
        if self.problem == "multi_label":
            return [
                {
                    "labels": [
                        name
                        for name, p, t in zip(self.labels, row, self.thresholds, strict=True)
                        if p >= t
                    ],
                    "probabilities": dict(zip(self.labels, row, strict=True)),
                }
                for row in torch.sigmoid(logits).tolist()
            ]
        return [
            {
                "label": self.labels[max(range(len(row)), key=row.__getitem__)],
                "probabilities": dict(zip(self.labels, row, strict=True)),
            }
            for row in torch.softmax(logits, dim=-1).tolist()
        ]
