"""The best checkpoint's validation metrics reach a logger's run summary, not a new row."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from lab.training.loggers import ResilientWandbLogger, RunLogger
from lab.training.validation_metrics import summarize_best_validation


class _SummaryLogger(RunLogger):
    def __init__(self) -> None:
        self.summaries: list[dict[str, float]] = []

    def resume_from(self, step: int, record: dict[str, Any]) -> None:
        return

    def record_identity(self, record: dict[str, Any]) -> None:
        return

    def summarize(self, metrics: dict[str, float]) -> None:
        self.summaries.append(metrics)


def test_the_best_validation_goes_to_summaries_on_rank_zero_only() -> None:
    logger, rows = _SummaryLogger(), SimpleNamespace()  # a logger of rows: left alone
    best = {"val/acc": 0.75, "val/loss": 0.5}
    summarize_best_validation(SimpleNamespace(is_global_zero=True, loggers=[logger, rows]), best)
    assert logger.summaries == [best]
    summarize_best_validation(SimpleNamespace(is_global_zero=False, loggers=[logger]), best)
    summarize_best_validation(SimpleNamespace(is_global_zero=True, loggers=[logger]), {})
    assert logger.summaries == [best]


def test_a_wandb_summary_takes_the_values_and_wandb_failing_costs_only_the_summary(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    wandb = ResilientWandbLogger(mode="disabled", project="p")
    run = SimpleNamespace(summary={"val/acc": 0.5})
    monkeypatch.setattr(ResilientWandbLogger, "experiment", property(lambda self: run))
    wandb.summarize({"val/acc": 0.75})
    assert run.summary == {"val/acc": 0.75}

    def down(self: Any) -> Any:
        raise ConnectionError("W&B is down")

    monkeypatch.setattr(ResilientWandbLogger, "experiment", property(down))
    with caplog.at_level("WARNING", logger="lab.training.loggers"):
        wandb.summarize({"val/acc": 0.75})  # no exception: the run has finished training
    assert "W&B summary not updated: W&B is down" in caplog.text
