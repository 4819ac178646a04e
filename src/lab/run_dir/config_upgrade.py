"""An older run's `config.yaml`, read by this lab: what lab itself changed since it was recorded.

A run's resolved config names lab's code by import path (`_target_`) and holds the keys lab
had when it ran. Two kinds of change are lab's, not the user's, and are read through here:

* **Renamed targets**: code that moved to another module with nothing else changed. Where
  the old name no longer imports, a table says where it went (`RENAMED_TARGETS`:
  `lab.optim.adamw` is `lab.training.optim.adamw` since lab's Lightning plumbing went under
  `lab.training`); `rename_targets` gives a recorded config today's names, so `lab.eval`,
  `lab.export`, `lab.predict` and `lab.serve` build an old run (`lab.run_dir.runs.open_run`).
  Where it still imports (a head's class, re-exported by the package the head became), it
  needs no entry, and no table keyed by heads is kept here: compared with this lab's config
  for the same command, a target that names the very same object is read under today's name
  (`same_code_names`), so a resume or a reproduction does not count a rename as a
  difference. Only the same object under a new name is a rename: a class that *replaced*
  another (`ModelCheckpoint` -> `PeriodicLastCheckpoint`) changes what runs, and stays a
  difference. A `lab.` target that names nothing this lab has (`unknown_targets`) is refused
  in one line naming the code that recorded the run (`lab.run_dir.code_version`).
* **Added keys**: settings lab gained after the run was recorded. A key the recorded config
  lacks takes this lab's value for the same command (`with_added_keys`: its default), except
  the settings whose default would do something else than runs before it did
  (`ADDED_SETTINGS`, with the value that does what they did, which their absence does too).
  So a resume or a reproduction of an old run is judged only on what the user chose. Keys
  are added only where the run was recorded by other code (`lab.run_dir.code_version`):
  under the same code a key the record lacks came from the user's own config files, and is
  a difference.

The table is found, not guessed: every dotted `lab.` value of every YAML file of `conf/`,
`experiments/` and `sweeps/` at every commit since the first, compared with today's tree:
those that no longer import are its entries; the others are today's names or re-exports of
them (`tests/test_old_runs.py` holds both to it).
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path
from typing import Any

# Old `_target_` -> today's, for lab code that moved with nothing else changed and no longer
# imports under its old name (lab's Lightning plumbing went under lab.training, 2026-12-02).
# Code that still imports under its old name (a head's classes, re-exported by the package it
# became) needs no entry: `same_code_names` reads it as today's where both are the same object.
RENAMED_TARGETS: dict[str, str] = {
    "lab.checkpointing.PreemptionCheckpoint": "lab.training.checkpointing.PreemptionCheckpoint",
    "lab.loggers.CSVLogger": "lab.training.loggers.CSVLogger",
    "lab.loggers.wandb_logger": "lab.training.loggers.wandb_logger",
    "lab.models.head_from_config": "lab.training.models.head_from_config",
    "lab.models.pretrained_head": "lab.training.models.pretrained_head",
    "lab.optim.adamw": "lab.training.optim.adamw",
    "lab.optim.warmup_scheduler": "lab.training.optim.warmup_scheduler",
    "lab.progress.ProgressBar": "lab.training.progress.ProgressBar",
    "lab.trainer.build_trainer": "lab.training.trainer.build_trainer",
}
# Settings added after runs were recorded, with the value that does what such a run did: a
# resume takes the recorded value, or this one where the record lacks the key
# (`data.split_seed`: None carves and subsamples with `data.seed`, as runs before it did;
# `data.drop_labels`: [] reads every row, `data.csv_quoting`: csv reads quotes as pandas does,
# `data.csv_column_names`: None reads a CSV file's first line as its header, as runs before them
# did). Any other added key does what runs before it did at this lab's default.
ADDED_SETTINGS: dict[str, Any] = {
    "data.split_seed": None,
    "data.drop_labels": [],
    "data.csv_quoting": "csv",
    "data.csv_column_names": None,
    "data.stratify": False,  # carved plainly before 2026-12-06 (lab.data.stratified)
}
# Those of them every data config has (conf/data/base/source.yaml): lab.eval takes them on a
# run recorded before them, whatever its head.
EVERY_DATA_CONFIG = (
    "data.split_seed", "data.csv_quoting", "data.csv_column_names", "data.stratify",
)  # fmt: skip
# Keys lab reads only under another setting (key -> that setting): where neither config of a
# comparison has the setting, a difference in the key changes nothing that runs.
# `task.peft_modules_to_save`, the modules a quantized base keeps in float, is read only
# under `peft.quantization` (`lab.training.adapters.unquantized_modules`); lab added
# DistilBERT's `pre_classifier` to it for peft 0.22 (2026-12-07), and every classification
# run recorded before then holds the shorter list.
READ_ONLY_UNDER: dict[str, str] = {"task.peft_modules_to_save": "peft.quantization"}


def unread_key(key: str, *flat_configs: Mapping[str, Any]) -> bool:
    """Whether `key` is read by none of `flat_configs` (dotted keys, as
    `lab.config.flatten` gives them): it is read only under a setting (`READ_ONLY_UNDER`) that
    none of them has."""
    setting = READ_ONLY_UNDER.get(key)
    if setting is None:
        return False
    inside = f"{setting}."
    return not any(
        value is not None and (name == setting or name.startswith(inside))
        for flat in flat_configs
        for name, value in flat.items()
    )


# Sections only `lab.train` builds (a resume builds them from the command, not the record):
# the tools that read a finished run never instantiate them.
TRAINING_ONLY = ("callbacks", "logger", "trainer")


def _targets(node: Any, prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(dotted key, the mapping holding it) of every `_target_` under `node`."""
    if isinstance(node, dict):
        if isinstance(node.get("_target_"), str):
            yield prefix, node
        for key, value in node.items():
            yield from _targets(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _targets(value, f"{prefix}[{index}]")


def rename_targets(config: dict[str, Any]) -> list[str]:
    """Give every renamed `_target_` of `config` (a plain container, changed in place) its
    name today; return the keys renamed (`optimizer._target_`)."""
    renamed = []
    for key, node in _targets(config):
        new = RENAMED_TARGETS.get(node["_target_"])
        if new is not None:
            node["_target_"] = new
            renamed.append(f"{key}._target_" if key else "_target_")
    return renamed


_MISSING = object()


def _find(path: str) -> Any:
    """The object the dotted `path` names (its longest importable module, then attributes),
    `_MISSING` where there is none, None where a module that exists fails to import for
    another reason (a missing dependency: that is no rename, and building it says why)."""
    parts = path.split(".")
    for end in range(len(parts), 0, -1):
        name = ".".join(parts[:end])
        try:
            found: Any = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name is not None and (name == err.name or name.startswith(err.name + ".")):
                continue  # this module (or a package above it) does not exist
            return None
        except Exception:  # it exists; importing it is another matter
            return None
        for attribute in parts[end:]:
            if not hasattr(found, attribute):
                return _MISSING
            found = getattr(found, attribute)
        return found
    return _MISSING


def locates(path: str) -> bool:
    """Whether the dotted `path` names code (see `_find`)."""
    return _find(path) is not _MISSING


def same_code_names(recorded: dict[str, Any], lab_config: Mapping[str, Any]) -> list[str]:
    """Give each `_target_` of `recorded` (changed in place) the name `lab_config` (this lab's
    config for the same command) has at that key, where both name the very same object (a
    class re-exported from where it used to live); return the keys renamed."""
    renamed = []
    for key, node in _targets(recorded):
        now = _select(lab_config, key)
        then = node["_target_"]
        if not isinstance(now, Mapping) or not isinstance(now.get("_target_"), str):
            continue
        if now["_target_"] == then or not then.startswith("lab."):
            continue
        found = _find(then)
        if found is not None and found is not _MISSING and found is _find(now["_target_"]):
            node["_target_"] = now["_target_"]
            renamed.append(f"{key}._target_")
    return renamed


def _select(config: Mapping[str, Any], key: str) -> Any:
    node: Any = config
    for part in key.split(".") if key else []:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def unknown_targets(
    config: Mapping[str, Any], skip: Collection[str] = TRAINING_ONLY
) -> list[tuple[str, str]]:
    """(key, target) of each `lab.` `_target_` this lab does not have, outside the `skip`
    sections (by default those only training builds, `TRAINING_ONLY`: a tool that reads a
    finished run builds none of them). Other packages' targets are theirs to resolve."""
    unknown = []
    for key, node in _targets(dict(config)):
        if key.split(".")[0].split("[")[0] in skip:
            continue
        target = node["_target_"]
        if target.startswith("lab.") and not locates(target):
            unknown.append((f"{key}._target_", target))
    return unknown


def chosen_keys(overrides: Collection[str]) -> Callable[[str], bool]:
    """Whether a dotted key is set by one of the command's value overrides (`a.b=1`, `+a.b=1`,
    `~a.b`), or lies above or below one. A group choice (`model=tiny_bert`, no dot) chooses
    options, not keys: the keys lab added to that option are still lab's."""
    keys = {o.split("=", 1)[0].lstrip("+~") for o in overrides}
    keys = {key for key in keys if "." in key and "/" not in key}

    def chosen(key: str) -> bool:
        return any(key == c or key.startswith(c + ".") or c.startswith(key + ".") for c in keys)

    return chosen


def with_added_keys(
    recorded: dict[str, Any],
    lab_config: Mapping[str, Any],
    chosen: Callable[[str], bool] = lambda key: False,
) -> list[str]:
    """Add to `recorded` (a plain container, changed in place) every key of `lab_config`
    (this lab's resolved config for the same command) that it lacks and the command did not
    choose, at this lab's value; return the keys added (`data.pin_memory`; a whole node:
    `task.predictor`). `ADDED_SETTINGS` stay out: this lab's value would do something else
    than the run did, and their absence does what it did (the code's defaults; a resume
    adopts their value, `lab.run_dir.resume.adopt_added_settings`)."""
    added: list[str] = []
    _fill(recorded, lab_config, "", chosen, added)
    return added


def _fill(
    recorded: dict[str, Any],
    lab_config: Mapping[str, Any],
    prefix: str,
    chosen: Callable[[str], bool],
    added: list[str],
) -> None:
    for key, value in lab_config.items():
        path = f"{prefix}{key}"
        if key not in recorded:
            if chosen(path) or path in ADDED_SETTINGS:
                continue
            recorded[key] = copy.deepcopy(value)
            for setting in ADDED_SETTINGS:  # inside a node added whole
                if setting.startswith(path + "."):
                    _remove(recorded[key], setting[len(path) + 1 :])
            added.append(path)
        elif isinstance(recorded[key], dict) and isinstance(value, Mapping):
            _fill(recorded[key], value, path + ".", chosen, added)


def _remove(node: Any, dotted: str) -> None:
    """Remove `dotted` from `node` where it is there."""
    *above, last = dotted.split(".")
    for key in above:
        if not isinstance(node, dict) or key not in node:
            return
        node = node[key]
    if isinstance(node, dict):
        node.pop(last, None)


def upgrade(
    recorded: dict[str, Any],
    record: Mapping[str, Any],
    run_dir: Path,
    lab_config: Callable[[], Mapping[str, Any] | None],
    chosen: Callable[[str], bool] = lambda key: False,
) -> str | None:
    """Read `recorded` (a run's config.yaml as a plain container, changed in place) as this
    lab would have written it for the same command: renamed targets under today's names,
    and, where other code recorded the run (`record`, `run_dir`), today's names of code that
    still imports under its old ones (`same_code_names`) and the keys lab added since
    (`with_added_keys`), both from `lab_config()`: this lab's config for the command
    (`chosen`: the keys the command sets, left out). Return the line naming that code
    (`lab.run_dir.code_version.other_code_note`), None for this code."""
    from lab.run_dir.code_version import other_code_note

    rename_targets(recorded)
    note = other_code_note(record, run_dir)
    if note:
        config = lab_config()
        if config is not None:
            same_code_names(recorded, config)
            with_added_keys(recorded, config, chosen)
    return note


def lab_config_for(record: Mapping[str, Any], output_dir: str) -> dict[str, Any] | None:
    """This lab's resolved config for the command a run was recorded with (`record.json`'s
    overrides, your `--config-dir` folders among them), its run directory `output_dir`; None
    where this lab cannot compose it (an option since removed, a folder gone), then nothing
    is added."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    from lab.config.compose import compose_train_config

    overrides = [str(o) for o in record.get("overrides") or []]
    overrides = [o for o in overrides if not o.lstrip("+~").startswith("resume=")]
    # Composing sets Hydra's job config; what runs next (a reproduction, which is no Hydra
    # job) must not take the recorded run's command for its own (`records.hydra_overrides`).
    before = HydraConfig.instance().cfg
    try:
        cfg = compose_train_config(overrides, output_dir=output_dir)
        container = OmegaConf.to_container(cfg, resolve=True)
    except Exception:  # any failure: the recorded config is taken as it is
        return None
    finally:
        HydraConfig.instance().cfg = before
    return container if isinstance(container, dict) else None  # type: ignore[return-value]
