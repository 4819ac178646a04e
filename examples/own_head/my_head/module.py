"""The head's LightningModule: a score in [0, score_max] (a sigmoid of the model's one output),
Huber loss, Spearman correlation and mean absolute error."""

from __future__ import annotations

from typing import Any

import torch
from torchmetrics import MeanAbsoluteError, MetricCollection, SpearmanCorrCoef

from lab.tasks.base import OptimizerFactory, SchedulerFactory, TaskModule


class BoundedScoreModule(TaskModule):
    progress_bar_metrics = ("spearman",)  # shown on the progress bar as val/spearman

    # model, optimizer, scheduler: what lab builds (plus the data module's module_kwargs());
    # score_max and any other argument: from the task YAML's `module:` node.
    def __init__(
        self,
        model: Any,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        score_max: float = 5.0,
    ) -> None:
        super().__init__(model, optimizer, scheduler)
        self.score_max = score_max
        self.loss_fn = torch.nn.HuberLoss(delta=0.5)
        metrics = MetricCollection({"spearman": SpearmanCorrCoef(), "mae": MeanAbsoluteError()})
        # keyed `<stage>/<name>`: val/spearman, test/mae, ...
        self.metrics = torch.nn.ModuleDict(
            {"val": metrics.clone(prefix="val/"), "test": metrics.clone(prefix="test/")}
        )

    def score(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        inputs = {key: value for key, value in batch.items() if key != "labels"}
        logits = self.model(**inputs).logits.squeeze(-1).float()
        return torch.sigmoid(logits) * self.score_max, batch["labels"].float()

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        predicted, gold = self.score(batch)
        loss = self.loss_fn(predicted, gold)
        self.log_train_loss(loss, gold.shape[0])  # train/loss
        return loss

    def evaluation_step(self, batch: dict[str, torch.Tensor], stage: str) -> None:
        predicted, gold = self.score(batch)
        self.log_eval_loss(stage, self.loss_fn(predicted, gold), gold.shape[0])  # val/loss
        self.metrics[stage].update(predicted, gold)

    def evaluation_metrics(self, stage: str) -> dict[str, torch.Tensor]:
        values = self.metrics[stage].compute()
        self.metrics[stage].reset()
        return values

    def evaluation_report(self, stage: str) -> dict[str, Any]:  # optional: test_report.json
        return {"score_range": [0.0, self.score_max]}
