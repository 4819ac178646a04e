"""`lab.compare`'s configurations: runs grouped by the settings they differ in, each with its
metrics' statistics over seeds (`lab.compare_stats`) and its config-group choices
(`lab.compare_choices`).

Rows are configurations: runs whose resolved configs (and group choices, where recorded)
differ only in the seed and in where and how they were recorded (their paths, their loggers'
run names) are one row.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from lab.compare_choices import differing_groups, explained_keys, run_choices
from lab.compare_stats import (
    configuration_stats,
    disagreeing_seeds,
    distinct_seeds,
    diverged,
    read_record,
)
from lab.config.flatten import flatten

# Keys that differ between runs without being a choice: where things were written, seeds,
# and how a run was logged (`logger.wandb.name` holds the seed; csv against W&B is a choice of
# record, not of training). A key is matched whole, never by its ending alone:
# `scheduler.name` is the schedule, a choice like any other.
_IGNORED_PREFIXES = ("paths.", "optuna_trial.", "hydra.", "logger.")
_IGNORED_LEAVES = ("seed", "dirpath", "save_dir", "default_root_dir", "resume")


class _Missing:
    """A config key a run does not have: unlike a null (`None`), it prints `-`."""

    def __repr__(self) -> str:
        return "-"


#: the value of a config key a run does not have (in `compare_runs`' rows)
MISSING = _Missing()


def flat_config(run: Path) -> dict[str, Any]:
    """A run's resolved config.yaml as dotted keys, without `is_run_label` keys; lists as
    JSON text (values are compared and grouped by their repr).

    A path inside an installed package (record.json's `package_paths`: the quickstart model,
    lab's tiny assets and demo data) is the venv's or clone's absolute path in config.yaml,
    so the same run from a clone and from an installed lab, or from two machines, differed
    there and split one configuration in two (s34g M1): such a value is compared as
    `<package>:<path inside it>`."""
    flat = flatten(OmegaConf.to_container(OmegaConf.load(run / "config.yaml")), lists="json")
    for key, place in _package_places(run).items():
        if key in flat:
            flat[key] = place
    return {k: v for k, v in flat.items() if not is_run_label(k)}


def _package_places(run: Path) -> dict[str, str]:
    """{config key: `package:relative`} of the run's record.json `package_paths` ({} for a
    record without them or one that cannot be read: its refusal is `compare_find`'s)."""
    try:
        entries = json.loads((run / "record.json").read_text(encoding="utf-8")).get("package_paths")
    except (OSError, ValueError, AttributeError):
        return {}
    return {
        key: f"{entry['package']}:{entry.get('relative') or ''}"
        for key, entry in (entries if isinstance(entries, dict) else {}).items()
        if isinstance(entry, dict) and isinstance(entry.get("package"), str)
    }


def is_run_label(key: str) -> bool:
    """Whether a flattened config key is where or how a run was recorded (its paths, seeds,
    its loggers) rather than a setting: such keys are left out of the comparison."""
    return key.startswith(_IGNORED_PREFIXES) or key.split(".")[-1] in _IGNORED_LEAVES


def compare_runs(
    runs: list[Path],
    metrics_of: dict[Path, dict[str, Any]] | None = None,
    explained: set[str] | None = None,
) -> tuple[list[str], list[dict[str, Any]]]:
    """(differing columns, one row per configuration). The columns: the config groups whose
    choice differs (`model`, valued `minilm`), then the config keys that differ; a key a
    configuration's runs lack has the value `MISSING` (not None: that is a real null). Each
    row: those values, `choices` (its differing groups' choices), `seeds`, `runs` (folders
    as given), `n_seeds` (distinct), `diverged` (its diverged runs' folders) and `metrics`
    (per metric `mean`, `std`, `n`: `lab.compare_stats.configuration_stats`).
    `metrics_of`: each run's metrics where they are not its metrics.json (`--eval-data`).
    `explained`: given, the differing keys the choices alone explain are added to it
    (`lab.compare_choices.explained_keys`): the printed table leaves them out.

    Statistics are over distinct seeds (`n`: how many have the metric): a seed's runs are
    averaged into one value first, so reruns of a seed neither count as seeds nor make a
    spread. A run whose record names no seed counts as a seed of its own."""
    configs = [flat_config(run) for run in runs]
    keys = sorted({k for c in configs for k in c})
    differing = [k for k in keys if len({repr(c.get(k, MISSING)) for c in configs}) > 1]
    choices = run_choices(runs, is_run_label)
    groups = differing_groups(choices, set(keys))
    if explained is not None:
        explained |= explained_keys(runs, configs, choices, groups, differing, MISSING)
    picked = [{g: choice.get(g) for g in groups} for choice in choices or [{}] * len(runs)]
    groups_of: dict[tuple[Any, ...], list[int]] = {}
    for index, config in enumerate(configs):
        values = [repr(picked[index][g]) for g in groups]
        values += [repr(config.get(k, MISSING)) for k in differing]
        groups_of.setdefault(tuple(values), []).append(index)
    rows = []
    for members in groups_of.values():
        metrics = [
            metrics_of[runs[i]]
            if metrics_of is not None
            else json.loads((runs[i] / "metrics.json").read_text())
            for i in members
        ]
        records = [read_record(runs[i]) for i in members]
        failed = [diverged(r, m) for r, m in zip(records, metrics, strict=True)]
        first = members[0]
        row: dict[str, Any] = {g: picked[first][g] for g in groups}
        row.update({k: configs[first].get(k, MISSING) for k in differing})
        row["choices"] = dict(picked[first])
        row["seeds"] = [record.get("seed") for record in records]
        row["runs"] = [str(runs[i]) for i in members]
        row["n_seeds"] = distinct_seeds(row["seeds"])
        row["diverged"] = [run for run, bad in zip(row["runs"], failed, strict=True) if bad]
        row["metrics"] = configuration_stats(row["seeds"], metrics, failed)
        row["disagreeing"] = disagreeing_seeds(row["seeds"], row["runs"], metrics, failed)
        rows.append(row)
    return [*groups, *differing], rows
