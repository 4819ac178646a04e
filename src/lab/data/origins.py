"""Where a data row came from, named the way its user finds it.

- CSV / TSV, JSON Lines and `.txt` files: `<file>:<line>`, the line a text editor shows (the
  header is line 1; a CSV record with quoted line breaks is named by its first line; blank
  lines are counted, as an editor counts them).
- Parquet and JSON-array files: `<file> row <n> (1-based)`.
- Hub data: `<hub id> split <name> row <n> (1-based)`.
- A local split of several files (the Hub's shards, `data/train-00000-of-00004.jsonl`...): the
  shard's own file, named as above. A map-style load numbers rows across the shards in name
  order (the order datasets reads them), and a row is placed by counting each shard's rows; a
  stream reads its shards in a shuffled order, so each streamed row carries its shard and
  its row there packed in one index (`pack`, `lab.data.shard_streams`).

A row's position in its source split is carried through carving and subsampling as a cheap
integer column (see `lab.data.datamodule`); the file is read again only to name a bad row, so a
clean run pays nothing for line numbers. Should that second reading disagree with the loader
(an unusual CSV dialect), the row is named by its 1-based data row instead, stated as such.
"""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datasets import Dataset

#: the attribute of a loaded DatasetDict that holds its `{source split: Origin}`
ORIGINS = "lab_origins"
#: the hidden column carrying each row's index in its source split (dropped before tokenizing)
ROW_COLUMN = "__lab_row__"
# A streamed shard's row index: `shard << SHARD_SHIFT | row` (2**40 rows per file, 2**23 files)
SHARD_SHIFT = 40


def pack(shard: int, row: int) -> int:
    """One index for row `row` (0-based) of shard `shard` of a streamed split."""
    return shard << SHARD_SHIFT | row


def open_text(file: str) -> IO[str]:
    """A (possibly gzipped) data file as text, lines kept as stored (CSV needs that)."""
    if file.endswith(".gz"):
        return gzip.open(file, "rt", encoding="utf-8", errors="replace", newline="")
    return open(file, encoding="utf-8", errors="replace", newline="")


@dataclass
class Origin:
    """The source of one split: a file (with its format) or a Hub dataset's split.

    Args:
        name: the file path as the user gave it, or the Hub dataset id.
        kind: `csv`, `tsv`, `jsonl`, `json` (lines or an array), `text`, `rows` (Parquet or
            anything counted by rows) or `hub` (a Hub split, or a local split of several
            files, the Hub's shards: `name` is then the local folder).
        split: the Hub split name (Hub data only).
        size: rows the loader read from it (a line scan that disagrees is not trusted).
        unit: what a `rows` source counts, for a head whose files are not tables (SQuAD JSON
            counts `question`s).
        quoting: how a CSV/TSV file's cells are quoted (Python's `csv.QUOTE_*`; `QUOTE_NONE`
            under `data.csv_quoting=none`: every line is a row), so lines are counted as the
            loader read them.
        header: whether a CSV/TSV file's first line is its header (False: its columns are
            named by `data.csv_column_names`, and its first line is a row).
        parts: a local split of several files: each file's own origin, in name order.
        packed: its rows' indices are `pack(shard, row)` (a stream), not counted across them.
    """

    name: str
    kind: str
    split: str | None = None
    size: int | None = None
    unit: str = "row"
    quoting: int = csv.QUOTE_MINIMAL
    header: bool = True
    parts: list[Origin] = field(default_factory=list)
    packed: bool = False
    _lines: list[int] | None = field(default=None, init=False, repr=False)

    def describe(self) -> str:
        """The source as a whole: `data/train.csv`, `imdb split train`."""
        return f"{self.name} split {self.split}" if self.kind == "hub" else self.name

    def locate(self, index: int) -> str:
        """Row `index` (0-based, in the order the loader read the source) in the user's terms."""
        if self.kind == "hub":
            placed = self._in_part(index) if self.parts else None
            return placed or f"{self.describe()} row {index + 1} (1-based)"
        if self.kind == "text":
            return f"{self.name}:{index + 1}"
        if self.kind in ("csv", "tsv", "jsonl", "json"):
            lines = self._line_numbers()
            if lines is not None and 0 <= index < len(lines):
                return f"{self.name}:{lines[index]}"
            if self.kind in ("csv", "tsv"):
                return f"{self.name} data row {index + 1} (1-based, header not counted)"
        return f"{self.name} {self.unit} {index + 1} (1-based)"

    def _in_part(self, index: int) -> str | None:
        """Row `index` of a split of several files, named in its own file; None when its file
        cannot be found (a count of rows that disagrees with the loader's)."""
        if self.packed:
            shard, row = index >> SHARD_SHIFT, index & ((1 << SHARD_SHIFT) - 1)
            return self.parts[shard].locate(row) if shard < len(self.parts) else None
        found = [part.row_count() for part in self.parts]  # read only to name a bad row
        counts = [count for count in found if count is not None]
        if len(counts) < len(found) or (self.size is not None and sum(counts) != self.size):
            return None
        for part, count in zip(self.parts, counts, strict=True):
            if 0 <= index < count:
                return part.locate(index)
            index -= count
        return None

    def row_count(self) -> int | None:
        """The rows of a file as the loader reads them; None when not known without loading it
        (a JSON array, an Arrow file)."""
        if self.kind in ("csv", "tsv", "jsonl", "json"):
            lines = self._line_numbers()
            return None if lines is None else len(lines)
        try:
            if self.kind == "text":
                with open_text(self.name) as handle:
                    return sum(1 for _ in handle)
            if self.name.endswith(".parquet"):
                import pyarrow.parquet as pq

                return int(pq.read_metadata(self.name).num_rows)
        except Exception:  # only naming a row: the fallback wording serves
            return None
        return None

    def _line_numbers(self) -> list[int] | None:
        if self._lines is None:
            try:
                delimiter = "\t" if self.kind == "tsv" else ","
                lines = (
                    csv_record_lines(self.name, delimiter, self.quoting, self.header)
                    if self.kind in ("csv", "tsv")
                    else json_lines(self.name)
                )
            except (OSError, csv.Error):
                lines = None
            if lines is None or (self.size is not None and len(lines) != self.size):
                return None
            self._lines = lines
        return self._lines


def number_rows(dataset: Dataset) -> Dataset:
    """`dataset` plus the hidden `ROW_COLUMN`: 0, 1, 2... (its rows' index in the source).

    Carving and subsampling permute rows by length and seed alone, so the column rides along
    without changing which rows go where.
    """
    import numpy as np
    from datasets.fingerprint import Hasher

    from lab.compat.datasets import fingerprint

    return dataset.add_column(
        ROW_COLUMN,
        np.arange(len(dataset), dtype=np.int64),
        new_fingerprint=Hasher.hash((fingerprint(dataset), ROW_COLUMN)),
    )


def csv_record_lines(
    file: str, delimiter: str = ",", quoting: int = csv.QUOTE_MINIMAL, header: bool = True
) -> list[int]:
    """The first line of every data record of a CSV file (header and blank lines skipped).

    Follows the reader's rules: quoted cells may hold line breaks (unless `quoting` is
    `csv.QUOTE_NONE`: quotes are text), and a line of nothing but white space is blank (as
    pandas, which `datasets` reads CSV with, skips it). `header` False: the first record is
    a row (a file whose columns `data.csv_column_names` names).
    """
    starts: list[int] = []
    header_seen = not header
    with open_text(file) as handle:
        unquoted = quoting == csv.QUOTE_NONE
        reader = csv.reader(
            handle, delimiter=delimiter, quoting=csv.QUOTE_NONE if unquoted else csv.QUOTE_MINIMAL
        )
        previous = 0
        for record in reader:
            start, previous = previous + 1, reader.line_num
            if is_blank_record(record):
                continue
            if header_seen:
                starts.append(start)
            header_seen = True
    return starts


def is_blank_record(record: list[str]) -> bool:
    """A CSV record from a blank line, or one of nothing but white space (pandas skips both)."""
    return not record or (len(record) == 1 and not record[0].strip())


def csv_width_problem(
    file: str, delimiter: str = ",", column_names: Sequence[str] | None = None
) -> str | None:
    """`<file>:<line>: ...` for the first record with more cells than the header (or than
    `column_names`, `data.csv_column_names` of a headerless file), or None."""
    with open_text(file) as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        previous, header = 0, list(column_names or ())
        width = len(header) if column_names else None
        try:
            for record in reader:
                start, previous = previous + 1, reader.line_num
                if is_blank_record(record):
                    continue
                if width is None:
                    width, header = len(record), record
                elif len(record) > width:
                    advice = other_delimiter(header) or "quote cells that hold the delimiter"
                    limit = "data.csv_column_names names" if column_names else "the header has"
                    return f"{file}:{start}: {len(record)} cells but {limit} {width} ({advice})"
        except csv.Error as err:
            return f"{file}:{reader.line_num}: {err}"
    return None


def other_delimiter(header: list[str]) -> str | None:
    """Advice for a CSV header read as one cell that another delimiter splits (a European
    spreadsheet's `text;label`): lab reads .csv as comma-separated, .tsv as tab-separated."""
    if len(header) != 1:
        return None
    found = next((d for d in (";", "|") if len(header[0].split(d)) > 1), None)
    if found is None:
        return None
    return (
        f"the header {header[0]!r} looks {found!r}-separated: lab reads .csv files as "
        "comma-separated and .tsv as tab-separated; save it with commas, e.g. "
        f"pandas.read_csv(path, sep={found!r}).to_csv(new_path, index=False)"
    )


def json_lines(file: str) -> list[int] | None:
    """The line of every row of a JSON Lines file (blank lines skipped, as the loader does);
    None for a JSON array file (its rows are not lines)."""
    numbers: list[int] = []
    with open_text(file) as handle:
        for number, line in enumerate(handle, start=1):
            stripped = line.strip()
            if not stripped:
                continue
            if not numbers and stripped.startswith("["):
                return None
            numbers.append(number)
    return numbers


def json_problem(file: str) -> str | None:
    """`<file>:<line>: ...` for the first line of a JSON Lines file that is not a JSON object;
    None when every line is one. A JSON array document is checked whole (line and column).

    A JSON Lines file is read line by line (it may be larger than memory, s28a M1); only a file
    that is not JSON Lines from its start (a JSON array, or one object over several lines) is
    read whole, as datasets itself reads such a document.
    """
    if _is_document(file):
        return _document_problem(file)
    with open_text(file) as handle:
        for number, line in enumerate(handle, start=1):
            problem = _line_problem(line)
            if problem:
                return f"{file}:{number}: {problem}"
    return None


def _line_problem(line: str) -> str | None:
    """Why one line of a JSON Lines file is not a row (a blank line is skipped: None)."""
    if not line.strip():
        return None
    try:  # without its line ending: json read it inside an unterminated string (s31g-5)
        value = json.loads(line.rstrip("\r\n"))
    except json.JSONDecodeError as err:
        return not_valid_json(err)
    if not isinstance(value, dict):
        return f"a JSON {_json_kind(value)}, not an object (one row per line)"
    return None


def _is_document(file: str) -> bool:
    """Whether `file` is one JSON document rather than JSON Lines, from its first two
    non-blank lines: an array, a first line that is not an object while the second is not one
    either (an object over several lines). A JSON Lines file whose first line is bad has
    objects on the lines after it."""
    seen: list[str] = []
    with open_text(file) as handle:
        for line in handle:
            if line.strip():
                seen.append(line)
            if len(seen) == 2:
                break
    if not seen or seen[0].lstrip().startswith("["):
        return bool(seen)
    return all(_line_problem(line) is not None for line in seen)


def _document_problem(file: str) -> str | None:
    """`json_problem` of a whole JSON document (read into memory, as the loader reads it)."""
    with open_text(file) as handle:
        lines = handle.readlines()
    text = "".join(lines)
    try:
        json.loads(text)
        return None  # one valid document: not a syntax problem
    except json.JSONDecodeError as whole:
        if text.lstrip().startswith("["):
            return f"{file}:{whole.lineno}: {not_valid_json(whole)}"
    for number, line in enumerate(lines, start=1):
        problem = _line_problem(line)
        if problem:
            return f"{file}:{number}: {problem}"
    return None


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "list" if isinstance(value, list) else "object"


def not_valid_json(err: json.JSONDecodeError) -> str:
    """`err` in lab's words: `not valid JSON (Expecting ',' delimiter, column 17)`,
    `not valid JSON (Unterminated string starting at column 26)`."""
    return f"not valid JSON ({json_reason(err.msg, f'column {err.colno}')})"


def json_reason(msg: str, where: str) -> str:
    """json's message `msg` (`JSONDecodeError.msg`) with its place `where` (`column 17`):
    json ends some messages with " at" before its own position ("Unterminated string starting
    at"), whose place is then the phrase's own (where the string starts), not a comma's."""
    return f"{msg} {where}" if msg.endswith(" at") else f"{msg}, {where}"
