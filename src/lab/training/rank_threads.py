"""The torch threads a run's training processes use, and a line where CPU ranks outnumber cores.

`hardware.torch_threads` in record.json is taken when the run starts, before Lightning's DDP
launcher gives every rank `max(1, cores // ranks)` threads (and exports `OMP_NUM_THREADS`;
unless it is set already): a 2-rank run on 2 cores recorded 2 threads and trained with 1 per
rank. `RankThreads` adds `hardware.rank_threads`, global rank 0's thread count once the fit
has started (every rank gets the same), which `lab.reproduce` compares where both records have
it (older records: `torch_threads`, as before).

A CPU DDP run of more ranks than cores (`trainer.devices=3` on 2 cores) still runs, each rank on
1 thread, the ranks taking turns on the cores: `oversubscribed_line` says so in one warning,
in the words `lab.validate` uses (`lab.training.rank_cores`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import lightning as L
import torch

from lab.training.rank_cores import ranks_over_cores_line, usable_cores

if TYPE_CHECKING:
    from lab.run_dir.records import RunRecord

log = logging.getLogger(__name__)

__all__ = ["RankThreads", "oversubscribed_line", "usable_cores", "warn_if_oversubscribed"]

RECORD_KEY = "rank_threads"


def oversubscribed_line(trainer: L.Trainer, cores: int | None = None) -> str | None:
    """`3 CPU ranks on 2 cores: ...` where a CPU run's ranks on this machine outnumber its
    `cores` (default: `usable_cores()`), else None (`lab.training.rank_cores`: `lab.validate`
    says the same line from the config)."""
    from lightning.pytorch.accelerators import CPUAccelerator

    if not isinstance(trainer.accelerator, CPUAccelerator):
        return None
    return ranks_over_cores_line(int(trainer.num_devices), cores)


def warn_if_oversubscribed(trainer: L.Trainer) -> None:
    """Log `oversubscribed_line` as a warning, on global rank 0 only."""
    if trainer.global_rank == 0 and (line := oversubscribed_line(trainer)):
        log.warning(line)


class RankThreads(L.Callback):
    """Write global rank 0's torch thread count, once the fit has started (after Lightning's
    launcher set it), into the record as `hardware.rank_threads` (module docstring)."""

    def __init__(self, record: RunRecord) -> None:
        self.record = record

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage != "fit" or trainer.global_rank != 0:
            return
        hardware: dict[str, Any] = self.record.data.setdefault("hardware", {})
        hardware[RECORD_KEY] = torch.get_num_threads()
        self.record.write()
