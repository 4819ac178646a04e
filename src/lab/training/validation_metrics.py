"""The validation metrics of weights already validated, so the best checkpoint is not
validated a second time after `fit`.

`ValidationMetrics` remembers, for every validation of the fit, the `val/*` metrics it logged,
keyed by the global step the weights had. A checkpoint written at step S holds the weights
validated at step S (the optimizer steps between validations, never between a validation and
the checkpoint it triggers), so the metrics of the best checkpoint are those of the validation
at its step. `known_metrics(trainer, checkpoint)` returns them, or None where they cannot be
known and the caller must validate: a checkpoint from an earlier process (a resumed run), one
written where no validation ran (a step-interval checkpoint that monitors a stale value), a
checkpoint that is a folder (DeepSpeed, sharded FSDP), or no checkpoint at all. Under DDP all
ranks decide together, so they all validate or none does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L


class ValidationMetrics(L.Callback):
    """Records `{global step: {"val/...": value}}` at the end of every validation of a fit.

    The values are those `trainer.validate` would return for the same weights: what the
    validation logged (`trainer.logged_metrics`, filtered to the `val/` stage).
    """

    def __init__(self) -> None:
        self.by_step: dict[int, dict[str, float]] = {}

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # The sanity check logs nothing; `trainer.validate` outside fit is not a fit validation.
        if trainer.sanity_checking or trainer.state.fn != "fit":
            return
        self.by_step[trainer.global_step] = {
            name: float(value)
            for name, value in trainer.logged_metrics.items()
            if name.startswith("val/")
        }


def checkpoint_step(path: str | Path) -> int | None:
    """The global step a Lightning checkpoint file was written at; None if unreadable.

    Memory-mapped and weights-only: the tensors are not read, so this costs milliseconds even
    for a large checkpoint.
    """
    import torch

    try:
        checkpoint: Any = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
        return int(checkpoint["global_step"])
    except Exception:  # a folder (DeepSpeed, sharded FSDP), another format: validate instead
        return None


def known_metrics(trainer: L.Trainer, checkpoint: str | None) -> dict[str, float] | None:
    """The `val/*` metrics of `checkpoint`'s weights as validated during this fit, or None.

    Every rank must call this (it agrees with the other ranks): the metrics come back only
    where every rank knows them.
    """
    callbacks: list[L.Callback] = trainer.callbacks  # type: ignore[attr-defined]
    recorder = next((c for c in callbacks if isinstance(c, ValidationMetrics)), None)
    known = None
    if recorder is not None and checkpoint:
        step = checkpoint_step(checkpoint)
        known = recorder.by_step.get(step) if step is not None else None
    everywhere = trainer.strategy.reduce_boolean_decision(bool(known), all=True)
    return known if everywhere else None


def log_to_loggers(trainer: L.Trainer, metrics: dict[str, float]) -> None:
    """Send `metrics` to the run's loggers as `trainer.validate` does at its end (the same
    row: the values with the current epoch, at the current step), so the logs read the same
    whether the best checkpoint was validated again or not."""
    if not metrics:
        return
    row = {**metrics, "epoch": trainer.current_epoch}
    for logger in trainer.loggers:
        logger.log_metrics(row, step=trainer.global_step)
        logger.save()
