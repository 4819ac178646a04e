"""What the sharded strategies need from lab that Lightning 2.6 does not do itself.

* `clip_fsdp_gradients`: under `FSDPStrategy`, Lightning refuses to clip by norm
  (`FSDPPrecision.clip_grad_by_norm` raises: the precision plugin holds no reference to the
  FSDP root). Each rank holds only its shard of every gradient, so
  `torch.nn.utils.clip_grad_norm_` over the local parameters would compute a per-rank norm;
  the root's `FullyShardedDataParallel.clip_grad_norm_` reduces the norm over the shards
  first, the one HF Trainer calls. `TaskModule.configure_gradient_clipping` calls it.
* `ZeroThreeEvaluationDevice`: after `trainer.fit`, Lightning's teardown moves the
  LightningModule to the CPU. Under DeepSpeed ZeRO-3 the next `trainer.validate` / `test`
  wraps it in a new DeepSpeed engine, which leaves a model whose parameters are already
  partitioned where they are (`DeepSpeedEngine._configure_distributed_model` moves only a
  model not yet partitioned). The partitioned parameters are gathered onto the GPU at each
  forward, but the small ones DeepSpeed keeps whole on every rank (under
  `param_persistence_threshold`: BERT's token type embeddings, biases, LayerNorms) and the
  buffers and metric states stayed on the CPU: the first evaluation batch failed ("index is
  on cuda:0, different from other tensors on cpu"). This callback puts the module back on
  the strategy's device before that engine is built, where the fit left it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import lightning as L

if TYPE_CHECKING:
    from torch.distributed.fsdp import FullyShardedDataParallel


def fsdp_root(trainer: L.Trainer) -> FullyShardedDataParallel | None:
    """The FSDP module that wraps the LightningModule under `FSDPStrategy`, else None.

    None too when the LightningModule wrapped its own submodules (`configure_model`): then
    no root exists that could reduce the norm over every shard."""
    from lightning.pytorch.strategies import FSDPStrategy
    from torch.distributed.fsdp import FullyShardedDataParallel

    strategy = trainer.strategy
    if not isinstance(strategy, FSDPStrategy):
        return None
    model = strategy.model
    return model if isinstance(model, FullyShardedDataParallel) else None


def clip_fsdp_gradients(trainer: L.Trainer, clip_val: float | None, algorithm: Any = None) -> bool:
    """Clip the gradients to norm `clip_val` through the FSDP root (see the module doc);
    return whether this was done. False (nothing done) for another strategy, clipping by
    value (elementwise: Lightning's own clipping of the local shards is right) or no
    clipping (`clip_val` None or 0)."""
    name = str(getattr(algorithm, "value", algorithm) or "norm").lower()
    if not clip_val or name != "norm":
        return False
    root = fsdp_root(trainer)
    if root is None:
        return False
    # Gradients are unscaled already under 16-mixed: `FSDPPrecision.optimizer_step` unscales
    # before this hook runs.
    root.clip_grad_norm_(float(clip_val))
    return True


class ZeroThreeEvaluationDevice(L.Callback):
    """Before `validate`, `test` or `predict` under DeepSpeed ZeRO-3, the LightningModule is
    moved to the strategy's device (see the module doc); nothing under any other strategy or
    stage. A module not partitioned yet (no fit before) moves as DeepSpeed would move it."""

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if stage != "fit" and zero_stage_3(trainer.strategy):
            pl_module.to(trainer.strategy.root_device)


def zero_stage_3(strategy: Any) -> bool:
    """Whether `strategy` is Lightning's DeepSpeed strategy at ZeRO stage 3."""
    from lightning.pytorch.strategies import DeepSpeedStrategy

    return isinstance(strategy, DeepSpeedStrategy) and bool(strategy.zero_stage_3)
