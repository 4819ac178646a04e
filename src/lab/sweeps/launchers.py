"""What the sweep needs to know about the Hydra launcher that runs its jobs.

`hydra/launcher=slurm` submits each job with `sbatch` (submitit, which needs `srun` too). On
a machine without SLURM, submitit found that out only at the first job, in a traceback, after
the study, its directory and trial 0 existed: `require_slurm` says it in one line first (the
`LabSlurmLauncher` calls it when Hydra sets the launcher up, for a plain multirun too).

Under a submitit launcher (`local` or `slurm`) a trial is a job of its own, not a call inside
the sweep process: a signal that stops the sweep does not stop its trial jobs, and the same
command later takes their results (`lab.sweeps.orphans`). `interrupted_message` says so.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from typing import Any

from lab.errors import ConfigError

SLURM_COMMANDS = ("srun", "sbatch")


def require_slurm() -> None:
    """Refuse, in one line, to submit to SLURM from a machine where it is not installed."""
    missing = [c for c in SLURM_COMMANDS if shutil.which(c) is None]
    if missing:
        raise ConfigError(
            f"hydra/launcher=slurm submits each job to SLURM, but SLURM was not found here "
            f"({' and '.join(missing)} not on PATH): run the command on the cluster's login "
            "node, or leave out hydra/launcher=slurm to run the jobs here with the default "
            "launcher"
        )


def runs_jobs_apart(launcher_cfg: Any) -> bool:
    """Whether the launcher runs each trial as a job of its own (submitit: local or slurm)."""
    target = str(launcher_cfg.get("_target_", "")) if launcher_cfg is not None else ""
    return "submitit" in target.lower() or target.endswith("LabSlurmLauncher")


def interrupted_message(signal_name: str, launcher_choice: str, trial: int) -> str:
    """What a sweep says when a signal stopped it while trial `trial` ran as a job of its own."""
    command = shlex.join(["python", "-m", "lab.train", *sys.argv[1:]])
    return (
        f"sweep interrupted by {signal_name} while trial {trial} runs as a job of its own "
        f"(hydra/launcher={launcher_choice}): the trial jobs go on (unless the signal reached "
        "them too); the same command later takes the results of those that finished, resumes "
        f"those that stopped and runs the trials left: {command}"
    )
