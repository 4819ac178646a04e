"""The warning where a run's CPU ranks outnumber this machine's cores, said by `lab.validate`
and by `lab.train` when the fit starts, in the same words.

A CPU DDP run of more ranks than cores (`trainer.devices=3` on 2 cores) still runs, each rank
on 1 thread (Lightning's launcher gives `max(1, cores // ranks)`), the ranks taking turns on
the cores. `ranks_over_cores_line` is the one line; `lab.training.rank_threads` says it for a
built trainer, `config_ranks_over_cores_line` for a config (s32d G6: `lab.validate` said
`config ok` and nothing). Standard library and OmegaConf only: `lab.validate` stays cheap.
"""

from __future__ import annotations

import os

from omegaconf import DictConfig


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, as Lightning counts them)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def ranks_over_cores_line(ranks: int, cores: int | None = None) -> str | None:
    """`3 CPU ranks on 2 cores: ...` where `ranks` CPU ranks on this machine outnumber its
    `cores` (default: `usable_cores()`), else None."""
    cores = usable_cores() if cores is None else cores
    if ranks <= cores:
        return None
    return (
        f"{ranks} CPU ranks on {cores} cores: each rank runs 1 thread and the ranks take turns "
        f"on the cores, slower than one rank a core (trainer.devices={cores} or fewer; the "
        "global batch is data.batch_size x ranks x trainer.accumulate_grad_batches)"
    )


def config_ranks_over_cores_line(cfg: DictConfig, cores: int | None = None) -> str | None:
    """`ranks_over_cores_line` for a config whose accelerator is the CPU (`cpu`, or `auto` on a
    machine without a GPU) and whose `trainer.devices` is a number; None otherwise."""
    trainer = cfg.get("trainer")
    if not isinstance(trainer, DictConfig):
        return None
    devices = trainer.get("devices")
    if isinstance(devices, str) and devices.strip().isdigit():
        devices = int(devices)
    if not isinstance(devices, int) or isinstance(devices, bool) or not _on_cpu(trainer):
        return None
    return ranks_over_cores_line(devices, cores)


def _on_cpu(trainer: DictConfig) -> bool:
    """Whether `trainer.accelerator` runs on the CPU here."""
    accelerator = str(trainer.get("accelerator", "auto")).lower()
    if accelerator != "auto":
        return accelerator == "cpu"
    from lab.config.accelerator_rules import mps_available, tpu_available
    from lab.config.hardware_rules import cuda_available

    return not (cuda_available() or mps_available() or tpu_available())
