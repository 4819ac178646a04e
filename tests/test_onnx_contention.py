"""The export report says when other processes kept the CPU busy while it timed the models
(`lab.inference.onnx_runtime.contention`): PyTorch's timings are the ones a busy machine skews
(its threads wait for each other), and the model card keeps what the report says."""

from __future__ import annotations

import os
from typing import Any

import pytest

from lab.inference.onnx_runtime import contention
from lab.inference.onnx_runtime.contention import OtherLoad, contention_note


def _clock(
    monkeypatch: pytest.MonkeyPatch, busy: list[float], own: list[float], wall: list[float]
) -> None:
    """The machine's busy seconds, this process's CPU seconds and the clock, at enter and exit."""
    monkeypatch.setattr(contention, "_busy_seconds", lambda: busy.pop(0))
    monkeypatch.setattr(contention, "_own_seconds", lambda: own.pop(0))
    monkeypatch.setattr(contention.time, "monotonic", lambda: wall.pop(0))


def test_others_load_is_the_machines_busy_time_less_our_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 10 s of timing: the machine was busy 28 s, of which 18 s were this process's threads.
    _clock(monkeypatch, busy=[100.0, 128.0], own=[5.0, 23.0], wall=[50.0, 60.0])
    with OtherLoad() as load:
        pass
    assert load.cores == pytest.approx(1.0)
    note = contention_note(load.cores, threads=2)
    assert note == (
        f"other processes kept 1.0 of this machine's {os.cpu_count()} cores busy while the "
        "models were timed with 2 thread(s): the timings, PyTorch's most (its threads wait for "
        "each other), may be far from the idle machine's; export again on an idle machine or "
        "with fewer threads (threads=1)"
    )
    # timed with one thread already: fewer is no advice (s21e L2)
    assert str(contention_note(load.cores, threads=1)).endswith("export again on an idle machine")


def test_a_nearly_free_machine_or_one_that_does_not_say_gets_no_note(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _clock(monkeypatch, busy=[100.0, 119.0], own=[5.0, 23.0], wall=[50.0, 60.0])  # 0.1 cores
    with OtherLoad() as load:
        pass
    assert load.cores == pytest.approx(0.1) and contention_note(load.cores, 2) is None
    _clock(monkeypatch, busy=[], own=[5.0, 23.0], wall=[50.0, 60.0])
    monkeypatch.setattr(contention, "_busy_seconds", lambda: None)  # no /proc/stat
    with OtherLoad() as unknown:
        pass
    assert unknown.cores is None and contention_note(None, 2) is None


def test_the_machine_counters_are_read_on_linux() -> None:
    busy = contention._busy_seconds()
    if busy is None:
        pytest.skip("no /proc/stat")
    assert busy > 0


def test_the_card_keeps_the_note(monkeypatch: pytest.MonkeyPatch) -> None:
    from lab.run_dir.model_card import onnx_section

    result: dict[str, Any] = {
        "metrics": {"test/acc": 0.5},
        "latency_ms": {"p50": 1.0, "p95": 2.0},
        "throughput": {"rows_per_s": 10.0, "batch_size": 4, "rows": 6},
    }
    report = {
        "form": "onnx", "main_metric": "test/acc", "test_rows": 6,
        "export": {"file": "model.onnx", "precision": "fp32", "opset": 17},
        "cpu": {"processor": "cpu", "threads": 2, "other_load_cores": 1.0},
        "versions": {"onnxruntime": "1"}, "measured_at": "now",
        "models": {"pytorch": result, "onnx": result},
    }  # fmt: skip
    assert "Note:" not in onnx_section(report)
    report["timing_note"] = "other processes kept 1.0 cores busy"
    assert "\nNote: other processes kept 1.0 cores busy.\n" in onnx_section(report)
