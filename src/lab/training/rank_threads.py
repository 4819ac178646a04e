"""The torch threads a run's training processes use, and a line where CPU ranks outnumber cores.

`hardware.torch_threads` in record.json is taken when the run starts, before Lightning's DDP
launcher gives every rank `max(1, cores // ranks)` threads (and exports `OMP_NUM_THREADS`;
unless it is set already): a 2-rank run on 2 cores recorded 2 threads and trained with 1 per
rank. `RankThreads` adds `hardware.rank_threads`, global rank 0's thread count once the fit
has started (every rank gets the same), which `lab.reproduce` compares where both records have
it (older records: `torch_threads`, as before).

A CPU DDP run of more ranks than cores (`trainer.devices=3` on 2 cores) still runs, each rank on
1 thread, the ranks taking turns on the cores: `oversubscribed_line` says so in one warning.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

import lightning as L
import torch

if TYPE_CHECKING:
    from lab.run_dir.records import RunRecord

log = logging.getLogger(__name__)

RECORD_KEY = "rank_threads"


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, as Lightning counts them)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def oversubscribed_line(trainer: L.Trainer, cores: int | None = None) -> str | None:
    """`3 CPU ranks on 2 cores: ...` where a CPU run's ranks on this machine outnumber its
    `cores` (default: `usable_cores()`), else None."""
    from lightning.pytorch.accelerators import CPUAccelerator

    ranks = int(trainer.num_devices)
    cores = usable_cores() if cores is None else cores
    if not isinstance(trainer.accelerator, CPUAccelerator) or ranks <= cores:
        return None
    return (
        f"{ranks} CPU ranks on {cores} cores: each rank runs 1 thread and the ranks take turns "
        f"on the cores, slower than one rank a core (trainer.devices={cores} or fewer; the "
        "global batch is data.batch_size x ranks x trainer.accumulate_grad_batches)"
    )


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
