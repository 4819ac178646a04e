"""Exact resume from a checkpoint saved inside a gradient-accumulation group (SIGTERM lands on
any micro-batch): the group's accumulated gradients, its logged micro-batch losses and (SFT)
its token count travel in the checkpoint, so the resumed run is bit-identical to one never
interrupted. It lost them: a step on 2 of its 3 micro-batches, weights 0.016 apart."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import lightning as L
import pytest
import torch
from lightning.pytorch.utilities.exceptions import SIGTERMException

from lab.train import run
from lab.training.partial_group import PARTIAL_GROUP_KEY

from conftest import FIXTURES, TINY_FIXTURE_RUN, assert_same_run, lab_cli

# 56 train rows in micro-batches of 7: 8 an epoch, in groups of 3, 3 and 2 (the epoch's last
# group is partial: its gradient is scaled by 3/2, `partial_group_scale`).
ACCUMULATED = [
    *TINY_FIXTURE_RUN,
    "data.batch_size=7",
    "trainer.accumulate_grad_batches=3",
    "trainer.max_epochs=2",
    "callbacks.last_checkpoint.every_n_train_steps=2",
]
SFT_ACCUMULATED = [
    "model=tiny_llama", "data=chat", f"data.path={FIXTURES / 'sft_task'}",
    "data.max_eval_samples=4", "data.max_test_samples=4", "task.module.max_generation_rows=1",
    "task.module.max_new_tokens=2", "logger=csv", "trainer.log_every_n_steps=1",
    "data.batch_size=2", "trainer.accumulate_grad_batches=3", "trainer.max_steps=4",
    "callbacks.last_checkpoint.every_n_train_steps=2",
]  # fmt: skip


class SigtermAfterBatch(L.Callback):
    """What Lightning's SIGTERM handler does, at the end of the run's `batch`-th training
    micro-batch (counted from 1 over the whole fit): the trainer stops after that batch and
    `PreemptionCheckpoint` saves `last.ckpt`."""

    def __init__(self, batch: int) -> None:
        self.batch = batch
        self.seen = 0

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        self.seen += 1
        if self.seen == self.batch:
            trainer._signal_connector.received_sigterm = True


def _interrupt_then_resume(
    compose_cfg: Any, overrides: list[str], batch: int, run_dir: Path
) -> dict[str, Any]:
    """Run until SIGTERM after micro-batch `batch`, resume: the checkpoint it resumed from."""
    with pytest.raises(SIGTERMException):
        run(compose_cfg(*overrides, output_dir=run_dir), callbacks=[SigtermAfterBatch(batch)])
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    run(compose_cfg(*overrides, f"resume={run_dir}", output_dir=run_dir))
    record = json.loads((run_dir / "record.json").read_text())
    assert record["status"] == "finished"
    return checkpoint


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lab.config import compose_train_config

    run_dir = tmp_path_factory.mktemp("uninterrupted")
    run(compose_train_config(ACCUMULATED, output_dir=run_dir))
    return run_dir


@pytest.mark.slow
@pytest.mark.parametrize(
    ("batch", "in_group", "step"),
    [
        (5, 2, 1),  # the 2nd group's first 2 micro-batches of 3
        (7, 1, 2),  # the first of the epoch's last group, a partial one of 2 (scaled by 3/2)
    ],
)
def test_sigterm_inside_an_accumulation_group_resumes_bit_identically(
    batch: int, in_group: int, step: int, uninterrupted: Path, compose_cfg: Any, tmp_path: Path
) -> None:
    checkpoint = _interrupt_then_resume(compose_cfg, ACCUMULATED, batch, tmp_path / "cut")
    assert checkpoint["global_step"] == step
    partial = checkpoint[PARTIAL_GROUP_KEY]
    assert partial["micro_batches"] == in_group
    (own,) = partial["by_rank"]
    # Every trainable parameter's gradient so far (tiny_bert trains all of them), and the
    # group's micro-batch losses, one each, for the step's logged mean.
    trainable = {k for k in checkpoint["state_dict"] if k.startswith("model.")}
    assert set(own["grads"]) == trainable
    assert own["module"]["train_values"]["loss"].shape == (in_group,)
    assert_same_run(tmp_path / "cut", uninterrupted)


@pytest.mark.slow
def test_lora_resumes_bit_identically_mid_group_with_the_adapters_gradients_only(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """The base weights are frozen (no gradient): only the adapters' and the head's travel."""
    lora = [*ACCUMULATED, "peft=lora", "optimizer.lr=1e-2"]
    whole = tmp_path / "whole"
    run(compose_cfg(*lora, output_dir=whole))
    checkpoint = _interrupt_then_resume(compose_cfg, lora, 5, tmp_path / "cut")
    (own,) = checkpoint[PARTIAL_GROUP_KEY]["by_rank"]
    assert own["grads"] and all("lora_" in k or "classifier" in k for k in own["grads"])
    assert len(own["grads"]) < len(checkpoint["state_dict"]) / 2
    assert_same_run(tmp_path / "cut", whole)


def test_under_fsdp_a_mid_group_save_warns_that_the_micro_batches_are_lost(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """FSDP keeps gradients in its shards: nothing is carried, and the save says so once."""
    from lightning.pytorch.strategies import FSDPStrategy
    from lightning.pytorch.trainer.states import TrainerFn

    from lab.training import partial_group

    progress = SimpleNamespace(current=SimpleNamespace(ready=5))
    trainer = SimpleNamespace(
        accumulate_grad_batches=3,
        state=SimpleNamespace(fn=TrainerFn.FITTING),
        fit_loop=SimpleNamespace(
            epoch_loop=SimpleNamespace(_should_accumulate=lambda: True, batch_progress=progress)
        ),
        strategy=FSDPStrategy(),
        is_global_zero=True,
    )
    module = torch.nn.Linear(2, 2)
    module(torch.ones(1, 2)).sum().backward()
    with caplog.at_level("WARNING", logger="lab.training.partial_group"):
        assert partial_group.capture(trainer, module) is None  # type: ignore[arg-type]
    (line,) = [r.getMessage() for r in caplog.records]
    assert line == (
        "checkpoint saved 2 micro-batches into an accumulation group of 3: under FSDPStrategy "
        "their gradients are not saved, so a run resumed from it steps without them"
    )


@pytest.mark.slow
def test_a_checkpoint_on_a_group_boundary_carries_no_partial_group(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """After a group's last micro-batch the step has used the gradients: nothing to carry."""
    run_dir = tmp_path / "cut"
    with pytest.raises(SIGTERMException):
        run(compose_cfg(*ACCUMULATED, output_dir=run_dir), callbacks=[SigtermAfterBatch(6)])
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["global_step"] == 2
    assert PARTIAL_GROUP_KEY not in checkpoint


@pytest.mark.slow
def test_sft_token_mean_accumulation_resumes_bit_identically_mid_group(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """SFT divides the step's summed gradient by its target tokens, counted as its
    micro-batches pass: the count of the micro-batches before the save must come along."""
    whole = tmp_path / "whole"
    run(compose_cfg(*SFT_ACCUMULATED, output_dir=whole))
    checkpoint = _interrupt_then_resume(compose_cfg, SFT_ACCUMULATED, 5, tmp_path / "cut")
    (own,) = checkpoint[PARTIAL_GROUP_KEY]["by_rank"]
    assert int(own["module"]["accumulators"]["_token_mean"]["tokens"]) > 0
    assert_same_run(tmp_path / "cut", whole)


@pytest.mark.slow
def test_ddp_sigterm_inside_an_accumulation_group_resumes_bit_identically(tmp_path: Path) -> None:
    """Under DDP each rank's gradients are its own until the group's last micro-batch
    all-reduces them: the checkpoint holds both ranks', and each rank takes back its own.
    A real SIGTERM to rank 0 alone, as `kill <pid>` sends it: both ranks must still stop after
    the same batch and save one `last.ckpt` together, with each rank's random streams (it
    hung for ever once: rank 0 gathering RNG states for the checkpoint, rank 1 in the next
    gradient all-reduce)."""
    helpers = Path(__file__).resolve().parent / "helpers"
    # 56 rows over 2 ranks x 4: 7 micro-batches an epoch on each rank, groups of 3, 3, 1.
    ddp = [
        *TINY_FIXTURE_RUN,
        "data.batch_size=4",
        "trainer.accumulate_grad_batches=3",
        "callbacks.last_checkpoint.every_n_train_steps=2",
        "+callbacks.fault={_target_: micro_batch_fault.SigtermAfterBatch}",
        "trainer.accelerator=cpu",
        "trainer.devices=2",
        "strategy=ddp",
        "paths.output_root=out",
    ]
    env = {"PYTHONPATH": str(helpers)}
    for name in ("whole", "cut"):
        (tmp_path / name).mkdir()
    whole = lab_cli("train", *ddp, cwd=tmp_path / "whole", env=env, timeout=400)
    assert whole.returncode == 0, whole.stderr[-3000:]
    # Sent at micro-batch 4's end, after the ranks agreed on it: both stop after batch 5.
    kill = {**env, "LAB_TEST_SIGTERM_AFTER_BATCH": "4", "LAB_TEST_KILL_RANK": "0"}
    first = lab_cli("train", *ddp, cwd=tmp_path / "cut", env=kill, timeout=400)
    assert first.returncode == 143, first.stderr[-3000:]
    (run_dir,) = (tmp_path / "cut" / "out").glob("runs/*/*")
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["global_step"] == 1
    assert len(checkpoint["lab_rng_states_by_rank"]) == 2
    partial = checkpoint[PARTIAL_GROUP_KEY]
    assert partial["micro_batches"] == 2 and len(partial["by_rank"]) == 2
    zero, one = (r["grads"] for r in partial["by_rank"])
    assert zero.keys() == one.keys() and zero  # each rank's own: other rows, other gradients
    assert any(not torch.equal(zero[k], one[k]) for k in zero)
    resumed = lab_cli(
        "train", *ddp, f"resume={run_dir}", cwd=tmp_path / "cut", env=env, timeout=400
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    (whole_dir,) = (tmp_path / "whole" / "out").glob("runs/*/*")
    assert_same_run(run_dir, whole_dir)
