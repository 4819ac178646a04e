"""Under `trainer.val_every_n_steps` the early-stopping line speaks in steps (s32a F-L2):
validations at steps 4, 8, 12 of 5-step epochs (one per epoch) and a stop at step 12, in the
middle of epoch 3, were said as `best ... at epoch 1/8; training stopped after epoch 3/8`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks.early_stopping import EarlyStoppingReason

from lab.training.stopping_notes import stopping_notes
from lab.training.validation_metrics import Validation, ValidationHistory
from lab.training.validation_steps import ValidateEveryNSteps
from test_stopping_notes import stopper, trainer

FIELDS: dict[str, Any] = {"max_epochs": 8, "max_steps": 40, "num_training_batches": 5}


def _history() -> ValidationHistory:
    recorder = ValidationHistory()
    recorder.validations = [
        Validation(epoch, step, {"val/acc": acc})
        for epoch, step, acc in ((0, 4, 0.75), (1, 8, 0.5), (2, 12, 0.25))
    ]
    return recorder


def test_under_val_every_n_steps_the_stop_is_said_in_steps(tmp_path: Path) -> None:
    stop = stopper(EarlyStoppingReason.PATIENCE_EXHAUSTED, best=0.75, epoch=2, patience=2)
    fitted = trainer(stop, _history(), ValidateEveryNSteps(4), **FIELDS)
    assert stopping_notes(fitted, {})[0] == (
        "early stopping: val/acc did not improve for 2 validations in a row (patience 2; best "
        "0.7500 at step 4/40); training stopped after step 12/40"
    )


def test_validation_by_epochs_one_per_epoch_still_speaks_in_epochs(tmp_path: Path) -> None:
    stop = stopper(EarlyStoppingReason.PATIENCE_EXHAUSTED, best=0.75, epoch=2, patience=2)
    fitted = trainer(stop, _history(), **FIELDS)
    assert stopping_notes(fitted, {})[0] == (
        "early stopping: val/acc did not improve for 2 validations in a row (patience 2; best "
        "0.7500 at epoch 1/8); training stopped after epoch 3/8"
    )
