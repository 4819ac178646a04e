"""Checkpoints published off the training thread (`lab.training.checkpoint_writer`).

The fsync is held back with an event, so each test sees the state while a checkpoint is
written but not yet durable: the target keeps its previous contents, a load reads the new
checkpoint, a removal or a second write of the same target waits, a failure surfaces later
as a `DiskError` with the previous checkpoint kept.
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from lab.run_dir.disk import DiskError
from lab.training import checkpoint_writer
from lab.training.checkpoint_writer import AtomicCheckpointIO, wait_for_checkpoints

real_fsync = os.fsync


@pytest.fixture
def held_fsync(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """os.fsync blocks until the returned event is set (set at the end in any case)."""
    release = threading.Event()

    def fsync(fd: int) -> None:
        release.wait(timeout=30)
        real_fsync(fd)

    monkeypatch.setattr(checkpoint_writer.os, "fsync", fsync)
    yield release
    release.set()
    wait_for_checkpoints()


def checkpoint(step: int) -> dict[str, Any]:
    return {"step": step, "weights": torch.arange(1000) * step}


def files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_save_returns_before_the_fsync_and_a_load_reads_the_new_checkpoint(
    tmp_path: Path, held_fsync: threading.Event
) -> None:
    writer = AtomicCheckpointIO()
    target = tmp_path / "best.ckpt"
    writer.save_checkpoint(checkpoint(1), target)
    # Not durable yet: the bytes sit in the hidden temporary file, the name is not taken.
    assert not target.exists()
    [temporary] = files(tmp_path)
    assert temporary.startswith(".best.ckpt~")
    loaded = writer.load_checkpoint(target)
    assert loaded["step"] == 1 and torch.equal(loaded["weights"], torch.arange(1000))
    held_fsync.set()
    wait_for_checkpoints()
    assert files(tmp_path) == ["best.ckpt"]
    assert torch.load(target, weights_only=True)["step"] == 1


def test_a_checkpoint_in_publication_is_read_for_its_step_and_weights(
    tmp_path: Path, held_fsync: threading.Event
) -> None:
    """Right after the fit the best checkpoint may still be syncing: lab's looks into it (its
    step, for the kept validation metrics; its weights, for the test without a reload) read
    the temporary file instead of finding no file (which validated and loaded it again)."""
    from types import SimpleNamespace

    from lightning.pytorch.strategies import SingleDeviceStrategy

    from lab.training.checkpoint_writer import read_checkpoint
    from lab.training.validation_metrics import checkpoint_step
    from lab.training.weights_in_memory import holds_weights_of

    module = torch.nn.Linear(3, 2)
    target = tmp_path / "best.ckpt"
    AtomicCheckpointIO().save_checkpoint(
        {"global_step": 12, "state_dict": module.state_dict()}, target
    )
    assert not target.exists()
    assert checkpoint_step(target) == 12
    trainer = SimpleNamespace(strategy=SingleDeviceStrategy("cpu"), global_step=12)
    assert holds_weights_of(trainer, module, str(target))  # type: ignore[arg-type]
    loaded = read_checkpoint(target, mmap=True, weights_only=True)
    assert torch.equal(loaded["state_dict"]["weight"], module.weight.detach())
    held_fsync.set()
    wait_for_checkpoints()
    assert read_checkpoint(target, weights_only=True)["global_step"] == 12  # published: by name
    with pytest.raises(FileNotFoundError):
        read_checkpoint(tmp_path / "none.ckpt", weights_only=True)


def test_writing_the_same_target_again_waits_and_the_last_write_wins(
    tmp_path: Path, held_fsync: threading.Event
) -> None:
    writer = AtomicCheckpointIO()
    target = tmp_path / "last.ckpt"
    writer.save_checkpoint(checkpoint(1), target)
    second = threading.Thread(target=writer.save_checkpoint, args=(checkpoint(2), target))
    second.start()
    second.join(timeout=0.5)
    assert second.is_alive(), "the second write must wait for the first publication"
    held_fsync.set()
    second.join(timeout=30)
    wait_for_checkpoints()
    assert torch.load(target, weights_only=True)["step"] == 2
    assert files(tmp_path) == ["last.ckpt"]


def test_removing_a_checkpoint_being_published_waits_so_it_stays_removed(
    tmp_path: Path, held_fsync: threading.Event
) -> None:
    writer = AtomicCheckpointIO()
    target = tmp_path / "epoch=0.ckpt"
    writer.save_checkpoint(checkpoint(1), target)
    removal = threading.Thread(target=writer.remove_checkpoint, args=(target,))
    removal.start()
    removal.join(timeout=0.5)
    assert removal.is_alive(), "the removal must wait for the rename"
    held_fsync.set()
    removal.join(timeout=30)
    wait_for_checkpoints()
    assert files(tmp_path) == []


def test_a_failed_publication_keeps_the_previous_checkpoint_and_is_raised_at_the_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = AtomicCheckpointIO()
    target = tmp_path / "last.ckpt"
    writer.save_checkpoint(checkpoint(1), target)
    wait_for_checkpoints()

    def quota_exceeded(fd: int) -> None:
        raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))

    monkeypatch.setattr(checkpoint_writer.os, "fsync", quota_exceeded)
    writer.save_checkpoint(checkpoint(2), target)  # the bytes are written; the fsync fails
    with pytest.raises(DiskError) as caught:
        wait_for_checkpoints()
    assert str(caught.value) == f"cannot write {target}: {os.strerror(errno.EDQUOT)}"
    assert torch.load(target, weights_only=True)["step"] == 1
    assert files(tmp_path) == ["last.ckpt"], "the temporary file is removed"
    wait_for_checkpoints()  # reported once


def test_a_failed_publication_is_raised_at_the_next_save(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = AtomicCheckpointIO()

    def read_only(fd: int) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(checkpoint_writer.os, "fsync", read_only)
    writer.save_checkpoint(checkpoint(1), tmp_path / "a.ckpt")
    monkeypatch.undo()
    with pytest.raises(DiskError, match=r"a\.ckpt: Read-only file system"):
        writer.save_checkpoint(checkpoint(2), tmp_path / "a.ckpt")  # joins the first
    assert files(tmp_path) == []


def test_with_several_processes_the_writer_publishes_before_returning(
    tmp_path: Path, held_fsync: threading.Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Other DDP ranks read the checkpoint right after Lightning's barrier.
    monkeypatch.setattr(checkpoint_writer, "_several_processes", lambda: True)
    fsynced_on: list[str] = []
    monkeypatch.setattr(
        checkpoint_writer.os, "fsync", lambda fd: fsynced_on.append(threading.current_thread().name)
    )
    target = tmp_path / "best.ckpt"
    AtomicCheckpointIO().save_checkpoint(checkpoint(3), target)
    # Published by the calling thread itself, no publisher thread started.
    assert fsynced_on == [threading.current_thread().name]
    assert files(tmp_path) == ["best.ckpt"]
    assert torch.load(target, weights_only=True)["step"] == 3


def test_a_second_name_for_a_checkpoint_in_publication_is_a_hard_link(
    tmp_path: Path, held_fsync: threading.Event
) -> None:
    """last.ckpt at the step of the best checkpoint: linked to the best one's bytes while
    those are still being published, both names whole once published, one inode."""
    writer = AtomicCheckpointIO()
    best, last = tmp_path / "best.ckpt", tmp_path / "last.ckpt"
    writer.save_checkpoint(checkpoint(4), best)
    assert writer.link_checkpoint(best, last)
    assert not best.exists() and not last.exists(), "neither name before the fsync"
    assert writer.load_checkpoint(last)["step"] == 4
    held_fsync.set()
    wait_for_checkpoints()
    assert files(tmp_path) == ["best.ckpt", "last.ckpt"]
    assert best.stat().st_ino == last.stat().st_ino
    # A later last.ckpt replaces the name only; the best file keeps its bytes.
    writer.save_checkpoint(checkpoint(6), last)
    wait_for_checkpoints()
    assert torch.load(best, weights_only=True)["step"] == 4
    assert torch.load(last, weights_only=True)["step"] == 6
    # Linking a published file works too; removing the source leaves the link whole.
    assert writer.link_checkpoint(last, tmp_path / "copy.ckpt")
    wait_for_checkpoints()
    writer.remove_checkpoint(last)
    assert torch.load(tmp_path / "copy.ckpt", weights_only=True)["step"] == 6


def test_without_hard_links_the_caller_is_told_to_save(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = AtomicCheckpointIO()
    writer.save_checkpoint(checkpoint(1), tmp_path / "best.ckpt")
    wait_for_checkpoints()

    def refuse(source: Any, target: Any) -> None:
        raise OSError(errno.EPERM, "hard links not supported")

    monkeypatch.setattr(checkpoint_writer.os, "link", refuse)
    assert not writer.link_checkpoint(tmp_path / "best.ckpt", tmp_path / "last.ckpt")
    assert files(tmp_path) == ["best.ckpt"], "no temporary file left behind"
