"""Tokenizing a split into its cached Arrow form, and measuring the result.

`encode_split` is the one place a split's rows become token ids on disk (`datasets.map`,
cached under a fingerprint of the rows, the data module's class and settings, and the
tokenizer); `row_lengths` reads token counts back from that Arrow form for the length-aware
samplers and the allocator. `lab.data.datamodule.DataModule` calls both.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datasets import Dataset

Tokenize = Callable[[dict[str, list[Any]]], dict[str, list[Any]]]

_SOURCE_PREFIX = "__lab_source__"
# Bumped when tokenized caches written by earlier code must not be reused (2: label types were
# inherited from same-named source columns).
_ENCODING_REVISION = 2


def encode_split(
    dataset: Dataset,
    tokenize: Tokenize,
    *,
    fingerprint_parts: tuple[Hashable, ...],
    num_proc: int | None,
    desc: str,
) -> tuple[Dataset, bool]:
    """`dataset` tokenized by `tokenize` (batched), with only the columns `tokenize` returns,
    and whether the result was a cache hit (files written by an earlier run).

    The cache key is `fingerprint_parts` (the caller's: class, tokenizer, settings) with the
    rows' own fingerprint and this module's encoding revision.
    """
    from datasets.fingerprint import Hasher

    from lab.compat.datasets import fingerprint as data_fingerprint

    fingerprint = Hasher.hash((data_fingerprint(dataset), *fingerprint_parts, _ENCODING_REVISION))
    started = time.time()
    # The source's columns are renamed out of the way first: datasets keeps the type of a
    # column the function writes back under its input name, so a source column `labels`
    # (GoEmotions: a list of class ids) would cast the multi-hot float targets to ints.
    renamed = {column: _SOURCE_PREFIX + column for column in dataset.column_names}
    encoded = dataset.rename_columns(renamed).map(
        UnprefixedColumns(tokenize),
        batched=True,
        remove_columns=list(renamed.values()),
        num_proc=num_proc,
        new_fingerprint=fingerprint,
        desc=desc,
    )
    # A cache hit returns files written by an earlier run; fresh work writes new ones.
    files = [f["filename"] for f in encoded.cache_files]
    cache_hit = bool(files) and all(os.path.getmtime(f) < started for f in files)
    return encoded, cache_hit


class UnprefixedColumns:
    """Calls `tokenize` on a batch whose columns carry `_SOURCE_PREFIX`, under their own names
    (a class, not a closure, so that `num_proc` workers can pickle it)."""

    def __init__(self, tokenize: Tokenize) -> None:
        self.tokenize = tokenize

    def __call__(self, batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        cut = len(_SOURCE_PREFIX)
        return self.tokenize({name[cut:]: values for name, values in batch.items()})


def row_lengths(dataset: Dataset) -> list[int]:
    """Token count of every row, computed on the Arrow column (no Python lists of ids); for
    rows of several sequences (multiple choice: one per ending), the longest one's."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    ids = dataset.with_format("arrow")["input_ids"]
    if not pa.types.is_list(ids.type.value_type) and not pa.types.is_large_list(
        ids.type.value_type
    ):
        return pc.list_value_length(ids).to_pylist()  # type: ignore[no-any-return]
    rows = ids.combine_chunks()
    inner = pc.list_value_length(pc.list_flatten(rows)).to_numpy(zero_copy_only=False)
    longest = np.zeros(len(rows), dtype=np.int64)
    np.maximum.at(longest, pc.list_parent_indices(rows).to_numpy(), inner)
    return longest.tolist()  # type: ignore[no-any-return]
