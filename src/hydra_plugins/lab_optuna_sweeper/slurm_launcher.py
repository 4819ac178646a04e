"""`hydra/launcher=slurm`: hydra-submitit-launcher's SLURM launcher, refusing in one line, when
Hydra sets it up, to run where SLURM is not installed.

Without the check, submitit found no `srun` only at the first job: a 41-line traceback and
exit 1, after a sweep had created its study and left trial 0 RUNNING, or a plain multirun its
`multiruns/<time>/` directory. Hydra sets a launcher up before a sweeper (lab's or Hydra's
basic one) makes anything, so the refusal (`lab.sweeps.launchers.require_slurm`, a
`ConfigError`: `error: ...`, exit 2) comes first for both.
"""

from __future__ import annotations

from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher


class LabSlurmLauncher(SlurmLauncher):
    """The submitit SLURM launcher, checking that SLURM is here before it is used."""

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        """Refuse a machine without SLURM, then set up as submitit does."""
        from lab.sweeps.launchers import require_slurm

        require_slurm()
        super().setup(hydra_context=hydra_context, task_function=task_function, config=config)
