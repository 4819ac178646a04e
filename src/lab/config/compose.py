"""Compose lab's configs from Python (tests, `lab.reproduce`, `lab.testing`), like the CLI."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig, open_dict

from lab.config.paths import conf_dir
from lab.config.resolvers import register_resolvers


def compose_train_config(
    overrides: Sequence[str] = (),
    output_dir: str | Path | None = None,
    config_dirs: Sequence[str | Path] = (),
) -> DictConfig:
    """Compose `conf/train.yaml` with `overrides`; the run directory is `output_dir`.

    Without `output_dir` the run goes to a new directory under `paths.output_root`, named as
    the CLI would name it. `config_dirs`: folders of your own config groups, searched before
    lab's, as `python -m lab.train --config-dir DIR` searches them (`lab.config.user_dirs`);
    a `hydra.searchpath=[...]` override means the same. The folders are recorded in the
    run's overrides (`record.json`, `overrides.yaml`) as a `hydra.searchpath=[...]` override,
    which Hydra itself leaves out of them.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    from lab.config.added_keys import plus_as_set
    from lab.config.user_dirs import (
        active_entries,
        search_entries,
        searched_first,
        searchpath_override,
        take_config_dirs,
    )

    given, overrides = take_config_dirs([plus_as_set(str(o)) for o in overrides])
    register_resolvers()
    GlobalHydra.instance().clear()
    with searched_first([*search_entries(config_dirs, flag="config_dirs"), *given]):
        entries = active_entries()
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            cfg = compose("train", overrides=list(overrides), return_hydra_config=True)
    if entries:
        cfg.hydra.overrides.task.append(searchpath_override(entries))
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir) if output_dir else str(cfg.hydra.run.dir)
        del cfg["hydra"]
    return cfg


def compose_in_words(
    overrides: Sequence[str] = (),
    output_dir: str | Path | None = None,
    config_dirs: Sequence[str | Path] = (),
) -> DictConfig:
    """`compose_train_config` for a tool: a config error is a `ConfigError` in lab's words, as
    `lab.train` and `lab.validate` say it (`'data.foo' is not a config key. Valid keys of
    data: ...`, your config folders searched too), not Hydra's advice to append the key."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from lab.config.cli import config_error_lines
    from lab.config.user_dirs import search_entries
    from lab.errors import ConfigError

    try:
        return compose_train_config(overrides, output_dir, config_dirs)
    except (HydraException, OmegaConfBaseException, ValueError) as err:
        entries = search_entries(config_dirs, flag="config_dirs")
        lines = config_error_lines(err, list(overrides), str(conf_dir()), "train", entries)
        raise ConfigError("\n".join(line.removeprefix("error: ") for line in lines)) from None
