"""Training-order samplers that are reproducible per epoch and resumable mid-epoch.

Each epoch's order is a pure function of `(seed, epoch)`: no generator state to carry, so a run
resumed mid-epoch (see `lab.training.checkpointing.ResumeStateCallback`) draws exactly the order an
uninterrupted run draws, in the resumed epoch and in every later one. Lightning calls
`set_epoch` at each epoch start.

`LengthGroupedBatchSampler` is the `data.group_by_length` option: batches of similar lengths
(less padding, so less compute), shuffled at the batch level so training still sees a random
order of batches.

`LengthSortedBatchSampler` orders evaluation: no randomness, rows sorted by length.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import DistributedSampler, Sampler


def rank_part(rows: int, ranks: int, rank: int) -> slice:
    """Rank `rank`'s slice of a global batch of `rows` rows: as even as can be, the first
    `rows % ranks` ranks one row more (5 rows on 2 ranks: 3 + 2, so no row is left out);
    empty on every rank for fewer rows than ranks (a rank without a batch would hang DDP)."""
    if rows < ranks:
        return slice(0, 0)
    share, extra = divmod(rows, ranks)
    start = rank * share + min(rank, extra)
    return slice(start, start + share + int(rank < extra))


def _generator(seed: int, epoch: int) -> torch.Generator:
    # hash() of a tuple of ints is stable across processes (no hash randomisation for ints).
    return torch.Generator().manual_seed(hash((seed, epoch)) & 0x7FFF_FFFF_FFFF)


class _Resumable:
    """Epoch bookkeeping shared by the samplers: `set_epoch`, and a one-shot skip on resume."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.epoch = 0
        self._resume: tuple[int, int] | None = None

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose order the next iteration yields."""
        self.epoch = epoch

    def resume_at(self, epoch: int, batches_done: int) -> None:
        """Make the next iteration of `epoch` skip its first `batches_done` batches."""
        self._resume = (epoch, batches_done)

    def _batches_to_skip(self) -> int:
        if self._resume is None or self._resume[0] != self.epoch:
            return 0
        skip = self._resume[1]
        self._resume = None
        return skip


class EpochSeededSampler(_Resumable, DistributedSampler):
    """A uniformly shuffled order per epoch; yields indices, `batch_size` at a time skippable.

    With `num_replicas > 1` (DDP) every rank yields its slice of each *global* batch of
    `batch_size * num_replicas` rows of that same order, so the ranks together see exactly
    the batches a single process with the global batch size would (the last, partial global
    batch is split as evenly as it can be, `rank_part`: the ranks' row counts then differ by
    one, and `uneven_batch` names that batch; only a last global batch of fewer rows than
    ranks is left out). It subclasses `DistributedSampler` only so that Lightning keeps it
    instead of wrapping it in its own.
    """

    def __init__(
        self, num_samples: int, batch_size: int, seed: int, num_replicas: int = 1, rank: int = 0
    ) -> None:
        _Resumable.__init__(self, seed)  # no DistributedSampler.__init__: it needs a process group
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.num_replicas = num_replicas
        self.rank = rank

    def _rank_indices(self, order: list[int]) -> list[int]:
        if self.num_replicas == 1:
            return order
        global_batch = self.batch_size * self.num_replicas
        mine: list[int] = []
        for start in range(0, len(order), global_batch):
            chunk = order[start : start + global_batch]
            mine += chunk[rank_part(len(chunk), self.num_replicas, self.rank)]
        return mine

    def uneven_batch(self, epoch: int) -> int | None:
        """The index in `epoch` of the batch whose rows the ranks share unevenly (the last,
        partial global batch, when its rows do not divide by the ranks), or None."""
        left = self.num_samples % (self.batch_size * self.num_replicas)
        if self.num_replicas == 1 or left < self.num_replicas or left % self.num_replicas == 0:
            return None
        return self.num_samples // (self.batch_size * self.num_replicas)

    def __len__(self) -> int:
        return len(self._rank_indices(list(range(self.num_samples))))

    def __iter__(self) -> Iterator[int]:
        order = torch.randperm(self.num_samples, generator=_generator(self.seed, self.epoch))
        mine = self._rank_indices(order.tolist())
        start = self._batches_to_skip() * self.batch_size
        return iter(mine[start:])


class LengthGroupedBatchSampler(_Resumable, Sampler[list[int]]):
    """Batches of similar length, in a random batch order, reproducible per epoch.

    Each epoch: shuffle all indices, cut them into mega-batches of `batch_size * group_size`
    rows, sort each mega-batch by length (longest first), cut it into batches, then shuffle
    the batches. The mega-batch keeps randomness in which rows share a batch; sorting within
    it keeps padding low. Every row appears exactly once per epoch.

    A split too small for four mega-batches of `group_size` batches gets smaller ones (as HF
    Trainer's `group_by_length` does: `min(group_size, rows // (4 * batch_size))` batches,
    at least one). With one mega-batch holding the whole split, every batch would be one
    length band of it and each epoch the same bands: on 1,600 short sentences (batch 32,
    50 steps) test accuracy fell from 0.70 to 0.60; with four mega-batches it stayed 0.70.

    With `num_replicas > 1` (DDP) the batches above are *global* batches of
    `batch_size * num_replicas` rows, and each rank yields its slice of each: together the
    ranks train on exactly the batches one process with the global batch size would (the
    partial global batch, at any place in the epoch's order, is split as evenly as it can be,
    `rank_part`, and `uneven_batch` names it; one of fewer rows than ranks is left out).
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        seed: int,
        group_size: int = 50,
        num_replicas: int = 1,
        rank: int = 0,
    ) -> None:
        super().__init__(seed)
        if batch_size < 1 or group_size < 1:
            raise ValueError("batch_size and group_size must be at least 1")
        self.lengths = torch.as_tensor(list(lengths))
        self.batch_size = batch_size
        self.group_size = group_size
        self.num_replicas = num_replicas
        self.rank = rank
        self._uneven: tuple[int, int | None] | None = None  # (epoch, `uneven_batch`'s answer)

    def __len__(self) -> int:
        return len(self.batches(0))

    @property
    def batches_per_group(self) -> int:
        """Batches per mega-batch: `group_size`, fewer where the split has not four of them."""
        global_batch = self.batch_size * self.num_replicas
        return max(1, min(self.group_size, len(self.lengths) // (4 * global_batch)))

    def batches(self, epoch: int) -> list[list[int]]:
        """This rank's batches of `epoch`, in order (pure function of seed and epoch)."""
        ordered = self._global_batches(epoch)
        if self.num_replicas == 1:
            return ordered
        parts = [batch[rank_part(len(batch), self.num_replicas, self.rank)] for batch in ordered]
        return [part for part in parts if part]

    def uneven_batch(self, epoch: int) -> int | None:
        """The index in `epoch` of this rank's batch whose global batch the ranks share
        unevenly (its rows do not divide by the ranks), or None; computed once an epoch."""
        if self._uneven is None or self._uneven[0] != epoch:
            kept = [len(b) for b in self._global_batches(epoch) if len(b) >= self.num_replicas]
            uneven = [i for i, rows in enumerate(kept) if rows % self.num_replicas]
            self._uneven = (epoch, uneven[0] if uneven and self.num_replicas > 1 else None)
        return self._uneven[1]

    def _global_batches(self, epoch: int) -> list[list[int]]:
        """The global batches of `epoch`, in order."""
        generator = _generator(self.seed, epoch)
        order = torch.randperm(len(self.lengths), generator=generator)
        global_batch = self.batch_size * self.num_replicas
        mega = global_batch * self.batches_per_group
        batches: list[list[int]] = []
        for start in range(0, len(order), mega):
            chunk = order[start : start + mega]
            # stable sort: ties keep the shuffled order, so results do not depend on sort internals
            chunk = chunk[torch.argsort(self.lengths[chunk], descending=True, stable=True)]
            batches += [
                chunk[i : i + global_batch].tolist() for i in range(0, len(chunk), global_batch)
            ]
        permutation = torch.randperm(len(batches), generator=generator).tolist()
        return [batches[i] for i in permutation]

    def __iter__(self) -> Iterator[list[int]]:
        skip = self._batches_to_skip()
        return iter(self.batches(self.epoch)[skip:])


class LengthSortedBatchSampler(Sampler[list[int]]):
    """Evaluation batches of rows of similar length: this rank's rows sorted longest first
    (a stable sort: equal lengths keep their split order), cut into batches of `batch_size`.

    Less padding makes evaluation faster; the order changes no metric, since every head's
    metrics sum over rows or key them by row (QA windows by feature index, generations by row
    id). The longest batch comes first, so a batch size too large for memory fails at once.
    With `num_replicas > 1` (DDP) rank r takes rows r, r + N, r + 2N, ... as Lightning's
    `UnrepeatedDistributedSampler` does: no row repeated, no row left out.
    """

    def __init__(
        self, lengths: Sequence[int], batch_size: int, num_replicas: int = 1, rank: int = 0
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        rows = torch.arange(rank, len(lengths), num_replicas)
        mine = torch.as_tensor(list(lengths), dtype=torch.long)[rows]
        order = rows[torch.argsort(mine, descending=True, stable=True)].tolist()
        self._batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]

    def __len__(self) -> int:
        return len(self._batches)

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self._batches)
