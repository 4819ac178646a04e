"""`benchmarks/step_profile.py` and part 4 of `gpu_check.sh`: a profile of the steps after the
warm-up, cut at the step clock's ends, with per-step numbers, the operator tables and the trace."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from step_profile import COUNTED, StepProfiler, table  # noqa: E402


def test_the_steps_after_the_warmup_are_profiled_per_step(tmp_path: Path) -> None:
    model = torch.nn.Linear(8, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    profiler = StepProfiler(tmp_path / "loop", warmup=2, steps=3)
    for step in range(1, 7):
        model(torch.randn(4, 8)).sum().backward()
        optimizer.step()
        optimizer.zero_grad()
        profiler.step_ended(step, now=float(step))  # one second a step
    summary = json.loads((tmp_path / "loop" / "summary.json").read_text())
    assert summary["profiled_steps"] == 3  # steps 3, 4 and 5: the ends of 2..5
    assert summary["wall_ms_per_step"] == pytest.approx(1000.0)
    assert summary["top_level_cpu_ms_per_step"] > 0
    assert summary["device_ms_per_step"] == 0  # no GPU here
    assert set(summary["per_step"]) == set(COUNTED)
    assert summary["per_step"]["cudaStreamSynchronize"] == 0  # no GPU: no CUDA runtime calls
    ops = (tmp_path / "loop" / "ops.txt").read_text()
    assert "by self CPU time" in ops and "aten::addmm" in ops
    with gzip.open(tmp_path / "loop" / "trace.json.gz", "rt") as trace:
        assert any(e.get("name") == "aten::addmm" for e in json.load(trace)["traceEvents"])
    assert not (tmp_path / "loop" / "trace.json").exists()
    # Side by side, as gpu_check.sh's profile.md.
    shown = table([tmp_path / "loop", tmp_path / "loop"]).splitlines()
    same = f"{tmp_path.name}/loop"  # two folders of one name: named with their parents
    assert shown[0] == f"| per profiled step | {same} | {same} |"
    assert shown[2] == "| wall ms / step | 1000.0 | 1000.0 |"


@pytest.mark.slow
def test_gpu_check_part_4_profiles_lab_and_hf_trainer_on_cpu(tmp_path: Path) -> None:
    command = ["bash", str(BENCHMARKS / "gpu_check.sh"), "--cpu-smoke", "--parts", "4"]
    done = subprocess.run(
        [*command, "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "IMDB_DIR": str(tmp_path / "no-imdb-here"), "PYTHON": sys.executable},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = (tmp_path / "summary.txt").read_text()
    assert "4. lab: profiled" in summary and "4. hf: profiled" in summary
    for impl in ("lab", "hf"):
        record = json.loads((tmp_path / f"profile-{impl}" / "summary.json").read_text())
        assert record["profiled_steps"] == 2 and record["wall_ms_per_step"] > 0
        assert record["top_level_cpu_ms_per_step"] > 0
        assert (tmp_path / f"profile-{impl}" / "trace.json.gz").stat().st_size > 0
    rows = (tmp_path / "profile.md").read_text().splitlines()
    assert rows[0] == "| per profiled step | profile-lab | profile-hf |"
    assert rows[2].startswith("| wall ms / step |")
