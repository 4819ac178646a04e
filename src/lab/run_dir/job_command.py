"""The command a run's `record.json` and model card give: the one that trains this run alone.

A single run's is the command as typed (`typed_command`). A job of a multirun (`-m seed=1,2,3`,
an Optuna trial) would retrain every job from the typed command (s32e F6), so its `command` is
`python -m lab.train <Hydra flags> <the job's own overrides>`: the flags of the command line
such as `--config-dir` (without `-m`) and the overrides Hydra ran this job with, as
`lab.training.distributed` starts a job's DDP ranks and `lab.reproduce` runs it again; the
command as typed is kept as `multirun_command`.
"""

from __future__ import annotations

import itertools
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lab.run_dir.endings import typed_command


def job_commands(argv: Sequence[str], job_overrides: Sequence[str] | None) -> dict[str, str]:
    """`{"command": ...}` for a single run (`job_overrides` None), and for a job of a multirun
    (`job_overrides`: the overrides Hydra ran it with) `{"command": <this job alone>,
    "multirun_command": <as typed>}`."""
    from lab.training.distributed import hydra_flags

    typed = typed_command(list(argv))
    if job_overrides is None:
        return {"command": typed}
    # The interpreter named as `typed_command` names it (`python`, `python3.11`).
    alone = [Path(sys.executable).name, "-m", "lab.train", *hydra_flags(argv[1:]), *job_overrides]
    return {"command": shlex.join(alone), "multirun_command": typed}


def recorded_commands() -> dict[str, str]:
    """`job_commands` of this process's command line and current Hydra job (a single run
    outside Hydra, or under `hydra.compose`)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    in_multirun = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    overrides = [str(o) for o in HydraConfig.get().overrides.task] if in_multirun else None
    return job_commands(sys.argv, overrides)


def multirun_note(record: dict[str, Any]) -> str:
    """The model card's line under a multirun job's command (the multirun it was one job of,
    for the record: copying that one retrains every job), "" for a single run."""
    typed = record.get("multirun_command")
    return (
        f"\nOne job of the multirun `{typed}`; the command above trains this job alone.\n"
        if typed
        else ""
    )


def config_dir_note(record: dict[str, Any]) -> str:
    """The model card's line under a command that reads config folders by relative paths
    (`--config-dir conf`): where the run was started, which they are relative to; "" for a
    command without such a folder (or a record without its working directory)."""
    argv = [str(a) for a in record.get("argv") or []]
    flags = ("--config-dir", "-cd")
    folders = [value for flag, value in itertools.pairwise(argv) if flag in flags]
    folders += [a.split("=", 1)[1] for a in argv if a.startswith(("--config-dir=", "-cd="))]
    relative = [folder for folder in folders if not folder.startswith(("/", "~"))]
    cwd = record.get("cwd")
    if not relative or not cwd:
        return ""
    named = ", ".join(f"`{folder}`" for folder in relative)
    return f"\nStarted in `{cwd}`, which {named} is relative to.\n"
