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


@pytest.mark.slow
def test_a_partial_last_group_steps_with_the_mean_of_its_micro_batches(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """24 rows in batches of 8 are 3 micro-batches: a group of 4 holds only 3 of them. Its
    step must be the mean gradient of those 3, the step a group of 3 takes (HF Trainer's);
    Lightning's division by 4 made it the step at 3/4 of the learning rate."""
    import torch

    common = [
        *TINY_FIXTURE_RUN, *NO_DROPOUT, "data.max_train_samples=24", "data.batch_size=8",
        "trainer.max_epochs=1", "optimizer=sgd", "optimizer.momentum=0", "scheduler=none",
        "trainer.gradient_clip_val=null", "callbacks=default", "optimizer.lr=0.5",
    ]  # fmt: skip
    weights = {}
    for group in (3, 4):
        out = tmp_path / f"group{group}"
        run(compose_cfg(*common, f"trainer.accumulate_grad_batches={group}", output_dir=out))
        state = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
        weights[group] = state
    start = tmp_path / "start"  # the same seed, a step too small to move anything
    run(compose_cfg(*common, "trainer.accumulate_grad_batches=3", "optimizer.lr=1e-30",
                    output_dir=start))  # fmt: skip
    initial = torch.load(start / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    moved = max((weights[3][k] - initial[k]).abs().max().item() for k in initial)
    assert moved > 1e-3  # the step is a real one
    for name in initial:
        torch.testing.assert_close(weights[4][name], weights[3][name], rtol=0, atol=1e-6)
