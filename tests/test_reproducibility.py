"""Run records, determinism, `lab.reproduce`, and golden values."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import pytest
import torch

from lab.testing import assert_golden, assert_metrics_close, compare_metrics
from lab.train import run

from conftest import TINY_FIXTURE_RUN, lab_cli

GOLDEN = Path(__file__).resolve().parent / "golden"


def _losses(run_dir: Path) -> list[float]:
    with (run_dir / "csv" / "metrics.csv").open() as handle:
        return [float(r["train/loss"]) for r in csv.DictReader(handle) if r.get("train/loss")]


@pytest.fixture(scope="module")
def recorded_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lab.config import compose_train_config

    run_dir = tmp_path_factory.mktemp("recorded")
    overrides = [*TINY_FIXTURE_RUN, "trainer.max_epochs=3", "optimizer.lr=1e-3"]
    run(compose_train_config(overrides, output_dir=run_dir))
    return run_dir


@pytest.mark.slow
def test_record_describes_code_packages_hardware_and_data(recorded_run: Path) -> None:
    record = json.loads((recorded_run / "record.json").read_text())
    git = record["code"]["git"]
    assert re.fullmatch(r"[0-9a-f]{40}", git["commit"])
    assert (recorded_run / "code.patch").exists() == bool(record["code"].get("patch"))
    assert record["packages"]["torch"] == torch.__version__
    assert record["packages"]["lightning"] and record["packages"]["python"]
    assert record["hardware"]["cpu_count"] >= 1 and record["hardware"]["gpu_count"] == 0
    assert {s: d["rows"] for s, d in record["data"].items()} == {
        "train": 56,
        "validation": 12,
        "test": 12,
    }
    assert all(re.fullmatch(r"[0-9a-f]{64}", d["sha256"]) for d in record["data"].values())
    assert record["seed"] == 42
    assert record["started"] <= record["finished"]
    assert record["command"] and record["argv"]


@pytest.mark.slow
def test_same_config_and_seed_are_bit_identical_with_dataloader_workers(
    recorded_run: Path, compose_cfg: Any, tmp_path: Path
) -> None:
    runs = []
    for name in ("a", "b"):
        cfg = compose_cfg(
            *TINY_FIXTURE_RUN,
            "trainer.max_epochs=3",
            "optimizer.lr=1e-3",
            "data.num_workers=2",
            output_dir=tmp_path / name,
        )
        runs.append((run(cfg), _losses(tmp_path / name)))
    assert runs[0] == runs[1]
    # Workers only collate: the same numbers as the single-process recorded run.
    recorded = json.loads((recorded_run / "metrics.json").read_text())
    assert runs[0][0] == recorded
    assert runs[0][1] == _losses(recorded_run)


@pytest.mark.slow
def test_golden_loss_curve_text_classification(recorded_run: Path) -> None:
    """tiny_bert, seed 42, lr 1e-3, fixture sentiment data, 3 epochs: the recorded losses."""
    assert_golden(
        "text_classification_tiny_bert", _losses(recorded_run), directory=GOLDEN, rtol=1e-5
    )


@pytest.mark.slow
def test_reproduce_passes_on_an_unchanged_run_and_fails_on_a_tampered_one(
    recorded_run: Path,
) -> None:
    result = lab_cli("reproduce", str(recorded_run))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (
        "FAIL" not in result.stdout and result.stdout.count("pass") == 16
    )  # 14 metrics (val/ and test/ mcc, f1_positive among them) + 2 parameter counts
    (reproduction,) = (recorded_run / "reproductions").iterdir()
    assert (reproduction / "metrics.json").read_text() == (
        recorded_run / "metrics.json"
    ).read_text()
    assert "Recorded vs now (rtol 0, atol 1e-06)" in result.stdout
    # Logged as a lab.train run: lab's lines on screen, and a train.log to diff with the run's.
    data = "data: 56 train, 12 validation, 12 test rows from "
    log_file = (reproduction / "train.log").read_text()
    for line in (data, "model: ", f"Run directory: {reproduction}"):
        assert line in result.stdout and line in log_file, line
    assert "GPU available: False" in log_file and "GPU available" not in result.stdout

    record = json.loads((recorded_run / "record.json").read_text())
    record["metrics"]["test/acc"] += 0.25
    record["packages"]["torch"] = "0.0.1"
    (recorded_run / "record.json").write_text(json.dumps(record))
    result = lab_cli("reproduce", str(recorded_run))
    assert result.returncode == 1
    assert re.search(r"test/acc .*FAIL", result.stdout)
    assert "package torch: recorded 0.0.1" in result.stdout


def _reproduce_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """lab.reproduce's `main` in this process (a refusal needs no process of its own): its
    exit code must be 2; its stderr."""
    from lab.reproduce import main

    with pytest.raises(SystemExit) as ended:
        main(argv)
    assert ended.value.code == 2
    return capsys.readouterr().err


def test_reproduce_rejects_a_directory_that_is_not_a_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "is not a lab run directory" in _reproduce_refused([str(tmp_path)], capsys)


@pytest.mark.parametrize("option", [["--atol", "-5"], ["--rtol", "-1"], ["--rtol", "nan"]])
def test_reproduce_refuses_a_negative_tolerance_before_retraining(
    option: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A tolerance below 0 failed every metric, equal ones too, after a whole retraining."""
    assert _reproduce_refused([str(tmp_path), *option], capsys).strip() == (
        f"error: {option[0]}={float(option[1]):g} is out of range; valid: a number >= 0"
    )


def test_metric_helpers() -> None:
    rows = compare_metrics({"a": 0.91, "b": 0.5}, {"a": 0.9, "b": 0.7, "c": 1.0}, atol=0.02)
    assert [(name, ok) for name, _, _, ok in rows] == [("a", True), ("b", False), ("c", False)]
    assert_metrics_close({"a": 1.0001}, {"a": 1.0}, rtol=1e-3)
    with pytest.raises(AssertionError, match=r"b: expected 0.7 ± 0.02, got 0.5"):
        assert_metrics_close({"a": 0.91, "b": 0.5}, {"a": 0.9, "b": 0.7}, atol=0.02)


def test_golden_records_only_deliberately(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAB_RECORD_GOLDEN", raising=False)
    with pytest.raises(AssertionError, match=r"recorded .*review and commit it"):
        assert_golden("new", [1.0, 2.0], directory=tmp_path)
    assert_golden("new", [1.0, 2.0], directory=tmp_path)  # now it compares, and matches
    with pytest.raises(AssertionError, match=r"\[1\]: recorded 2.0, got 2.1"):
        assert_golden("new", [1.0, 2.1], directory=tmp_path)
    monkeypatch.setenv("LAB_RECORD_GOLDEN", "1")
    assert_golden("new", [1.0, 2.1], directory=tmp_path)  # deliberate re-record
    assert json.loads((tmp_path / "new.json").read_text())["values"] == [1.0, 2.1]


def test_golden_keys_that_differ_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAB_RECORD_GOLDEN", "1")
    assert_golden("pin", {"test/acc": 0.5, "val/acc": 0.6}, directory=tmp_path)
    monkeypatch.delenv("LAB_RECORD_GOLDEN")
    with pytest.raises(AssertionError) as raised:
        assert_golden("pin", {"test/acc": 0.5, "test/f1": 0.4}, directory=tmp_path)
    assert str(raised.value) == (
        f"pin: keys differ from {tmp_path / 'pin.json'} (new: test/f1; missing: val/acc); if the "
        "change is intended, re-record: LAB_RECORD_GOLDEN=1 pytest "
        "tests/test_reproducibility.py::test_golden_keys_that_differ_are_named"
    )


@pytest.mark.slow
def test_reproduce_experiment_checks_its_expected_metrics(tmp_path: Path) -> None:
    """`experiments/tiny_demo_smoke.yaml` pins its accuracy in an `expected:` block."""
    result = lab_cli(
        "reproduce",
        "experiment=tiny_demo_smoke",
        "paths.output_root=out",
        cwd=tmp_path,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert re.search(r"test/acc .*pass", result.stdout)
    # The experiment file's `expected:` value and tolerance, named as such.
    assert "Expected vs now (rtol 0, atol 0.03)" in result.stdout
    assert "expected" in result.stdout and "recorded" not in result.stdout
    (run_dir,) = (tmp_path / "out" / "runs").glob("*/*")
    log_file = (run_dir / "train.log").read_text()
    for line in ("data: ", "model: ", f"Run directory: {run_dir.resolve()}"):
        assert line in result.stdout and line in log_file, line
    # An experiment of its own whose file moves the settings (an override of them would make
    # the run another one than the pinned: `differs`, exit 3, tests/test_reproduce_studies.py)
    (tmp_path / "conf" / "experiment").mkdir(parents=True)
    (tmp_path / "conf" / "experiment" / "smoke_still.yaml").write_text(
        "# @package _global_\n"
        "defaults: [tiny_demo_smoke, _self_]\n"
        "optimizer: {lr: 1e-9}\n"
        "trainer: {max_epochs: 1}  # weights that barely move: as far from expected as 6 epochs\n"
    )
    failing = lab_cli(
        "reproduce",
        "--config-dir",
        "conf",
        "experiment=smoke_still",
        "paths.output_root=out",
        cwd=tmp_path,
        timeout=900,
    )
    assert failing.returncode == 1 and "FAIL" in failing.stdout
