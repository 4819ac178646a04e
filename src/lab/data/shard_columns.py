"""Shards of one split that do not share their columns, and a CSV header that names a column
twice, found before a row is read (s28a M2, s34b M1).

`datasets` reads a split's files as one table: a shard without the label column is filled with
None, and the head then refuses one of its rows as "the cell is empty", with no word of the
shard. Each local shard's columns are cheap to read: a Parquet file's schema, a CSV/TSV
header, the keys of a JSON Lines file's first rows. A JSON row may leave out a key another row
has (an optional field), so a JSON Lines shard lacks a column only when none of its first
`JSON_ROWS` rows has it.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping

from lab.data.origins import open_text

# Rows of a JSON Lines shard read to confirm it lacks a column another shard's first row has.
JSON_ROWS = 1000


def shard_columns_problem(
    builder: str,
    data_files: Mapping[str, list[str]],
    splits: Iterable[str] | None = None,
    headed: bool = True,
) -> str | None:
    """The first split (of `splits`; None: all) whose files do not share their columns,
    naming the shard that lacks a column and a shard that has it; None when they agree or
    cannot be read here (the loader's own errors say why). `headed` False: CSV columns are
    named by `data.csv_column_names`, the same for every file."""
    wanted = set(data_files) if splits is None else set(splits)
    for split, files in data_files.items():
        if split not in wanted:
            continue
        try:
            problem = (builder == "csv" and headed and _repeated_header(files)) or (
                len(files) > 1 and _split_problem(builder, split, files, headed)
            )
        except (OSError, UnicodeError, csv.Error, ValueError):
            return None
        if problem:
            return problem
    return None


def _split_problem(builder: str, split: str, files: list[str], headed: bool) -> str | None:
    if builder == "parquet":
        from lab.data.sources import parquet_columns

        columns = [parquet_columns(file) for file in files]
    elif builder == "csv" and headed:
        columns = [_csv_header(file) for file in files]
    elif builder == "json":
        columns = [_json_keys(file, 1) for file in files]
    else:
        return None
    every = list(dict.fromkeys(c for found in columns for c in found))  # in order of use
    for index, file in enumerate(files):
        missing = [c for c in every if c not in columns[index]]
        if missing and builder == "json":  # an optional key? its first rows say
            columns[index] = _json_keys(file, JSON_ROWS)
            missing = [c for c in missing if c not in columns[index]]
        if not missing:
            continue
        other = next(i for i, found in enumerate(columns) if missing[0] in found)
        rows = f" in its first {JSON_ROWS} rows" if builder == "json" else ""
        return (
            f"the {split} split's files have different columns: {file} has "
            f"{', '.join(columns[index]) or 'no columns'}{rows}; {files[other]} has "
            f"{', '.join(columns[other])}"
        )
    return None


def _repeated_header(files: list[str]) -> str | None:
    """A CSV/TSV file whose header names a column twice (s34b M1): pandas reads the second
    as `text.1`, so lab took the first `text` without a word, whichever the user meant."""
    for file in files:
        header = _csv_header(file)
        twice = list(dict.fromkeys(name for name in header if header.count(name) > 1))
        if twice:
            names = ", ".join(repr(name) for name in twice)
            return (
                f"{file}: its header names the column{'s' * (len(twice) > 1)} {names} twice "
                f"({', '.join(header)}); pandas would read the second as "
                f"'{twice[0]}.1' and lab the first: give each column a name of its own"
            )
    return None


def _csv_header(file: str) -> list[str]:
    delimiter = "\t" if file.lower().removesuffix(".gz").endswith(".tsv") else ","
    with open_text(file) as handle:
        for record in csv.reader(handle, delimiter=delimiter):
            if record and any(cell.strip() for cell in record):
                return record
    return []


def _json_keys(file: str, rows: int) -> list[str]:
    """The keys of the first `rows` rows of a JSON Lines file, in order of first use; [] for
    a file whose first row is not an object (a JSON array: its own checks word it)."""
    keys: dict[str, None] = {}
    seen = 0
    with open_text(file) as handle:
        for line in handle:
            if not line.strip():
                continue
            value = json.loads(line)
            if not isinstance(value, dict):
                raise ValueError("not JSON Lines")
            keys.update(dict.fromkeys(value))
            seen += 1
            if seen >= rows:
                break
    return list(keys)
