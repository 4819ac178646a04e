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
)

from lab.config.rules import threshold_count_message
from lab.errors import ConfigError
from lab.tasks.base import OptimizerFactory, SchedulerFactory, TaskModule

if TYPE_CHECKING:
    from transformers import PreTrainedModel


def predict_labels(logits: torch.Tensor, thresholds: torch.Tensor) -> torch.Tensor:
    """0/1 per class: sigmoid probability >= that class's threshold."""
    return (torch.sigmoid(logits) >= thresholds).long()


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

    def evaluation_step(self, batch: dict[str, torch.Tensor], stage: str) -> None:
        output = self.model(**batch)
        self.log_eval_loss(stage, output.loss, batch["labels"].shape[0])
        thresholds: Any = self.thresholds
        predictions = predict_labels(output.logits, thresholds)
        self._metrics(stage).update(predictions, batch["labels"].long())

    def evaluation_metrics(self, stage: str) -> dict[str, torch.Tensor]:
        metrics = self._metrics(stage)
        values = metrics.compute()
        metrics.reset()
        return values

    def _metrics(self, stage: str) -> MetricCollection:
        return self.metrics[stage]  # type: ignore[return-value]
