"""A regression run warns of targets at a scale the head learns badly (s23a M5: targets from
-1e6 to 2.5e6 gave a loss of 3e11 and every prediction ~0.48, without a word)."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
from datasets import Dataset

from lab.tasks.regression import scale_hint, warn_of_large_targets


def test_targets_of_a_few_units_get_no_hint() -> None:
    assert scale_hint([0.0, 2.5, 5.0]) is None  # STS-B
    assert scale_hint([-3.0, 0.0, 3.0]) is None  # z-scores
    assert scale_hint([100.0, 100.0]) is None  # mean 100, no spread: at the bound
    assert scale_hint([]) is None


def test_large_targets_are_named_with_their_range_mean_and_spread() -> None:
    hint = scale_hint([-1e6, 0.0, 2.5e6, 500.0])
    assert hint is not None
    # mean (-1e6 + 2.5e6 + 500) / 4 = 375125; std sqrt(6.687e12 / 4) = 1.293e6 (deviations squared)
    assert hint.startswith(
        "regression targets run from -1e+06 to 2.5e+06 (mean 3.751e+05, std 1.293e+06)"
    )
    assert "standardise them in the data ((y - mean) / std" in hint
    assert scale_hint([1990.0, 2020.0]) is not None  # years: a bias of 2000 to learn


def test_fit_start_warns_from_the_train_splits_labels(caplog: pytest.LogCaptureFixture) -> None:
    def warned(labels: list[float]) -> list[str]:
        train = Dataset.from_dict({"input_ids": [[1]] * len(labels), "labels": labels})
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="lab.tasks.regression"):
            warn_of_large_targets(SimpleNamespace(datasets={"train": train}))
        return [r.getMessage() for r in caplog.records]

    assert warned([1.0, 4.0]) == []
    (message,) = warned([-2e5, 3e5])
    assert message.startswith("regression targets run from -2e+05 to 3e+05")
    assert warned([]) == [] and not caplog.records
    train = Dataset.from_dict({"labels": [5e5, 6e5, 1.0]}).select([2])  # the rows a select left
    with caplog.at_level(logging.WARNING, logger="lab.tasks.regression"):
        warn_of_large_targets(SimpleNamespace(datasets={"train": train}))
    assert not caplog.records
