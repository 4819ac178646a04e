"""`lab.testing`'s golden files and metric checks on plain dicts and tmp files (s32c): no
training here."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from lab.testing import assert_golden, assert_metrics_close, compare_metrics, within_tolerance

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
