"""Refuse a key of your own YAML that misspells one of lab's: `model.freeze_layer: 2`.

A key of `model` or of the config's top level is read by name (`cfg.model.freeze_layers`,
`cfg.seed`) and never passed to a constructor, so a misspelt one used to sit beside lab's and
change nothing: `model=mine` with `freeze_layer: 2` trained with nothing frozen, an experiment
with `seeed: 3` ran seed 42, and `lab.validate` said "config ok" (s31f F1).
`check_lookalike_keys` refuses such a key with the line the command line gives for an unknown
key (`'model.freeze_layer' is not a config key. Did you mean model.freeze_layers? ...`), and
the file that sets it where it can be found among the options the config was composed from.

What is refused: a key that is NOT one lab's own configs define there AND is a close look-alike
(difflib's ratio at least `LOOKALIKE`, closer than `lab.config.key_hints` asks of a key that
is certainly wrong) of one that is. A key with no look-alike stays allowed:
your own variables for interpolation (`my_width: 64`, then `hidden_size: ${my_width}`) are
yours to keep. Only `model`'s top level is checked: `model.network.config` holds any setting
of an HF config class (`lab.config.model_config_keys` checks those). lab's keys are read from
its packaged configs (cached): the union of the top-level keys of `conf/model/*.yaml` and
`conf/model/base/*.yaml`; for the top level, `conf/train.yaml`'s keys, its config groups, and
the top-level keys of lab's own `# @package _global_` options (`experiments/`, `sweeps/`,
`conf/debug/`: `expected`, `task`).
"""

from __future__ import annotations

import difflib
import functools
import re
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig

from lab.config.key_hints import not_a_key
from lab.errors import ConfigError

# How alike a key must be to one of lab's to be taken for its misspelling (difflib's ratio):
# a typo (`seeed` 0.89, `freeze_layer` 0.96, `max_lenght` 0.9) is; a variable of your own
# named after one of lab's keys (`my_seed` 0.73, `model_name` 0.67) is not.
LOOKALIKE = 0.85
# libyaml's safe loader where PyYAML was built with it (~5x faster on lab's ~60 files, read
# at every run's start), else the pure-Python one.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# The groups whose options write into the whole config (`# @package _global_`).
GLOBAL_GROUPS = ("experiment", "sweep", "debug")


def check_lookalike_keys(cfg: DictConfig) -> None:
    """Refuse the first key of `model` or of the top level that lab's configs do not define
    there and that looks like one they do; a key with no look-alike passes."""
    model = cfg.get("model")
    if isinstance(model, DictConfig):
        _refuse_lookalikes("model", model, lab_model_keys())
    data = cfg.get("data")
    if isinstance(data, DictConfig):  # a data YAML's typo (s31f F2), before any import
        _refuse_lookalikes("data", data, lab_data_keys())
    _refuse_lookalikes("", cfg, lab_top_keys())


def _refuse_lookalikes(parent_key: str, node: DictConfig, lab_keys: frozenset[str]) -> None:
    for key in (str(k) for k in node):
        if key in lab_keys:
            continue
        close = difflib.get_close_matches(key, sorted(lab_keys), n=1, cutoff=LOOKALIKE)
        if not close:
            continue  # your own variable: allowed
        prefix = f"{parent_key}." if parent_key else ""
        valid = [str(k) for k in node if str(k) != key]
        line = not_a_key(parent_key, key, valid, elsewhere=prefix + close[0])
        where = defining_line(parent_key, key)
        raise ConfigError(f"{line}; it is set at {where}" if where else line)


@functools.cache
def lab_model_keys() -> frozenset[str]:
    """The top-level keys of lab's own model options (`conf/model/*.yaml`, `base/*.yaml`)."""
    from lab.config.paths import conf_dir

    folder = conf_dir() / "model"
    files = [*folder.glob("*.yaml"), *folder.glob("base/*.yaml")]
    return frozenset(key for file in files for key in _top_keys(file))


@functools.cache
def lab_data_keys() -> frozenset[str]:
    """The top-level keys of lab's own data options (`conf/data/*.yaml`, `base/*.yaml`) and
    the `data:` keys its task options set (`conf/task/*.yaml`: a task's own data module's)."""
    from lab.config.paths import conf_dir

    folder = conf_dir() / "data"
    files = [*folder.glob("*.yaml"), *folder.glob("base/*.yaml")]
    keys = {key for file in files for key in _top_keys(file)}
    for file in (conf_dir() / "task").glob("*.yaml"):
        keys |= set(_block_keys(file, "data"))
    return frozenset(keys)


def _block_keys(file: Path, block: str) -> list[str]:
    """The keys under `block:` of a YAML file's top level ([] where it has none)."""
    inner = _loaded(file).get(block)
    return [str(key) for key in inner] if isinstance(inner, dict) else []


@functools.cache
def lab_top_keys() -> frozenset[str]:
    """The top-level keys and groups of lab's configs: `conf/train.yaml`'s keys, its groups
    (the folders of `conf/`, `experiment`, `sweep`), and the top-level keys of lab's own
    `_global_` options (`experiments/`, `sweeps/`, `conf/debug/`)."""
    from lab.config.paths import conf_dir, config_root

    conf = conf_dir()
    keys = set(_top_keys(conf / "train.yaml"))
    keys |= {path.name for path in conf.iterdir() if path.is_dir()}
    keys |= {*GLOBAL_GROUPS, "hydra"}
    for folder in (config_root() / "experiments", config_root() / "sweeps", conf / "debug"):
        for file in folder.glob("*.yaml"):
            keys |= set(_top_keys(file))
    return frozenset(keys)


def _top_keys(file: Path) -> list[str]:
    """The top-level keys of a YAML file, its defaults list left out."""
    return [str(key) for key in _loaded(file) if key != "defaults"]


def _loaded(file: Path) -> dict[str, Any]:
    """A YAML file of lab's as a mapping ({} where it is unreadable or no mapping)."""
    try:
        loaded = yaml.load(file.read_text(), Loader=SAFE_LOADER)
    except (OSError, yaml.YAMLError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def defining_line(parent_key: str, key: str) -> str | None:
    """`<file>:<line>` of the first option the config was composed from whose file sets
    `key` (under the section `parent_key`, a config group: `model`, `trainer`, `optimizer`;
    "" for the top level): the chosen option's file of that group at its top level, then each
    `_global_` option's (an experiment), where it may sit under `<parent_key>:`; None where no
    such line is found (Hydra keeps no record of which file set a key, so the files are
    searched)."""
    from lab.config.package_rules import chosen_option_file

    choices = _choices()
    section = parent_key.split(".", 1)[0]  # the top-level block a global option sets it in
    candidates: list[tuple[str, str, str]] = []  # (group, pattern, the block it must sit in)
    if parent_key:
        candidates.append((parent_key, rf"^{re.escape(key)}\s*:", ""))
        candidates += [(g, rf"^\s+{re.escape(key)}\s*:", section) for g in GLOBAL_GROUPS]
    else:
        candidates += [(g, rf"^{re.escape(key)}\s*:", "") for g in GLOBAL_GROUPS]
    for group, pattern, block in candidates:
        choice = choices.get(group)
        file = chosen_option_file(group, choice) if choice else None
        if file is None:
            continue
        current = ""  # the top-level key whose block this line is in
        for number, text in enumerate(file.read_text().splitlines(), start=1):
            if top := re.match(r"^([A-Za-z_][\w.]*)\s*:", text):
                current = top[1]
            if re.match(pattern, text) and (not block or current == block):
                return f"{file}:{number}"
    return None


def _choices() -> dict[str, str]:
    """The group options this config was composed with, where Hydra knows them."""
    try:
        from hydra.core.hydra_config import HydraConfig

        choices = HydraConfig.get().runtime.choices
    except Exception:  # not composed by Hydra in this process (a recorded config)
        return {}
    return {str(g): str(o) for g, o in choices.items() if o is not None}
