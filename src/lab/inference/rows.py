"""Stream prediction inputs and outputs row by row (never the whole file in memory).

Inputs: `.jsonl` (one JSON object per line; blank lines skipped), `.csv` / `.tsv` (a header
row), `.txt` (one text per line, as the predictor's first field), `.parquet` (a batch of rows
at a time, numbered from 1 where the text formats give lines). Outputs: `.jsonl` (one object
per input row) or `.csv` (nested values written as JSON). Every row comes with its line in the
input, the line a text editor shows (a CSV header is line 1; a record with quoted line breaks
is named by its first line), as training data errors name rows. A row that cannot be read
becomes an error entry that names it; reading goes on.
"""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from lab.data.origins import is_blank_record
from lab.errors import DataError

INPUT_SUFFIXES = (".jsonl", ".csv", ".tsv", ".txt", ".parquet")
OUTPUT_SUFFIXES = (".jsonl", ".csv")


class RowError(str):
    """A row that could not be read: the reason, in words."""


def _check_suffix(path: Path, allowed: tuple[str, ...], what: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in allowed:
        raise DataError(f"{what} {path} must end in one of {', '.join(allowed)}")
    return suffix


def open_input(path: str | Path) -> Path:
    """Check that `path` is a readable, non-empty input file of a known kind."""
    path = Path(path)
    _check_suffix(path, INPUT_SUFFIXES, "input file")
    if not path.is_file():
        raise DataError(f"input file {path} does not exist")
    if path.stat().st_size == 0:
        raise DataError(f"input file {path} is empty")
    if path.suffix.lower() == ".parquet":
        _parquet(path)  # refuse an unreadable file before any model is loaded
    return path


def row_place(path: Path, number: int) -> str:
    """Where row `number` of `path` is, as training data errors say it: `<file>:<line>`, or
    `<file> row <n>` for Parquet (no lines)."""
    if path.suffix.lower() == ".parquet":
        return f"{path} row {number}"
    return f"{path}:{number}"


def _parquet(path: Path) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as err:
        raise DataError(f"input file {path} is not a readable Parquet file: {err}") from err


def read_rows(
    path: Path, text_field: str = "text"
) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    """Yield (line, row) for each input row: the row as a dict, or a `RowError` saying why it
    cannot be parsed. A `.txt` line becomes `{text_field: line}`."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        number = 0
        for batch in _parquet(path).iter_batches(batch_size=1024):
            for row in batch.to_pylist():
                number += 1
                yield number, row
        return
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        if suffix == ".txt":
            for number, line in enumerate(handle, start=1):
                yield number, {text_field: line.rstrip("\r\n")}
        elif suffix == ".jsonl":
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue  # as the training loader does
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as err:
                    yield number, RowError(f"not valid JSON ({err.msg}, column {err.colno})")
                    continue
                if isinstance(value, dict):
                    yield number, value
                else:
                    yield number, RowError(f"a JSON {type(value).__name__}, not an object")
        else:
            yield from _csv_rows(handle, "\t" if suffix == ".tsv" else ",")


def _csv_rows(handle: IO[str], delimiter: str) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    """(first line, row) of each CSV record; the header and blank lines skipped (as training
    reads CSV), a record with fewer cells than the header padded with None."""
    reader = csv.reader(handle, delimiter=delimiter)
    header: list[str] | None = None
    previous = 0
    try:
        for record in reader:
            start, previous = previous + 1, reader.line_num
            if is_blank_record(record):
                continue
            if header is None:
                header = record
            elif len(record) > len(header):
                yield start, RowError(f"{len(record)} cells but the header has {len(header)}")
            else:
                yield start, dict(itertools.zip_longest(header, record))
    except csv.Error as err:  # e.g. an unterminated quote: nothing after it can be read
        yield previous + 1, RowError(f"not valid CSV ({err}); the rest of the file is unread")


def count_rows(path: Path) -> int:
    """Rows in the file, as `read_rows` yields them (a streaming pass; for the progress bar)."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return int(_parquet(path).metadata.num_rows)
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        if suffix in (".csv", ".tsv"):
            reader = csv.reader(handle, delimiter="\t" if suffix == ".tsv" else ",")
            try:
                return max(sum(1 for r in reader if not is_blank_record(r)) - 1, 0)
            except csv.Error:
                return 0
        if suffix == ".jsonl":
            return sum(1 for line in handle if line.strip())
        return sum(1 for _ in handle)


def check_output(path: Path) -> Path:
    """Refuse an output file of an unknown kind (before any model is loaded)."""
    _check_suffix(path, OUTPUT_SUFFIXES, "output file")
    return path


class RowWriter:
    """Write result rows to `.jsonl` or `.csv` as they come (atomic: a temp file, renamed).

    `fields` is the CSV header (JSON Lines rows carry their own keys).
    """

    def __init__(self, path: str | Path, fields: list[str]) -> None:
        self.path = Path(path)
        self.fields = fields
        self.suffix = _check_suffix(self.path, OUTPUT_SUFFIXES, "output file")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(self.path.name + ".tmp")
        self._handle: IO[str] = self._tmp.open("w", newline="", encoding="utf-8")
        self._csv: csv.DictWriter[str] | None = None

    def write(self, row: dict[str, Any]) -> None:
        """Append one result row."""
        if self.suffix == ".jsonl":
            self._handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            return
        flat = {k: v if isinstance(v, str | int | float) else json.dumps(v) for k, v in row.items()}
        if self._csv is None:
            self._csv = csv.DictWriter(self._handle, fieldnames=self.fields, extrasaction="ignore")
            self._csv.writeheader()
        self._csv.writerow(flat)

    def close(self) -> None:
        """Finish the file (rename the temp file over the target)."""
        self._handle.close()
        self._tmp.replace(self.path)

    def __enter__(self) -> RowWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()
        else:
            self._handle.close()
            self._tmp.unlink(missing_ok=True)
