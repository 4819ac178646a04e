"""`lab.testing`'s golden files and metric checks on plain dicts and tmp files (s32c): no
training here."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from lab.testing import (
    RunMetrics,
    assert_golden,
    assert_metrics_close,
    compare_metrics,
    off_by,
    run_experiment,
    within_tolerance,
)

NAN = float("nan")


@pytest.fixture(autouse=True)
def _compare_not_record(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAB_RECORD_GOLDEN", raising=False)


def test_a_recorded_nan_matches_a_nan_as_in_compare_metrics(tmp_path: Path) -> None:
    """s32c F1: a pinned diverged run (val/loss NaN) diverges again: that reproduces."""
    with pytest.raises(AssertionError, match="no golden values"):
        assert_golden("g", {"val/loss": NAN, "val/acc": 0.5}, directory=tmp_path)
    assert_golden("g", {"val/loss": NAN, "val/acc": 0.5}, directory=tmp_path)
    assert_metrics_close({"val/loss": NAN}, {"val/loss": NAN})
    with pytest.raises(AssertionError) as failed:
        assert_golden("g", {"val/loss": 0.7, "val/acc": 0.5}, directory=tmp_path)
    assert str(failed.value).endswith("\n  val/loss: recorded nan, got 0.7")


def test_nan_and_infinities_follow_one_rule() -> None:
    assert within_tolerance(NAN, NAN, rtol=0.0, atol=0.0)
    assert not within_tolerance(NAN, 1.0, rtol=1.0, atol=1.0)
    assert not within_tolerance(1.0, NAN, rtol=1.0, atol=1.0)
    assert within_tolerance(math.inf, math.inf, rtol=0.0, atol=0.0)
    assert not within_tolerance(-math.inf, math.inf, rtol=1.0, atol=1.0)
    assert within_tolerance(1.000009, 1.0, rtol=1e-5, atol=0.0)
    assert not within_tolerance(1.00002, 1.0, rtol=1e-5, atol=0.0)
    rows = compare_metrics({"a": NAN, "b": math.inf}, {"a": NAN, "b": math.inf})
    assert [ok for *_, ok in rows] == [True, True]


def _record(path: Path, *, train_sha: str = "a" * 64, threads: int = 2) -> Path:
    """A record.json as `lab.train` writes it (the keys the provenance reads)."""
    record = {
        "lab_version": "0.1.0",
        "code": {"git": {"commit": "c" * 40, "dirty": False, "root": "/somewhere"}},
        "packages": {"torch": "2.13.0+cpu", "transformers": "5.25.0", "numpy": "2.4.6"},
        "hardware": {"torch_threads": threads, "cpu": "EPYC"},
        "overrides": [
            "experiment=paper_tiny",
            "seed=1",
            "hydra.searchpath=[file:///home/me/proj/conf]",
        ],
        "data": {
            "validation": {"rows": 40, "sha256": "b" * 64},
            "train": {"rows": 360, "sha256": train_sha},
        },
    }
    path.mkdir(parents=True, exist_ok=True)
    (path / "record.json").write_text(json.dumps(record))
    return path / "record.json"


METRICS = {"val/loss": 0.69, "test/acc": 0.72, "model/params_total": 100258.0}


def test_the_golden_file_sorts_its_keys_and_keeps_the_runs_provenance_apart(
    tmp_path: Path,
) -> None:
    metrics = RunMetrics(METRICS, _record(tmp_path / "run"))
    with pytest.raises(AssertionError, match="no golden values"):
        assert_golden("paper", metrics, directory=tmp_path / "golden")
    text = (tmp_path / "golden" / "paper.json").read_text()
    assert json.loads(text) == {
        "_provenance": {
            "lab": {"version": "0.1.0", "commit": "c" * 40, "dirty": False},
            "torch": "2.13.0+cpu",
            "transformers": "5.25.0",
            "torch_threads": 2,
            "experiment": "paper_tiny",
            "overrides": ["seed=1"],  # not the config folders: no absolute path in the file
            "data": {
                "train": {"rows": 360, "sha256": "a" * 64},
                "validation": {"rows": 40, "sha256": "b" * 64},
            },
        },
        "values": {"model/params_total": 100258.0, "test/acc": 0.72, "val/loss": 0.69},
    }
    assert text.index('"model/params_total"') < text.index('"test/acc"') < text.index('"val/loss"')
    assert "/home/me" not in text and "/somewhere" not in text
    # Not compared: another thread count, commit or package passes where the values match.
    other = RunMetrics(METRICS, _record(tmp_path / "run2", threads=1))
    assert_golden("paper", other, directory=tmp_path / "golden")
    assert_golden("paper", dict(METRICS), directory=tmp_path / "golden")  # no run: values only


def test_values_not_from_a_run_record_the_process_that_made_them(tmp_path: Path) -> None:
    import lab

    with pytest.raises(AssertionError, match="no golden values"):
        assert_golden("curve", [1.0, 2.0], directory=tmp_path)
    block, values = (
        json.loads((tmp_path / "curve.json").read_text())[k] for k in ("_provenance", "values")
    )
    assert values == [1.0, 2.0]
    assert block["lab"]["version"] == lab.__version__
    assert block["torch"] == torch.__version__ and block["transformers"]
    assert block["torch_threads"] == torch.get_num_threads()
    assert "data" not in block and "experiment" not in block


def test_an_old_golden_file_without_provenance_still_compares(tmp_path: Path) -> None:
    (tmp_path / "old.json").write_text(json.dumps({"val/loss": 0.5, "test/acc": 0.7}))
    assert_golden("old", {"test/acc": 0.7, "val/loss": 0.5}, directory=tmp_path)
    assert_golden(
        "old",
        RunMetrics({"test/acc": 0.7, "val/loss": 0.5}, _record(tmp_path / "r")),
        directory=tmp_path,
    )
    with pytest.raises(AssertionError) as failed:
        assert_golden("old", {"test/acc": 0.8, "val/loss": 0.5}, directory=tmp_path)
    assert str(failed.value).endswith("  test/acc: recorded 0.7, got 0.8 (off by +0.1, +14.3%)")
    (tmp_path / "list.json").write_text("[1.0, 2.0]")
    assert_golden("list", [1.0, 2.0], directory=tmp_path)


def test_data_that_differ_from_the_recorded_fingerprint_fail_as_the_likely_cause(
    tmp_path: Path,
) -> None:
    """s32c F4: a changed row that moves no metric is no silent pass."""
    golden = tmp_path / "golden"
    with pytest.raises(AssertionError, match="no golden values"):
        assert_golden("paper", RunMetrics(METRICS, _record(tmp_path / "a")), directory=golden)
    touched = RunMetrics(METRICS, _record(tmp_path / "b", train_sha="d" * 64))
    with pytest.raises(AssertionError) as failed:
        assert_golden("paper", touched, directory=golden)
    message = str(failed.value)
    assert message.splitlines()[1:] == [
        "  the data differ from the data the golden values were recorded with, the likely"
        " cause (though no value moved):",
        f"    data train: sha256 {'a' * 12} -> {'d' * 12} (rows 360 -> 360)",
    ]
    moved = RunMetrics(
        {**METRICS, "val/loss": 0.70}, _record(tmp_path / "c", train_sha="d" * 64, threads=1)
    )
    with pytest.raises(AssertionError) as failed:
        assert_golden("paper", moved, directory=golden)
    assert str(failed.value).splitlines()[1:] == [
        "  the data differ from the data the golden values were recorded with, the likely"
        " cause (and these values moved):",
        f"    data train: sha256 {'a' * 12} -> {'d' * 12} (rows 360 -> 360)",
        "  recorded with other settings:",
        "    torch_threads: recorded 2, now 1",
        "  val/loss: recorded 0.69, got 0.7 (off by +0.01, +1.45%)",
    ]


def test_a_small_real_change_shows_its_relative_size() -> None:
    """s32c F2: at rtol 1e-5, +2.93e-05 of 0.69 read `+0.00%`."""
    assert off_by(0.6924130320549011, 0.6924422979354858) == " (off by +2.93e-05, +0.00423%)"
    assert off_by(1.0, 1.5) == " (off by +0.5, +50%)"
    assert off_by(1.0, 1.0 + 1e-12) == " (off by +1e-12, +1e-10%)"


def test_a_cut_list_of_differing_keys_says_how_many_more(tmp_path: Path) -> None:
    """s32c F5: 30 keys differ, 20 are listed, and the rest counted."""
    (tmp_path / "many.json").write_text(json.dumps({f"k{i:02}": float(i) for i in range(30)}))
    with pytest.raises(AssertionError) as failed:
        assert_golden("many", {f"k{i:02}": i + 1.0 for i in range(30)}, directory=tmp_path)
    lines = str(failed.value).splitlines()
    assert lines[-2:] == ["  k19: recorded 19.0, got 20.0 (off by +1, +5.26%)", "  ... and 10 more"]
    assert len(lines) == 22


def test_a_metric_that_was_not_logged_lists_the_logged_names_closest_first() -> None:
    """s32c F6: a typo read like a run that logged nothing (`got None`)."""
    logged = {"test/acc": 0.7, "val/acc": 0.6, "test/f1_positive": 0.7, "test/loss": 0.69}
    with pytest.raises(AssertionError) as failed:
        assert_metrics_close(logged, {"test/acc1": 0.7, "test/acc": 0.7})
    assert str(failed.value) == (
        "metrics outside tolerance:\n  test/acc1: not logged; logged: test/acc, test/loss,"
        " val/acc, test/f1_positive"
    )
    with pytest.raises(AssertionError, match="test/acc: not logged; nothing was logged"):
        assert_metrics_close({}, {"test/acc": 0.7})


@pytest.mark.parametrize("value", ["1", "true", "yes", "TRUE", "Yes"])
def test_record_golden_takes_1_true_or_yes(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "g.json").write_text('{"a": 1.0}')
    monkeypatch.setenv("LAB_RECORD_GOLDEN", value)
    assert_golden("g", {"a": 2.0}, directory=tmp_path)  # re-recorded, passes
    assert json.loads((tmp_path / "g.json").read_text())["values"] == {"a": 2.0}


@pytest.mark.parametrize("value", ["0", "false", "no", ""])
def test_record_golden_0_false_or_no_compares(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "g.json").write_text('{"a": 1.0}')
    monkeypatch.setenv("LAB_RECORD_GOLDEN", value)
    with pytest.raises(AssertionError, match=r"a: recorded 1\.0, got 2\.0"):
        assert_golden("g", {"a": 2.0}, directory=tmp_path)


def test_record_golden_refuses_another_value_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "g.json").write_text('{"a": 1.0}')
    monkeypatch.setenv("LAB_RECORD_GOLDEN", "on")
    with pytest.raises(AssertionError) as failed:
        assert_golden("g", {"a": 1.0}, directory=tmp_path)
    assert str(failed.value) == (
        "LAB_RECORD_GOLDEN='on': takes 1, true or yes to record golden values, or 0, false,"
        " no (or unset) to compare with them"
    )
    assert json.loads((tmp_path / "g.json").read_text()) == {"a": 1.0}  # untouched


def test_run_experiment_returns_metrics_that_know_their_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lab.train

    monkeypatch.setattr(lab.train, "run", lambda cfg: {"test/acc": 0.5})
    metrics = run_experiment("tiny_demo_smoke", ["seed=3"], output_dir=tmp_path / "run")
    assert metrics == {"test/acc": 0.5} and isinstance(metrics, dict)
    assert metrics.record_path == (tmp_path / "run" / "record.json").resolve()
