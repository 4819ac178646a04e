"""Gradient accumulation: `train/loss` is the optimizer step's loss (the mean of its
micro-batches', as HF Trainer logs it), and each step's learning rates are logged once
(Lightning's monitor logged them once per micro-batch)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from lab.train import run

from conftest import TINY_FIXTURE_RUN

# No dropout: two micro-batches of 8 rows then give exactly the loss of one batch of 16.
NO_DROPOUT = [
    "+model.network.config.hidden_dropout_prob=0.0",
    "+model.network.config.attention_probs_dropout_prob=0.0",
    "+model.network.config.classifier_dropout=0.0",
]


def _rows(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "csv" / "metrics.csv").open() as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_accumulated_steps_log_their_mean_loss_and_one_lr_row(
    compose_cfg: Any, tmp_path: Path
) -> None:
    common = [*TINY_FIXTURE_RUN, *NO_DROPOUT, "trainer.max_steps=3", "callbacks=default"]
    runs = {
        "accumulated": [*common, "data.batch_size=8", "trainer.accumulate_grad_batches=2"],
        "whole": [*common, "data.batch_size=16"],
    }
    rows = {}
    for name, overrides in runs.items():
        run(compose_cfg(*overrides, output_dir=tmp_path / name))
        rows[name] = _rows(tmp_path / name)
    losses = {
        name: [(r["step"], float(r["train/loss"])) for r in found if r.get("train/loss")]
        for name, found in rows.items()
    }
    # The same 16 rows make the first step either way (the sampler's order is the same).
    assert losses["accumulated"][0][0] == losses["whole"][0][0] == "0"
    assert losses["accumulated"][0][1] == pytest.approx(losses["whole"][0][1], abs=1e-6)
    assert len(losses["accumulated"]) == 3  # one per optimizer step
    lr_steps = [r["step"] for r in rows["accumulated"] if r.get("lr-AdamW/no_decay")]
    assert lr_steps == sorted(set(lr_steps)) and len(lr_steps) == 3  # once per step
