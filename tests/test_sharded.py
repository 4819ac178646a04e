"""The sharded strategies (`lab.training.sharded`): gradient clipping by norm under FSDP,
evaluation after an FSDP fit through the fit's FSDP root, and the module's device for
evaluation after a DeepSpeed ZeRO-3 fit.

The FSDP run is real: Lightning's `FSDPStrategy` (FULL_SHARD, as `conf/strategy/fsdp.yaml`)
on 2 CPU processes (gloo), started in a script of their own (processes spawned from a pytest
worker share its captured output streams). Lightning refuses FSDP without CUDA and passes
torch's FSDP a device index that the CPU lacks; the script's strategy subclass only wraps the
module with `device_id=cpu` itself, the rest is Lightning's. Saving a checkpoint from the
FSDP run segfaults on the CPU (torch 2.13, gloo, full state dict; not lab's code): the run
loads a checkpoint one process saved instead. DeepSpeed is not installed here
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

from lab.training.sharded import (
    FSDPEvaluationWrapper,
    ZeroThreeEvaluationDevice,
    clip_fsdp_gradients,
)

from conftest import TINY_FIXTURE_RUN, lab_cli

CLIP = 0.01  # far under the first step's gradient norm, so the step is clipped
LR = 1.0  # SGD: the weights move by exactly the (clipped) gradient

# The module, data and trainer of both runs: 8 rows a split, one training step, clipped by
# norm; each run validates and tests after its fit.
COMMON = f"""
import lightning as L
import torch
from transformers import BertConfig, BertForSequenceClassification
from lab.tasks.text_classification.module import TextClassificationModule


def build_module():
    torch.manual_seed(0)
    config = BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=32, max_position_embeddings=16,
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, num_labels=2)
    model = BertForSequenceClassification(config)
    return TextClassificationModule(model, sgd)


def sgd(model):
    return torch.optim.SGD(model.parameters(), lr={LR})


def loader(split, batch_size):
    generator = torch.Generator().manual_seed(["train", "val", "test"].index(split) + 1)
    ids = torch.randint(4, 64, (8, 8), generator=generator)
    labels = torch.randint(0, 2, (8,), generator=generator)
    rows = [{{"input_ids": ids[i], "labels": labels[i]}} for i in range(8)]
    return torch.utils.data.DataLoader(rows, batch_size=batch_size)


def trainer(**kwargs):
    return L.Trainer(accelerator="cpu", max_steps=1, gradient_clip_val={CLIP}, logger=False,
                     enable_checkpointing=False, enable_progress_bar=False,
                     enable_model_summary=False, **kwargs)
"""

FSDP_SCRIPT = """
import json
import sys
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.strategies import FSDPStrategy
from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
from common import build_module, loader, trainer
from lab.training.sharded import FSDPEvaluationWrapper


class CPUFSDPStrategy(FSDPStrategy):
    # Lightning's FSDP strategy, wrapping on the CPU (see the test module's doc); a module
    # that holds an FSDP module already is left to Lightning, which does not wrap it again.
    def _setup_model(self, model):
        if not any(isinstance(m, FSDP) for m in model.modules()):
            model = FSDP(module=model, cpu_offload=self.cpu_offload,
                         mixed_precision=self.mixed_precision_config,
                         sharding_strategy=self.sharding_strategy,
                         device_id=torch.device("cpu"), **self.kwargs)
        return super()._setup_model(model)  # already wrapped: Lightning's other steps


class SaveFullWeights(L.Callback):
    def __init__(self, path):
        self.path = path

    def on_train_end(self, trainer, pl_module):
        with FSDP.summon_full_params(trainer.strategy.model):
            weights = {n: p.detach().clone() for n, p in pl_module.model.named_parameters()}
        if trainer.global_rank == 0:
            torch.save(weights, self.path)


if __name__ == "__main__":
    out, initial_checkpoint = Path(sys.argv[1]), sys.argv[2]
    strategy = CPUFSDPStrategy(sharding_strategy="FULL_SHARD", state_dict_type="full",
                               cpu_offload=False, limit_all_gathers=True)
    callbacks = [SaveFullWeights(out / "fsdp.pt"), FSDPEvaluationWrapper()]
    fsdp = trainer(devices=2, strategy=strategy, callbacks=callbacks)
    module = build_module()
    fsdp.fit(module, loader("train", 4))  # 4 rows on each of 2 ranks
    # After the fit, as `lab.training.fit` does: the fitted weights, then a checkpoint's.
    (val,) = fsdp.validate(module, loader("val", 4), verbose=False)
    (test,) = fsdp.test(module, loader("test", 4), ckpt_path=initial_checkpoint, verbose=False)
    if fsdp.global_rank == 0:
        (out / "fsdp.json").write_text(json.dumps({**val, **test}))
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


@pytest.fixture(scope="module")
def fsdp_and_one_process(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """The same module trained one clipped step, then validated and tested, in one process
    on whole batches and under FSDP on 2 ranks (half the batch each); the test split is
    tested on a checkpoint of the initial weights (`ckpt_path`, as `lab.training.fit` tests
    the best checkpoint). One FSDP run serves the tests below: it takes a while."""
    tmp_path = tmp_path_factory.mktemp("fsdp")
    common = _common(tmp_path)
    module = common.build_module()
    one = common.trainer(devices=1)
    (initial_test,) = one.test(module, common.loader("test", 4), verbose=False)
    one.save_checkpoint(tmp_path / "initial.ckpt")
    before = {n: p.detach().clone() for n, p in module.model.named_parameters()}
    one.fit(module, common.loader("train", 8))
    after = {n: p.detach().clone() for n, p in module.model.named_parameters()}
    (val,) = one.validate(module, common.loader("val", 4), verbose=False)
    (fitted_test,) = one.test(module, common.loader("test", 4), verbose=False)

    script = tmp_path / "fsdp_run.py"
    script.write_text(FSDP_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path), str(tmp_path / "initial.ckpt")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    return SimpleNamespace(
        before=before,
        after=after,
        one_process={**val, **initial_test},
        fitted_test=fitted_test,
        run=done,  # asserted by each test on what it reads: the fit writes before evaluating
        out=tmp_path,
    )


@pytest.mark.slow
def test_fsdp_clips_by_the_norm_over_all_shards_as_one_process_does(
    fsdp_and_one_process: SimpleNamespace,
) -> None:
    """One clipped step under FSDP on 2 ranks (each with half the batch) moves every weight
    as one process on the whole batch does: the norm is that of the whole gradient, not of
    a rank's shard. Lightning alone refused the step (`gradient_clip_algorithm='norm'` is
    not supported for `FSDPPrecision`)."""
    runs = fsdp_and_one_process
    before, expected = runs.before, runs.after
    step = torch.cat([(before[n] - expected[n]).flatten() for n in before]) / LR
    assert step.norm().item() == pytest.approx(CLIP, rel=1e-4)  # clipped to the bound
    assert (runs.out / "fsdp.pt").exists(), runs.run.stderr[-3000:]
    sharded = torch.load(runs.out / "fsdp.pt", weights_only=True)
    assert sharded.keys() == expected.keys()
    for name, weight in expected.items():
        torch.testing.assert_close(sharded[name], weight, rtol=1e-5, atol=1e-7, msg=name)


@pytest.mark.slow
def test_fsdp_validates_and_tests_after_the_fit_as_one_process_does(
    fsdp_and_one_process: SimpleNamespace,
) -> None:
    """After the FSDP fit on 2 ranks, `validate` (the fitted weights) and `test` (a
    checkpoint's weights, loaded into the fit's FSDP root) give the losses and metrics one
    process gives on the same rows. Before `FSDPEvaluationWrapper`, Lightning wrapped the
    fitted module, whose parameters were each rank's flat slices, in a second FSDP root and
    the first batch failed (`'weight' must be 2-D`)."""
    runs = fsdp_and_one_process
    assert runs.run.returncode == 0, runs.run.stderr[-3000:]
    fsdp = json.loads((runs.out / "fsdp.json").read_text())
    assert fsdp.keys() == runs.one_process.keys()
    assert {"val/loss", "val/acc", "test/loss", "test/acc"} <= fsdp.keys()
    for name, value in runs.one_process.items():
        assert fsdp[name] == pytest.approx(value, abs=1e-5), name
    # The checkpoint was loaded: the fitted weights' test loss is another number.
    assert abs(runs.fitted_test["test/loss"] - fsdp["test/loss"]) > 1e-4


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


def test_the_run_trainer_carries_the_evaluation_callbacks(compose_cfg: Any) -> None:
    """`lab.train`'s Trainer (the one that fits, then validates and tests) has the ZeRO-3
    and the FSDP evaluation callbacks, once each."""
    from lab.training.fit import build_run_trainer

    trainer = build_run_trainer(compose_cfg(*TINY_FIXTURE_RUN, "callbacks=none"), (), [])
    assert sum(isinstance(c, ZeroThreeEvaluationDevice) for c in trainer.callbacks) == 1
    assert sum(isinstance(c, FSDPEvaluationWrapper) for c in trainer.callbacks) == 1


def test_evaluation_after_an_fsdp_fit_goes_through_the_fits_root() -> None:
    """Lightning's `connect` puts the bare module in `strategy.model` before every stage;
    for validate, test and predict after a fit of the same module under FSDP, the fit's root
    replaces it (Lightning then does not wrap again). Not for a fit, another module, no fit
    before, no FSDP root or another strategy."""
    module, other = _Module(), _Module()
    root = mock.MagicMock(spec=FullyShardedDataParallel)
    root.module = module
    trainer = _fsdp_trainer(root)
    callback = FSDPEvaluationWrapper()
    callback.on_fit_start(trainer, module)
    for stage in ("validate", "test", "predict"):
        trainer.strategy.model = module  # as `Trainer._run` connects it
        callback.setup(trainer, module, stage)
        assert trainer.strategy.model is root, stage
    for stage, connected in (("fit", module), ("test", other)):
        trainer.strategy.model = connected
        callback.setup(trainer, connected, stage)
        assert trainer.strategy.model is connected, stage

    trainer.strategy.model = module
    FSDPEvaluationWrapper().setup(trainer, module, "test")  # no fit before
    assert trainer.strategy.model is module
    unrooted = FSDPEvaluationWrapper()
    unrooted.on_fit_start(_fsdp_trainer(module), module)  # the module wrapped its own parts
    unrooted.setup(trainer, module, "test")
    assert trainer.strategy.model is module
    single = SimpleNamespace(strategy=SingleDeviceStrategy(torch.device("cpu")))
    single.strategy.model = module
    callback.setup(single, module, "test")  # type: ignore[arg-type]
    assert single.strategy.model is module


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
