"""`last.ckpt` every N training steps (written after a validation that follows the step) and
when training ends.

Lightning's `ModelCheckpoint(every_n_train_steps=N)` saves at the end of the N-th batch,
before the validation that may follow that batch (every epoch's last batch, and each
`val_check_interval`). A run resumed from such a checkpoint never runs that validation:
Lightning 2.6 takes a checkpoint saved at a batch's end on a validation batch as one whose
validation is done. Measured here: a tiny run killed one step after a step-4 checkpoint on
epoch 0's last batch resumed without epoch 0's validation, so the best-checkpoint callback
never saw that epoch's score, tested another epoch's weights and ended with other metrics
than the same run never interrupted (`tests/test_resume.py`).

`PeriodicLastCheckpoint` moves such a save after that validation: to the epoch's end for
the epoch's last batch (after the best checkpoint, which Lightning saves there), to the
validation's end for one within the epoch. The checkpoint then holds the validation's
effects (the best score and path, early stopping's count, the logged row), at the points
where Lightning writes its own best checkpoints and from which it resumes without running
the validation again. Other steps save as before.

At an epoch's end the best checkpoint has just been written when the epoch improved the
score: the same state at the same step. `last.ckpt` is then a hard link to it
(`AtomicCheckpointIO.link_checkpoint`), not a second 272 MB serialization and fsync (MiniLM
with AdamW); the two names share the bytes until either is replaced. The one difference a
separate save would have made, this callback's own `last_model_path` inside the file, does
not matter on resume: the name is always `last.ckpt` (no version counter).
"""

from __future__ import annotations

import logging
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint

log = logging.getLogger(__name__)


class PeriodicLastCheckpoint(ModelCheckpoint):
    """`ModelCheckpoint` for the periodic `last.ckpt` whose saves due on a batch that a
    validation follows wait for that validation's end (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # One name, replaced each time: never `last-v1.ckpt`. (Lightning counts versions when
        # the file exists under a name other than the `last_model_path` it restored, which a
        # `last.ckpt` linked to the best file holds from before its own save.)
        kwargs.setdefault("enable_version_counter", False)
        super().__init__(*args, **kwargs)
        self._waiting_for_validation = False

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if self._step_save_due(trainer) and validation_follows(trainer):
            self._waiting_for_validation = True
            return
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_validation_end(trainer, pl_module)
        if not trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            self._save_waiting(trainer)  # a validation within the epoch (`val_check_interval`)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # The epoch's last validation: the best checkpoint is saved at this hook (Lightning's
        # default when validating once an epoch), and checkpoint callbacks run in config
        # order, the best before this one; a checkpoint written here resumes at the next epoch.
        super().on_train_epoch_end(trainer, pl_module)
        self._save_waiting(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # `last.ckpt` holds the final weights once training ends (`checkpoint=last` in lab.eval
        # and lab.export means them), not those of the last multiple of N steps. Lightning
        # writes it at the end only if it never wrote it. At the best checkpoint's step (a
        # run still improving at its end) it is a link, as at an epoch's end.
        if self._last_global_step_saved != trainer.global_step:
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
        super().on_train_end(trainer, pl_module)

    def _save_checkpoint(self, trainer: L.Trainer, filepath: str) -> None:
        """`last.ckpt` at a step another checkpoint callback saved already (the best one, at
        an epoch's end): a hard link to that file, not a second serialization of the same
        state (see the module docstring); else Lightning's save."""
        from weakref import proxy

        from lab.training.checkpoint_writer import AtomicCheckpointIO

        source = same_step_checkpoint(trainer, self)
        io = trainer.strategy.checkpoint_io
        if (
            source is None
            or trainer.world_size != 1
            or not isinstance(io, AtomicCheckpointIO)
            or not io.link_checkpoint(source, filepath)
        ):
            super()._save_checkpoint(trainer, filepath)
            return
        self._last_global_step_saved = trainer.global_step
        self._last_checkpoint_saved = filepath
        for logger in trainer.loggers:  # as Lightning's own save notifies them
            logger.after_save_checkpoint(proxy(self))

    def _step_save_due(self, trainer: L.Trainer) -> bool:
        every = self._every_n_train_steps
        return every >= 1 and trainer.global_step % every == 0 and not trainer.sanity_checking

    def _save_waiting(self, trainer: L.Trainer) -> None:
        if not self._waiting_for_validation or trainer.sanity_checking:
            return
        self._waiting_for_validation = False
        if self._last_global_step_saved != trainer.global_step:
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))


def same_step_checkpoint(trainer: L.Trainer, callback: ModelCheckpoint) -> str | None:
    """The file another checkpoint callback saved at the trainer's current step, of the
    same kind (full state, not weights only), or None."""
    for other in trainer.checkpoint_callbacks:
        if (
            other is not callback
            and isinstance(other, ModelCheckpoint)
            and other._last_global_step_saved == trainer.global_step
            and other._last_checkpoint_saved
            and other.save_weights_only == callback.save_weights_only
        ):
            return str(other._last_checkpoint_saved)
    return None


def validation_follows(trainer: L.Trainer) -> bool:
    """Whether Lightning runs a validation after the training batch that is ending now (its
    own rule: `_TrainingEpochLoop._should_check_val_fx`). False where that rule cannot be
    read (another Lightning): the save then happens at the batch's end, as Lightning's does."""
    epoch_loop, fetcher = trainer.fit_loop.epoch_loop, trainer.fit_loop._data_fetcher
    try:
        return fetcher is not None and bool(epoch_loop._should_check_val_fx(fetcher))
    except (AttributeError, TypeError) as err:
        log.debug("cannot tell whether a validation follows this batch: %s", err)
        return False
