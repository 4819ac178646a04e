"""The config-group choices of the runs `lab.compare` compares (`model: tiny_bert | minilm`),
and the config keys those choices alone explain.

Runs of two models differ in a dozen expanded keys (`model.network._target_`,
`model.network.config.hidden_size`, the tokenizer's path, ...): printed as rows, and repeated
in the best line, they hid the one difference a reader wants to see (s27a M2). Hydra records
each run's choices (`.hydra/hydra.yaml` `runtime.choices`, read by
`lab.inspect_run.recorded_choices`) and its command-line overrides (`overrides.yaml`, else
`record.json`'s). Where every run records its choices and some group's choice differs:

- the group is a column of its own (`model`, valued `tiny_bert` / `minilm`), a group that
  records a run rather than trains it (`logger`, `paths`, `hydra`: `is_run_label`) excepted;
- a differing config key is *explained* by the choices where no run set it on its command
  line (`data.path=...`, or a parent of it) and its value is the same in every run of the
  same choices. The printed table and the best line leave explained keys out (`--all-keys`
  shows them); the CSV keeps every key. A key set on the command line always stays: the same
  `data=json` with two `data.path`s is two datasets;
- each configuration is labelled by its choices (`minilm demo`) where those tell every
  configuration apart, not by its run folders (a line below the table names those).

Runs without the record (hand-made folders, a run copied without `.hydra/`) have no choice
columns: their keys are compared as before, each expanded key a row.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from lab.inspect_run import recorded_choices

#: joins a configuration's choices into its label: `minilm demo` (a header folds at a space)
LABEL_JOIN = " "


def run_choices(runs: list[Path], is_label: Callable[[str], bool]) -> list[dict[str, str]] | None:
    """Each run's top-level group choices (`{"model": "minilm", "data": "demo", ...}`), in
    the defaults list's order (Hydra records them reversed: `model` before `data`); None
    where a run does not record them. Groups for which `is_label(f"{group}.")` (where and
    how a run was recorded, `lab.compare.is_run_label`) are left out."""
    found = []
    for run in runs:
        recorded = recorded_choices(run)
        if not recorded:
            return None
        groups = [g for g in reversed(list(recorded)) if "/" not in g and not is_label(f"{g}.")]
        found.append({group: str(recorded[group]) for group in groups})
    return found


def differing_groups(choices: list[dict[str, str]] | None, keys: set[str]) -> list[str]:
    """The groups whose choice differs between the runs (a group a run lacks counts as
    `None`), in the first run's order; a group named as a config key is none (no column
    could tell the two apart)."""
    if not choices:
        return []
    order = list(dict.fromkeys(group for choice in choices for group in choice))
    return [
        group
        for group in order
        if group not in keys and len({choice.get(group) for choice in choices}) > 1
    ]


def run_overrides(run: Path) -> list[str]:
    """The keys a run's command line set (`data.path`, `optimizer.lr`, and its choices:
    `model`): `overrides.yaml`, else `record.json`'s `overrides`; `+`/`++`/`~` stripped."""
    import json

    try:
        path = run / "overrides.yaml"
        given: Any = (
            OmegaConf.load(path)
            if path.is_file()
            else json.loads((run / "record.json").read_text()).get("overrides")
        )
    except Exception:  # a damaged record sets nothing: its keys are compared as any
        return []
    items = given if isinstance(given, list) or OmegaConf.is_list(given) else []
    return [str(o).split("=", 1)[0].lstrip("+~") for o in items if "=" in str(o)]


def explained_keys(
    runs: list[Path],
    configs: list[dict[str, Any]],
    choices: list[dict[str, str]] | None,
    groups: list[str],
    keys: list[str],
    missing: object,
) -> set[str]:
    """The differing `keys` the differing `groups`' choices alone explain: no run's command
    line set the key (or a parent of it), and runs of the same choices agree on its value
    (`missing`: the value of a key a run lacks)."""
    if not choices or not groups:
        return set()
    # `model=minilm` is a choice, not a value set: every `model.` key would count as set
    recorded = {group for choice in choices for group in choice}
    overridden = {key for run in runs for key in run_overrides(run)} - recorded
    explained = set()
    for key in keys:
        if any(key == o or key.startswith(f"{o}.") for o in overridden):
            continue
        seen: dict[tuple[str | None, ...], str] = {}
        if all(
            seen.setdefault(_tuple(choice, groups), repr(config.get(key, missing)))
            == repr(config.get(key, missing))
            for choice, config in zip(choices, configs, strict=True)
        ):
            explained.add(key)
    return explained


def _tuple(choice: dict[str, str], groups: list[str]) -> tuple[str | None, ...]:
    return tuple(choice.get(group) for group in groups)


def choice_labels(rows: list[dict[str, Any]]) -> list[str] | None:
    """Each configuration's label made of its differing choices (`minilm demo`), where every
    configuration has such choices and no two share them; else None (the run folders name
    them)."""
    labels = [LABEL_JOIN.join(row.get("choices", {}).values()) for row in rows]
    if not all(labels) or len(set(labels)) < len(labels):
        return None
    return labels
