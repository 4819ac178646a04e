"""Pin research results in your own pytest suite, the way lab pins its own.

    from lab.testing import assert_metrics_close, run_experiment

    def test_my_paper_number(tmp_path):
        metrics = run_experiment("roberta_imdb", overrides=["seed=1"], output_dir=tmp_path)
        assert_metrics_close(metrics, {"test/acc": 0.953}, atol=0.005)

    def test_my_own_experiment(tmp_path):   # conf/experiment/my_exp.yaml of your project
        metrics = run_experiment("my_exp", output_dir=tmp_path, config_dirs=["conf"])

Golden values (exact regression tests): `assert_golden(name, values, directory=...)`
compares with `<directory>/<name>.json`; when the file does not exist, or `LAB_RECORD_GOLDEN=1`
is set (`LAB_RECORD_GOLDEN=1 pytest tests/test_paper.py`, in any project; lab's own suite also
takes `pytest --record-golden`), it records instead: re-recording is always a deliberate act,
never a side effect of a failing test. A failure names the command that re-records its test.
"""

from __future__ import annotations

import json
import math
import os
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lab.config.flatten import flatten

RECORD_ENV = "LAB_RECORD_GOLDEN"


def compare_metrics(
    actual: Mapping[str, float],
    expected: Mapping[str, float],
    *,
    rtol: float = 0.0,
    atol: float = 0.0,
) -> list[tuple[str, float, float | None, bool]]:
    """Rows `(name, expected, actual, ok)`; ok if |actual - expected| <= atol + rtol*|expected|,
    or where both are NaN: a diverged run that diverges again reproduces (s27e H1)."""
    rows = []
    for name, want in expected.items():
        got = actual.get(name)
        ok = got is not None and within_tolerance(got, want, rtol=rtol, atol=atol)
        rows.append((name, float(want), None if got is None else float(got), ok))
    return rows


def within_tolerance(got: float, want: float, *, rtol: float, atol: float) -> bool:
    """|got - want| <= atol + rtol*|want|; equal numbers (infinities too) always, and two NaNs:
    a diverged run that diverges again reproduces (s27e H1). The one rule of
    `compare_metrics`, `lab.reproduce` and `assert_golden`."""
    got, want = float(got), float(want)
    if math.isnan(got) or math.isnan(want):
        return math.isnan(got) and math.isnan(want)
    if math.isinf(got) or math.isinf(want):  # no tolerance reaches or leaves an infinity
        return got == want
    return abs(got - want) <= atol + rtol * abs(want)


def assert_metrics_close(
    actual: Mapping[str, float],
    expected: Mapping[str, float],
    *,
    rtol: float = 0.0,
    atol: float = 0.0,
) -> None:
    """Fail with a readable list of every metric outside its tolerance (or missing)."""
    failures = [
        f"{name}: expected {want} ± {atol + rtol * abs(want):.3g}, got {got}{off_by(want, got)}"
        for name, want, got, ok in compare_metrics(actual, expected, rtol=rtol, atol=atol)
        if not ok
    ]
    if failures:
        raise AssertionError("metrics outside tolerance:\n  " + "\n  ".join(failures))


def run_experiment(
    experiment: str,
    overrides: Sequence[str] = (),
    output_dir: str | Path | None = None,
    config_dirs: Sequence[str | Path] = (),
) -> dict[str, float]:
    """Compose `experiment=<name>` (+ overrides) like the CLI and run it; return the metrics.

    `output_dir` is the run directory itself (not a root under which runs get their own
    directories): give each call a fresh one, e.g. pytest's `tmp_path`; a reused directory is
    trained over. None: a new run directory under `paths.output_root`, as `lab.train` makes.
    `config_dirs`: folders of your own configs (`experiment/`, `data/`, `model/`, ...),
    searched before lab's as `lab.train --config-dir` searches them; the run's record.json
    notes them in its overrides (`hydra.searchpath=[...]`).
    """
    from lab.config import compose_train_config
    from lab.train import run

    cfg = compose_train_config(
        [f"experiment={experiment}", *overrides], output_dir=output_dir, config_dirs=config_dirs
    )
    return run(cfg)


def assert_golden(
    name: str,
    values: Sequence[float] | Mapping[str, Any],
    *,
    directory: str | Path,
    rtol: float = 1e-5,
) -> None:
    """Compare `values` with the recorded golden file, or record it (see module docstring)."""
    path = Path(directory) / f"{name}.json"
    if os.environ.get(RECORD_ENV) == "1" or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values, indent=2) + "\n")
        if os.environ.get(RECORD_ENV) != "1":
            raise AssertionError(
                f"no golden values for {name}; recorded {path}: review and commit it"
            )
        return
    recorded = json.loads(path.read_text())
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
    if failures:
        raise AssertionError(
            f"{name} differs from {path} (rtol {rtol}); {rerecord}:\n  "
            + "\n  ".join(failures[:20])
        )


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


def off_by(want: Any, got: Any) -> str:
    """` (off by +0.0131, +4.3%)`: how far a number moved from the one it was compared with
    (the relative part where `want` is not 0); "" for what is no number (a missing metric)."""
    numbers = (int, float)
    if not isinstance(want, numbers) or not isinstance(got, numbers) or isinstance(got, bool):
        return ""
    if math.isnan(float(got)) or math.isnan(float(want)):
        return ""
    delta = float(got) - float(want)
    relative = f", {delta / abs(float(want)):+.2%}" if want else ""
    return f" (off by {delta:+.3g}{relative})"


def _close(actual: Any, recorded: Any, rtol: float) -> bool:
    """A golden value matches: floats by `within_tolerance` (rtol of the recorded value, NaN
    matching NaN), anything else (ints, strings, None) exactly."""
    if isinstance(recorded, float) or isinstance(actual, float):
        return within_tolerance(actual, recorded, rtol=rtol, atol=0.0)
    return bool(actual == recorded)
