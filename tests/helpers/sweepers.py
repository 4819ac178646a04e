"""A `LabOptunaSweeper` set up as Hydra sets it up for `-m sweep=demo_lr`, without Hydra:
the sweep tests drive its plan, checks and loop directly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from hydra_plugins.lab_optuna_sweeper.sweeper import LabOptunaSweeper


def bare_sweeper(output_root: Path, study_name: str, pruner: str, **settings: Any) -> Any:
    """The sweeper of study `study_name` under `output_root` with the basic launcher, a seeded
    random sampler and `pruner` (an `optuna.pruners` class name); its overrides are not
    composed (`_check_overrides_compose` does nothing)."""
    sweeper = LabOptunaSweeper(
        sampler=OmegaConf.create({"_target_": "optuna.samplers.RandomSampler", "seed": 0}),
        pruner=OmegaConf.create({"_target_": f"optuna.pruners.{pruner}"}),
        study_name=study_name,
        **settings,
    )
    sweeper.cfg = OmegaConf.create(
        {
            "paths": {"output_root": str(output_root)},
            "hydra": {
                "runtime": {"choices": {"sweep": "demo_lr", "hydra/launcher": "basic"}},
                "sweep": {"dir": str(output_root / "multiruns")},
                "launcher": {"_target_": "hydra._internal.core_plugins.basic_launcher.X"},
            },
        }
    )
    sweeper.config = sweeper.cfg
    sweeper._check_overrides_compose = lambda plan: None
    return sweeper
