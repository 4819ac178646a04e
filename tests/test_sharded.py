"""The sharded strategies (`lab.training.sharded`): gradient clipping by norm under FSDP, and
the module's device for evaluation after a DeepSpeed ZeRO-3 fit.

The FSDP run is real: Lightning's `FSDPStrategy` (FULL_SHARD, as `conf/strategy/fsdp.yaml`)
on 2 CPU processes (gloo), started in a script of their own (processes spawned from a pytest
worker share its captured output streams). Lightning refuses FSDP without CUDA and passes
torch's FSDP a device index that the CPU lacks; the script's strategy subclass only wraps the
module with `device_id=cpu` itself, the rest is Lightning's. DeepSpeed is not installed here
(and needs CUDA): its part is tested through the strategy's public shape.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import lightning as L
import pytest
import torch
from lightning.pytorch.strategies import DeepSpeedStrategy, FSDPStrategy, SingleDeviceStrategy
from lightning.pytorch.utilities import GradClipAlgorithmType
from torch.distributed.fsdp import FullyShardedDataParallel

from lab.training.sharded import ZeroThreeEvaluationDevice, clip_fsdp_gradients

from conftest import TINY_FIXTURE_RUN, lab_cli

CLIP = 0.01  # far under the first step's gradient norm, so the step is clipped
LR = 1.0  # SGD: the weights move by exactly the (clipped) gradient

# The module, data and trainer of both runs: the same 8 rows, one step, clipped by norm.
COMMON = f"""
import lightning as L
import torch
from transformers import BertConfig, BertForSequenceClassification
from lab.tasks.base import TaskModule


def build_module():
    torch.manual_seed(0)
    config = BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=32, max_position_embeddings=16,
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, num_labels=2)
    model = BertForSequenceClassification(config)
    return TaskModule(model, sgd)


def sgd(model):
    return torch.optim.SGD(model.parameters(), lr={LR})


def rows():
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(4, 64, (8, 8), generator=generator)
    labels = torch.randint(0, 2, (8,), generator=generator)
    return [{{"input_ids": ids[i], "labels": labels[i]}} for i in range(8)]


def trainer(**kwargs):
    return L.Trainer(accelerator="cpu", max_steps=1, gradient_clip_val={CLIP}, logger=False,
                     enable_checkpointing=False, enable_progress_bar=False,
                     enable_model_summary=False, limit_val_batches=0, **kwargs)
"""

FSDP_SCRIPT = """
import sys
import torch
from lightning.pytorch.strategies import FSDPStrategy
from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
from common import build_module, rows, trainer


class CPUFSDPStrategy(FSDPStrategy):
    # Lightning's FSDP strategy, wrapping on the CPU (see the test module's doc).
    def _setup_model(self, model):
        wrapped = FSDP(module=model, cpu_offload=self.cpu_offload,
                       mixed_precision=self.mixed_precision_config,
                       sharding_strategy=self.sharding_strategy,
                       device_id=torch.device("cpu"), **self.kwargs)
        return super()._setup_model(wrapped)  # already wrapped: Lightning's other steps


class SaveFullWeights(__import__("lightning").Callback):
    def on_train_end(self, trainer, pl_module):
        with FSDP.summon_full_params(trainer.strategy.model):
            weights = {n: p.detach().clone() for n, p in pl_module.model.named_parameters()}
        if trainer.global_rank == 0:
            torch.save(weights, sys.argv[1])


if __name__ == "__main__":
    strategy = CPUFSDPStrategy(sharding_strategy="FULL_SHARD", state_dict_type="full",
                               cpu_offload=False, limit_all_gathers=True)
    loader = torch.utils.data.DataLoader(rows(), batch_size=4)  # 4 rows on each of 2 ranks
    trainer(devices=2, strategy=strategy, callbacks=[SaveFullWeights()]).fit(
        build_module(), loader)
"""


def _common(tmp_path: Path) -> Any:
    (tmp_path / "common.py").write_text(COMMON)
    sys.path.insert(0, str(tmp_path))
    try:
        import common  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("common", None)
    return common


@pytest.mark.slow
def test_fsdp_clips_by_the_norm_over_all_shards_as_one_process_does(tmp_path: Path) -> None:
    """One clipped step under FSDP on 2 ranks (each with half the batch) moves every weight
    as one process on the whole batch does: the norm is that of the whole gradient, not of
    a rank's shard. Lightning alone refused the step (`gradient_clip_algorithm='norm'` is
    not supported for `FSDPPrecision`)."""
    common = _common(tmp_path)
    module = common.build_module()
    before = {n: p.detach().clone() for n, p in module.model.named_parameters()}
    loader = torch.utils.data.DataLoader(common.rows(), batch_size=8)
    common.trainer(devices=1).fit(module, loader)
    expected = {n: p.detach().clone() for n, p in module.model.named_parameters()}
    step = torch.cat([(before[n] - expected[n]).flatten() for n in before]) / LR
    assert step.norm().item() == pytest.approx(CLIP, rel=1e-4)  # clipped to the bound

    (tmp_path / "fsdp_run.py").write_text(FSDP_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(tmp_path / "fsdp_run.py"), str(tmp_path / "fsdp.pt")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    sharded = torch.load(tmp_path / "fsdp.pt", weights_only=True)
    assert sharded.keys() == expected.keys()
    for name, weight in expected.items():
        torch.testing.assert_close(sharded[name], weight, rtol=1e-5, atol=1e-7, msg=name)


def _fsdp_trainer(model: Any) -> Any:
    strategy = FSDPStrategy()
    strategy.model = model
    return SimpleNamespace(strategy=strategy)


def test_fsdp_norm_clipping_goes_to_the_fsdp_root_and_nothing_else_does() -> None:
    """By norm under FSDP: the root's `clip_grad_norm_(value)`. By value, without a value,
    under another strategy, or with no FSDP root (submodules wrapped by the module itself):
    not handled here (Lightning's own clipping, or its error)."""
    root = mock.MagicMock(spec=FullyShardedDataParallel)
    assert clip_fsdp_gradients(_fsdp_trainer(root), 0.5, None)  # None: Lightning's default
    root.clip_grad_norm_.assert_called_once_with(0.5)
    assert clip_fsdp_gradients(_fsdp_trainer(root), 2, GradClipAlgorithmType.NORM)
    assert root.clip_grad_norm_.call_args_list[-1] == mock.call(2.0)
    root.reset_mock()
    assert not clip_fsdp_gradients(_fsdp_trainer(root), 0.5, GradClipAlgorithmType.VALUE)
    assert not clip_fsdp_gradients(_fsdp_trainer(root), None, None)
    assert not clip_fsdp_gradients(_fsdp_trainer(root), 0.0, "norm")
    assert not clip_fsdp_gradients(_fsdp_trainer(torch.nn.Linear(2, 2)), 0.5, "norm")
    single = SimpleNamespace(strategy=SingleDeviceStrategy(torch.device("cpu")))
    assert not clip_fsdp_gradients(single, 0.5, "norm")  # type: ignore[arg-type]
    root.clip_grad_norm_.assert_not_called()


class _DeepSpeed(DeepSpeedStrategy):
    """Lightning's DeepSpeed strategy at a ZeRO stage, on the meta device (a place a CPU
    module can visibly move to), without the deepspeed package its constructor requires."""

    def __init__(self, stage: int) -> None:
        self.config = {"zero_optimization": {"stage": stage}}

    @property
    def root_device(self) -> torch.device:
        return torch.device("meta")


class _Module(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(2, 2)
        self.register_buffer("ids", torch.arange(3))


@pytest.mark.parametrize(
    ("strategy", "stage", "moved"),
    [
        (_DeepSpeed(3), "validate", True),
        (_DeepSpeed(3), "test", True),
        (_DeepSpeed(3), "fit", False),  # DeepSpeed's training engine places the module
        (_DeepSpeed(2), "test", False),  # DeepSpeed moves a module it does not partition
        (SingleDeviceStrategy(torch.device("cpu")), "test", False),
    ],
)
def test_zero3_evaluation_starts_with_the_module_on_the_strategy_device(
    strategy: Any, stage: str, moved: bool
) -> None:
    """After a ZeRO-3 fit, Lightning's teardown has left the module on the CPU and
    DeepSpeed's evaluation engine leaves a partitioned module where it is: before validate
    or test, its parameters and buffers go to the strategy's device. Elsewhere nothing
    moves."""
    module = _Module()
    ZeroThreeEvaluationDevice().setup(SimpleNamespace(strategy=strategy), module, stage)  # type: ignore[arg-type]
    expected = "meta" if moved else "cpu"
    assert module.layer.weight.device.type == expected
    assert module.ids.device.type == expected


def test_the_run_trainer_carries_the_zero3_evaluation_callback(compose_cfg: Any) -> None:
    """`lab.train`'s Trainer (the one that fits, then validates and tests) has the callback."""
    from lab.training.fit import build_run_trainer

    trainer = build_run_trainer(compose_cfg(*TINY_FIXTURE_RUN, "callbacks=none"), (), [])
    assert sum(isinstance(c, ZeroThreeEvaluationDevice) for c in trainer.callbacks) == 1


def test_deepspeeds_warning_about_lab_clipping_hook_goes_to_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`TaskModule` overrides `configure_gradient_clipping` (for FSDP), so DeepSpeed's setup
    warns that the hook "will not actually clip": true of the hook, not of the run (DeepSpeed
    clips by `trainer.gradient_clip_val` itself). The warning, as Lightning raises it, is
    filed to the log, not shown."""
    import logging
    import warnings

    from lab.tasks.base import TaskModule
    from lab.training.library_warnings import warnings_to_log

    module = TaskModule(torch.nn.Linear(2, 2), lambda model: torch.optim.SGD(model.parameters()))  # type: ignore[arg-type]
    module.trainer = SimpleNamespace(gradient_clip_algorithm=None, training=True)  # type: ignore[assignment]
    strategy = _DeepSpeed(3)
    strategy._lightning_module = module
    strategy._model = module
    shown: list[str] = []
    with (
        mock.patch.object(_DeepSpeed, "_initialize_deepspeed_train"),  # needs deepspeed
        warnings.catch_warnings(),
        caplog.at_level(logging.INFO, logger="py.warnings"),
    ):
        warnings.simplefilter("always")
        warnings.showwarning = lambda message, *args, **kwargs: shown.append(str(message))
        with warnings_to_log():
            strategy.init_deepspeed()
    filed = [r.getMessage() for r in caplog.records if r.name == "py.warnings"]
    assert shown == []
    assert any("Since DeepSpeed handles gradient clipping internally" in m for m in filed)


@pytest.mark.gpu
@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["fsdp", "deepspeed_stage_3"])
def test_sharded_strategies_train_clipped_then_validate_and_test_on_a_gpu(
    strategy: str, tmp_path: Path
) -> None:
    """On a GPU, as reported: FSDP failed at its first clipped step, ZeRO-3 in the
    validation after the fit (tiny BERT: every parameter is under DeepSpeed's persistence
    threshold, the ones left on the CPU). Both now finish with finite metrics."""
    if strategy.startswith("deepspeed"):
        pytest.importorskip("deepspeed")
    result = lab_cli(
        "train", *TINY_FIXTURE_RUN, f"strategy={strategy}", "precision=bf16-mixed",
        "trainer.devices=1", "trainer.max_steps=2", "callbacks=none",
        "paths.output_root=out", cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = (tmp_path / "out").glob("runs/*/*")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for name in ("val/loss", "test/loss"):
        assert math.isfinite(metrics[name]) and metrics[name] > 0, (name, metrics)
    assert 0.0 <= metrics["test/acc"] <= 1.0
