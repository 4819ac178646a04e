"""Multi-label sequence classification: any number of classes per text (sigmoid per class).

The data side is `TextClassificationDataModule` with `data.problem_type=multi_label` (rows
hold a list of labels); the head's loss is binary cross-entropy per class. A class is
predicted when its probability reaches its threshold: one threshold for all
(`task.module.threshold=0.5`) or one per class in label order. `lab.predict` / `lab.serve`
use `lab.tasks.text_classification.predictor.SequenceClassificationPredictor` with the same
thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    MultilabelExactMatch,
    MultilabelF1Score,
    MultilabelPrecision,
    MultilabelRecall,
    MultilabelStatScores,
)

from lab.config.rules import threshold_count_message
from lab.errors import ConfigError
from lab.tasks.base import OptimizerFactory, SchedulerFactory, TaskModule

if TYPE_CHECKING:
    from transformers import PreTrainedModel


def predict_labels(logits: torch.Tensor, thresholds: torch.Tensor) -> torch.Tensor:
    """0/1 per class: sigmoid probability >= that class's threshold."""
    return (torch.sigmoid(logits) >= thresholds).long()


def per_class_scores(tp: int, fp: int, fn: int) -> dict[str, float | int]:
    """Precision, recall and F1 of one class from its counts (0.0 where a ratio has no
    denominator, sklearn's `zero_division=0`), its support `tp + fn` and the rows it was
    predicted for, `tp + fp` (a class with neither scores 0: `lab.eval_table`'s note)."""
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "support": tp + fn,
        "predicted": tp + fp,
    }


class MultiLabelClassificationModule(TaskModule):
    """Metric keys: `val/f1_micro` (optimized), `val/f1_macro`, `val/precision_micro`,
    `val/recall_micro`, `val/exact_match` (every class right), `val/loss`; and `test/...`."""

    progress_bar_metrics = ("f1_micro",)

    def __init__(
        self,
        model: PreTrainedModel,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        threshold: float | Sequence[float] = 0.5,
    ) -> None:
        super().__init__(model, optimizer, scheduler)
        num_labels = int(model.config.num_labels)  # type: ignore[arg-type]
        values = (
            [float(threshold)] * num_labels
            if isinstance(threshold, (int, float))
            else list(threshold)
        )
        if len(values) != num_labels:
            raise ConfigError(threshold_count_message(len(values), num_labels))
        self.register_buffer("thresholds", torch.tensor(values), persistent=False)
        metrics = MetricCollection(
            {
                "f1_micro": MultilabelF1Score(num_labels, average="micro"),
                "f1_macro": MultilabelF1Score(num_labels, average="macro"),
                "precision_micro": MultilabelPrecision(num_labels, average="micro"),
                "recall_micro": MultilabelRecall(num_labels, average="micro"),
                "exact_match": MultilabelExactMatch(num_labels),
            }
        )
        self.metrics = torch.nn.ModuleDict(
            {"val": metrics.clone(prefix="val/"), "test": metrics.clone(prefix="test/")}
        )
        # per class [tp, fp, tn, fn, support] of the test split: test_report.json's table
        self.test_counts = MultilabelStatScores(num_labels, average=None)

    def evaluation_step(self, batch: dict[str, torch.Tensor], stage: str) -> None:
        output = self.model(**batch)
        self.log_eval_loss(stage, output.loss, batch["labels"].shape[0])
        thresholds: Any = self.thresholds
        predictions = predict_labels(output.logits, thresholds)
        self._metrics(stage).update(predictions, batch["labels"].long())
        if stage == "test":
            self.test_counts.update(predictions, batch["labels"].long())

    def evaluation_metrics(self, stage: str) -> dict[str, torch.Tensor]:
        metrics = self._metrics(stage)
        values = metrics.compute()
        metrics.reset()
        return values

    def evaluation_report(self, stage: str) -> dict[str, Any]:
        """Per class of the test split: precision, recall, F1 (0 where undefined, as
        sklearn's `zero_division=0`) and support (rows that hold the class), the table
        GoEmotions-style results report beside the micro and macro averages."""
        if stage != "test":
            return {}
        counts = self.test_counts.compute().tolist()
        self.test_counts.reset()
        id2label: dict[int, str] = self.model.config.id2label  # type: ignore[assignment]
        return {"labels": [id2label[i] for i in range(len(counts))], "per_label": {
            id2label[i]: per_class_scores(tp, fp, fn) for i, (tp, fp, _, fn, _) in enumerate(counts)
        }}  # fmt: skip

    def _metrics(self, stage: str) -> MetricCollection:
        return self.metrics[stage]  # type: ignore[return-value]
