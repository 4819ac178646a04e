"""Gradient accumulation over completion tokens: each optimizer step's gradient is that of the
mean token loss over every micro-batch of the step (and every DDP rank), as transformers'
Trainer (`num_items_in_batch`, since 4.46) and TRL compute it.

Lightning averages micro-batches with equal weights: a micro-batch of 12 completion tokens
and one of 8 each counted half, so the 8 tokens weighed 1.5 times as much as the 12 (the
gradient differed from one batch of both by 14% in a measured case). A token mean needs the
step's token count before the first micro-batch's backward, which HF gets by fetching the
step's micro-batches ahead. Lightning fetches one at a time, so here each micro-batch's loss
is its token *sum* (its mean times its tokens), the tokens are counted as the micro-batches
pass, and the accumulated gradient is divided by their total once it is known, before
clipping and the optimizer step (`on_before_optimizer_step`): the same gradient, exactly,
without fetching ahead. Under DDP the total is summed over the ranks (one scalar all-reduce
per optimizer step) and the gradient's average over ranks is undone by the same factor.

The running count is part of the step under way: a checkpoint saved inside the step's
micro-batches (SIGTERM) carries it, like their gradients (`lab.training.partial_group`).

Not under FSDP or DeepSpeed, which keep the gradients in their own shards and accumulate
themselves: there the micro-batches weigh equally (and the ranks by tokens,
`SFTModule._mean_over_ranks`), as the README says.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch.optim import Optimizer

from lab.tasks.base import partial_group_scale
from lab.training.partial_group import GroupAccumulator


def accumulates_tokens(trainer: L.Trainer | None) -> bool:
    """Whether `trainer` accumulates micro-batches into steps on gradients lab can rescale
    (not FSDP or DeepSpeed)."""
    from lightning.pytorch.strategies import DeepSpeedStrategy, FSDPStrategy

    if trainer is None or trainer.accumulate_grad_batches <= 1:
        return False
    return not isinstance(trainer.strategy, FSDPStrategy | DeepSpeedStrategy)


class TokenMeanAccumulation(GroupAccumulator):
    """The running count of one optimizer step's target tokens, and the rescale that turns
    the micro-batches' accumulated token sums into the step's token mean."""

    def __init__(self) -> None:
        self._tokens: torch.Tensor | None = None

    def group_state(self) -> dict[str, Any]:
        """This rank's target tokens of the step under way so far (None before its first
        micro-batch)."""
        return {"tokens": None if self._tokens is None else self._tokens.cpu()}

    def load_group_state(self, state: dict[str, Any], device: torch.device) -> None:
        """Continue counting the step's tokens from `state` (`group_state`)."""
        tokens = state.get("tokens")
        self._tokens = None if tokens is None else tokens.to(device)

    def loss(self, mean: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """The micro-batch's loss to back-propagate: its token sum (`mean` x `tokens`; 0 for
        a micro-batch without targets, whose mean is nan), its tokens counted for the step."""
        counted = tokens.detach()
        self._tokens = counted if self._tokens is None else self._tokens + counted
        return torch.where(tokens > 0, mean * tokens, torch.zeros_like(mean))

    def rescale(self, trainer: L.Trainer, optimizer: Optimizer) -> None:
        """Divide the step's accumulated gradient by its target tokens (all ranks'), undoing
        Lightning's division by `accumulate_grad_batches` (and by fewer in an epoch's last,
        partial group: `partial_group_scale`) and DDP's average over ranks."""
        if self._tokens is None:
            return
        total, self._tokens = self._tokens.float(), None
        world = int(trainer.world_size)
        if world > 1:
            total = trainer.strategy.reduce(total, reduce_op="sum")
        group = trainer.accumulate_grad_batches / partial_group_scale(trainer)
        factor = group * world / total.clamp(min=1)
        grads = [p.grad for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
        if grads:
            torch._foreach_mul_(grads, factor.to(grads[0].device))
