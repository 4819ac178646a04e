"""What is wrong with a local data file that `datasets` could not read, in one line.

`lab.data.sources.load_local` asks these only after a load failed: each reads the file again
to name the cause (a header-only split, a CSV line with more cells than its header, a quote
never closed, a truncated Parquet file, shards whose columns differ), so a clean load pays
nothing for them.
"""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lab.data.csv_quotes import first_quoted_span, unquoted_width_problem
from lab.data.local_files import file_suffix
from lab.data.origins import csv_width_problem, json_problem
from lab.errors import DataError


def syntax_problem(
    builder: str,
    file: str,
    csv_quoting: str = "csv",
    column_names: Sequence[str] | None = None,
) -> str | None:
    """Why `file` cannot be parsed, naming its line (text) or saying it is not Parquet, when
    that can be found by reading it; a CSV file by `data.csv_quoting`'s rules (a quote never
    closed is named where it opens), its width by its header or by `column_names`
    (`data.csv_column_names`, a headerless file)."""
    try:
        if builder == "json":
            return json_problem(file)
        if builder == "csv":
            delimiter = "\t" if file_suffix(Path(file)) == ".tsv" else ","
            if csv_quoting == "none":
                return unquoted_width_problem(file, delimiter, column_names)
            span = first_quoted_span(file, delimiter, header=not column_names)
            if span is not None and span.malformed:
                return span.refusal()
            return csv_width_problem(file, delimiter, column_names)
        if builder == "parquet":
            return _parquet_problem(file)
    except (OSError, UnicodeError):
        return None
    return None


def has_no_rows(builder: str, file: str, headed: bool = True) -> bool:
    """Whether a data file holds no rows: a CSV/TSV of its header line alone (`headed`; of no
    line at all when its columns are named by `data.csv_column_names`), a JSON Lines file of
    blank lines, an empty JSON array, a Parquet file of 0 rows (datasets' own error there,
    "BatchSize must be greater than 0", names neither the file nor the cause)."""
    if builder == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            return pq.read_metadata(file).num_rows == 0
        except (pa.ArrowException, OSError):
            return False  # not readable Parquet: said by the checks that follow
    opener: Any = gzip.open if file.lower().endswith(".gz") else open
    try:
        with opener(file, "rt", encoding="utf-8-sig", errors="replace") as handle:
            if builder == "csv":
                if headed:
                    handle.readline()  # the header
                return not any(line.strip() for line in handle)
            if builder == "json":
                return _no_json_rows(handle)
    except OSError:
        return False
    return False


# Characters read at a time where a file is scanned for its first non-blank text (a file may
# be larger than memory, s28a M1: it was read whole).
_CHUNK = 1 << 16


def _no_json_rows(handle: Any) -> bool:
    """Whether a JSON file's text is blank or an empty array `[ ]`, read in bounded chunks:
    it stops at the first text that is anything else."""
    expected = "[]"  # what may follow, in order, between blanks
    while chunk := handle.read(_CHUNK):
        for char in chunk:
            if char.isspace():
                continue
            if not expected or char != expected[0]:
                return False
            expected = expected[1:]
    return expected in ("", "[]")


def columns_differ(data_files: dict[str, list[str]]) -> str | None:
    """The first split whose Parquet files do not share their columns, named with the two
    files that differ (datasets reads a split's files as one table)."""
    from lab.data.sources import parquet_columns

    for split, files in data_files.items():
        first = parquet_columns(files[0])
        for file in files[1:]:
            columns = parquet_columns(file)
            if columns != first:
                return (
                    f"the {split} split's files have different columns: {files[0]} has "
                    f"{', '.join(first)}; {file} has {', '.join(columns)}"
                )
    return None


def _parquet_problem(file: str) -> str | None:
    """Why `file` is not a readable Parquet file (truncated, not Parquet at all), or None."""
    from lab.data.sources import parquet_columns

    try:
        parquet_columns(file)
    except DataError as err:
        return str(err)
    return None
