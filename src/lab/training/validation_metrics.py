"""Every validation of a fit, remembered: what it logged and what the callbacks monitored.

`ValidationHistory` is the one recorder of a fit's validations. Two readers use it:

- the best checkpoint is not validated a second time after `fit`: a checkpoint written at
  step S holds the weights validated at step S (the optimizer steps between validations,
  never between a validation and the checkpoint it triggers), so its `val/*` metrics are
  those the validation at that step logged. `known_metrics(trainer, checkpoint)` returns
  them, or None where they cannot be known and the caller must validate: a checkpoint from
  an earlier process (a resumed run: its validations come back from the checkpoint without
  their logged metrics), one written where no validation ran (a step-interval checkpoint
  that monitors a stale value), a checkpoint that is a folder (DeepSpeed, sharded FSDP), or
  no checkpoint at all. Under DDP all ranks decide together, so they all validate or none.
- `lab.training.stopping_notes` reads the monitored values of every validation (those the
  checkpoint and early-stopping callbacks compared) to say when early stopping ended the
  fit and whether later validations tied the best value. These travel in the checkpoints,
  so a resumed run still knows the validations before the resume.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint


@dataclass(frozen=True)
class Validation:
    """One validation of the fit: Lightning's epoch (from 0), the global step, the values of
    the metrics the callbacks monitor, and the `val/*` metrics it logged (None for a
    validation of an earlier process, restored from a checkpoint)."""

    epoch: int
    step: int
    values: dict[str, float]
    logged: dict[str, float] | None = None


class ValidationHistory(L.Callback):
    """Records every validation of a fit at its end (not the sanity check, not a
    `trainer.validate` outside the fit).

    `logged` holds what `trainer.validate` would return for the same weights: the metrics
    the validation logged (`trainer.logged_metrics`, filtered to the `val/` stage). `values`
    holds the monitored metrics as the callbacks read them (`trainer.callback_metrics`).
    """

    def __init__(self) -> None:
        self.validations: list[Validation] = []

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != "fit":
            return
        observed = trainer.callback_metrics
        monitored = {
            name: float(observed[name].squeeze())
            for name in monitors(trainer)
            if name in observed and observed[name].numel() == 1
        }
        logged = {
            name: float(value)
            for name, value in trainer.logged_metrics.items()
            if name.startswith("val/")
        }
        epoch, step = trainer.current_epoch, trainer.global_step
        self.validations.append(Validation(epoch, step, monitored, logged))

    def logged_at(self, step: int) -> dict[str, float] | None:
        """The `val/*` metrics logged by this process's last validation at `step`, or None."""
        found = [v.logged for v in self.validations if v.step == step and v.logged is not None]
        return found[-1] if found else None

    def state_dict(self) -> dict[str, Any]:
        # Plain lists, dicts and numbers: checkpoints must load with `weights_only=True`.
        # Only the monitored values travel: logged metrics are trusted in their own process.
        return {"validations": [[v.epoch, v.step, dict(v.values)] for v in self.validations]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.validations = [
            Validation(int(epoch), int(step), {k: float(x) for k, x in values.items()})
            for epoch, step, values in state_dict.get("validations", [])
        ]


def monitors(trainer: L.Trainer) -> set[str]:
    """The metric names the trainer's checkpoint and early-stopping callbacks monitor."""
    callbacks: list[L.Callback] = trainer.callbacks  # type: ignore[attr-defined]
    return {
        str(c.monitor)
        for c in callbacks
        if isinstance(c, ModelCheckpoint | EarlyStopping) and c.monitor
    }


def history_of(trainer: L.Trainer) -> ValidationHistory:
    """The trainer's `ValidationHistory` (an empty one if it has none)."""
    callbacks: list[L.Callback] = trainer.callbacks  # type: ignore[attr-defined]
    found = (c for c in callbacks if isinstance(c, ValidationHistory))
    return next(found, ValidationHistory())


def checkpoint_step(path: str | Path) -> int | None:
    """The global step a Lightning checkpoint file was written at; None if unreadable.

    Memory-mapped and weights-only: the tensors are not read, so this costs milliseconds even
    for a large checkpoint.
    """
    from lab.training.checkpoint_writer import read_checkpoint, written_step

    if (step := written_step(path)) is not None:
        return step  # written in the background by this process: known without reading it
    try:
        checkpoint: Any = read_checkpoint(path, map_location="cpu", mmap=True, weights_only=True)
        return int(checkpoint["global_step"])
    except Exception:  # a folder (DeepSpeed, sharded FSDP), another format: validate instead
        return None


def known_metrics(
    trainer: L.Trainer, checkpoint: str | None, last: bool = False
) -> dict[str, float] | None:
    """The `val/*` metrics of `checkpoint`'s weights (`last`: of the weights training ended
    with, where a validation followed the last step) as validated during this fit, or None.

    Every rank must call this (it agrees with the other ranks): the metrics come back only
    where every rank knows them.
    """
    known = None
    if last:
        known = history_of(trainer).logged_at(trainer.global_step)
    elif checkpoint:
        step = checkpoint_step(checkpoint)
        known = history_of(trainer).logged_at(step) if step is not None else None
    everywhere = trainer.strategy.reduce_boolean_decision(bool(known), all=True)
    return known if everywhere else None


def summarize_best_validation(trainer: L.Trainer, metrics: dict[str, float]) -> None:
    """Give the best checkpoint's `val/*` metrics to the loggers that keep a run summary
    (W&B: its runs table shows them), not as a new logged row.

    A row (what `trainer.validate` logs at its end) put the best epoch's values after the last
    epoch, at the last step with an epoch count one past the last trained: in `metrics.csv`
    and on W&B's charts an extra validation point, often a jump back. The best values are in
    `metrics.json` and the final table; here they reach W&B's summary too."""
    from lab.training.loggers import RunLogger

    if not metrics or not trainer.is_global_zero:
        return
    for logger in trainer.loggers:
        if isinstance(logger, RunLogger):
            logger.summarize(metrics)


@contextmanager
def loggers_detached(trainer: L.Trainer) -> Iterator[None]:
    """No logger sees what runs inside (a second validation of the best checkpoint, whose row
    the loggers must not get: `summarize_best_validation`)."""
    loggers = trainer.loggers
    trainer.loggers = []
    try:
        yield
    finally:
        trainer.loggers = loggers
