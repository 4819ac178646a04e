"""Hugging Face datasets internals lab depends on.

Tokenized splits are cached under a fingerprint of (the raw data, the tokenizer, the data
module's settings), passed as `Dataset.map(new_fingerprint=...)`. The raw data's part is the
fingerprint datasets itself tracks through every load and transform, kept in the private
`Dataset._fingerprint`; no public accessor returns it, and hashing the rows again would cost
a pass over the data on every run.
"""

from __future__ import annotations

from typing import Any


def fingerprint(dataset: Any) -> str:
    """The content fingerprint datasets keeps for `dataset` (changes when its data changes)."""
    return str(dataset._fingerprint)


def arrow_stream(tables: Any, kwargs: dict[str, Any], features: Any, split: str) -> Any:
    """An `IterableDataset` of the Arrow tables `tables(**kwargs)` yields as `(key, table)`,
    sharded and shuffled by `kwargs`' lists as a loader's files are
    (`lab.data.shard_streams`). `IterableDataset.from_generator` would do, one Python row at a
    time: about 10x slower to number than datasets' own Arrow batches (s28a H1); the Arrow
    examples iterable that a loader's stream is built on has no public constructor."""
    from datasets import DatasetInfo, IterableDataset
    from datasets.iterable_dataset import ArrowExamplesIterable

    return IterableDataset(
        ArrowExamplesIterable(tables, kwargs), info=DatasetInfo(features=features), split=split
    )
