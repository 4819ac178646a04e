"""A Lightning callback that writes when each phase of a `python -m lab.train` run began and
ended, for `end_to_end.py` (added to the run as `+callbacks.phase_clock=...` with this folder on
PYTHONPATH; it only reads the clock).

Each event is one JSON line `{"event": ..., "time": <time.time()>, "rss_mb": ..., "peak_rss_mb":
...}` appended to `path` (resident memory now and the process's peak so far, from
`/proc/self/status`, where it exists):
`fit_start`, `first_step` (the first training batch starts), `validation_start` /
`validation_end` (each validation, during fit and after), `fit_end`, `test_start`, `test_end`.
The driver adds the process's launch and exit times and the `data:` / `model:` lines of
`train.log`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import lightning as L
from resident import resident_memory


class PhaseClock(L.Callback):
    """Appends `{"event", "time"}` lines to `path` at the phase boundaries of a run."""

    # It reads clocks and memory only: lab may write checkpoints in the background beside it.
    keeps_weights = True

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.stepped = False

    def _note(self, event: str) -> None:
        line = {"event": event, "time": time.time(), **resident_memory()}
        with self.path.open("a") as handle:
            handle.write(json.dumps(line) + "\n")

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._note("fit_start")

    def on_train_batch_start(self, trainer: L.Trainer, *args: Any) -> None:
        if not self.stepped:
            self.stepped = True
            self._note("first_step")

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._note("validation_start")

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._note("validation_end")

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._note("fit_end")

    def on_test_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._note("test_start")

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._note("test_end")
