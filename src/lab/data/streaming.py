"""Streaming data (`data.streaming=true`): train on more rows than fit in memory.

The train split is never loaded whole. Its rows stream from local files (the same
`data.path` rules as `lab.data.sources`: json/jsonl/csv/tsv/txt/parquet, optionally .gz)
or from the Hub (`datasets.load_dataset(..., streaming=True)`) as a `datasets.IterableDataset`,
and every batch of 1,000 rows is checked and tokenized on the fly by the head's own
`check_split` and `tokenize` hooks (the ones the map-style path uses; a causal LM packs
blocks across the rows of each batch as there).

The pipeline, in order (`TrainStreamPlan`):
    sources, each numbered (row index in its file/split, source index)
    -> skip the rows cut from its head as validation/test (when the source has none)
    -> `data.interleave`: `datasets.interleave_datasets` with probabilities, seeded
       (`all_exhausted`: a pass ends when every source has been read once)
    -> `data.max_train_samples`: the first N rows only
    -> `data.shuffle_buffer`: `shuffle(seed, buffer_size)`, reseeded each pass (`set_epoch`)
    -> DDP: `datasets.distributed.split_dataset_by_node` (whole shards per rank when the
       shard count divides by the world size, else every rank reads all rows and keeps every
       world-size-th one)
    -> dataloader workers: datasets hands each worker whole shards (files, Hub parquet
       parts). A single file is one shard and cannot be split across workers: lab then starts
       as many workers as there are shards (one for one file) and says so in the log.
    -> check + tokenize (the head's hooks).

The stream repeats, pass after pass (pass k shuffled with `set_epoch(k)`), so Lightning sees
one endless epoch: a run ends at `trainer.max_steps` and validates every
`trainer.val_check_interval` batches (an int; `lab.config.rules` refuses what cannot work).
Every rank's stream is endless, so no DDP rank runs out of batches before the others.

Validation and test are read into memory from their own streams (the whole split, or its
first `max_eval_samples` / `max_test_samples` rows) and then follow the map-style path
(checks, cached tokenization, length-sorted batches). A source without such a split gives
the first rows of its train stream (`max_*_samples`, else `stream_sample_rows`), which train
then skips.

Resume is exact and needs no data state in the checkpoint: the pipeline is deterministic
(seeded shuffle and interleave, fixed sharding), so the resumed loader skips the batches the
run had consumed (`lab.training.checkpointing` saves that count for every data module). The
skipped rows are read and tokenized again, not trained on: time grows with the position.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch.utils.data import DataLoader
from torch.utils.data import IterableDataset as TorchIterableDataset

from lab.data.origins import ROW_COLUMN, Origin, open_text
from lab.data.sources import Source, root_cause
from lab.data.stream_files import open_local_splits
from lab.errors import DataError, LabError

if TYPE_CHECKING:
    from datasets import Dataset, IterableDataset

    from lab.data.datamodule import DataModule

log = logging.getLogger(__name__)

#: the hidden column carrying each streamed row's source (an index into the plan's origins)
SOURCE_COLUMN = "__lab_source__"
HIDDEN_COLUMNS = (ROW_COLUMN, SOURCE_COLUMN)
# rows per `map` call: the checks and the tokenizer see this many rows at a time (the
# map-style path's default batch too, so causal LM blocks are cut the same way)
_MAP_BATCH = 1000


def open_splits(
    source: Source,
    splits: Mapping[str, str | None] | None = None,
    offline_fix: str = "point data.path at local files",
) -> tuple[dict[str, IterableDataset], dict[str, Origin]]:
    """Every split of `source` as a stream, and where each comes from (nothing is read yet);
    `splits` (`data.splits`) lets the log say which file each of lab's splits reads;
    `offline_fix`: what to do without network access (an interleave entry's is its own)."""
    import datasets

    if source.path:
        return open_local_splits(source, splits)
    try:
        loaded = datasets.load_dataset(
            source.hub_id, source.hub_config, revision=source.hub_revision, streaming=True
        )
    except Exception as err:
        raise DataError(
            f"could not stream '{source.describe()}' from the Hugging Face Hub: "
            f"{root_cause(err)}. Without network access, {offline_fix}."
        ) from err
    name = source.describe()
    return dict(loaded), {s: Origin(name, "hub", split=s) for s in loaded}  # type: ignore[arg-type]


def numbered(stream: IterableDataset, source: int) -> IterableDataset:
    """`stream` plus the hidden columns: each row's index in its file or split, and `source`.

    Numbered before shuffling and sharding, so an index is the row's place in the file (exact
    for a one-shard source; for a Hub split of many shards read by several workers, an index
    counts the rows that worker read).
    """

    def number(batch: dict[str, list[Any]], indices: list[int]) -> dict[str, list[Any]]:
        rows = batch.get(ROW_COLUMN, indices)  # a split of several files: its own (shard_streams)
        return {ROW_COLUMN: rows, SOURCE_COLUMN: [source] * len(indices)}

    return stream.map(number, with_indices=True, batched=True, batch_size=_MAP_BATCH)


def head_rows(stream: IterableDataset, count: int | None, origin: Origin) -> list[dict[str, Any]]:
    """The first `count` rows of `stream` (all of them when `count` is None)."""
    rows = itertools.islice(stream, count) if count is not None else iter(stream)
    return list(reading(rows, [origin]))


def to_dataset(
    rows: list[dict[str, Any]],
    columns: list[str],
    features: Mapping[str, Any] | None = None,
    where: str = "the stream",
) -> Dataset:
    """Rows read from a stream as a map-style `Dataset` (columns in `columns` order), with
    the `ClassLabel`s of the stream's `features` (`lab.data.stream_class_labels`; `where`
    names the stream in an error)."""
    from datasets import Dataset

    from lab.data.stream_class_labels import with_class_labels

    dataset = Dataset.from_dict({c: [row.get(c) for row in rows] for c in columns})
    return with_class_labels(dataset, features, where)


# The logger datasets' JSON reader says "Failed to load JSON from file ..." on before it
# raises: lab names the failure itself (below), by file and 1-based line.
JSON_READER_LOGGER = "datasets.packaged_modules.json.json"


_READERS = [0]  # streams being read now in this process (the filter stays while any is)


def _not_a_json_failure(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("Failed to load JSON from file")


def reading(rows: Iterator[dict[str, Any]], origins: list[Origin]) -> Iterator[dict[str, Any]]:
    """`rows`, with a failure to read a local file (bad JSON, bad UTF-8) named by file:line
    (datasets' own line for a JSON failure, with a 0-based row, is not printed too)."""
    reader_log = logging.getLogger(JSON_READER_LOGGER)
    reader_log.addFilter(_not_a_json_failure)  # once, however many streams are being read
    _READERS[0] += 1
    try:
        yield from rows
    except LabError:
        raise
    except Exception as err:  # datasets and pyarrow raise their own types
        for origin in (part for o in origins for part in o.parts or [o]):  # shards: each file
            problem = read_problem(origin)
            if problem:
                raise DataError(problem) from err
        names = ", ".join(o.describe() for o in origins)
        raise DataError(f"could not read {names}: {root_cause(err)}") from err
    finally:
        _READERS[0] -= 1
        if not _READERS[0]:
            reader_log.removeFilter(_not_a_json_failure)


# The `Origin.kind`s of text files, the only ones `read_problem` reads line by line: a binary
# file (`rows`: Parquet, Arrow) is never valid UTF-8, so reading it as text would misname
# any failure (a head's error in a Parquet stream reported as "not valid UTF-8").
TEXT_KINDS = ("jsonl", "json", "csv", "tsv", "text")


def read_problem(origin: Origin) -> str | None:
    """`<file>:<line>: ...` for the first line of a local text file that cannot be read,
    scanning it line by line (the file may be larger than memory); None when none is found,
    and for a binary file or a Hub split (`TEXT_KINDS`)."""
    if origin.kind not in TEXT_KINDS:
        return None
    try:
        with open_text(origin.name) as handle:
            for number, line in enumerate(handle, start=1):
                if "\ufffd" in line:
                    return f"{origin.name}:{number}: not valid UTF-8; re-encode the file as UTF-8"
                if origin.kind == "jsonl" and line.strip():
                    try:
                        value = json.loads(line.rstrip("\r\n"))
                    except json.JSONDecodeError as err:
                        from lab.data.origins import not_valid_json

                        return f"{origin.name}:{number}: {not_valid_json(err)}"
                    if not isinstance(value, dict):
                        return f"{origin.name}:{number}: not a JSON object (one row per line)"
    except OSError:
        return None
    return None


@dataclass
class TrainStreamPlan:
    """Everything the train stream is built from, decided at `setup` (see module docstring).

    Args:
        sources: the train sources (one, or `data.interleave`'s).
        streams: each source's split as a numbered stream, its carved head already skipped.
        origins: each source's `Origin` (the index in `SOURCE_COLUMN`).
        columns: the columns every source shares with the first (others are dropped).
    """

    sources: list[Source]
    streams: list[IterableDataset]
    origins: list[Origin]
    columns: list[str]
    seed: int = 42
    shuffle_buffer: int = 10_000
    max_rows: int | None = None
    probabilities: list[float] = field(default_factory=list)

    def mixture(self) -> IterableDataset:
        """The sources mixed (if several), cut to `max_rows` and shuffled: not yet sharded."""
        from datasets import interleave_datasets

        streams = [s.select_columns([*self.columns, *HIDDEN_COLUMNS]) for s in self.streams]
        stream = streams[0]
        if len(streams) > 1:
            try:
                stream = interleave_datasets(
                    streams,
                    probabilities=self.probabilities,
                    seed=self.seed,
                    stopping_strategy="all_exhausted",
                )
            except Exception as err:
                names = ", ".join(s.describe() for s in self.sources)
                raise DataError(
                    f"data.interleave: cannot mix {names}: {root_cause(err)} (the sources "
                    "need the same columns with the same types)"
                ) from err
        if self.max_rows is not None:
            stream = stream.take(self.max_rows)
        if self.shuffle_buffer > 0:
            stream = stream.shuffle(seed=self.seed, buffer_size=self.shuffle_buffer)
        return stream


class Encoder:
    """The `map` function of the train stream: check a batch of rows, then tokenize it.

    The head's `check_split` sees the batch as a small `Dataset`; its row errors name the
    file and line through the hidden columns (`DataModule.where`).
    """

    def __init__(self, datamodule: DataModule, origins: list[Origin]) -> None:
        self.datamodule = datamodule
        self.origins = origins

    def __call__(self, batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        rows = batch.pop(ROW_COLUMN)
        sources = batch.pop(SOURCE_COLUMN)
        dm = self.datamodule
        if rows:
            from datasets import Dataset

            dm.stream_rows = (self.origins, rows, sources)
            dm.check_split("train", Dataset.from_dict(batch))
        return dm.tokenize(batch)


class TrainStream(TorchIterableDataset):  # type: ignore[type-arg]
    """The endless train stream of one rank: pass after pass over the sharded mixture.

    Each pass builds its last step afresh and sets its epoch (`set_epoch(pass)`), which
    reseeds the shuffle buffer (and the shard order): a fresh object per pass keeps each
    dataloader worker's epoch its own (datasets shares one epoch counter between workers).
    """

    def __init__(
        self,
        sharded: IterableDataset,
        encoder: Callable[[dict[str, list[Any]]], dict[str, list[Any]]],
        columns: list[str],
        origins: list[Origin],
        prepare: Callable[[IterableDataset], IterableDataset] | None = None,
    ) -> None:
        self.sharded = sharded
        self.prepare = prepare  # the head's `prepare_stream` (e.g. packing)
        self.encoder = encoder
        self.columns = columns
        self.origins = origins

    def encoded(self, epoch: int) -> IterableDataset:
        """Pass `epoch` of the stream, tokenized."""
        stream = self.sharded.map(
            self.encoder,
            batched=True,
            batch_size=_MAP_BATCH,
            remove_columns=[*self.columns, *HIDDEN_COLUMNS],
        )
        if self.prepare is not None:
            stream = self.prepare(stream)
        stream.set_epoch(epoch)
        return stream

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for epoch in itertools.count():
            empty = True
            for example in reading(iter(self.encoded(epoch)), self.origins):
                empty = False
                yield example
            if empty:  # nothing for this worker (or no examples at all): end, don't spin
                return


class StreamLoader(DataLoader):  # type: ignore[type-arg]
    """A DataLoader over a `TrainStream` that, once, skips the batches a resumed run had
    already trained on (the same batches again: the stream is deterministic)."""

    def __init__(self, *args: Any, skip_batches: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.skip_batches = skip_batches

    def __iter__(self) -> Any:
        iterator = super().__iter__()
        skip, self.skip_batches = self.skip_batches, 0
        if skip:
            log.info("resuming the train stream: skipping the %d batches already trained on", skip)
            for _ in range(skip):
                if next(iterator, None) is None:
                    break
        return iterator


def shard(stream: IterableDataset, world_size: int, rank: int) -> IterableDataset:
    """This rank's part of `stream` (`split_dataset_by_node`; see the module docstring)."""
    if world_size <= 1:
        return stream
    from datasets.distributed import split_dataset_by_node

    return split_dataset_by_node(stream, rank=rank, world_size=world_size)


def usable_workers(stream: IterableDataset, wanted: int) -> int:
    """Dataloader workers that share the rank's shards evenly: the most, up to `wanted`, that
    divide its shard count (a file is one shard). Each worker loops over its own shards
    (`TrainStream`), the loader takes a batch from each in turn: a worker with fewer shards
    started its next pass sooner, its rows came more often (3 shards, 2 workers: s33b F1)."""
    shards = int(stream.num_shards)
    usable = max((n for n in range(1, min(wanted, shards) + 1) if shards % n == 0), default=0)
    if wanted > shards:
        log.warning(
            "data.num_workers=%d but the train stream has %d shard(s) (a file is one shard and "
            "cannot be split between workers): using %d worker(s)",
            wanted,
            shards,
            usable,
        )
    elif usable < wanted:
        log.warning(
            "data.num_workers=%d but the train stream's %d shards do not divide among %d "
            "workers (one with fewer shards would start its next pass sooner, so its rows "
            "would come more often): using %d worker(s); a worker count that divides %d reads "
            "every row once a pass",
            wanted,
            shards,
            wanted,
            usable,
            shards,
        )
    return usable


def train_loader(
    datamodule: DataModule,
    plan: TrainStreamPlan,
    world_size: int,
    rank: int,
    skip_batches: int,
    collate_fn: Callable[[list[dict[str, Any]]], Any],
) -> StreamLoader:
    """The train DataLoader of one rank (see the module docstring)."""
    sharded = shard(plan.mixture(), world_size, rank)
    workers = usable_workers(sharded, datamodule.num_workers)
    encoder = Encoder(datamodule, plan.origins)
    stream = TrainStream(
        sharded, encoder, plan.columns, plan.origins, prepare=datamodule.prepare_stream
    )
    return StreamLoader(
        stream,
        batch_size=datamodule.batch_size,
        num_workers=workers,
        collate_fn=collate_fn,
        pin_memory=datamodule.pins_memory,
        generator=torch.Generator().manual_seed(datamodule.seed),
        skip_batches=skip_batches,
    )
