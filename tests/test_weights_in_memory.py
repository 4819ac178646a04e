"""The test pass after the fit runs on the model in memory when it holds the best
checkpoint's weights (issue 20): the same numbers as loading the file, and the file is still
loaded whenever the weights differ (`lab.training.weights_in_memory`)."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import lightning as L
import pytest
import torch
from lightning.pytorch.strategies import DDPStrategy, SingleDeviceStrategy

from lab.train import run
from lab.training import checkpoint_writer
from lab.training.weights_in_memory import holds_weights_of

from conftest import TINY_FIXTURE_RUN, run_outputs, spy_on

LOADED = "Loaded model weights from the checkpoint at"
# The tiny model's val/loss rises every epoch: maximizing it makes the last epoch the best.
BEST_IS_LAST_EPOCH = ["optimized_metric=val/loss", "optimized_mode=max"]
BEST_IS_FIRST_EPOCH = ["optimized_metric=val/loss", "optimized_mode=min"]


class Tiny(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.layer = torch.nn.Linear(4, 3)
        self.register_buffer("scale", torch.tensor([2.0]))


def _trainer(step: int, strategy: Any = None) -> Any:
    return SimpleNamespace(strategy=strategy or SingleDeviceStrategy("cpu"), global_step=step)


def _save(module: L.LightningModule, path: Path, step: int) -> str:
    torch.save({"global_step": step, "state_dict": module.state_dict()}, path)
    return str(path)


def test_same_weights_at_the_same_step_are_held(tmp_path: Path) -> None:
    module = Tiny()
    checkpoint = _save(module, tmp_path / "best.ckpt", step=7)
    assert holds_weights_of(_trainer(7), module, checkpoint)


@pytest.mark.parametrize(
    "change",
    ["weight_moved", "buffer_moved", "other_step", "dtype", "extra_key", "ddp", "no_file"],
)
def test_anything_else_loads_the_checkpoint(change: str, tmp_path: Path) -> None:
    module = Tiny()
    checkpoint = _save(module, tmp_path / "best.ckpt", step=7)
    trainer = _trainer(7)
    with torch.no_grad():
        if change == "weight_moved":  # e.g. weight averaging swapped in after the last save
            module.layer.weight[0, 0] += 1e-6
        elif change == "buffer_moved":
            module.scale.fill_(3.0)
        elif change == "other_step":
            trainer = _trainer(8)
        elif change == "dtype":
            module.layer.to(torch.float64)
        elif change == "extra_key":
            module.register_buffer("extra", torch.zeros(1))
        elif change == "ddp":
            trainer = _trainer(7, DDPStrategy())
        elif change == "no_file":
            checkpoint = str(tmp_path / "missing.ckpt")
    assert not holds_weights_of(trainer, module, checkpoint)


def test_a_corrupt_or_absent_checkpoint_is_left_to_the_loader(tmp_path: Path) -> None:
    module = Tiny()
    corrupt = tmp_path / "corrupt.ckpt"
    corrupt.write_bytes(b"not a checkpoint")
    assert not holds_weights_of(_trainer(0), module, str(corrupt))
    assert not holds_weights_of(_trainer(0), module, None)
    (tmp_path / "sharded.ckpt").mkdir()  # DeepSpeed / sharded FSDP write folders
    assert not holds_weights_of(_trainer(0), module, str(tmp_path / "sharded.ckpt"))


real_fsync = os.fsync


def slow_fsync(fd: int) -> None:
    time.sleep(1.0)
    real_fsync(fd)


def _loads(caplog: pytest.LogCaptureFixture) -> int:
    """How often Lightning loaded checkpoint weights in what `caplog` holds (then cleared)."""
    count = sum(LOADED in record.getMessage() for record in caplog.records)
    caplog.clear()
    return count


@pytest.mark.slow
def test_best_weights_in_memory_test_the_same_numbers_without_loading(
    compose_cfg: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A run whose last epoch is its best tests the model in memory; forced to load the
    best checkpoint instead, the same run writes the same metrics, report and CSV rows."""
    import lab.training.weights_in_memory as weights_in_memory

    overrides = [*TINY_FIXTURE_RUN, *BEST_IS_LAST_EPOCH]
    answers = spy_on(monkeypatch, weights_in_memory, "holds_weights_of")
    # A slow disk: the best checkpoint is still being synced when the fit returns (MiniLM's
    # 272 MB took 1.1-1.6 s), and must be read from its temporary file, not found missing.
    monkeypatch.setattr(checkpoint_writer.os, "fsync", slow_fsync)
    caplog.set_level(logging.INFO)
    kept = run(compose_cfg(*overrides, output_dir=tmp_path / "kept"))
    assert answers == [True]  # asked only once the fit's validation metrics were kept
    assert _loads(caplog) == 0
    monkeypatch.setattr(weights_in_memory, "holds_weights_of", lambda *args: False)
    loaded = run(compose_cfg(*overrides, output_dir=tmp_path / "loaded"))
    assert _loads(caplog) == 1

    assert kept == loaded  # exactly: the same floats
    assert any(name.startswith("test/") for name in kept)
    assert run_outputs(tmp_path / "kept") == run_outputs(tmp_path / "loaded")
    (best,) = (tmp_path / "kept" / "checkpoints").glob("best-*.ckpt")
    assert best.name.startswith("best-epoch01-"), best.name  # the last of 2 epochs


@pytest.mark.slow
def test_an_earlier_best_checkpoint_is_loaded_for_the_test(
    compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    run(compose_cfg(*TINY_FIXTURE_RUN, *BEST_IS_FIRST_EPOCH, output_dir=tmp_path / "run"))
    (best,) = (tmp_path / "run" / "checkpoints").glob("best-*.ckpt")
    assert best.name.startswith("best-epoch00-"), best.name
    assert _loads(caplog) == 1


@pytest.mark.slow
@pytest.mark.parametrize("best_last", [True, False])
def test_last_checkpoint_holds_the_final_step(
    best_last: bool, compose_cfg: Any, tmp_path: Path
) -> None:
    """`last.ckpt` was the last multiple of N steps (6 of 8 here), so `checkpoint=last` was
    not the final weights; at the end of training it is written again: a hard link to the
    best checkpoint when that is the final step's, its own file otherwise."""
    best_at = BEST_IS_LAST_EPOCH if best_last else BEST_IS_FIRST_EPOCH
    overrides = [*TINY_FIXTURE_RUN, *best_at, "callbacks.last_checkpoint.every_n_train_steps=3"]
    run(compose_cfg(*overrides, output_dir=tmp_path / "run"))
    folder = tmp_path / "run" / "checkpoints"
    last = torch.load(folder / "last.ckpt", map_location="cpu", weights_only=True)
    assert last["global_step"] == 8  # 2 epochs of 4 steps (56 rows, batches of 16)
    (best,) = folder.glob("best-*.ckpt")
    assert best.name.endswith("step000008.ckpt" if best_last else "step000004.ckpt")
    assert (best.stat().st_ino == (folder / "last.ckpt").stat().st_ino) is best_last
