"""`benchmarks/step_profile.py`: a profile of the steps after the warm-up, cut at the step
clock's ends, with per-step numbers, the operator tables and the trace. Part 4 of
`gpu_check.sh`, which runs it for lab and HF Trainer, is tested with the script's other CPU
parts (tests/test_end_to_end_speed.py)."""

from __future__ import annotations

import gzip
import json
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
