"""Packing: several tokenized examples per training row, with no attention across them.

Examples are placed into rows of at most `max_length` tokens by best-fit decreasing (each
example, longest first, goes into the fullest row it still fits; TRL's `bfd` strategy), within
each `datasets.map` batch. A packed row keeps `position_ids` that restart at 0 for every
example, and its batches carry no `attention_mask`: from restarting positions Hugging Face
models (transformers >= 4.53's mask utilities) build a block-diagonal causal mask themselves for
the eager / SDPA / flex attention kernels (CPU), and run variable-length flash attention on
GPU. A 4-D mask handed in instead would be returned as is and break flash attention, and an
additive float mask must match the model's dtype, so positions are the one form every kernel
reads.

Each example's labels already hold -100 at its first token (`SFTDataModule.tokenize`), so the
last token of one example is never trained to predict the first of the next.
"""

from __future__ import annotations

import bisect
from typing import Any

import torch

from lab.tasks.sft.chat import IGNORE  # the label id the loss skips


def best_fit_bins(lengths: list[int], capacity: int) -> list[list[int]]:
    """Indices of `lengths` grouped into bins of total length <= `capacity`, best-fit
    decreasing; every length must be <= `capacity`. Bins come in order of creation, and the
    examples of a bin longest first."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    bins: list[list[int]] = []
    free: list[tuple[int, int]] = []  # (room left, bin index), sorted
    for index in order:
        size = lengths[index]
        slot = bisect.bisect_left(free, (size, -1))
        if slot < len(free):
            room, chosen = free.pop(slot)
        else:
            room, chosen = capacity, len(bins)
            bins.append([])
        bins[chosen].append(index)
        bisect.insort(free, (room - size, chosen))
    return bins


def pack_rows(batch: dict[str, list[Any]], max_length: int) -> dict[str, list[Any]]:
    """A `datasets.map` batch of tokenized examples (`input_ids`, `labels`) as packed rows
    (`input_ids`, `labels`, `position_ids`)."""
    ids, labels = batch["input_ids"], batch["labels"]
    packed: dict[str, list[Any]] = {"input_ids": [], "labels": [], "position_ids": []}
    for members in best_fit_bins([len(x) for x in ids], max_length):
        packed["input_ids"].append([t for i in members for t in ids[i]])
        packed["labels"].append([t for i in members for t in labels[i]])
        packed["position_ids"].append([p for i in members for p in range(len(ids[i]))])
    return packed


def collate_packed(
    rows: list[dict[str, Any]], pad_token_id: int, width: int | None = None
) -> dict[str, torch.Tensor]:
    """Pad packed rows to `width` (else the longest): `input_ids`, `labels` (-100 on padding)
    and `position_ids`. The padding gets positions 0, 1, ... of its own, so the model treats
    it as one more (ignored) example instead of letting it attend to the row's last one."""
    width = width or max(len(row["input_ids"]) for row in rows)
    ids = torch.full((len(rows), width), pad_token_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    positions = torch.arange(width).repeat(len(rows), 1)
    for r, row in enumerate(rows):
        size = len(row["input_ids"])
        ids[r, :size] = torch.tensor(row["input_ids"])
        labels[r, :size] = torch.tensor(row["labels"])
        positions[r, :size] = torch.tensor(row["position_ids"])
        positions[r, size:] = torch.arange(width - size)
    return {"input_ids": ids, "labels": labels, "position_ids": positions}
