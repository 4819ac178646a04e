"""What produced a golden file's values: the `_provenance` block `assert_golden` writes beside
them (never compared), and what a failure says of it.

For metrics from `lab.testing.run_experiment` (a `RunMetrics`) the block is the run's own
record.json: lab's version and commit, torch and transformers versions, torch threads, the
experiment, its overrides and each data split's fingerprint. For other values, the process that
records them: lab, torch, transformers and the thread count now. A data fingerprint that differs
from the recorded one is the likely cause of a failure, and fails even where no value moved.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PACKAGES = ("torch", "transformers")


class RunMetrics(dict[str, float]):
    """A run's metrics (a plain dict to compare and print) that knows its run's record.json."""

    def __init__(self, metrics: Mapping[str, float], record_path: Path) -> None:
        super().__init__(metrics)
        self.record_path = record_path


def provenance(values: Any) -> dict[str, Any]:
    """The `_provenance` block for `values` (see the module docstring)."""
    record_path = getattr(values, "record_path", None)
    if isinstance(record_path, Path) and record_path.is_file():
        return _from_record(json.loads(record_path.read_text()))
    return _from_process()


def _from_record(record: Mapping[str, Any]) -> dict[str, Any]:
    hardware = record.get("hardware") or {}
    overrides = [str(o) for o in record.get("overrides") or []]
    experiment = next((o.split("=", 1)[1] for o in overrides if o.startswith("experiment=")), None)
    packages = record.get("packages") or {}
    return {
        "lab": _lab(record.get("lab_version"), record.get("code") or {}),
        **{name: packages.get(name) for name in PACKAGES},
        "torch_threads": hardware.get("rank_threads", hardware.get("torch_threads")),
        "experiment": experiment,
        # not the config folders (`hydra.searchpath=[file:///abs/...]`): the file names no
        # absolute path, and still compares where the project is copied to
        "overrides": [
            o for o in overrides if not o.startswith(("experiment=", "hydra.searchpath="))
        ],
        "data": {
            split: {"rows": d.get("rows"), "sha256": d.get("sha256")}
            for split, d in sorted((record.get("data") or {}).items())
        },
    }


def _from_process() -> dict[str, Any]:
    import torch

    import lab
    from lab.run_dir.environment import package_versions
    from lab.run_dir.records import lab_code_version

    packages = package_versions()
    return {
        "lab": _lab(lab.__version__, lab_code_version()[0]),
        **{name: packages.get(name) for name in PACKAGES},
        "torch_threads": torch.get_num_threads(),
    }


def _lab(version: Any, code: Mapping[str, Any]) -> dict[str, Any]:
    git = code.get("git") or {}
    return {"version": version, "commit": git.get("commit"), "dirty": git.get("dirty")}


def data_differences(recorded: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """`data train: sha256 89527af2e0ad -> 1c0d2e3f4a5b (rows 360 -> 360)`, one per split whose
    fingerprint both blocks have and that differs, or that one of them lacks."""
    then, found = recorded.get("data"), now.get("data")
    if not isinstance(then, Mapping) or not isinstance(found, Mapping) or not then or not found:
        return []
    lines = []
    for split in sorted(set(then) | set(found)):
        a, b = then.get(split) or {}, found.get(split) or {}
        if a.get("sha256") != b.get("sha256"):
            lines.append(
                f"data {split}: sha256 {_short(a.get('sha256'))} -> {_short(b.get('sha256'))}"
                f" (rows {a.get('rows', '-')} -> {b.get('rows', '-')})"
            )
    return lines


def other_differences(recorded: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """`torch_threads: recorded 2, now 1`: what else differs (lab's commit, packages, threads,
    experiment, overrides) among the entries both blocks have."""
    lines = []
    for key in recorded.keys() & now.keys() - {"data"}:
        if recorded[key] != now[key]:
            lines.append(f"{key}: recorded {_brief(recorded[key])}, now {_brief(now[key])}")
    return sorted(lines)


def _short(sha: Any) -> str:
    return str(sha)[:12] if sha else "none"


def _brief(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {_short(v) if k == 'commit' else v}" for k, v in value.items())
    return str(value)
