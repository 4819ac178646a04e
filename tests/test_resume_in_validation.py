"""Exact resume from a SIGTERM that lands inside a validation (s31d H1).

Lightning stops a fit at a validation batch's end too; lab saved `last.ckpt` there with the
validation's batches counted as done, so the resumed run skipped that validation: its metrics
row and (where it was the best) its best checkpoint were lost, and every later logged row
was one step low. The checkpoint now resumes into that validation from its first batch
(`lab.compat.lightning.restart_validation`): the resumed run is bit-identical to one never
interrupted, at an epoch's end and at a mid-epoch validation alike."""

from __future__ import annotations

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
    overrides: list[str], compose_cfg: Any, tmp_path: Path
) -> None:
    settings = [*IN_VALIDATION, *overrides]
    uninterrupted = tmp_path / "uninterrupted"
    run(compose_cfg(*settings, output_dir=uninterrupted))
    cut = tmp_path / "cut"
    with pytest.raises(SIGTERMException):
        run(compose_cfg(*settings, output_dir=cut), callbacks=[SigtermInValidation(1, 1)])
    checkpoint = torch.load(cut / "checkpoints" / "last.ckpt", weights_only=True)
    validation = checkpoint["loops"]["fit_loop"]["epoch_loop.val_loop.batch_progress"]
    # One batch started, none processed: Lightning's "restarted mid-evaluation", rerun whole.
    assert validation["current"] == {"ready": 1, "started": 1, "processed": 0, "completed": 0}
    run(compose_cfg(*settings, f"resume={cut}", output_dir=cut))
    assert_same_run(cut, uninterrupted)
    best = sorted(p.name for p in (uninterrupted / "checkpoints").glob("best-*.ckpt"))
    assert sorted(p.name for p in (cut / "checkpoints").glob("best-*.ckpt")) == best
