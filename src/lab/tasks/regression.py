"""Sequence regression (e.g. STS-B similarity): one number per text or text pair.

The data side is `TextClassificationDataModule` with `data.problem_type=regression`; the
head has one output and a mean-squared-error loss. `lab.predict` / `lab.serve` use
`lab.tasks.text_classification.predictor.SequenceClassificationPredictor` (a `score` per row).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torchmetrics import (
    MeanAbsoluteError,
    MeanSquaredError,
    MetricCollection,
    PearsonCorrCoef,
    SpearmanCorrCoef,
)

from lab.tasks.base import OptimizerFactory, SchedulerFactory, TaskModule

if TYPE_CHECKING:
    from transformers import PreTrainedModel


class RegressionModule(TaskModule):
    """Metric keys: `val/pearson` (optimized), `val/spearman`, `val/mse`, `val/mae`,
    `val/loss`; and `test/...`."""

    progress_bar_metrics = ("pearson",)

    def __init__(
        self,
        model: PreTrainedModel,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
    ) -> None:
        super().__init__(model, optimizer, scheduler)
        metrics = MetricCollection(
            {
                "pearson": PearsonCorrCoef(),
                "spearman": SpearmanCorrCoef(),
                "mse": MeanSquaredError(),
                "mae": MeanAbsoluteError(),
            }
        )
        self.metrics = torch.nn.ModuleDict(
            {"val": metrics.clone(prefix="val/"), "test": metrics.clone(prefix="test/")}
        )

    def evaluation_step(self, batch: dict[str, torch.Tensor], stage: str) -> None:
        output = self.model(**batch)
        self.log_eval_loss(stage, output.loss, batch["labels"].shape[0])
        metrics: MetricCollection = self.metrics[stage]  # type: ignore[assignment]
        metrics.update(output.logits.squeeze(-1).float(), batch["labels"].float())

    def evaluation_metrics(self, stage: str) -> dict[str, torch.Tensor]:
        metrics: MetricCollection = self.metrics[stage]  # type: ignore[assignment]
        values = metrics.compute()
        metrics.reset()
        return values
