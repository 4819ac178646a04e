"""A streamed split of several local files (the Hub's shards) whose rows say which file they
came from (s28a H1).

`datasets` streams such a split as one `IterableDataset` whose shards are the files; it
shuffles their order each pass (`shuffle`, `set_epoch`) and hands whole files to dataloader
workers and DDP ranks. A row numbered on that stream (`lab.data.streaming.numbered`) gets its
place in the order one worker read it, which names no file and, shuffled, no line either.

`filed_stream` builds the same split, one shard per file (`{"shards": [...]}`, a list, which
datasets shards and shuffles exactly as it does a loader's list of files: the same
permutation of the same length), each file read by the loader alone
(`load_dataset(builder, data_files=[file], streaming=True)`) in Arrow batches, so the rows,
their order, the sharding and the shuffle are those of the one-call stream, at its speed.
Each row carries `ROW_COLUMN` = `pack(file, row in the file)`, which `Origin.locate` turns
into `<file>:<line>`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from lab.compat.datasets import arrow_stream
from lab.data.origins import ROW_COLUMN, pack

if TYPE_CHECKING:
    import pyarrow as pa
    from datasets import Features, IterableDataset

# Rows per Arrow batch read from a shard (the stream pipeline's own batch).
_BATCH = 1000


def filed_stream(
    builder: str,
    split: str,
    files: list[str],
    options: Mapping[str, Any],
    features: Features | None = None,
) -> IterableDataset:
    """The stream of `split` read from `files` (one shard each) with the loader `builder` and
    its `options` (the delimiter, quoting, column names), each row's `ROW_COLUMN` packed from
    its file's index in `files` and its row there; `features` are the one-call stream's (its
    class names), kept with the hidden column added."""
    from datasets import Features, Value

    typed = Features({**features, ROW_COLUMN: Value("int64")}) if features else None
    shards = {"shards": list(enumerate(files)), "builder": builder, "split": split}
    return arrow_stream(_shard_tables, {**shards, "options": dict(options)}, typed, split)  # type: ignore[no-any-return]


def _shard_tables(
    shards: list[tuple[int, str]], builder: str, split: str, options: dict[str, Any]
) -> Iterator[tuple[str, pa.Table]]:
    """The Arrow batches of `shards` ((index, file) pairs: one, or this worker's), each file
    as the loader streams it alone, with its packed `ROW_COLUMN`."""
    import datasets
    import numpy as np
    import pyarrow as pa

    for shard, file in shards:
        stream = datasets.load_dataset(
            builder, data_files={split: [file]}, streaming=True, **options
        )[split]
        start = 0
        for batch, table in enumerate(stream.with_format("arrow").iter(batch_size=_BATCH)):
            rows = np.arange(start, start + len(table), dtype=np.int64) + pack(shard, 0)
            start += len(table)
            yield f"{shard}_{batch}", table.append_column(ROW_COLUMN, pa.array(rows))
