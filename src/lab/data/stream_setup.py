"""Setting up a streamed data module (`lab.data.streaming`): open the sources, read
validation and test into memory (cut from the head of train when the source has none), plan
the train stream and read its first rows for the head to learn from and check."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab.data.card_labels import apply_card_labels
from lab.data.dropped_labels import drop_from_stream
from lab.data.origins import ROW_COLUMN, Origin
from lab.data.sources import Source, interleave_sources
from lab.data.splits import named_split_missing, source_split_name
from lab.data.stream_class_labels import single_class_warning
from lab.data.stream_quotes import QuoteWatch
from lab.data.streaming import (
    HIDDEN_COLUMNS,
    SOURCE_COLUMN,
    TrainStreamPlan,
    head_rows,
    numbered,
    open_splits,
    to_dataset,
)
from lab.errors import ConfigError, DataError

if TYPE_CHECKING:
    from datasets import Dataset, IterableDataset

    from lab.data.datamodule import DataModule

log = logging.getLogger(__name__)


def prepare(dm: DataModule) -> tuple[dict[str, Dataset], Dataset]:
    """Open the streams of `dm`'s config: read validation and test into memory, plan the
    train stream (`dm.train_plan`), and return those splits and the first rows of train
    (for the head to learn its labels from and check before any model loads)."""
    from lab.data.datamodule import DataModule

    if type(dm).load_raw is not DataModule.load_raw:
        raise ConfigError(
            f"data.streaming=true: the {type(dm).__name__} head converts whole files as it "
            "loads them (load_raw) and cannot stream; set data.streaming=false"
        )
    main = Source(dm.path, dm.hub_id, dm.hub_config, dm.hub_revision)
    main.csv_quoting, main.csv_column_names = dm.csv_quoting, dm.csv_column_names
    splits, origins = open_splits(main, dm.source_splits)
    local = bool(dm.path)
    main.split = source_split_name(dm.source_splits, "train", splits, local)
    if main.split not in splits:
        raise DataError(
            f"{main.describe()} has no '{main.split}' split; splits present: {', '.join(splits)}"
        )
    keep = _labelled_rows(dm)
    # rows a stray quote merged: refused as they are read, setup's rows and the stream's alike
    quotes = QuoteWatch()
    train = keep(quotes.watch(numbered(splits[main.split], 0), main, main.split))
    raw: dict[str, Dataset] = {}
    carved = 0  # rows cut from the head of train as validation/test
    cuts: dict[str, int] = {}  # {split: rows} of those cut splits
    for name in ("validation", "test"):
        wanted = source_split_name(dm.source_splits, name, splits, local)
        limit = dm.max_samples[name]
        cut = not (wanted and wanted in splits)
        if not cut:
            origin, read_from = origins[wanted], wanted
            stream = quotes.watch(numbered(splits[wanted], 0), main, wanted)
            rows = head_rows(keep(stream), limit, origin)
        else:
            if wanted:
                named_split_missing(name, wanted, list(splits), local)
            origin, read_from = origins[main.split], main.split
            rows = head_rows(train.skip(carved), limit or dm.stream_sample_rows, origin)
            carved += len(rows)
            log.info("cut a %s split of %d rows from the head of the train stream", name, len(rows))
        if not rows:
            raise DataError(
                f"the {name} split ({origin.describe()}) has no rows"
                + (
                    _cut_advice(dm, f"{carved} cut from the head of the train stream as validation")
                    if cut and carved
                    else ""
                )
            )
        dm.origins[name] = origin
        dm.row_indices[name] = [row[ROW_COLUMN] for row in rows]
        # the stream's features (before `numbered`, whose `map` forgets them) name its classes
        features = splits[read_from].features
        raw[name] = to_dataset(rows, _columns(rows), features, origin.describe())
        if cut:
            cuts[name] = len(rows)
    sources = interleave_sources(dm.interleave, dm.csv_quoting, dm.csv_column_names) or [main]
    streams, stream_origins = [], []
    sample_features = None  # the first source's: the sample's columns are its columns
    for index, source in enumerate(sources):
        if source is main:
            found, found_origins = splits, origins
        else:
            own_files = f"give data.interleave[{index}] a local path: (files) in place of hub_id"
            found, found_origins = open_splits(source, offline_fix=own_files)
            if source.split not in found:
                raise DataError(
                    f"data.interleave[{index}] ({source.describe()}) has no '{source.split}' "
                    f"split; splits present: {', '.join(found)}"
                )
        if index == 0:
            sample_features = found[source.split].features
        stream = keep(quotes.watch(numbered(found[source.split], index), source, source.split))
        if source.same_data(main) and source.split == main.split and carved:
            stream = stream.skip(carved)  # the rows validation/test were cut from
        streams.append(stream)
        stream_origins.append(found_origins[source.split])
    columns = _shared_columns(streams, stream_origins)
    dm.train_plan = TrainStreamPlan(
        sources,
        streams,
        stream_origins,
        columns,
        seed=dm.seed,
        shuffle_buffer=dm.shuffle_buffer,
        max_rows=dm.max_samples["train"],
        probabilities=[float(s.probability or 1.0) for s in sources],
    )
    unshuffled = TrainStreamPlan(**{**dm.train_plan.__dict__, "shuffle_buffer": 0})
    rows = head_rows(unshuffled.mixture(), dm.stream_sample_rows, stream_origins[0])
    if not rows:
        raise DataError(
            f"the train stream ({', '.join(s.describe() for s in sources)}) has no rows"
            + (_cut_advice(dm, f"{carved} cut from its head as validation/test") if carved else "")
        )
    dm.stream_rows = (
        stream_origins,
        [row[ROW_COLUMN] for row in rows],
        [row[SOURCE_COLUMN] for row in rows],
    )
    sample = to_dataset(rows, columns, sample_features, stream_origins[0].describe())
    if local:  # a Hub folder's card names the classes its files may not carry
        raw, sample = _card_labels(raw, sample, Path(str(dm.path)).expanduser(), dm.hub_config)
    for name, count in cuts.items():  # after the card: its names say which class it is
        where = origins[main.split].describe()
        column = getattr(dm, "label_column", None)  # heads with a label column (classification)
        warning = single_class_warning(name, raw[name], column, where, count)
        if warning:
            log.warning(warning)
    return raw, sample


def _labelled_rows(dm: DataModule) -> Callable[[IterableDataset], IterableDataset]:
    """What leaves `data.drop_labels`' rows out of a numbered stream (their file indices kept;
    `lab.data.dropped_labels`); as is without the setting."""
    dropped = dm.drop_labels()
    if dropped is None:
        return lambda stream: stream
    column, values = dropped
    log.info(
        "data.drop_labels: rows labelled %s are left out of the streams as they are read",
        " or ".join(map(str, values)),
    )
    return lambda stream: drop_from_stream(stream, column, values)


def _card_labels(
    raw: dict[str, Dataset], sample: Dataset, root: Path, config: str | None
) -> tuple[dict[str, Dataset], Dataset]:
    """The in-memory splits and the train stream's first rows with the card's class names
    (`lab.data.card_labels`, as a non-streamed run applies them): the head learns its classes
    from them; the streamed batches carry the same ids."""
    from datasets import DatasetDict

    named = apply_card_labels(DatasetDict({**raw, "train": sample}), root, config)
    return {name: named[name] for name in raw}, named["train"]


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    found: dict[str, None] = {}
    for row in rows:
        found.update(dict.fromkeys(c for c in row if c not in HIDDEN_COLUMNS))
    return list(found)


def _shared_columns(streams: list[IterableDataset], origins: list[Origin]) -> list[str]:
    """The columns of the first source that every source has (from each one's first row)."""
    shared: list[str] | None = None
    for stream, origin in zip(streams, origins, strict=True):
        columns = _columns(head_rows(stream, 1, origin))
        shared = columns if shared is None else [c for c in shared if c in columns]
    return shared or []


def _cut_advice(dm: Any, carved: str) -> str:
    """How to cut fewer rows from the head of the train stream, where those cut before a split
    (`carved`: how many, and as what) left it none."""
    return (
        f" after the {carved}: cut fewer with data.max_eval_samples=<rows> and "
        "data.max_test_samples=<rows> (without them each takes up to "
        f"data.stream_sample_rows={dm.stream_sample_rows}), or name the source's own splits "
        "(data.splits.validation=...)"
    )
