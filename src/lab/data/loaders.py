"""The DataLoaders of a `DataModule` (`lab.data.datamodule`): which sampler orders the rows,
how many rows a batch holds, and how batches are collated and handed to the device.

* train (sized): `EpochSeededSampler` (a seeded shuffle per epoch), or with
  `data.group_by_length` a `LengthGroupedBatchSampler`; either resumes at a position inside an
  epoch (`DataModule.resume_from_position`). A streamed train split has its own loader
  (`lab.data.streaming.train_loader`).
* validation / test: rows sorted by length, longest first (less padding, the same metrics).
  Under DDP each rank takes every N-th row: Lightning's default `DistributedSampler` would pad
  the split with repeated rows so every rank gets as many, and metrics would count them twice.
* every loader: the head's collator, `data.num_workers` (persistent), pinned memory where
  batches go to a CUDA GPU (`lab.data.pinning`), and a private generator: it only seeds
  worker processes (the order comes from the samplers), and keeps loaders from drawing on
  the global RNG, which a resume restores for dropout and which must see the same draws as
  in an uninterrupted run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch.utils.data import DataLoader

from lab.data.encoding import row_lengths
from lab.data.samplers import (
    EpochSeededSampler,
    LengthGroupedBatchSampler,
    LengthSortedBatchSampler,
)

if TYPE_CHECKING:
    from lab.data.datamodule import DataModule


def sized_train_loader(
    data: DataModule, position: tuple[int, int] | None
) -> tuple[DataLoader, EpochSeededSampler | LengthGroupedBatchSampler]:
    """The train loader of a split held whole, and its sampler; `position` (epoch, batches
    done) resumes inside an epoch."""
    dataset = data.datasets["train"]
    replicas, rank = distribution(data)
    sampler: EpochSeededSampler | LengthGroupedBatchSampler
    if data.group_by_length:
        sampler = LengthGroupedBatchSampler(
            row_lengths(dataset),
            data.batch_size,
            data.seed,
            data.length_group_size,
            num_replicas=replicas,
            rank=rank,
        )
    else:
        sampler = EpochSeededSampler(len(dataset), data.batch_size, data.seed, replicas, rank)
    if position is not None:
        sampler.resume_at(*position)
    if isinstance(sampler, LengthGroupedBatchSampler):
        return split_loader(data, "train", batch_sampler=sampler), sampler
    return split_loader(data, "train", sampler=sampler, batch_size=data.batch_size), sampler


def eval_loader(data: DataModule, split: str) -> DataLoader:
    """The loader of an evaluation split: length-sorted batches of `data.eval_batch_size`."""
    replicas, rank = distribution(data)
    lengths = row_lengths(data.datasets[split])
    sampler = LengthSortedBatchSampler(lengths, data.eval_batch_size, replicas, rank)
    return split_loader(data, split, batch_sampler=sampler)


def split_loader(data: DataModule, split: str, **kwargs: Any) -> DataLoader:
    """A DataLoader over `split` with the module's collator and loading settings; `kwargs`
    give its sampler and batching."""
    return DataLoader(
        data.datasets[split],  # type: ignore[arg-type]
        num_workers=data.num_workers,
        collate_fn=data.collate_fn(),
        persistent_workers=data.num_workers > 0,
        pin_memory=data.pins_memory,
        generator=torch.Generator().manual_seed(data.seed),
        **kwargs,
    )


def distribution(data: DataModule) -> tuple[int, int]:
    """(world size, global rank) of the Trainer using `data`; (1, 0) without one."""
    trainer = getattr(data, "trainer", None)
    if trainer is None:
        return 1, 0
    return int(trainer.world_size), int(trainer.global_rank)


def batch_device_type(data: DataModule) -> str:
    """The type of the device `data`'s batches go to: its Trainer's, or before one is
    attached, `cuda` when a CUDA GPU is visible, else `cpu`."""
    trainer = getattr(data, "trainer", None)
    if trainer is not None:
        return str(trainer.strategy.root_device.type)
    return "cuda" if torch.cuda.is_available() else "cpu"
