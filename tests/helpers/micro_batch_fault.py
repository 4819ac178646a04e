"""A test-only Lightning callback that sends SIGTERM to its own process after a chosen training
micro-batch (`fault_injection.KillAtStep` counts optimizer steps, which with gradient
accumulation always lands on a group's last micro-batch).

Part of the run's config in every process of a test, so the interrupted and the resuming run
have identical configs; it acts only where `LAB_TEST_SIGTERM_AFTER_BATCH` is set.
"""

from __future__ import annotations

import os
import signal
from typing import Any

import lightning as L


class SigtermAfterBatch(L.Callback):
    """SIGTERM to itself at the end of micro-batch `LAB_TEST_SIGTERM_AFTER_BATCH` (counted
    from 1 over the fit), in DDP rank `LAB_TEST_KILL_RANK` only if that is set."""

    def __init__(self) -> None:
        self.seen = 0

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        self.seen += 1
        batch = os.environ.get("LAB_TEST_SIGTERM_AFTER_BATCH")
        rank = os.environ.get("LAB_TEST_KILL_RANK")
        if rank is not None and int(rank) != trainer.global_rank:
            return
        if batch is not None and self.seen == int(batch):
            os.kill(os.getpid(), signal.SIGTERM)
