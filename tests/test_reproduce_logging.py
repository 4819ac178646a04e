"""`lab.reproduce` logs as `lab.train` does: lab's lines on screen, everything in train.log;
its table names what it compares against and the tolerance."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from lab.reproduce import print_comparison, run_log


def test_run_log_shows_lab_lines_and_files_everything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    target = tmp_path / "reproductions" / "now"
    with run_log(target):
        logging.getLogger("lab.train").info("data: 56 train rows")
        logging.getLogger("lab.run_dir.records").info("Run directory: %s", target)
        logging.getLogger("lightning.pytorch.utilities.rank_zero").info("GPU available: False")
    screen = capsys.readouterr().out
    log_file = (target / "train.log").read_text()
    # lab's lines bare on screen (ConsoleFormatter), library chatter filtered (QuietConsole).
    assert f"data: 56 train rows\nRun directory: {target}\n" in screen
    assert "GPU available" not in screen
    for line in ("data: 56 train rows", f"Run directory: {target}", "GPU available: False"):
        assert line in log_file, line
    assert (list(root.handlers), root.level) == before, "logging restored after the block"


def test_run_log_takes_hydra_verbose_from_the_overrides(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with run_log(tmp_path, ["model=tiny_bert", "hydra.verbose=true"]):
        logging.getLogger("lightning.pytorch").info("GPU available: False")
    assert "[lightning.pytorch][INFO] - GPU available: False" in capsys.readouterr().out


def test_experiment_table_says_expected_and_the_tolerance(
    capsys: pytest.CaptureFixture[str],
) -> None:
    print_comparison(
        [("test/acc", 0.57, 0.5625, True)], [], tolerance=(0.0, 0.03), reference="expected"
    )
    out = capsys.readouterr().out
    assert "Expected vs now (rtol 0, atol 0.03)" in out
    assert "expected" in out.splitlines()[2] and "recorded" not in out


def test_run_table_says_recorded_and_the_tolerance(capsys: pytest.CaptureFixture[str]) -> None:
    print_comparison([("val/acc", 0.5, 0.5, True)], [], tolerance=(0.0, 1e-6))
    out = capsys.readouterr().out
    assert "Recorded vs now (rtol 0, atol 1e-06)" in out and "recorded" in out
