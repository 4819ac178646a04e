"""DDP ranks weighed by their rows on a global batch they share unevenly, or by their
class-weight sums on every batch of a class-weighted loss.

DDP averages the ranks' gradients with equal weights, and lab logs the mean of the ranks'
`train/*` values (`TaskModule.log_train`): right while every rank holds as many rows. An
epoch's partial global batch of map-style data is split as evenly as it can be
(`lab.data.samplers.rank_part`: 5 rows on 2 ranks, 3 + 2), and there the equal average
gave `(mean3 + mean2) / 2`, not the global batch's `mean5` one process trains on.

On that micro-batch alone (the samplers' `uneven_batch`, the same answer on every rank) each
rank's loss and values are multiplied by `rows x ranks / global rows`, the global rows from
one all-reduce of the count: DDP's average of the gradients and the mean of the values are
then the global batch's row mean. Every other micro-batch costs nothing. Gradient
accumulation's `partial_group_scale` (an epoch's last group of fewer micro-batches) is a
separate factor: it weighs micro-batches within a step, this weighs ranks within a
micro-batch, and the two multiply.

A class-weighted cross entropy (`task.module.class_weights`, `lab.tasks.losses.ClassLoss`)
is `sum(w_i l_i) / sum(w_i)` over a rank's rows (or scored tokens), so the ranks' equal
average is off the global batch's weighted mean on every micro-batch, even ones. There the
rank's weight is `its weight sum x ranks / the global weight sum` instead (`weight_share`:
one all-reduce of the weight sum per micro-batch, under DDP only, streamed splits too),
which counts the rows already and replaces the row weight. Torch divides a label-smoothed,
weighted loss by the same sum (the target classes' weights), so it holds with label
smoothing too; as the row weight, it multiplies `partial_group_scale`. A head whose loss is a
mean over target tokens (token classification, masked and causal LM, seq2seq: `token_count`)
is the same case with a weight of 1 per token: the ranks' sentences hold unequal token counts,
so the equal average of their token means was off one process's token mean (3.2e-4 on the
NER fixture, 2 ranks); each rank is weighed by its target tokens the same way.

The row weight is not applied to a streamed train split (every rank's stream is endless, so
every batch is full on every rank) nor to a head whose loss weighs ranks itself (SFT's token
mean: `TaskModule.ranks_weighed_by_rows`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    import lightning as L


def uneven_batch(trainer: L.Trainer | None) -> bool:
    """Whether the micro-batch under way is one whose global batch the ranks share unevenly:
    asked of the datamodule's train sampler (its `uneven_batch(epoch)`), the same answer on
    every rank. False outside DDP and without such a sampler."""
    if trainer is None or trainer.world_size <= 1 or not torch.distributed.is_initialized():
        return False
    sampler: Any = getattr(getattr(trainer, "datamodule", None), "train_sampler", None)
    if sampler is None or not hasattr(sampler, "uneven_batch"):
        return False
    index = sampler.uneven_batch(sampler.epoch)
    return index is not None and trainer.fit_loop.epoch_loop.batch_idx == index


def rank_weight(trainer: L.Trainer | None, rows: int, device: torch.device) -> torch.Tensor | None:
    """`rows x ranks / global rows` for this rank's micro-batch of `rows` rows where the ranks
    share it unevenly (one all-reduce of the count), else None (a weight of 1, no collective)."""
    if trainer is None or not uneven_batch(trainer):
        return None
    total = torch.tensor(float(rows), device=device)
    # `torch.distributed` directly: the strategy's `reduce` puts a barrier before it.
    torch.distributed.all_reduce(total)
    return rows * trainer.world_size / total


def weight_share(trainer: L.Trainer | None, weight_sum: torch.Tensor) -> torch.Tensor | None:
    """`weight_sum x ranks / global weight sum` for this rank's micro-batch, whose loss is a
    mean weighted by `weight_sum` in all (a class-weighted cross entropy's target weights):
    one all-reduce of the sum, on every micro-batch under DDP; None (a weight of 1, no
    collective) in one process."""
    if trainer is None or trainer.world_size <= 1 or not torch.distributed.is_initialized():
        return None
    mine = weight_sum.detach().float()
    total = mine.clone()
    # `torch.distributed` directly: the strategy's `reduce` puts a barrier before it.
    torch.distributed.all_reduce(total)
    return mine * trainer.world_size / total


def weighted(value: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """`value x weight`, 0 where the weight is 0: a rank whose micro-batch has nothing to
    score (its mean is nan) adds nothing to the global batch's mean."""
    return torch.where(weight > 0, value * weight, torch.zeros_like(value))


def target_tokens(labels: torch.Tensor, *, shifted: bool = False) -> torch.Tensor:
    """How many of `labels` a token head's loss scores: those not `IGNORE` (-100); a causal
    LM's from the second position on (`shifted`: transformers' causal loss predicts each
    token from the ones before, so the first is never a target)."""
    from lab.tasks.ignore import IGNORE

    scored = labels[:, 1:] if shifted else labels
    return (scored != IGNORE).sum()


def token_count(
    trainer: L.Trainer | None, labels: torch.Tensor, *, shifted: bool = False
) -> torch.Tensor | None:
    """What a token head's mean loss divides by (`target_tokens`), for `weight_share` (via
    `log_train`'s `weight_sum`); None in one process: no count, no collective."""
    if trainer is None or trainer.world_size <= 1:
        return None
    return target_tokens(labels, shifted=shifted).float()
