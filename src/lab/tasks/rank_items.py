"""Python objects of every DDP rank, for the reports heads write once per test (the kept
generations of SFT and seq2seq): small lists, gathered with `all_gather_object`."""

from __future__ import annotations

from typing import Any


def gather_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`items` of every DDP rank (rank order); this rank's alone outside a process group."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return list(items)
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, items)
    return [item for part in gathered for item in part]
