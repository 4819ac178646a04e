"""Checkpoints serialized in a thread while the run goes on (issue 20;
`lab.training.checkpoint_snapshot`, `AtomicCheckpointIO(serialize_in_background=True)`).

The serialization is held back with an event, so each test sees the state while the bytes
are still being written: the save has returned, readers wait for the bytes, the training
thread waits before the next batch, a tensor changed meanwhile fails the publication (never
a torn file), and a run writes the same checkpoint as with the serialization on its own
thread.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import (
    EarlyStopping,
    LearningRateMonitor,
    ModelCheckpoint,
    StochasticWeightAveraging,
)

from lab.run_dir.disk import DiskError
from lab.train import run
from lab.training import checkpoint_snapshot, checkpoint_writer
from lab.training.checkpoint_snapshot import background_serialization_allowed, keeps_weights
from lab.training.checkpoint_writer import (
    AtomicCheckpointIO,
    SerializedBeforeTraining,
    holds_written_weights,
    read_checkpoint,
    wait_for_checkpoints,
    wait_until_serialized,
    written_step,
)

from conftest import TINY_FIXTURE_RUN, run_outputs

real_save = torch.save


@pytest.fixture
def held_save(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """torch.save in the publisher threads blocks until the returned event is set."""
    release = threading.Event()

    def save(obj: Any, handle: Any, *args: Any, **kwargs: Any) -> None:
        if threading.current_thread() is not threading.main_thread():
            release.wait(timeout=30)
        real_save(obj, handle, *args, **kwargs)

    monkeypatch.setattr(checkpoint_writer.torch, "save", save)
    yield release
    release.set()
    with contextlib.suppress(Exception):  # a test expecting a failure has checked it already
        wait_for_checkpoints()


def _finishes(action: Any, *args: Any) -> threading.Thread:
    thread = threading.Thread(target=action, args=args)
    thread.start()
    thread.join(timeout=0.5)
    return thread


def _model_checkpoint(module: torch.nn.Module, step: int) -> dict[str, Any]:
    optimizer = torch.optim.AdamW(module.parameters())
    module(torch.ones(1, 4)).sum().backward()
    optimizer.step()
    return {
        "global_step": step,
        "state_dict": module.state_dict(),
        "optimizer_states": [optimizer.state_dict()],
        "callbacks": {"history": {"rows": [1, 2]}},
    }


def test_the_save_returns_before_the_bytes_and_readers_wait_for_them(
    tmp_path: Path, held_save: threading.Event
) -> None:
    module = torch.nn.Linear(4, 3)
    checkpoint = _model_checkpoint(module, step=5)
    target = tmp_path / "best.ckpt"
    AtomicCheckpointIO(serialize_in_background=True).save_checkpoint(checkpoint, target)
    # Known without reading the file, while it is still being written:
    assert written_step(target) == 5
    assert holds_written_weights(target, module.state_dict(), 5) is True
    assert holds_written_weights(target, module.state_dict(), 6) is False
    assert holds_written_weights(tmp_path / "other.ckpt", module.state_dict(), 5) is None
    # A reader and the training thread's barrier wait for the bytes.
    reader = _finishes(read_checkpoint, target)
    barrier = _finishes(wait_until_serialized)
    assert reader.is_alive() and barrier.is_alive()
    # The caller's containers may change now: the snapshot copied them (not the tensors).
    checkpoint["callbacks"]["history"]["rows"].append(3)
    checkpoint["extra"] = "added after the save"
    held_save.set()
    reader.join(timeout=30)
    barrier.join(timeout=30)
    wait_for_checkpoints()
    saved = torch.load(target, weights_only=True)
    assert saved["callbacks"] == {"history": {"rows": [1, 2]}} and "extra" not in saved
    assert torch.equal(saved["state_dict"]["weight"], module.weight.detach())
    state = saved["optimizer_states"][0]["state"][0]
    assert torch.equal(state["exp_avg"], checkpoint["optimizer_states"][0]["state"][0]["exp_avg"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.ckpt"]


def test_a_tensor_changed_during_the_serialization_fails_it_and_keeps_the_previous_file(
    tmp_path: Path, held_save: threading.Event
) -> None:
    writer = AtomicCheckpointIO(serialize_in_background=True)
    module = torch.nn.Linear(4, 3)
    target = tmp_path / "last.ckpt"
    writer.save_checkpoint({"global_step": 1, "state_dict": module.state_dict()}, target)
    held_save.set()
    wait_for_checkpoints()
    held_save.clear()
    writer.save_checkpoint({"global_step": 2, "state_dict": module.state_dict()}, target)
    with torch.no_grad():
        module.weight.add_(1.0)  # what the next optimizer step does, had nothing waited
    assert holds_written_weights(target, module.state_dict(), 2) is False
    held_save.set()
    with pytest.raises(RuntimeError, match=r"last\.ckpt was not written: 1 of its tensors changed"):
        wait_for_checkpoints()
    assert torch.load(target, weights_only=True)["global_step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]


def test_a_replaced_parameter_is_not_taken_for_the_written_one(tmp_path: Path) -> None:
    module = torch.nn.Linear(4, 3)
    target = tmp_path / "best.ckpt"
    AtomicCheckpointIO(serialize_in_background=True).save_checkpoint(
        {"global_step": 3, "state_dict": module.state_dict()}, target
    )
    wait_for_checkpoints()
    assert holds_written_weights(target, module.state_dict(), 3) is True
    module.weight = torch.nn.Parameter(module.weight.detach().clone())  # equal values, new tensor
    assert holds_written_weights(target, module.state_dict(), 3) is False


def test_a_full_disk_while_serializing_is_raised_before_the_next_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = AtomicCheckpointIO(serialize_in_background=True)
    target = tmp_path / "last.ckpt"
    writer.save_checkpoint({"global_step": 1, "weights": torch.zeros(10)}, target)
    wait_for_checkpoints()

    def full(obj: Any, file: Any) -> None:
        Path(file).write_bytes(b"partial")
        no_space = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        raise RuntimeError("[enforce fail at inline_container.cc:672] unexpected pos") from no_space

    monkeypatch.setattr(checkpoint_writer.torch, "save", full)
    writer.save_checkpoint({"global_step": 2, "weights": torch.ones(10)}, target)
    with pytest.raises(DiskError, match=r"last\.ckpt"):
        SerializedBeforeTraining().on_train_batch_start(None, None, None, 0)
    assert torch.load(target, weights_only=True)["global_step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]


def test_a_hard_link_to_a_checkpoint_being_serialized_waits_for_its_bytes(
    tmp_path: Path, held_save: threading.Event
) -> None:
    writer = AtomicCheckpointIO(serialize_in_background=True)
    best, last = tmp_path / "best.ckpt", tmp_path / "last.ckpt"
    module = torch.nn.Linear(4, 3)
    writer.save_checkpoint({"global_step": 8, "state_dict": module.state_dict()}, best)
    assert writer.link_checkpoint(best, last)  # made at once, to the file being written
    assert written_step(last) == 8
    assert not best.exists() and not last.exists()
    held_save.set()
    wait_for_checkpoints()
    assert best.stat().st_ino == last.stat().st_ino
    assert torch.load(last, weights_only=True)["global_step"] == 8


def test_callbacks_that_may_change_weights_keep_the_serialization_on_the_training_thread() -> None:
    class Custom(L.Callback):
        pass

    class Declared(L.Callback):
        keeps_weights = True

    class SubclassedCheckpoint(ModelCheckpoint):  # a user's own: its hooks are unknown
        pass

    assert keeps_weights(ModelCheckpoint()) and keeps_weights(EarlyStopping("val/loss"))
    assert keeps_weights(LearningRateMonitor()) and keeps_weights(SerializedBeforeTraining())
    assert keeps_weights(Declared())
    assert not keeps_weights(StochasticWeightAveraging(swa_lrs=1e-2))
    assert not keeps_weights(Custom()) and not keeps_weights(SubclassedCheckpoint())

    def allowed(*callbacks: L.Callback, **options: Any) -> bool:
        trainer = L.Trainer(accelerator="cpu", callbacks=list(callbacks), logger=False, **options)
        return background_serialization_allowed(trainer)

    assert allowed(ModelCheckpoint(), Declared())
    assert not allowed(ModelCheckpoint(), StochasticWeightAveraging(swa_lrs=1e-2))
    assert not allowed(Custom())
    assert not allowed(ModelCheckpoint(), strategy="ddp", devices=2)


def _comparable(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """What a checkpoint restores: its step, weights, optimizer and scheduler state, loops and
    data position (the callbacks' states hold the run's own paths)."""
    keys = ("epoch", "global_step", "state_dict", "optimizer_states", "lr_schedulers", "loops")
    return {key: checkpoint[key] for key in keys} | {"data": checkpoint.get("lab_data_position")}


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, torch.Tensor):
        return isinstance(right, torch.Tensor) and torch.equal(left, right)
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(_same(left[k], right[k]) for k in left)
    if isinstance(left, list | tuple):
        return len(left) == len(right) and all(map(_same, left, right))
    return bool(left == right)


@pytest.mark.slow
def test_a_run_writes_the_same_checkpoints_and_metrics_as_with_the_serialization_in_line(
    compose_cfg: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two epochs with last.ckpt every 3 steps (so a save happens mid-epoch, where the next
    batch must wait): the background run's files restore exactly what the in-line run's do."""
    overrides = [*TINY_FIXTURE_RUN, "callbacks.last_checkpoint.every_n_train_steps=3"]
    allowed: list[bool] = []
    real_allowed = checkpoint_snapshot.background_serialization_allowed

    def spy(trainer: Any) -> bool:
        allowed.append(real_allowed(trainer))
        return allowed[-1]

    monkeypatch.setattr(checkpoint_snapshot, "background_serialization_allowed", spy)
    background = run(compose_cfg(*overrides, output_dir=tmp_path / "background"))
    assert allowed == [True]
    monkeypatch.setattr(checkpoint_snapshot, "background_serialization_allowed", lambda t: False)
    in_line = run(compose_cfg(*overrides, output_dir=tmp_path / "in_line"))

    assert background == in_line
    assert run_outputs(tmp_path / "background") == run_outputs(tmp_path / "in_line")
    names = sorted(p.name for p in (tmp_path / "background" / "checkpoints").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "in_line" / "checkpoints").iterdir())
    assert "last.ckpt" in names and not any(name.startswith(".") for name in names)
    for name in names:
        ours, theirs = (
            torch.load(tmp_path / side / "checkpoints" / name, weights_only=False)
            for side in ("background", "in_line")
        )
        assert _same(_comparable(ours), _comparable(theirs)), name


class RefusesCopies:
    """Picklable, but `copy.deepcopy` refuses it (an object of some callback's state)."""

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        raise TypeError("no copies")


def test_a_checkpoint_that_cannot_be_copied_is_written_on_the_training_thread(
    tmp_path: Path, held_save: threading.Event
) -> None:
    target = tmp_path / "last.ckpt"
    AtomicCheckpointIO(serialize_in_background=True).save_checkpoint(
        {"global_step": 2, "weights": torch.ones(3), "state": RefusesCopies()}, target
    )
    # Written before returning (the held torch.save holds only other threads): no snapshot.
    assert written_step(target) is None
    held_save.set()
    wait_for_checkpoints()
    assert torch.load(target, weights_only=False)["global_step"] == 2


def test_a_hard_link_to_a_checkpoint_that_failed_is_not_published(
    tmp_path: Path, held_save: threading.Event
) -> None:
    """The link's bytes are the failed checkpoint's: neither name is published, no file is
    left behind, the error is raised."""
    writer = AtomicCheckpointIO(serialize_in_background=True)
    best, last = tmp_path / "best.ckpt", tmp_path / "last.ckpt"
    module = torch.nn.Linear(4, 3)
    writer.save_checkpoint({"global_step": 8, "state_dict": module.state_dict()}, best)
    assert writer.link_checkpoint(best, last)
    with torch.no_grad():
        module.bias.zero_()
    held_save.set()
    with pytest.raises(RuntimeError, match=r"best\.ckpt was not written"):
        wait_for_checkpoints()
    assert list(tmp_path.iterdir()) == []
