"""The step a sweep trial reports its metric at (`lab.sweeps.pruning.milli_epochs`): trials
with different batch sizes report at the same milli-epochs, so a pruner can compare them."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from lab.sweeps.pruning import milli_epochs


def _trainer(batches: int, step: int, interval: float | int, accumulate: int = 1) -> object:
    return SimpleNamespace(
        num_training_batches=batches,
        accumulate_grad_batches=accumulate,
        global_step=step,
        val_check_interval=interval,
    )


@pytest.mark.parametrize(
    ("batches", "steps"),
    [(13, [6, 12, 19, 25]), (7, [3, 6, 10, 13])],  # Lightning: every int(0.5 * batches)
)
def test_half_epoch_validations_of_two_batch_sizes_meet_on_one_grid(
    batches: int, steps: list[int]
) -> None:
    """200 rows at batch 16 (13 batches) and 32 (7): they validated at 462/923 and 429/857
    milli-epochs, so no step was shared; on the grid both report 500, 1000, 1500, 2000."""
    reported = [milli_epochs(_trainer(batches, s, 0.5)) for s in steps]  # type: ignore[arg-type]
    assert reported == [500, 1000, 1500, 2000]


def test_whole_epochs_and_batch_counts_are_not_snapped() -> None:
    assert milli_epochs(_trainer(13, 13, 1.0)) == 1000  # type: ignore[arg-type]
    assert milli_epochs(_trainer(13, 6, 6)) == 462  # type: ignore[arg-type]  # every 6 batches
    assert milli_epochs(_trainer(12, 3, 1.0, accumulate=2)) == 500  # type: ignore[arg-type]
