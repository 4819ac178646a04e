"""The streams of a local `data.path` (`data.streaming=true`): every split of its files,
read as the map-style loader reads them (`lab.data.sources.load_local`): the delimiter, the
quoting (`data.csv_quoting`), only empty cells missing, and the columns of headerless CSV
files (`data.csv_column_names`, `lab.data.csv_header`). Nothing is read but each CSV file's
first record, and the columns of each file of a split of several (`lab.data.shard_columns`);
the rows are read as the streams are, such a split's with each row's file
(`lab.data.shard_streams`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from lab.data.csv_header import split_options, used_splits
from lab.data.csv_quotes import csv_options
from lab.data.local_files import local_data_files
from lab.data.origins import Origin
from lab.data.shard_columns import shard_columns_problem
from lab.data.shard_streams import filed_stream
from lab.data.sources import Source, root_cause, split_origin
from lab.errors import DataError

if TYPE_CHECKING:
    from datasets import IterableDataset


def open_local_splits(
    source: Source, splits: Mapping[str, str | None] | None = None
) -> tuple[dict[str, IterableDataset], dict[str, Origin]]:
    """Every split of `source`'s local files as a stream, and where each comes from;
    `splits` (`data.splits`) lets the log say which file each of lab's splits reads, and
    says which splits lab reads (None: `source.split` alone, an interleaved source)."""
    import datasets

    assert source.path, "a local source"
    names = source.csv_column_names
    builder, files = local_data_files(
        source.path, source.hub_config, report=True, splits=splits, column_names=names
    )
    every_file = [f for group in files.values() for f in group]
    kwargs = csv_options(every_file, source.csv_quoting, names) if builder == "csv" else {}
    used = used_splits(files, splits) if splits is not None else {source.split}
    options = split_options(files, kwargs, used)  # a split lab does not read: its own header
    differ = shard_columns_problem(builder, files, used, not names)  # before any row is read
    if differ:
        raise DataError(differ)
    try:
        loaded = (
            dict(datasets.load_dataset(builder, data_files=files, streaming=True, **kwargs))
            if all(own == kwargs for own in options.values())  # the common case: one call
            else {
                split: datasets.load_dataset(
                    builder, data_files={split: group}, streaming=True, **options[split]
                )[split]
                for split, group in files.items()
            }
        )
    except Exception as err:
        problem = f"could not stream {source.path} as {builder}: {root_cause(err)}"
        raise DataError(problem) from err
    for split, group in files.items():  # several files: each row says which (shard_streams)
        if len(group) > 1:
            features = loaded[split].features
            loaded[split] = filed_stream(builder, split, group, options[split], features)
    origins = {
        split: split_origin(
            source.path,
            split,
            builder,
            group,
            quoting=source.csv_quoting,
            header="column_names" not in options[split],
        )
        for split, group in files.items()
    }
    for origin in origins.values():
        origin.packed = bool(origin.parts)  # rows numbered by `filed_stream`
    return loaded, origins  # type: ignore[return-value]
