"""Load a dataset from the Hugging Face Hub or from local files, with errors in words.

A local path may be one file (csv, tsv, json, jsonl, parquet, optionally gzip-compressed), a
folder whose files are named after their split (`train.csv.gz`, `validation.jsonl`,
`test.parquet`; `valid`/`dev` count as validation), a `save_to_disk` folder, or a dataset folder
as the Hub stores it (`lab.data.local_files` says which files hold which split). Local files must
have the same columns as the Hub dataset they stand in for, so `data=imdb data.path=...` needs
no other change.

A loaded DatasetDict remembers where each split came from (`lab.data.origins.Origin`, read
with `origins_of`), so a bad row can later be named by file and line.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab.data.card_labels import apply_card_labels
from lab.data.csv_header import checked_column_names, split_options, used_splits
from lab.data.csv_quotes import READER_QUOTING, check_quote_merges, csv_options
from lab.data.file_cache_key import cache_name
from lab.data.json_text import json_text_columns
from lab.data.load_problems import columns_differ, has_no_rows, syntax_problem
from lab.data.local_files import TEXT_BUILDERS, file_suffix, local_data_files
from lab.data.origins import ORIGINS, Origin
from lab.data.pandas_json import refuse_pandas_layouts
from lab.data.shard_columns import shard_columns_problem
from lab.data.text_encoding import (
    first_invalid_utf8,
    not_utf8_message,
    refuse_invalid_json_text,
)
from lab.errors import ConfigError, DataError, exception_chain

if TYPE_CHECKING:
    from datasets import DatasetDict

log = logging.getLogger(__name__)


def load_local(
    path: str | Path,
    config: str | None = None,
    splits: Mapping[str, str | None] | None = None,
    csv_quoting: str = "csv",
    csv_column_names: Sequence[str] | None = None,
) -> DatasetDict:
    """Load a local file or folder (`lab.data.local_files`) as a DatasetDict keyed by split;
    `config` picks one configuration of a Hub dataset folder that holds several; `splits`
    (`data.splits`) lets the log say which file each of lab's splits reads; `csv_quoting`
    (`data.csv_quoting`) how CSV/TSV cells are quoted (`lab.data.csv_quotes`);
    `csv_column_names` (`data.csv_column_names`) the columns of headerless CSV/TSV files
    (`lab.data.csv_header`)."""
    import datasets

    names = checked_column_names(csv_column_names)
    builder, data_files = local_data_files(
        path, config, report=True, splits=splits, column_names=names
    )
    every_file = [file for group in data_files.values() for file in group]
    kwargs = csv_options(every_file, csv_quoting, names) if builder == "csv" else {}
    # {split: its reading}: a split lab does not read may keep its own header (GLUE's test.tsv)
    options = split_options(data_files, kwargs, used_splits(data_files, splits))
    headless = {split for split, own in options.items() if own.get("column_names")}
    # A shard without a column the others have: said before datasets fills it with None
    differ = shard_columns_problem(builder, data_files, used_splits(data_files, splits), not names)
    if differ:
        raise DataError(differ)
    # Cached under the files' identity, not their mtime alone (lab.data.file_cache_key).
    name = {"name": key} if (key := cache_name(every_file)) else {}
    # datasets' own ERROR lines of a failed load are held: where lab can say what is wrong in
    # one line they would only repeat it (often contradicting its offsets); they are handed on
    # only before the generic message below, as context for a failure lab cannot word.
    held: list[logging.LogRecord] = []
    try:
        with hold_datasets_logs(held):
            try:
                if any(own != kwargs for own in options.values()):
                    raise ValueError("splits read with other options: one by one")
                loaded = datasets.load_dataset(builder, data_files=data_files, **name, **kwargs)
                if builder == "json" and any(map(json_text_columns, loaded.values())):
                    # A split's mixed-type column cast to JSON text (lab.data.json_text)
                    raise ValueError("a Json column read as text: read the splits one by one")
            except Exception:
                if len(data_files) < 2:
                    raise
                # Splits of other columns (GLUE's original test.tsv without labels, a Kaggle
                # test.csv) or of other column types (a regression test.csv of whole numbers,
                # all -1, beside float train scores: one joint schema cannot hold both): one
                # table per split, each with its own columns and types; the split mapping and
                # the head's checks decide later what is read. (One call first: it is the
                # common, faster case.) datasets' ERROR lines of that first call are dropped:
                # where a split itself is unreadable, reading it alone fails again, below.
                held.clear()
                loaded = datasets.DatasetDict(
                    {
                        split: datasets.load_dataset(
                            builder, data_files={split: files}, **name, **options[split]
                        )[split]
                        for split, files in data_files.items()
                    }
                )
        release_logs(held)
    except Exception as err:  # datasets wraps parser errors in its own types
        empty = re.search(r'Instruction "(\w+)" corresponds to no data', str(err))
        if empty and empty.group(1) in data_files:
            raise DataError(f"{', '.join(data_files[empty.group(1)])} has no rows") from err
        for split, files in data_files.items():
            for file in files:  # a header-only split among others
                if has_no_rows(builder, file, headed=split not in headless):
                    raise DataError(f"{file} has no rows") from err
        for file in every_file if builder in TEXT_BUILDERS else ():  # Parquet is binary
            problem = first_invalid_utf8(file)
            if problem:
                raise DataError(not_utf8_message(file, problem)) from err
        for split, files in data_files.items():
            for file in files:
                own = names if split in headless else None
                problem = syntax_problem(builder, file, csv_quoting, own)
                if problem:
                    raise DataError(problem) from err
        if builder == "parquet":
            problem = columns_differ(data_files)
            if problem:
                raise DataError(problem) from err
        release_logs(held)
        unusable = cache_problem(err)
        if unusable:
            raise DataError(unusable) from err
        why = " ".join(root_cause(err).split())
        raise DataError(f"could not read {path} as {builder}: {why}") from err
    if builder == "csv" and csv_quoting == "csv":
        check_quote_merges(data_files, headless)  # quoting no CSV writer writes: refused
    if builder == "json":
        refuse_pandas_layouts(loaded, data_files)  # df.to_json()'s default: one row
        refuse_invalid_json_text(loaded, data_files)  # pyarrow loads bad UTF-8 silently
    # A Hub folder's card may name the classes its files do not carry (pandas' Parquet, CSV).
    loaded = apply_card_labels(loaded, Path(path).expanduser(), config)  # type: ignore[arg-type]
    set_origins(
        loaded,  # type: ignore[arg-type]
        {
            split: split_origin(
                path,
                split,
                builder,
                files,
                size=len(loaded[split]),
                quoting=csv_quoting,
                header=split not in headless,
            )
            for split, files in data_files.items()
            if split in loaded
        },
    )
    return loaded  # type: ignore[return-value]


def cache_problem(err: BaseException) -> str | None:
    """The line for a datasets cache that cannot be used (s22b M3: an unwritable
    `HF_DATASETS_CACHE` was reported as "could not read <the data file>"), or None: an OS
    error on the cache folder, one inside it or one of its parents."""
    import datasets.config

    cache = Path(datasets.config.HF_DATASETS_CACHE).expanduser()
    for seen in exception_chain(err):
        name = getattr(seen, "filename", None)
        if isinstance(seen, OSError) and name:
            place = Path(str(name)).expanduser()
            if place == cache or cache in place.parents or place in cache.parents:
                return (
                    f"the datasets cache {cache} cannot be used ({type(seen).__name__}: "
                    f"{seen.strerror or seen}): set HF_DATASETS_CACHE (or HF_HOME) to a folder "
                    "you can write"
                )
    return None


@contextmanager
def hold_datasets_logs(held: list[logging.LogRecord]) -> Iterator[None]:
    """Inside the block, the records datasets logs are appended to `held` instead of being
    handled (printed, filed); `release_logs(held)` hands them on afterwards, if wanted."""
    library = logging.getLogger("datasets")
    saved = list(library.handlers), library.propagate

    class Hold(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            held.append(record)

    for handler in saved[0]:
        library.removeHandler(handler)
    library.propagate = False
    hold = Hold()
    library.addHandler(hold)
    try:
        yield
    finally:
        library.removeHandler(hold)
        for handler in saved[0]:
            library.addHandler(handler)
        library.propagate = saved[1]


def release_logs(held: list[logging.LogRecord]) -> None:
    """Hand the records `hold_datasets_logs` held to datasets' handlers, as if just logged."""
    library = logging.getLogger("datasets")
    for record in held:
        library.handle(record)
    held.clear()


def split_origin(
    path: str | Path,
    split: str,
    builder: str,
    files: list[str],
    size: int | None = None,
    quoting: str = "csv",
    header: bool = True,
) -> Origin:
    """Where a local split's rows are named: its file, by line or row (a CSV file's lines
    counted under `quoting`, `data.csv_quoting`, its first line a row unless `header`); a
    split of several files (the Hub's shards) as `<data.path> split <name> row <n>`, counted
    across its files in name order."""
    if len(files) == 1:
        kind = origin_kind(builder, files[0])
        return Origin(files[0], kind, size=size, quoting=READER_QUOTING[quoting], header=header)
    parts = [split_origin(path, split, builder, [f], None, quoting, header) for f in files]
    return Origin(str(path), "hub", split=split, size=size, parts=parts)


def origin_kind(builder: str, file: str) -> str:
    """The `Origin.kind` of a local file read by `builder`."""
    suffix = file_suffix(Path(file))
    if builder == "csv":
        return "tsv" if suffix == ".tsv" else "csv"
    if builder == "json":
        return "jsonl" if suffix == ".jsonl" else "json"
    return "text" if builder == "text" else "rows"


def origins_of(source: DatasetDict) -> dict[str, Origin]:
    """{split: Origin} of a DatasetDict from `load_local` / `load_hub` (empty for others)."""
    return dict(getattr(source, ORIGINS, None) or {})


def set_origins(source: DatasetDict, origins: dict[str, Origin]) -> None:
    """Say where `source`'s splits came from: for a head that converts its own format (SQuAD
    JSON) before loading, so errors name the user's file rather than the converted one."""
    setattr(source, ORIGINS, origins)


def load_hub(
    hub_id: str, hub_config: str | None = None, revision: str | None = None
) -> DatasetDict:
    """Load a dataset from the Hugging Face Hub (or the local HF cache when offline).

    `revision` picks a branch: `refs/convert/parquet` is the Hub's Parquet conversion of a
    dataset that only ships a loading script (which current `datasets` no longer runs).
    """
    import datasets

    try:
        loaded = datasets.load_dataset(hub_id, hub_config, revision=revision)
    except Exception as err:
        raise DataError(
            f"could not load '{hub_id}'{f' ({hub_config})' if hub_config else ''} from the "
            f"Hugging Face Hub: {root_cause(err)}. Without network access, download it elsewhere "
            "and point data.path at the files (same columns)."
        ) from err
    name = f"{hub_id} ({hub_config})" if hub_config else hub_id
    origins = {split: Origin(name, "hub", split=split) for split in loaded}  # type: ignore[union-attr]
    set_origins(loaded, origins)  # type: ignore[arg-type]
    return loaded  # type: ignore[return-value]


def load_source(
    path: str | None,
    hub_id: str | None,
    hub_config: str | None,
    hub_revision: str | None = None,
    splits: Mapping[str, str | None] | None = None,
    csv_quoting: str = "csv",
    csv_column_names: Sequence[str] | None = None,
) -> DatasetDict:
    """Load local files when `path` is set (`hub_config` picks a configuration of a Hub
    dataset folder; `splits`, `data.splits`, names in the log the file each split reads;
    `csv_quoting`, `data.csv_quoting`, how CSV/TSV cells are quoted; `csv_column_names`,
    `data.csv_column_names`, the columns of headerless ones), else the Hub dataset `hub_id`."""
    if path:
        return load_local(path, hub_config, splits, csv_quoting, csv_column_names)
    if hub_id:
        return load_hub(hub_id, hub_config, hub_revision)
    raise DataError("no data source: set data.path=<file or folder> (or data.hub_id=<hub id>)")


def root_cause(err: BaseException) -> str:
    """`Type: message` of the innermost exception behind `err` (libraries wrap theirs)."""
    *_, err = exception_chain(err)
    # Offline, datasets says the dataset "is not cached in None" (None: its default folder).
    message = NOT_CACHED.sub(" is not in the local datasets cache", str(err))
    return f"{type(err).__name__}: {message}"


NOT_CACHED = re.compile(r" is not cached in None\b")


@dataclass
class Source:
    """One stream of rows: local files (`path`) or a Hub dataset, and its split;
    `csv_quoting` is how the cells of local CSV/TSV files are quoted (`data.csv_quoting`),
    `csv_column_names` the columns of headerless ones (`data.csv_column_names`)."""

    path: str | None = None
    hub_id: str | None = None
    hub_config: str | None = None
    hub_revision: str | None = None
    split: str = "train"
    probability: float | None = None
    csv_quoting: str = "csv"
    csv_column_names: Sequence[str] | None = None

    def describe(self) -> str:
        """The source as its user named it."""
        if self.path:
            return str(self.path)
        return f"{self.hub_id}{f' ({self.hub_config})' if self.hub_config else ''}"

    def same_data(self, other: Source) -> bool:
        """Whether both name the same files or Hub dataset (whatever the split)."""

        def key(source: Source) -> tuple[Any, ...]:
            names = source.csv_column_names
            return (
                source.path,
                source.hub_id,
                source.hub_config,
                source.hub_revision,
                source.csv_quoting,
                tuple(names) if names else None,
            )

        return key(self) == key(other)


def interleave_sources(
    entries: list[dict[str, Any]] | None,
    csv_quoting: str = "csv",
    csv_column_names: Sequence[str] | None = None,
) -> list[Source]:
    """`data.interleave` as `Source`s; `ConfigError` naming the entry that is wrong. An entry
    without its own `csv_quoting` / `csv_column_names` reads CSV/TSV files by
    `data.csv_quoting` / `data.csv_column_names` (`csv_quoting`, `csv_column_names`)."""
    sources = []
    for index, entry in enumerate(entries or []):
        where = f"data.interleave[{index}]"
        unknown = set(entry) - {f.name for f in fields(Source)}
        if unknown:
            raise ConfigError(
                f"{where} has unknown key(s) {sorted(unknown)}; valid: "
                f"{', '.join(f.name for f in fields(Source))}"
            )
        own = {"csv_quoting": csv_quoting, "csv_column_names": csv_column_names, **entry}
        source = Source(**own)
        source.csv_column_names = checked_column_names(source.csv_column_names, f" ({where})")
        if bool(source.path) == bool(source.hub_id):
            raise ConfigError(f"{where} needs exactly one of path and hub_id")
        if source.probability is None or not 0 < float(source.probability) <= 1:
            raise ConfigError(f"{where}.probability must be in (0, 1], got {source.probability}")
        sources.append(source)
    if sources:
        total = sum(float(s.probability or 0) for s in sources)
        if abs(total - 1.0) > 1e-6:
            raise ConfigError(f"data.interleave probabilities must sum to 1, got {total:g}")
    return sources


def parquet_columns(file: str | Path) -> list[str]:
    """The column names in a Parquet file's footer; a DataError naming the file when it is
    not readable Parquet (a download cut short, another format under a .parquet name)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return list(pq.read_schema(file).names)
    except (pa.ArrowException, OSError) as err:
        why = " ".join(str(err).split())
        raise DataError(f"{file} is not a readable Parquet file ({why})") from err
