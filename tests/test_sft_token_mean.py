"""SFT gradient accumulation weighs every completion token of an optimizer step equally, as
one batch of the same rows does (HF Trainer's `num_items_in_batch`, TRL): micro-batches used to
count equally, so the tokens of a short answer weighed more (3e-2 apart on the fixture)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from lab.train import run

from conftest import FIXTURES

ONE_SGD_STEP = [
    "model=tiny_llama", "data=chat", f"data.path={FIXTURES / 'sft_task'}",
    "data.max_eval_samples=4", "data.max_test_samples=4", "task.module.max_generation_rows=1",
    "task.module.max_new_tokens=2", "optimizer=sgd", "optimizer.momentum=0",
    "optimizer.lr=0.5", "scheduler=none", "trainer.gradient_clip_val=null",
    "trainer.max_steps=1", "logger=csv", "callbacks=default",
]  # fmt: skip


def _weights(compose_cfg: Any, out: Path, *overrides: str) -> dict[str, torch.Tensor]:
    run(compose_cfg(*ONE_SGD_STEP, *overrides, output_dir=out))
    return torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]


@pytest.mark.slow
def test_an_accumulated_step_equals_one_batch_of_the_same_rows(
    compose_cfg: Any, tmp_path: Path
) -> None:
    from hydra.utils import instantiate

    # The first four training rows (the sampler's order does not depend on the batch size)
    # hold answers of different lengths: equal weights per micro-batch would show.
    cfg = compose_cfg(*ONE_SGD_STEP, "data.batch_size=4")
    datamodule = instantiate(cfg.data, tokenizer=instantiate(cfg.model.tokenizer), _convert_="all")
    datamodule.setup("fit")
    (batch,) = [b for _, b in zip(range(1), datamodule.train_dataloader(), strict=False)]
    halves = [
        (batch["labels"][rows, 1:] != -100).sum().item() for rows in (slice(0, 2), slice(2, 4))
    ]
    assert halves[0] != halves[1], halves

    whole = _weights(compose_cfg, tmp_path / "whole", "data.batch_size=4")
    accumulated = _weights(
        compose_cfg,
        tmp_path / "accumulated",
        "data.batch_size=2",
        "trainer.accumulate_grad_batches=2",
    )
    start = _weights(compose_cfg, tmp_path / "start", "data.batch_size=4", "optimizer.lr=1e-30")
    assert max((whole[k] - start[k]).abs().max().item() for k in start) > 1e-3  # a real step
    for name in whole:
        torch.testing.assert_close(accumulated[name], whole[name], rtol=0, atol=2e-6)


@pytest.mark.slow
def test_accumulation_on_two_cpu_ranks_gives_the_metrics_of_one_process(
    tmp_path: Path, compose_cfg: Any
) -> None:
    """2 ranks x 2 micro-batches of 4 rows make the steps of one process with batches of 16:
    the step's token total is summed over ranks and micro-batches alike; the test report
    holds every rank's generations, each row once, in row order."""
    import json

    from test_sft import DDP_RUN

    from conftest import train_on_two_cpu_ranks

    train_on_two_cpu_ranks(
        *DDP_RUN, "data.batch_size=4", "trainer.accumulate_grad_batches=2", cwd=tmp_path
    )
    (run_dir,) = list((tmp_path / "out").glob("runs/*/*"))
    distributed = json.loads((run_dir / "metrics.json").read_text())
    single_dir = tmp_path / "single"
    single = run(compose_cfg(*DDP_RUN, "data.batch_size=16", output_dir=single_dir))
    assert {"test/exact_match", "test/rouge_l", "test/loss", "val/exact_match"} <= set(single)
    for name, value in single.items():
        assert distributed[name] == pytest.approx(value, rel=1e-4, abs=1e-5), name
    report = json.loads((run_dir / "test_report.json").read_text())["generations"]
    alone = json.loads((single_dir / "test_report.json").read_text())["generations"]
    assert [g["row"] for g in report] == list(range(33))
    assert report == alone
