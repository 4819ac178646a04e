"""Pin research results in your own pytest suite, the way lab pins its own.

    from pathlib import Path

    from lab.testing import assert_golden, assert_metrics_close, run_experiment

    HERE = Path(__file__).parent

    def test_my_paper_number(tmp_path):
        metrics = run_experiment("roberta_imdb", overrides=["seed=1"], output_dir=tmp_path)
        assert_metrics_close(metrics, {"test/acc": 0.953}, atol=0.005)

    def test_my_own_experiment(tmp_path):   # conf/experiment/my_exp.yaml of your project
        metrics = run_experiment("my_exp", output_dir=tmp_path, config_dirs=[HERE.parent / "conf"])
        assert_golden("my_exp", metrics, directory=HERE / "golden")

Golden values (exact regression tests): `assert_golden(name, values, directory=...)`
compares with `<directory>/<name>.json`; when the file does not exist, or `LAB_RECORD_GOLDEN`
is 1, true or yes (`LAB_RECORD_GOLDEN=1 pytest tests/test_paper.py`, in any project; lab's own
suite also takes `pytest --record-golden`), it records instead: re-recording is always a
deliberate act, never a side effect of a failing test. A failure names the command that
re-records its test. The file keeps, apart from the values and never compared, what produced
them (`_provenance`: `lab.testing_provenance`); a run's data that differ from the recorded
data's fingerprints fail the test and are named as the likely cause.

Modules: `lab.testing_compare` (tolerance, how far a number moved), `lab.testing_golden`
(the golden files), `lab.testing_provenance` (what produced them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from lab.testing_compare import compare_metrics, logged_names, off_by, within_tolerance
from lab.testing_golden import RECORD_ENV, assert_golden
from lab.testing_provenance import RunMetrics

__all__ = [
    "RECORD_ENV",
    "RunMetrics",
    "assert_golden",
    "assert_metrics_close",
    "compare_metrics",
    "off_by",
    "run_experiment",
    "within_tolerance",
]


def assert_metrics_close(
    actual: Mapping[str, float],
    expected: Mapping[str, float],
    *,
    rtol: float = 0.0,
    atol: float = 0.0,
) -> None:
    """Fail with a readable list of every metric outside its tolerance, or not logged (with
    the names that were, the closest first: a typo's intended name leads)."""
    failures = [
        f"{name}: expected {want} ± {atol + rtol * abs(want):.3g}, got {got}{off_by(want, got)}"
        if got is not None
        else f"{name}: not logged; {logged_names(name, actual)}"
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
) -> RunMetrics:
    """Compose `experiment=<name>` (+ overrides) like the CLI and run it; return the metrics.

    `output_dir` is the run directory itself (not a root under which runs get their own
    directories): give each call a fresh one, e.g. pytest's `tmp_path`; a reused directory is
    trained over. None: a new run directory under `paths.output_root`, as `lab.train` makes.
    `config_dirs`: folders of your own configs (`experiment/`, `data/`, `model/`, ...),
    searched before lab's as `lab.train --config-dir` searches them; the run's record.json
    notes them in its overrides (`hydra.searchpath=[...]`). The metrics are a plain dict that
    also knows the run's record.json (`.record_path`), whose code, packages, threads and data
    fingerprints `assert_golden` keeps in the golden file.
    """
    from lab.config import compose_train_config
    from lab.train import run

    cfg = compose_train_config(
        [f"experiment={experiment}", *overrides], output_dir=output_dir, config_dirs=config_dirs
    )
    record_path = Path(cfg.paths.output_dir).resolve() / "record.json"
    return RunMetrics(run(cfg), record_path)
