"""`assert_golden`: exact regression values in `<directory>/<name>.json`, recorded once and
compared ever after (see `lab.testing`).

The file is JSON with sorted keys: `{"_provenance": {...}, "values": ...}`, where `_provenance`
(`lab.testing_provenance`) says what produced the values and is never compared. A file written
before it (the values alone) still compares.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lab.config.flatten import flatten
from lab.testing_compare import and_more, off_by, within_tolerance
from lab.testing_provenance import data_differences, other_differences, provenance

RECORD_ENV = "LAB_RECORD_GOLDEN"
PROVENANCE = "_provenance"
_ON = ("1", "true", "yes")
_OFF = ("", "0", "false", "no")


def assert_golden(
    name: str,
    values: Sequence[float] | Mapping[str, Any],
    *,
    directory: str | Path,
    rtol: float = 1e-5,
) -> None:
    """Compare `values` with the recorded golden file, or record it (see `lab.testing`)."""
    path = Path(directory) / f"{name}.json"
    record = recording()
    if record or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        now = {PROVENANCE: provenance(values), "values": values}
        path.write_text(json.dumps(now, indent=2, sort_keys=True) + "\n")
        if not record:
            raise AssertionError(
                f"no golden values for {name}; recorded {path}: review and commit it"
            )
        return
    recorded, recorded_provenance = read_golden(path)
    flat_actual = flatten(values, lists="index")
    flat_recorded = flatten(recorded, lists="index")
    rerecord = f"if the change is intended, re-record: {_rerecord_command()}"
    if flat_actual.keys() != flat_recorded.keys():
        new = sorted(flat_actual.keys() - flat_recorded.keys())
        gone = sorted(flat_recorded.keys() - flat_actual.keys())
        parts = [
            f"new: {', '.join(new)}" if new else "",
            f"missing: {', '.join(gone)}" if gone else "",
        ]
        raise AssertionError(
            f"{name}: keys differ from {path} ({'; '.join(p for p in parts if p)}); {rerecord}"
        )
    failures = [
        f"{key}: recorded {flat_recorded[key]!r}, got {flat_actual[key]!r}"
        f"{off_by(flat_recorded[key], flat_actual[key])}"
        for key in flat_recorded
        if not _close(flat_actual[key], flat_recorded[key], rtol)
    ]
    data: list[str] = []
    others: list[str] = []
    if recorded_provenance is not None and (failures or _from_run(values, recorded_provenance)):
        now_provenance = provenance(values)
        data = data_differences(recorded_provenance, now_provenance)
        if failures or data:
            others = other_differences(recorded_provenance, now_provenance)
    if not failures and not data:
        return
    head = f"{name} differs from {path} (rtol {rtol}); {rerecord}:"
    if data:
        moved = "and these values moved" if failures else "though no value moved"
        head += (
            "\n  the data differ from the data the golden values were recorded with, the likely"
            f" cause ({moved}):\n    " + "\n    ".join(data)
        )
    if others:
        head += "\n  recorded with other settings:\n    " + "\n    ".join(others)
    raise AssertionError(head + "".join("\n  " + line for line in and_more(failures)))


def read_golden(path: Path) -> tuple[Any, dict[str, Any] | None]:
    """The values of a golden file and its `_provenance` (None in a file from before it)."""
    data = json.loads(path.read_text())
    if isinstance(data, dict) and set(data) == {PROVENANCE, "values"}:
        return data["values"], data[PROVENANCE]
    return data, None


def recording() -> bool:
    """Whether `LAB_RECORD_GOLDEN` asks to (re-)record: 1, true or yes; unset, empty, 0, false
    or no compare; any other value is refused in one line rather than silently compared."""
    value = os.environ.get(RECORD_ENV, "").strip().lower()
    if value in _ON:
        return True
    if value in _OFF:
        return False
    raise AssertionError(
        f"{RECORD_ENV}={os.environ[RECORD_ENV]!r}: takes 1, true or yes to record golden"
        " values, or 0, false, no (or unset) to compare with them"
    )


def _from_run(values: Any, block: Mapping[str, Any]) -> bool:
    """Values of a run (`run_experiment`) against a file that fingerprints its data: a passing
    test then also checks the data."""
    return hasattr(values, "record_path") and bool(block.get("data"))


def _rerecord_command() -> str:
    """`LAB_RECORD_GOLDEN=1 pytest 'tests/test_x.py::test_y'`: the command that re-records the
    test running now (pytest names it in `PYTEST_CURRENT_TEST`, `<node id> (call)`); outside
    pytest, the variable alone.

    The environment variable, not lab's own `pytest --record-golden`: that option lives in
    lab's tests/conftest.py, and a project of your own that calls `assert_golden` has no such
    option (pytest: unrecognized arguments, s27a L1)."""
    node = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]
    if not node:
        return f"run it again with {RECORD_ENV}=1 set"
    return f"{RECORD_ENV}=1 pytest {shlex.quote(node)}"


def _close(actual: Any, recorded: Any, rtol: float) -> bool:
    """A golden value matches: floats by `within_tolerance` (rtol of the recorded value, NaN
    matching NaN), anything else (ints, strings, None) exactly."""
    if isinstance(recorded, float) or isinstance(actual, float):
        return within_tolerance(actual, recorded, rtol=rtol, atol=0.0)
    return bool(actual == recorded)
