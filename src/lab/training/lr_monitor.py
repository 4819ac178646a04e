"""Lightning's `LearningRateMonitor`, logging once per optimizer step.

Lightning's monitor logs the learning rates at the start of every training batch whose step
is due for logging. With gradient accumulation (`trainer.accumulate_grad_batches=N`) the N
batches of one optimizer step share that step, so every rate was logged N times at the same
step: duplicate rows in metrics.csv, N points per step in W&B and TensorBoard. This one logs
a step's rates at its first batch only (the rates change only when the optimizer steps).
"""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import LearningRateMonitor


class StepLearningRateMonitor(LearningRateMonitor):  # type: ignore[misc]
    """`LearningRateMonitor` that logs each optimizer step's rates once (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._logged_step: int | None = None

    def on_train_batch_start(self, trainer: L.Trainer, *args: Any, **kwargs: Any) -> None:
        """Log the rates at the first batch of an optimizer step (Lightning: at every one)."""
        step = trainer.global_step
        if step == self._logged_step:
            return
        self._logged_step = step
        super().on_train_batch_start(trainer, *args, **kwargs)
