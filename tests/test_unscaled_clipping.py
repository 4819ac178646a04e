"""Clipping a fused optimizer's gradients under bf16-mixed (`lab.training.unscaled_clipping`):
Lightning refuses it; lab clips the true gradients itself, with hand-computed norms, and
leaves every other precision to Lightning."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import lightning as L
import pytest
import torch
from lightning.pytorch.plugins.precision import MixedPrecision, Precision

from lab.training.unscaled_clipping import clip_unscaled_gradients

from conftest import TINY_FIXTURE_RUN


def _fused_with_gradients(*grads: list[float]) -> tuple[list[torch.nn.Parameter], Any]:
    params = [torch.nn.Parameter(torch.zeros(len(g))) for g in grads]
    for param, grad in zip(params, grads, strict=True):
        param.grad = torch.tensor(grad)
    return params, torch.optim.AdamW(params, fused=True)


def _trainer(plugin: Precision) -> Any:
    return SimpleNamespace(precision_plugin=plugin)


def test_lightning_refuses_to_clip_a_fused_optimizer_under_bf16_mixed() -> None:
    """Why lab clips itself: Lightning's plugin refuses even where no scaler exists."""
    _, optimizer = _fused_with_gradients([3.0, 4.0])
    plugin = MixedPrecision("bf16-mixed", "cpu")
    assert plugin.scaler is None
    with pytest.raises(RuntimeError, match="fused"):
        plugin.clip_gradients(optimizer, 1.0)


def test_bf16_mixed_clips_a_fused_optimizer_by_norm_over_every_parameter() -> None:
    # Norm over both tensors: sqrt(3^2 + 4^2 + 12^2) = 13; clipped to 2.6, each scaled by 0.2.
    params, optimizer = _fused_with_gradients([3.0, 4.0], [12.0])
    assert clip_unscaled_gradients(_trainer(MixedPrecision("bf16-mixed", "cpu")), optimizer, 2.6)
    assert params[0].grad.tolist() == pytest.approx([0.6, 0.8], rel=1e-5)
    assert params[1].grad.tolist() == pytest.approx([2.4], rel=1e-5)
    total = math.sqrt(sum(float((p.grad**2).sum()) for p in params))
    assert total == pytest.approx(2.6, rel=1e-5)


def test_bf16_mixed_clips_by_value_when_asked() -> None:
    params, optimizer = _fused_with_gradients([3.0, -4.0, 0.5])
    plugin = MixedPrecision("bf16-mixed", "cpu")
    assert clip_unscaled_gradients(_trainer(plugin), optimizer, 1.0, "value")
    assert params[0].grad.tolist() == [1.0, -1.0, 0.5]


@pytest.mark.parametrize(
    ("plugin", "clip_val"),
    [
        (MixedPrecision("16-mixed", "cpu"), 1.0),  # a loss scaler: gradients are still scaled
        (Precision(), 1.0),  # 32-true: Lightning's own clipping, which allows fused
        (MixedPrecision("bf16-mixed", "cpu"), None),  # no clipping asked
        (MixedPrecision("bf16-mixed", "cpu"), 0.0),
    ],
)
def test_other_precisions_and_no_clipping_are_left_to_lightning(
    plugin: Precision, clip_val: float | None
) -> None:
    params, optimizer = _fused_with_gradients([3.0, 4.0])
    assert not clip_unscaled_gradients(_trainer(plugin), optimizer, clip_val)
    assert params[0].grad.tolist() == [3.0, 4.0]


class _GradientNorms(L.Callback):
    """The gradient norm each optimizer step used (read after the step: the clipping runs
    inside `optimizer.step`'s closure, and the gradients are freed only after it)."""

    def __init__(self) -> None:
        self.norms: list[float] = []
        self.largest: list[float] = []  # the largest gradient element of each step
        self.fused: list[bool] = []

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        optimizer = trainer.optimizers[0]
        self.fused.append(bool(optimizer.defaults.get("fused")))

        def after_step(opt: Any, *_: Any) -> None:
            grads = [p.grad for group in opt.param_groups for p in group["params"]]
            grads = [g for g in grads if g is not None]
            self.norms.append(float(torch.stack([g.norm() for g in grads]).norm()))
            self.largest.append(max(float(g.abs().max()) for g in grads))

        optimizer.register_step_post_hook(after_step)


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", ["norm", "value"])
def test_a_bf16_mixed_run_trains_a_fused_adamw_on_clipped_gradients(
    compose_cfg: Any, tmp_path: Path, algorithm: str
) -> None:
    from lab.train import run

    steps = _GradientNorms()
    cfg = compose_cfg(
        *TINY_FIXTURE_RUN, "precision=bf16-mixed", "trainer.gradient_clip_val=0.001",
        f"trainer.gradient_clip_algorithm={algorithm}", "trainer.max_steps=3", "callbacks=none",
        output_dir=tmp_path / "r",
    )  # fmt: skip
    metrics = run(cfg, callbacks=[steps])
    assert steps.fused == [True]
    assert len(steps.norms) == 3
    # A random tiny BERT's gradients are far above 0.001: every step used them clipped.
    if algorithm == "norm":
        assert steps.norms == pytest.approx([0.001] * 3, rel=1e-3)
    else:  # every element clamped to +-0.001, the largest ones at the bound
        assert steps.largest == pytest.approx([0.001] * 3, rel=1e-6)
        assert all(norm > 0.001 for norm in steps.norms)
    assert math.isfinite(metrics["test/loss"])
