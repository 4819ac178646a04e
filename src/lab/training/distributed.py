"""DDP under Hydra: exactly one run directory per job, in single runs and in multiruns.

Lightning's DDP launcher starts ranks 1..N-1 by running the command line again (`sys.argv`)
with `hydra.run.dir` set to the current run directory. Two things go wrong under Hydra
(Lightning #11300, hydra #2070, lightning-hydra-template #393):

- Under `-m` that command is the whole multirun: every extra rank starts the sweep again in
  a multirun directory of its own, and a sweeper there samples its own parameters, so the
  ranks of one job may train different configurations.
- Lightning leaves `LOCAL_RANK`, `WORLD_SIZE`, `MASTER_PORT`, ... in the environment after a
  job. The next job of a multirun, in the same process, then believes that some outside tool
  (torchrun, SLURM) started its ranks, starts none, and pairs with whatever is left.

`job_scope()`, around every `lab.train.run`, fixes both: the extra ranks get a command for
this one job (its own overrides from `hydra.overrides.task`, the Hydra flags of the command
line except `-m`, and the job's output directory as `hydra.run.dir`), and at the end of the
job the process group is destroyed and the environment put back as it was, so the next job
launches its own ranks. Lightning's child-process observer is lab's watch for the job
(`lab.training.rank_failures`: a rank that fails alone is said in its own words). Ranks
started by torchrun or SLURM are left alone: their environment was set before this process
started and is restored to just that.

The rank command goes in through `lab.compat.lightning.hydra_rank_command` (Lightning has no
public hook for it), only for the length of the job: after it, Lightning's own command is back.
`tests/test_compat.py` fails by name if a Lightning upgrade moves it, and `tests/test_scale.py`
runs a 2-job DDP multirun.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

# What Lightning's launcher writes into os.environ for its ranks.
_LAUNCH_VARIABLES = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE")
# Hydra flags that take their value as the next argument.
_FLAGS_WITH_VALUE = {"--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd"}


def rank_command(local_rank: int) -> tuple[Sequence[str], str]:
    """The command and working directory that start `local_rank` of the current Hydra job.

    Same signature and meaning as Lightning's `_hydra_subprocess_cmd`, which it replaces
    inside `job_scope()`.
    """
    from hydra.core.hydra_config import HydraConfig
    from hydra.utils import get_original_cwd

    hydra_cfg = HydraConfig.get()
    return (
        [
            sys.executable,
            "-m",
            "lab.train",
            *hydra_flags(sys.argv[1:]),
            *hydra_cfg.overrides.task,
            f'hydra.run.dir="{hydra_cfg.runtime.output_dir}"',  # quoted, as Lightning does
            f"hydra.job.name=train_ddp_process_{local_rank}",
            "hydra.output_subdir=null",  # rank 0 writes .hydra/; the others must not race it
        ],
        get_original_cwd(),
    )


def hydra_flags(argv: Sequence[str]) -> list[str]:
    """The `--config-dir x`-style flags of a command line, without `-m` and the overrides."""
    kept: list[str] = []
    take_next = False
    for arg in argv:
        if take_next:
            kept.append(arg)
            take_next = False
        elif arg in ("-m", "--multirun"):
            continue
        elif arg.startswith("-"):
            kept.append(arg)
            take_next = arg in _FLAGS_WITH_VALUE
    return kept


@contextmanager
def job_scope() -> Iterator[None]:
    """Run one training job so that its DDP ranks belong to it alone (see the module doc)."""
    import torch.distributed

    from lab.compat.lightning import hydra_rank_command, rank_process_watch
    from lab.training.rank_failures import watch_ranks

    before = {name: os.environ.get(name) for name in _LAUNCH_VARIABLES}
    try:
        with hydra_rank_command(rank_command), rank_process_watch(watch_ranks):
            yield
    finally:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
