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
* `FSDPEvaluationWrapper`: after `trainer.fit` under `FSDPStrategy` on 2 or more ranks, the
  LightningModule's parameters are no longer its weights: the FSDP root flattened them
  (`use_orig_params=False`, Lightning's default) and left each a 1-D tensor of this rank's
  part of it, empty where its shard does not reach (measured on 2 ranks: BERT's word
  embeddings (1024,) on rank 0 and (0,) on rank 1); they are whole only inside the root's
  forward. `trainer.validate` / `test` connect the bare LightningModule again and
  `FSDPStrategy._setup_model` wrapped it in a second root, which took those parts for the
  weights: the first evaluation batch failed (`'weight' must be 2-D`). One rank was spared
  (FSDP does not shard over one rank). Lightning does not wrap a module that already holds
  an FSDP module (its own tests' modules wrap themselves in `configure_model`); this
  callback hands the strategy the fit's root before its setup, so evaluation runs through
  the root that trained, as the validation inside the fit did, and `ckpt_path` loads into
  that root.
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


class FSDPEvaluationWrapper(L.Callback):
    """Under `FSDPStrategy`, `validate`, `test` or `predict` after a `fit` of the same
    LightningModule run through the fit's FSDP root, not a new one (see the module doc).
    Nothing under any other strategy, without a fit before, for another LightningModule, or
    where no FSDP root wrapped the module (it wrapped its own submodules)."""

    def __init__(self) -> None:
        self._root: FullyShardedDataParallel | None = None

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # The strategy's setup has wrapped the module by now; `connect` at the next
        # `validate` / `test` replaces `strategy.model` with the bare module again.
        self._root = fsdp_root(trainer)

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        # Callbacks' `setup` runs after `strategy.connect` and before `strategy.setup`.
        from lightning.pytorch.strategies import FSDPStrategy

        root = self._root
        if stage == "fit" or root is None or not isinstance(trainer.strategy, FSDPStrategy):
            return
        if root.module is pl_module:  # the module the fit trained, not another one
            trainer.strategy.model = root


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
