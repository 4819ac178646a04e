"""Test-only faults for runs in subprocesses: a full disk, and a signal at a chosen moment.

Like `fault_injection.KillAtStep`, each is part of a run's config in every process of a test
(so an interrupted run and the run resuming it have the same config) and acts only where its
environment variable is set, once.
"""

from __future__ import annotations

import errno
import io
import os
import signal
from pathlib import Path
from typing import Any

import lightning as L


class FullDiskFile:
    """A file whose writes fail as on a full disk (after `room` bytes)."""

    def __init__(self, handle: Any, room: int = 0) -> None:
        self._handle = handle
        self._room = room

    def write(self, data: Any) -> int:
        size = len(memoryview(data).cast("B")) if not isinstance(data, str) else len(data)
        if size > self._room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._room -= size
        return int(self._handle.write(data))

    def __enter__(self) -> FullDiskFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


def fill_disk_for_checkpoints() -> None:
    """From now on in this process, writing a checkpoint's temporary file fails (ENOSPC)."""
    real_open = io.open

    def full_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        handle = real_open(file, mode, *args, **kwargs)
        name = Path(os.fspath(file)).name if isinstance(file, (str, os.PathLike)) else ""
        if "w" in mode and ".ckpt" in name and name.endswith(".tmp"):
            return FullDiskFile(handle, room=1000)
        return handle

    io.open = full_open  # type: ignore[assignment]


class DiskFullAtStep(L.Callback):
    """Fills the disk (for checkpoints) at global step `LAB_TEST_DISK_FULL_AT_STEP`."""

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        step = os.environ.get("LAB_TEST_DISK_FULL_AT_STEP")
        if step is not None and trainer.global_step == int(step):
            os.environ.pop("LAB_TEST_DISK_FULL_AT_STEP")
            fill_disk_for_checkpoints()  # checkpoint callbacks run after this one


class SignalAt(L.Callback):
    """Sends `LAB_TEST_SIGNAL` (default SIGTERM) to itself at the moment named in
    `LAB_TEST_SIGNAL_AT`: `setup` (after the data and model are built, before training),
    `test_start` (the final test of the best checkpoint) or `test_end`."""

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._maybe_send(f"setup_{getattr(stage, 'value', stage)}")  # stage: a str enum

    def on_test_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._maybe_send("test_start")

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._maybe_send("test_end")

    @staticmethod
    def _maybe_send(moment: str) -> None:
        if os.environ.get("LAB_TEST_SIGNAL_AT") == moment:
            os.environ.pop("LAB_TEST_SIGNAL_AT")
            signum = getattr(signal, os.environ.get("LAB_TEST_SIGNAL", "SIGTERM"))
            os.kill(os.getpid(), signum)
