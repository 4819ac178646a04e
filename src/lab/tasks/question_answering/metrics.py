"""Evaluation logits gathered from every rank, paired back with their windows.

Evaluation gathers the logits of every feature from every rank (a torchmetrics `Metric`
whose states are concatenated under DDP), so each question is decoded from all its windows
even when they were split over ranks; every rank then decodes and scores the whole split.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
from torchmetrics import Metric

from lab.tasks.question_answering.decoding import METADATA_COLUMNS, Window

if TYPE_CHECKING:
    from datasets import Dataset


class SpanLogits(Metric):
    """Collects each evaluation feature's start/end logits (over its real tokens) by row.

    States are concatenated across DDP ranks, so `compute` returns every rank's features:
    (feature indices, token counts, all start logits flat, all end logits flat).
    """

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("index", default=[], dist_reduce_fx="cat")
        self.add_state("lengths", default=[], dist_reduce_fx="cat")
        self.add_state("start", default=[], dist_reduce_fx="cat")
        self.add_state("end", default=[], dist_reduce_fx="cat")

    def update(
        self,
        feature_index: torch.Tensor,
        start_logits: torch.Tensor,
        end_logits: torch.Tensor,
        attention_mask: torch.Tensor,
    ) -> None:
        # Keep real tokens only, in order: works for left and right padding alike, and
        # batches of different padded widths concatenate.
        real = attention_mask.bool()
        states = cast(Any, self)
        states.index.append(feature_index.long())
        states.lengths.append(real.sum(dim=1))
        states.start.append(start_logits.float()[real])
        states.end.append(end_logits.float()[real])

    def compute(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        states = cast(Any, self)
        return (
            _cat(states.index, torch.long),
            _cat(states.lengths, torch.long),
            _cat(states.start, torch.float),
            _cat(states.end, torch.float),
        )


def _cat(state: Any, dtype: torch.dtype) -> torch.Tensor:
    if isinstance(state, torch.Tensor):
        return state
    return torch.cat(state) if state else torch.zeros(0, dtype=dtype)


def windows_from_logits(
    features: Dataset,
    index: torch.Tensor,
    lengths: torch.Tensor,
    start: torch.Tensor,
    end: torch.Tensor,
    batch_size: int = 1000,
) -> Iterable[Window]:
    """Pair gathered logits (see `SpanLogits`) with their features' ids and offsets."""
    index_list = index.tolist()
    bounds = np.concatenate([[0], np.cumsum(lengths.cpu().numpy())])
    start_np, end_np = start.cpu().numpy(), end.cpu().numpy()
    position = {row: i for i, row in enumerate(index_list)}  # a row seen twice: keep the last
    rows = sorted(position)
    metadata = features.select_columns(list(METADATA_COLUMNS)).select(rows)
    done = 0
    for chunk in metadata.iter(batch_size=batch_size):
        for example_id, offsets in zip(chunk["example_id"], chunk["offset_mapping"], strict=True):
            i = position[rows[done]]
            done += 1
            lo, hi = bounds[i], bounds[i + 1]
            yield Window(example_id, offsets, start_np[lo:hi], end_np[lo:hi])
