"""The header of a local .csv / .tsv file: its first line, or `data.csv_column_names`.

Most CSV files name their columns on their first line. Some do not: CoLA's GLUE TSVs
(`in_domain_train.tsv`, `train.tsv`, `dev.tsv`) are rows from the first line on (source,
label, the author's label, sentence). Read as headed, their first row becomes the column
names (`gj04, 1, , our friends won't buy this analysis`) and the column refusal lists data.
`data.csv_column_names=[source,label,author_label,sentence]` names such a file's columns, in
order; null (the default) reads the first line as the header.

The names are the columns of every file lab reads as one of its splits (training, `lab.eval`,
`lab.inspect`, streaming; `lab.predict` reads its input by the run's recorded value, or its
own `data.csv_column_names=`). Before anything loads, each file's first record is read
(`split_options`):

* a file read as one of lab's splits must have as many fields as there are names: refused
  otherwise, naming both counts (pandas would silently make the extra leading fields an
  index, or pad the row with missing cells);
* a file whose first line is those names has a header of its own: refused, naming the fix
  (`data.csv_column_names=null`);
* a file no split of lab's reads (GLUE's `test.tsv`, headed `index<TAB>sentence`, beside the
  headerless train and dev files) with another field count is read by its own first line, and
  `train.log` says so.

Where the columns a config names are missing and the first line's "names" look like data (a
number, an empty name, pandas' `Unnamed: 2` for one), the refusal suggests the setting
(`headerless_hint`, via `lab.data.column_refusal`).
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lab.errors import ConfigError, DataError

log = logging.getLogger(__name__)

#: the data config's key (conf/data/base/source.yaml) and `lab.predict`'s option
COLUMN_NAMES_KEY = "data.csv_column_names"
# A header cell that is data rather than a name: empty, or pandas' name for an empty header
# cell past the first (`Unnamed: 0` alone is the index column of `to_csv(index=True)`); or a
# number beside names that are not (a header of numbers alone, years, is a header).
_EMPTY = re.compile(r"\s*|Unnamed: [1-9]\d*")
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
# an example of the setting, in messages (CoLA's columns)
_EXAMPLE = "[source,label,author_label,sentence]"
#: lab's splits (`lab.data.datamodule.SPLITS`, without importing Lightning)
SPLITS = ("train", "validation", "test")


def checked_column_names(value: Any, where: str = "") -> tuple[str, ...] | None:
    """`value` (`data.csv_column_names`: None, or a list of distinct, non-empty names) as a
    tuple of names; a `ConfigError` naming the key otherwise. `where` says where the value
    came from (a run's config.yaml)."""
    if value is None:
        return None
    shown = f"{COLUMN_NAMES_KEY}={value}{where}"
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise ConfigError(
            f"{shown} is not a list: name a headerless file's columns in order, e.g. "
            f"{COLUMN_NAMES_KEY}={_EXAMPLE}, or null (the first line is the header)"
        )
    names = tuple(str(name) for name in value)
    twice = sorted({name for name in names if names.count(name) > 1})
    why = ""
    if not names:
        why = "names no column"
    elif any(not name.strip() for name in names):
        why = "has an empty name"
    elif twice:  # pandas refuses duplicate names too, in words that name no setting
        why = f"names {', '.join(twice)} twice"
    if why:
        raise ConfigError(
            f"{shown} {why}: give each column of the file a name of its own, in order, or "
            "null (the first line is the header)"
        )
    return names


def split_options(
    data_files: Mapping[str, list[str]],
    options: dict[str, Any],
    used: Iterable[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """{split: `datasets`' csv options} for `data_files` read with `options` (`csv_options`,
    its `column_names` from `data.csv_column_names`): a split lab reads (`used`; None: all)
    keeps the names, refused where its files' first record has another field count or is
    the names themselves; any other split of another field count is read by its first line.
    Without names, every split has `options` as they are."""
    names = options.get("column_names")
    if not names:
        return {split: options for split in data_files}
    quoting = options.get("quoting", csv.QUOTE_MINIMAL)
    delimiter = options.get("delimiter", ",")
    reads = set(data_files if used is None else used)
    by_split = {}
    for split in sorted(data_files, key=lambda name: name != "train"):  # train's said first
        files = data_files[split]
        records = {file: first_record(file, delimiter, quoting) for file in files}
        read = split in reads
        widths = {file: len(record) for file, record in records.items() if record is not None}
        other = next((file for file, width in widths.items() if width != len(names)), None)
        for file, record in records.items() if read else ():
            problem = record_problem(file, record, names)
            if problem:
                raise DataError(problem)
        if other is None:
            by_split[split] = options
            continue
        log.info(
            "%s: %d fields, not the %d %s names: read with its first line as its header (no "
            "split of lab's reads it)",
            other,
            len(records[other] or []),
            len(names),
            COLUMN_NAMES_KEY,
        )
        by_split[split] = {k: v for k, v in options.items() if k != "column_names"}
    return by_split


def record_problem(
    file: str, record: Sequence[str] | None, names: Sequence[str], whose: str = ""
) -> str | None:
    """The refusal of `file` read by `names` (`data.csv_column_names`; `whose` says where they
    came from: `the run's`) for its first record `record`: a field count of its own, or the
    names themselves (a header line); None where it fits (or there is none: no rows)."""
    setting = f"{COLUMN_NAMES_KEY}{f' ({whose})' if whose else ''}"
    if record is None:
        return None
    if list(record) == list(names):
        return (
            f"{file}: its first line is a header naming the columns {setting} names "
            f"({', '.join(record)}), which would be read as a row; set {COLUMN_NAMES_KEY}=null "
            "for a file whose first line is its header"
        )
    if len(record) == len(names):
        return None
    fields = ", ".join(repr(field) if not field.strip() else field for field in record)
    if len(fields) > 120:
        fields = fields[:117] + "..."
    return (
        f"{file}: its first line has {len(record)} field{'s' * (len(record) != 1)} ({fields}) "
        f"but {setting} names {len(names)} "
        f"({', '.join(names)}); name each field of a headerless file, in order, or set "
        f"{COLUMN_NAMES_KEY}=null for a file whose first line is its header"
    )


def named_header(file: str, column_names: Sequence[str], quoting: str = "csv") -> list[str] | None:
    """The columns of `file`, which one of lab's splits reads, by `column_names`
    (`data.csv_column_names`, `quoting` its `data.csv_quoting`): None for a file that is not a
    .csv / .tsv; a `DataError` where its first record does not fit them (`record_problem`)."""
    from pathlib import Path

    from lab.data.csv_quotes import READER_QUOTING
    from lab.data.local_files import file_suffix

    suffix = file_suffix(Path(file))
    if suffix not in (".csv", ".tsv"):
        return None
    delimiter = "\t" if suffix == ".tsv" else ","
    record = first_record(file, delimiter, READER_QUOTING.get(quoting, csv.QUOTE_MINIMAL))
    problem = record_problem(file, record, column_names)
    if problem:
        raise DataError(problem)
    return list(column_names)


def headerless_columns(file: str, column_names: Sequence[str] | None) -> list[str] | None:
    """`column_names` (`data.csv_column_names`) as the columns of `file`: a .csv / .tsv whose
    first record has as many fields; else None (its own header, or not a CSV file)."""
    from pathlib import Path

    from lab.data.local_files import file_suffix

    suffix = file_suffix(Path(file))
    if not column_names or suffix not in (".csv", ".tsv"):
        return None
    record = first_record(file, "\t" if suffix == ".tsv" else ",")
    return list(column_names) if record is not None and len(record) == len(column_names) else None


def first_record(file: str, delimiter: str, quoting: int = csv.QUOTE_MINIMAL) -> list[str] | None:
    """The first record of `file` that is not blank, read by `quoting`; None when it has
    none or cannot be read (the loader's own checks say why)."""
    from lab.data.origins import is_blank_record, open_text

    unquoted = quoting == csv.QUOTE_NONE  # `data.csv_quoting=none`: quotes are text
    try:
        with open_text(file) as handle:
            reader = csv.reader(
                handle,
                delimiter=delimiter,
                quoting=csv.QUOTE_NONE if unquoted else csv.QUOTE_MINIMAL,
            )
            for record in reader:
                if not is_blank_record(record):
                    return [cell.removeprefix("\ufeff") for cell in record]
    except (OSError, csv.Error, UnicodeError):
        return None
    return None


def used_splits(
    data_files: Mapping[str, list[str]], splits: Mapping[str, str | None] | None
) -> set[str] | None:
    """The splits of `data_files` that lab's train / validation / test read by `splits`
    (`data.splits`); None (all of them) without a mapping."""
    if splits is None:
        return None
    from lab.data.splits import source_split_name  # it imports the loaders, which import this

    return {source_split_name(splits, name, data_files, local=True) for name in SPLITS} - {""}


def headerless_hint(names: Sequence[str]) -> str | None:
    """Advice for a CSV header whose "names" look like data (an empty name, a number beside
    words): the file may have no header line; None where they look like names (a header of
    years, `2019, 2020`, is one)."""
    numbers = [name for name in names if _NUMBER.fullmatch(name)]
    data = [n for n in names if _EMPTY.fullmatch(n) or (n in numbers and len(numbers) < len(names))]
    if not data:
        return None
    count = len(names)
    return (
        f"the first line looks like data, not a header ({', '.join(map(repr, data[:3]))} "
        f"as column names): a file without a header line is read with {COLUMN_NAMES_KEY}="
        f"[...] naming its {count} column{'s' * (count != 1)} in order (CoLA's GLUE TSVs: "
        f"{COLUMN_NAMES_KEY}={_EXAMPLE})"
    )
