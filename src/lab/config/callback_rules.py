"""A `callbacks` entry that is no callback: settings of one the run does not have.

`callbacks.early_stopping.patience=2` without `callbacks=early_stopping` is a key Hydra does
not know, and its advice, `+callbacks.early_stopping.patience=2`, adds a node holding only
`patience`: handed to Lightning as a config, not a callback, it crashed the run after the
model loaded (`Missing key on_exception`, s32a F-M2). Both are said in one line naming the
option that adds the callback (`callbacks=early_stopping`): `check_callback_targets` refuses
a node without `_target_` before anything loads (`lab.validate` and `lab.train`'s pre-flight),
and `unadded_callback_line` is the unknown-key line for a key under such a callback.
"""

from __future__ import annotations

import functools

import yaml
from omegaconf import DictConfig, OmegaConf

from lab.errors import ConfigError


def check_callback_targets(cfg: DictConfig) -> None:
    """Refuse a `callbacks.<name>` node without `_target_` (it would be no callback)."""
    callbacks = cfg.get("callbacks")
    if not isinstance(callbacks, DictConfig):
        return
    for key, node in callbacks.items():
        if isinstance(node, DictConfig) and "_target_" not in node:
            name = str(key)
            settings = OmegaConf.to_container(node, resolve=False)
            given = " ".join(_overrides(f"callbacks.{name}", settings))
            raise ConfigError(f"callbacks.{name} has no _target_: {_fix(name, given)}")


def unadded_callback_line(cfg: DictConfig, override: str) -> str:
    """For `callbacks.<name>.<key>=<value>` where this run has no `callbacks.<name>` but
    lab ships the callback (`conf/callbacks/<option>.yaml` defines it), the line naming the
    option that adds it; "" otherwise."""
    key = override.partition("=")[0]
    parts = key.split(".")
    if (
        len(parts) < 3
        or parts[0] != "callbacks"
        or not isinstance(cfg.get("callbacks"), DictConfig)
    ):
        return ""
    name = parts[1]
    if name in cfg.callbacks or callback_option(name) is None:
        return ""
    return (
        f"'{key}' is not a config key: callbacks.{name} is not among this run's callbacks; "
        f"{_fix(name, override)}"
    )


def _fix(name: str, given: str) -> str:
    """How to add the callback `name` (then set `given`, the settings written for it)."""
    then = f" (then {given})" if given else ""
    option = callback_option(name)
    if option is None:
        return (
            f"a callback of your own needs its class as callbacks.{name}._target_, or add one "
            f"of lab's with callbacks=<option> ({', '.join(_options())}){then}"
        )
    return f"add the callback with callbacks={option}{then}"


def _overrides(prefix: str, settings: object) -> list[str]:
    """`callbacks.early_stopping.patience=2` for each leaf of `settings` under `prefix`."""
    if not isinstance(settings, dict):
        return [f"{prefix}={settings}"]
    return [
        line for key, value in settings.items() for line in _overrides(f"{prefix}.{key}", value)
    ]


@functools.cache
def callback_option(name: str) -> str | None:
    """The option of lab's `callbacks` group whose file defines the callback node `name`
    (`early_stopping` -> `early_stopping`, `model_checkpoint` -> `default`), or None."""
    from lab.config.lookalike_keys import SAFE_LOADER
    from lab.config.paths import conf_dir

    files = sorted((conf_dir() / "callbacks").glob("*.yaml"), key=lambda f: f.stem != name)
    for file in files:
        loaded = yaml.load(file.read_text(), Loader=SAFE_LOADER)
        if isinstance(loaded, dict) and isinstance(loaded.get(name), dict):
            return file.stem
    return None


def _options() -> list[str]:
    from lab.config.option_errors import group_options

    return group_options("callbacks")
