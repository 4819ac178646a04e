"""Compose lab's configs from Python (tests, `lab.reproduce`, `lab.testing`), like the CLI."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig, open_dict

from lab.config.paths import conf_dir
from lab.config.resolvers import register_resolvers


def compose_train_config(
    overrides: Sequence[str] = (), output_dir: str | Path | None = None
) -> DictConfig:
    """Compose `conf/train.yaml` with `overrides`; the run directory is `output_dir`.

    Without `output_dir` the run goes to a new directory under `paths.output_root`, named as
    the CLI would name it.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose("train", overrides=list(overrides), return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir) if output_dir else str(cfg.hydra.run.dir)
        del cfg["hydra"]
    return cfg
