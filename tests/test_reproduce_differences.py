"""What a failed comparison shows (s25a H2, L2): how far each metric moved, where six digits
show two equal numbers, and a thread count that differs from the recorded run's, which on CPU
changes the last bits of every sum."""

from __future__ import annotations

import pytest

from lab.reproduce import environment_differences, print_comparison
from lab.testing import assert_metrics_close, off_by


def test_the_table_shows_how_far_each_metric_moved(capsys: pytest.CaptureFixture[str]) -> None:
    rows = [
        ("test/perplexity", 10.233339309692383, 10.233341217041016, False),
        ("test/acc", 0.75, 0.75, True),
        ("val/f1", 0.5, None, False),
    ]
    print_comparison(rows, [], tolerance=(0.0, 1e-6))
    lines = capsys.readouterr().out.splitlines()
    header = next(line for line in lines if "metric" in line)
    assert [word for word in header.split() if word.isalpha()] == [
        "metric", "recorded", "now", "difference", "result"
    ]  # fmt: skip
    perplexity = next(line for line in lines if "test/perplexity" in line).split()
    assert perplexity[3:10] == ["10.2333", "│", "10.2333", "│", "+1.91e-06", "│", "FAIL"]
    assert next(line for line in lines if "test/acc" in line).split()[3:10] == [
        "0.75", "│", "0.75", "│", "0", "│", "pass"
    ]  # fmt: skip
    assert "missing" in next(line for line in lines if "val/f1" in line)


def test_a_thread_count_that_differs_is_named() -> None:
    record = {"hardware": {"cpu": "EPYC", "torch_threads": 1}}
    now = {"hardware": {"cpu": "EPYC", "torch_threads": 2}}
    assert environment_differences(record, now) == [
        "hardware torch_threads: recorded 1, now 2 (OMP_NUM_THREADS=1 runs as recorded)"
    ]
    assert environment_differences(record, record) == []


def test_the_threads_the_ranks_ran_with_are_compared_where_both_records_have_them() -> None:
    """A 2-rank run on 2 cores: started with 2 threads, trained with 1 a rank (s32b F3)."""
    ddp = {"hardware": {"torch_threads": 2, "rank_threads": 1}}
    assert environment_differences(ddp, ddp) == []
    one = {"hardware": {"torch_threads": 2, "rank_threads": 2}}
    assert environment_differences(ddp, one) == [
        "hardware rank_threads: recorded 1, now 2 (OMP_NUM_THREADS=1 runs as recorded)"
    ]
    # A record from before `rank_threads`: `torch_threads`, as it was compared then.
    old = {"hardware": {"torch_threads": 2}}
    assert environment_differences(old, ddp) == environment_differences(ddp, old) == []
    assert environment_differences({"hardware": {"torch_threads": 1}}, ddp) == [
        "hardware torch_threads: recorded 1, now 2 (OMP_NUM_THREADS=1 runs as recorded)"
    ]


def test_the_pytest_helpers_say_how_far_a_metric_moved() -> None:
    assert off_by(26.4251, 27.55628776550293) == " (off by +1.13, +4.28%)"
    assert off_by(0.0, -0.5) == " (off by -0.5)"
    assert off_by(1.0, None) == "" and off_by(1.0, float("nan")) == ""
    with pytest.raises(AssertionError) as caught:
        assert_metrics_close({"test/loss": 3.3162}, {"test/loss": 3.2743}, atol=1e-4)
    assert str(caught.value).splitlines()[1] == (
        "  test/loss: expected 3.2743 ± 0.0001, got 3.3162 (off by +0.0419, +1.28%)"
    )
