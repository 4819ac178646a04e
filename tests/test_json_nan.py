"""s32e F3: a diverged run's metrics.json and record.json hold a bare `NaN`, as Python's json
writes it (not strict JSON); lab keeps that format, and the README's way to read the files
strictly works."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lab.run_dir.records import finish_record

README = Path(__file__).resolve().parents[1] / "README.md"


def _strict(text: str) -> object:
    """JSON as a strict parser (JSON.parse, Go, Rust) reads it: NaN and Infinity refused."""

    def refuse(constant: str) -> object:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_a_diverged_runs_files_hold_bare_nan_that_python_reads(tmp_path: Path) -> None:
    finish_record(tmp_path, {"status": "running"}, {"test/loss": math.nan, "test/acc": 0.5})
    metrics = (tmp_path / "metrics.json").read_text()
    assert '"test/loss": NaN' in metrics
    assert '"test/loss": NaN' in (tmp_path / "record.json").read_text()
    assert math.isnan(json.loads(metrics)["test/loss"])  # lab's readers: NaN stays NaN
    with pytest.raises(ValueError, match="not JSON: NaN"):
        _strict(metrics)
    pandas = pytest.importorskip("pandas")
    read = pandas.read_json(tmp_path / "metrics.json", typ="series")
    assert math.isnan(read["test/loss"]) and read["test/acc"] == 0.5


def test_the_readmes_strict_copy_turns_nan_into_null(tmp_path: Path) -> None:
    finish_record(tmp_path, {}, {"test/loss": math.nan, "test/acc": 0.5})
    text = README.read_text()
    assert "**NaN in the JSON files.**" in text
    found = re.search(r"`python -c '(.+?)' < metrics\.json`", text, re.DOTALL)
    assert found, "the README's command is gone"
    code = found.group(1).replace("\n", " ")
    with (tmp_path / "metrics.json").open() as stdin:
        out = subprocess.run(
            [sys.executable, "-c", code], stdin=stdin, capture_output=True, text=True, check=True
        ).stdout
    assert _strict(out) == {"test/loss": None, "test/acc": 0.5}
