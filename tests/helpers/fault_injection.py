"""A test-only Lightning callback that kills its own process at a chosen training step.

It is part of the run's config in every process of a test (so the interrupted run and the
resuming run have identical configs) and acts only where `LAB_TEST_KILL_AT_STEP` is set.
"""

from __future__ import annotations

import os
import signal
from typing import Any

import lightning as L


class KillAtStep(L.Callback):
    """Sends `LAB_TEST_KILL_SIGNAL` (default SIGKILL) to itself after that global step (in
    every DDP rank, or in `LAB_TEST_KILL_RANK` only)."""

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        step = os.environ.get("LAB_TEST_KILL_AT_STEP")
        rank = os.environ.get("LAB_TEST_KILL_RANK")  # one DDP rank only (`kill <pid>`)
        if rank is not None and int(rank) != trainer.global_rank:
            return
        if step is not None and trainer.global_step == int(step):
            os.environ.pop("LAB_TEST_KILL_AT_STEP")  # SIGTERM lets the process run on briefly
            signum = getattr(signal, os.environ.get("LAB_TEST_KILL_SIGNAL", "SIGKILL"))
            # The checkpoints written so far are published off the training thread: a kill
            # one step after a save must find that save on disk, not race its publication on
            # a loaded machine (`test_a_kill_during_save...` covers a kill during a write).
            from lab.training.checkpoint_writer import wait_for_checkpoints

            wait_for_checkpoints()
            os.kill(os.getpid(), signum)
