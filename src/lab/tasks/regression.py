"""Sequence regression (e.g. STS-B similarity): one number per text or text pair.

The data side is `TextClassificationDataModule` with `data.problem_type=regression`; the
head has one output and a mean-squared-error loss. `lab.predict` / `lab.serve` use
`lab.tasks.text_classification.predictor.SequenceClassificationPredictor` (a `score` per row).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from datasets import Dataset
from torchmetrics import (
    MeanAbsoluteError,
    MeanSquaredError,
    MetricCollection,
    PearsonCorrCoef,
    SpearmanCorrCoef,
)

from lab.tasks.base import OptimizerFactory, SchedulerFactory, TaskModule
from lab.tasks.text_classification.arrow_labels import label_array

if TYPE_CHECKING:
    from transformers import PreTrainedModel

log = logging.getLogger(__name__)


# Targets whose mean or spread passes this many units get `scale_hint`: the head starts near
# 0 and moves a little per step, so it reaches such values slowly, while the squared error at
# that scale swamps the gradients (STS-B's 0-5, ratings 1-5 and z-scores are well inside).
LARGE_TARGET_SCALE = 100.0


def scale_hint(targets: Any) -> str | None:
    """A warning for regression `targets` (the train split's labels) of a large scale (see
    `LARGE_TARGET_SCALE`), or None."""
    values = np.asarray(targets, dtype=np.float64)
    if not values.size:
        return None
    mean, spread = float(values.mean()), float(values.std())
    if max(abs(mean), spread) <= LARGE_TARGET_SCALE:
        return None
    return (
        f"regression targets run from {values.min():.4g} to {values.max():.4g} (mean "
        f"{mean:.4g}, std {spread:.4g}): the head starts near 0 and its squared-error loss "
        "is of their scale squared, so training at this scale learns little; standardise "
        "them in the data ((y - mean) / std: predictions are then in those units) or rescale "
        "them to a few units"
    )


def warn_of_large_targets(datamodule: Any) -> None:
    """Log `scale_hint` of `datamodule`'s loaded train split, if it has one to give (streamed
    data has no split to read: nothing)."""
    train = (getattr(datamodule, "datasets", None) or {}).get("train")
    if isinstance(train, Dataset) and "labels" in train.column_names:
        hint = scale_hint(label_array(train, "labels").to_numpy())
        if hint:
            log.warning(hint)


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

    def on_fit_start(self) -> None:
        """Warn of targets whose scale the head cannot learn well (`scale_hint`)."""
        warn_of_large_targets(getattr(self.trainer, "datamodule", None))

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
