"""The unfinished gradient-accumulation group a checkpoint is saved in, carried to the resume.

With `trainer.accumulate_grad_batches=N` a checkpoint may be written after k < N micro-batches
of an optimizer step: on SIGTERM, which stops after whatever micro-batch it lands on
(`PreemptionCheckpoint`), and at a validation that falls inside a group. Those k micro-batches
live only in memory: the parameters' accumulated `.grad`, the micro-batch losses the step will
log as their mean (`TaskModule.log_train`) and, for SFT, the step's running count of target
tokens (`lab.tasks.sft.token_mean`). The checkpoint's weights and optimizer are those of the
group's start and its data position is k batches further, so a resumed run used to step on
the group's last N - k micro-batches alone: measured on tiny_bert with N=3, the next
train/loss 0.68524 instead of 0.68894 and weights up to 0.016 apart at the end.

So such a checkpoint also holds (`PARTIAL_GROUP_KEY`, only then) the gradients of the
trainable parameters that have one (LoRA: the adapters; frozen weights have none) and what
the task module carries (`TaskModule.partial_group_state`), for every rank: under DDP each
rank's gradients are its own until the group's last micro-batch all-reduces them, so rank 0
gathers them into the checkpoint (one parameter at a time, so no more than one parameter's
copies are in device memory at once; host memory holds every rank's, on rank 0 at the save
and on each rank while it loads the checkpoint). On resume each rank puts its own back
before the next micro-batch (`restore`), which then accumulates onto them exactly as it
would have: the resumed run is bit-identical to one never interrupted (tested on CPU: in a
full group, in an epoch's last, partial one, whose gradients carry `partial_group_scale`
already, with LoRA, with SFT, and on 2 DDP ranks).

The other design, saving the group's start and replaying its k micro-batches, would keep
checkpoints small but has to rewind Lightning's loop counters inside the checkpoint and keep
RNG states from the group's start; the gradients are what the k micro-batches produced, so
carrying them is exact without rewriting any of Lightning's state. They cost one more copy
of the trainable weights' size, in mid-group checkpoints alone.

Under FSDP and DeepSpeed the gradients sit in the strategy's own shards and buffers (DeepSpeed
also counts micro-steps itself): there a mid-group checkpoint carries nothing, and the save
warns in one line that the run resumed from it steps without those micro-batches.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

import torch

from lab.compat.lightning import accumulating
from lab.errors import LabError

if TYPE_CHECKING:
    import lightning as L

log = logging.getLogger(__name__)

PARTIAL_GROUP_KEY = "lab_partial_group"


class GroupAccumulator(ABC):
    """Something a task module sums over the micro-batches of one optimizer step besides the
    gradients (SFT's token count). `TaskModule.partial_group_state` saves the state of every
    one the module holds as an attribute, so a mid-group checkpoint carries it."""

    @abstractmethod
    def group_state(self) -> dict[str, Any]:
        """The state of the step under way: CPU tensors and plain values (a checkpoint must
        load with `weights_only=True`)."""

    @abstractmethod
    def load_group_state(self, state: dict[str, Any], device: torch.device) -> None:
        """Take up `state` (from `group_state`), its tensors moved to `device`."""


def micro_batches_in_group(trainer: L.Trainer) -> int:
    """How many micro-batches of an unfinished accumulation group `trainer` has run since its
    last optimizer step: 0 on a group boundary, outside a fit and without accumulation."""
    from lightning.pytorch.trainer.states import TrainerFn

    # `getattr`: a stand-in trainer (tests of the checkpoint callbacks) may have no such field.
    group = int(getattr(trainer, "accumulate_grad_batches", 1) or 1)
    if group <= 1 or trainer.state.fn != TrainerFn.FITTING:
        return 0
    # Lightning's own test for "this batch did not step" (`TaskModule.log_train` reads it
    # too); it knows an epoch's last batch steps whatever the count.
    if not accumulating(trainer):
        return 0
    return int(trainer.fit_loop.epoch_loop.batch_progress.current.ready) % group


def gradients_are_sharded(trainer: L.Trainer) -> bool:
    """Whether `trainer`'s strategy keeps gradients in shards of its own (FSDP, DeepSpeed)."""
    from lightning.pytorch.strategies import DeepSpeedStrategy, FSDPStrategy

    return isinstance(trainer.strategy, FSDPStrategy | DeepSpeedStrategy)


def capture(trainer: L.Trainer, module: L.LightningModule) -> dict[str, Any] | None:
    """The unfinished group's state for a checkpoint saved now, or None on a group boundary
    (and under FSDP / DeepSpeed, with a warning). Every rank must call it for a save (under
    DDP it gathers every rank's state to rank 0)."""
    k = micro_batches_in_group(trainer)
    if k == 0:
        return None
    group = int(trainer.accumulate_grad_batches)
    if gradients_are_sharded(trainer):
        if trainer.is_global_zero:
            log.warning(
                "checkpoint saved %d micro-batch%s into an accumulation group of %d: under %s "
                "their gradients are not saved, so a run resumed from it steps without them",
                k,
                "es" * (k != 1),
                group,
                type(trainer.strategy).__name__,
            )
        return None
    params = trainable_parameters(module)
    # A TaskModule's own state of the step (a plain LightningModule has none).
    own_state = getattr(module, "partial_group_state", None)
    extras = own_state() if callable(own_state) else {}
    world = int(trainer.world_size)
    if world > 1 and torch.distributed.is_available() and torch.distributed.is_initialized():
        grads = _gather_gradients(trainer, params)
        states: list[Any] = [None] * world
        torch.distributed.all_gather_object(states, extras)
        by_rank = [{"grads": g, "module": m} for g, m in zip(grads, states, strict=True)]
    else:
        own = {name: _cpu_copy(p.grad) for name, p in params if p.grad is not None}
        by_rank = [{"grads": own, "module": extras}]
    return {"micro_batches": k, "group": group, "by_rank": by_rank}


def restore(trainer: L.Trainer, module: L.LightningModule, state: dict[str, Any]) -> None:
    """Put this rank's share of a checkpoint's unfinished group (`capture`) back: gradients
    onto the parameters, the module's own state into it. Before the group's next micro-batch,
    which adds to them (Lightning zeroes gradients only before a group's first)."""
    by_rank = state["by_rank"]
    if len(by_rank) != trainer.world_size:
        if trainer.is_global_zero:
            log.warning(
                "the checkpoint was saved %d micro-batches into an accumulation group by %d "
                "processes, and %d resume it: those micro-batches are left out",
                state["micro_batches"],
                len(by_rank),
                trainer.world_size,
            )
        return
    own = by_rank[trainer.global_rank]
    params = dict(trainable_parameters(module))
    for name, grad in own["grads"].items():
        param = params.get(name)
        if param is None or param.shape != grad.shape:
            raise LabError(
                f"the checkpoint's unfinished accumulation group has a gradient for {name}, "
                "which this model does not train"
            )
        param.grad = grad.to(device=param.device, dtype=param.dtype)
    load_own_state = getattr(module, "load_partial_group_state", None)
    if callable(load_own_state):
        load_own_state(own["module"])


def trainable_parameters(module: torch.nn.Module) -> list[tuple[str, torch.nn.Parameter]]:
    """`module`'s parameters that train (`requires_grad`), by name: the only ones with
    gradients (frozen layers, a LoRA run's base weights have none)."""
    return [(name, p) for name, p in module.named_parameters() if p.requires_grad]


def _cpu_copy(tensor: torch.Tensor) -> torch.Tensor:
    # A copy even on CPU: under DDP a gradient can be a view into a communication bucket
    # (saving it would write the whole bucket), and the next micro-batch adds to it in place
    # while a checkpoint may still be serialized off the training thread.
    return tensor.detach().to("cpu", copy=True)


def _gather_gradients(
    trainer: L.Trainer, params: list[tuple[str, torch.nn.Parameter]]
) -> list[dict[str, torch.Tensor]]:
    """Every rank's gradients by parameter name, on rank 0 (elsewhere empty dicts): which
    parameters have one on each rank first, then each parameter's, one collective each."""
    dist = torch.distributed
    world, rank = int(trainer.world_size), int(trainer.global_rank)
    device = trainer.strategy.root_device
    on_zero = rank == 0
    has = torch.tensor([p.grad is not None for _, p in params], dtype=torch.uint8, device=device)
    flags = [torch.zeros_like(has) for _ in range(world)] if on_zero else None
    dist.gather(has, flags, dst=0)
    present = [f.tolist() for f in flags] if flags is not None else []
    grads: list[dict[str, torch.Tensor]] = [{} for _ in range(world)]
    for i, (name, param) in enumerate(params):
        # A rank without this gradient sends zeros, which the flags leave out.
        mine = param.grad if param.grad is not None else torch.zeros_like(param)
        parts = [torch.empty_like(mine) for _ in range(world)] if on_zero else None
        dist.gather(mine.contiguous(), parts, dst=0)
        if parts is not None:
            for r in range(world):
                if present[r][i]:
                    grads[r][name] = parts[r].to("cpu")
    return grads
