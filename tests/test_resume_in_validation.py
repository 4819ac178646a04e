"""Exact resume from a SIGTERM that lands inside a validation (s31d H1).

Lightning stops a fit at a validation batch's end too; lab saved `last.ckpt` there with the
validation's batches counted as done, so the resumed run skipped that validation: its metrics
row and (where it was the best) its best checkpoint were lost, and every later logged row
was one step low. The checkpoint now resumes into that validation from its first batch
(`lab.compat.lightning.restart_validation`): the resumed run is bit-identical to one never
interrupted, at an epoch's end and at a mid-epoch validation alike."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import lightning as L
import pytest
import torch
from lightning.pytorch.utilities.exceptions import SIGTERMException

from lab.train import run

from conftest import TINY_FIXTURE_RUN, assert_same_run

pytestmark = pytest.mark.slow

# 56 train rows in batches of 16: 4 steps an epoch; validation in batches of 2.
IN_VALIDATION = [*TINY_FIXTURE_RUN, "trainer.max_epochs=3", "data.eval_batch_size=2"]


class SigtermInValidation(L.Callback):
    """What Lightning's SIGTERM handler does, at the end of validation batch `batch` of the
    first validation in epoch `epoch`: Lightning stops the fit there, inside the validation,
    and `PreemptionCheckpoint` saves `last.ckpt`."""

    def __init__(self, epoch: int, batch: int) -> None:
        self.epoch, self.batch = epoch, batch

    def on_validation_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any, **kwargs: Any
    ) -> None:
        batch_idx = args[2] if len(args) > 2 else kwargs["batch_idx"]
        here = trainer.current_epoch == self.epoch and batch_idx == self.batch
        if here and not trainer.sanity_checking:
            trainer._signal_connector.received_sigterm = True


@pytest.mark.parametrize(
    "overrides",
    [[], ["trainer.val_every_n_steps=3"]],
    ids=["epoch-end validation", "validation every 3 steps"],
)
def test_sigterm_inside_a_validation_resumes_into_it(
    overrides: list[str], compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = [*IN_VALIDATION, *overrides]
    caplog.set_level(logging.INFO, logger=LINES)
    uninterrupted = tmp_path / "uninterrupted"
    run(compose_cfg(*settings, output_dir=uninterrupted))
    expected = _validation_lines(caplog)
    cut = tmp_path / "cut"
    with pytest.raises(SIGTERMException):
        run(compose_cfg(*settings, output_dir=cut), callbacks=[SigtermInValidation(1, 1)])
    checkpoint = torch.load(cut / "checkpoints" / "last.ckpt", weights_only=True)
    validation = checkpoint["loops"]["fit_loop"]["epoch_loop.val_loop.batch_progress"]
    # One batch started, none processed: Lightning's "restarted mid-evaluation", rerun whole.
    assert validation["current"] == {"ready": 1, "started": 1, "processed": 0, "completed": 0}
    before = _validation_lines(caplog)[len(expected) :]  # the cut run's, up to the stop
    run(compose_cfg(*settings, f"resume={cut}", output_dir=cut))
    assert_same_run(cut, uninterrupted)
    best = sorted(p.name for p in (uninterrupted / "checkpoints").glob("best-*.ckpt"))
    assert sorted(p.name for p in (cut / "checkpoints").glob("best-*.ckpt")) == best
    # s31e N10: the rerun validation's line says the train/loss the uninterrupted run's says
    resumed = _validation_lines(caplog)[len(expected) + len(before) :]
    assert before + resumed == expected
    assert all("train/loss" in line for line in expected)


#: the logger of the lines said after each validation
LINES = "lab.training.progress_lines"


def _validation_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The progress lines logged so far, without their time (`| 0:00:07`)."""
    said = [r.getMessage() for r in caplog.records if r.name == LINES]
    return [line.rsplit(" | ", 1)[0] for line in said if line.startswith(("epoch ", "step "))]


def test_the_restart_marker_holds_after_a_stop_inside_the_resumed_validation() -> None:
    """s31e N1: a second SIGTERM inside the validation a resume reruns: Lightning's restart had
    reset `current` only, `total` still held the first marker's started batch, and the marker
    set on top of it (two started, none processed) was no mid-evaluation restart: skipped."""
    from lab.compat.lightning import restart_validation

    def checkpoint(total: dict[str, int], current: dict[str, int]) -> dict[str, Any]:
        progress = {"total": total, "current": current, "is_last_batch": False}
        return {"loops": {"fit_loop": {"epoch_loop.val_loop.batch_progress": progress}}}

    # 3 batches of an earlier validation this epoch, then 2 of this one.
    first = checkpoint(
        {"ready": 5, "started": 5, "processed": 5, "completed": 5},
        {"ready": 2, "started": 2, "processed": 2, "completed": 2},
    )
    restart_validation(first)
    progress = first["loops"]["fit_loop"]["epoch_loop.val_loop.batch_progress"]
    assert progress["total"] == {"ready": 4, "started": 4, "processed": 3, "completed": 3}
    assert progress["current"] == {"ready": 1, "started": 1, "processed": 0, "completed": 0}
    # Resumed: Lightning reset `current` to its completed (0); `total` kept the marker's
    # started batch; 2 batches of the rerun ran before the second stop.
    second = checkpoint(
        {"ready": 6, "started": 6, "processed": 5, "completed": 5},
        {"ready": 2, "started": 2, "processed": 2, "completed": 2},
    )
    restart_validation(second)
    progress = second["loops"]["fit_loop"]["epoch_loop.val_loop.batch_progress"]
    assert progress["total"] == {"ready": 4, "started": 4, "processed": 3, "completed": 3}


def test_a_second_sigterm_inside_the_resumed_validation_resumes_into_it_again(
    compose_cfg: Any, tmp_path: Path
) -> None:
    uninterrupted = tmp_path / "uninterrupted"
    run(compose_cfg(*IN_VALIDATION, output_dir=uninterrupted))
    cut = tmp_path / "cut"
    with pytest.raises(SIGTERMException):
        run(compose_cfg(*IN_VALIDATION, output_dir=cut), callbacks=[SigtermInValidation(1, 1)])
    resumed = [*IN_VALIDATION, f"resume={cut}"]
    with pytest.raises(SIGTERMException):  # in the rerun of that same validation
        run(compose_cfg(*resumed, output_dir=cut), callbacks=[SigtermInValidation(1, 2)])
    run(compose_cfg(*resumed, output_dir=cut))
    assert_same_run(cut, uninterrupted)
