"""Stream prediction inputs and outputs row by row (never the whole file in memory).

Inputs: `.jsonl` (one JSON object per line), `.csv` / `.tsv` (a header row), `.txt` (one text
per line, as the predictor's first field). Outputs: `.jsonl` (one object per input row) or `.csv`
(nested values written as JSON). A row that cannot be read becomes an error entry that names
it; reading goes on.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from lab.errors import DataError

INPUT_SUFFIXES = (".jsonl", ".csv", ".tsv", ".txt")
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
    return path


def read_rows(path: Path, text_field: str = "text") -> Iterator[dict[str, Any] | RowError]:
    """Yield each input row as a dict, or a `RowError` for a row that cannot be parsed.

    A `.txt` line becomes `{text_field: line}`.
    """
    suffix = path.suffix.lower()
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        if suffix == ".txt":
            for line in handle:
                yield {text_field: line.rstrip("\r\n")}
        elif suffix == ".jsonl":
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    yield RowError(f"line {number} is blank")
                    continue
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as err:
                    yield RowError(f"line {number} is not valid JSON ({err.msg})")
                    continue
                if isinstance(value, dict):
                    yield value
                else:
                    yield RowError(f"line {number} is a JSON {type(value).__name__}, not an object")
        else:
            reader = csv.DictReader(handle, delimiter="\t" if suffix == ".tsv" else ",")
            for row in reader:
                if None in row:  # more cells than header columns
                    yield RowError(f"line {reader.line_num} has more cells than the header")
                else:
                    yield dict(row)


def count_rows(path: Path) -> int:
    """Rows in the file (a streaming pass; for the progress bar's total)."""
    suffix = path.suffix.lower()
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        if suffix in (".csv", ".tsv"):
            return sum(1 for _ in csv.reader(handle, delimiter="\t" if suffix == ".tsv" else ","))
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
