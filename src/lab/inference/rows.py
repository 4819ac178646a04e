"""Stream prediction inputs and outputs row by row (never the whole file in memory).

Inputs: `.jsonl` (one JSON object per line; blank lines skipped), `.csv` / `.tsv` (a header
row, or `data.csv_column_names` naming a headerless file's columns), `.txt` (one text per
line, as the predictor's first field; blank lines skipped), `.parquet` (a batch of rows at a
time, numbered from 1 where the text formats give lines).
Outputs: `.jsonl` (one object per input row) or `.csv` (nested values written as JSON). Every
row comes with its line in the input, the line a text editor shows (a CSV header is line 1; a
record with quoted line breaks is named by its first line), as training data errors name rows.
CSV/TSV cells are read by `data.csv_quoting` (`quoting`, `lab.data.csv_quotes`) as training
reads them: quoted as CSV writers quote them (`csv`) or quotes as text, one row per line (`none`);
a word (`NA`, `null`) is text, only an empty cell is missing (`lab.inference.input_quoting`).
A row that cannot be read becomes an error entry that names it; reading goes on. Text files
must be UTF-8, as training requires: a line with another byte is such an error row, naming the
byte and its column (a CSV header with one refuses the whole file: no row's fields could be
trusted). The blank lines skipped are counted for the summary (`read_rows`'s `on_blank`).
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from lab.data.origins import is_blank_record, not_valid_json
from lab.errors import DataError

INPUT_SUFFIXES = (".jsonl", ".csv", ".tsv", ".txt", ".parquet")
TEXT_SUFFIXES = (".jsonl", ".csv", ".tsv", ".txt")  # also read gzipped: `.csv.gz`
OUTPUT_SUFFIXES = (".jsonl", ".csv")


class RowError(str):
    """A row that could not be read: the reason, in words. `kept` holds what its output row
    keeps all the same: the input's `id`, when the row was read but cannot be used (a
    mapped column missing), so every output row can be joined back to its input. `read`: a
    row with a byte that is not UTF-8, read with each such byte as U+FFFD (`replaced`), for
    its id only (s31g-4: its output row had lost it); None for other errors."""

    kept: dict[str, Any]
    read: dict[str, Any] | None

    def __new__(
        cls, reason: str, kept: dict[str, Any] | None = None, read: dict[str, Any] | None = None
    ) -> RowError:
        error = super().__new__(cls, reason)
        error.kept = dict(kept or {})
        error.read = read
        return error


def _check_suffix(path: Path, allowed: tuple[str, ...], what: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in allowed:
        raise DataError(f"{what} {path} must end in one of {', '.join(allowed)}")
    return suffix


def input_kind(path: Path) -> str:
    """The kind of an input file by its name: `.jsonl`, `.csv`, `.tsv`, `.txt`, `.parquet`,
    the text kinds also gzipped (`reviews.csv.gz`, read as training reads it)."""
    suffixes = [s.lower() for s in path.suffixes[-2:]]
    if len(suffixes) == 2 and suffixes[1] == ".gz" and suffixes[0] in TEXT_SUFFIXES:
        return suffixes[0]
    return _check_suffix(path, INPUT_SUFFIXES, "input file")


def csv_delimiter(path: Path) -> str | None:
    """The delimiter of a `.csv` / `.tsv` input (gzipped too), or None for other kinds."""
    return {".csv": ",", ".tsv": "\t"}.get(input_kind(path))


def open_input(path: str | Path) -> Path:
    """Check that `path` is a readable, non-empty input file of a known kind."""
    path = Path(path)
    if path.is_dir():  # else said not to exist, or refused for its name
        raise DataError(f"input file {path} is a directory, not a file")
    input_kind(path)
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
    if input_kind(path) == ".parquet":
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
    path: Path,
    text_field: str = "text",
    quoting: str = "csv",
    column_names: Sequence[str] | None = None,
    on_blank: Callable[[int], None] | None = None,
) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    """Yield (line, row) for each input row: the row as a dict, or a `RowError` saying why it
    cannot be parsed. A `.txt` line becomes `{text_field: line}`; CSV/TSV cells are read by
    `quoting` (`data.csv_quoting`: `csv` or `none`), their columns named by the header or by
    `column_names` (`data.csv_column_names`: the file has no header line). A blank line is no
    row: `on_blank` is called with its number."""
    suffix = input_kind(path)
    if suffix == ".parquet":
        number = 0
        for batch in _parquet(path).iter_batches(batch_size=1024):
            for row in batch.to_pylist():
                number += 1
                yield number, row
        return
    with _open_text(path) as handle:
        if suffix in (".txt", ".jsonl"):
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    if on_blank is not None:
                        on_blank(number)
                    continue  # a blank line is no row (as the training loader reads JSON Lines)
                problem = bad_byte(line)
                if problem:
                    read = _json_row(replaced(line)) if suffix == ".jsonl" else None
                    row = read if isinstance(read, dict) else None  # not a RowError
                    yield number, RowError(utf8_message(problem), read=row)
                elif suffix == ".txt":
                    yield number, {text_field: line.rstrip("\r\n")}
                else:
                    yield number, _json_row(line)
        else:
            delimiter = "\t" if suffix == ".tsv" else ","
            yield from _csv_rows(path, handle, delimiter, quoting, column_names, on_blank)


def _open_text(path: Path) -> IO[str]:
    # Undecodable bytes become lone surrogates (U+DC80-U+DCFF), which valid UTF-8 never
    # decodes to: `bad_byte` finds them line by line, so one bad line does not stop the file
    # and nothing is read whole. Universal line splitting, untranslated (`newline=""`), as
    # the csv module requires. `utf-8-sig` drops a byte-order mark at the start (Excel's
    # "CSV UTF-8" writes one), which would otherwise stick to the first column's name.
    if path.suffix.lower() == ".gz":
        import gzip

        return gzip.open(path, "rt", newline="", encoding="utf-8-sig", errors="surrogateescape")
    return path.open(newline="", encoding="utf-8-sig", errors="surrogateescape")


def bad_byte(line: str) -> str | None:
    """The first byte of `line` that was not UTF-8 (read by `_open_text`), with its column
    (1-based, in characters as an editor counts them), or None."""
    for column, char in enumerate(line, start=1):
        if "\udc80" <= char <= "\udcff":
            return f"byte 0x{ord(char) - 0xDC00:02x} at column {column}"
    return None


# A row's advice for a byte that is not UTF-8; a refusal of the whole file says how
# (`lab.data.text_encoding.reencode_advice`), once.
ROW_REENCODE = "re-encode the file as UTF-8"


def utf8_message(problem: str, advice: str = ROW_REENCODE) -> str:
    """A row's error for a non-UTF-8 byte (`bad_byte`), with what to do about it (`advice`;
    `lab.serve`'s body: `lab.inference.body_encoding`)."""
    return f"not valid UTF-8 ({problem}); {advice}"


def replaced(text: str) -> str:
    """`text` (read by `_open_text`) with each byte that was not UTF-8 as U+FFFD, as
    `errors="replace"` decodes it."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _json_row(line: str) -> dict[str, Any] | RowError:
    try:  # without its line ending: json read it inside an unterminated string (s31g-5)
        value = json.loads(line.rstrip("\r\n"))
    except json.JSONDecodeError as err:
        return RowError(not_valid_json(err))
    if isinstance(value, dict):
        return value
    return RowError(f"a JSON {type(value).__name__}, not an object")


class _CheckedLines:
    """The lines of a text handle, counted, with the first bad byte of each (`bad_byte`)
    kept by line number: a CSV record may span lines."""

    def __init__(self, handle: IO[str]) -> None:
        self.handle = handle
        self.number = 0
        self.bad: dict[int, str] = {}
        self.last = ""  # the last line read: a record of one line is told blank by it

    def __iter__(self) -> _CheckedLines:
        return self

    def __next__(self) -> str:
        line = next(self.handle)
        self.number += 1
        self.last = line
        problem = bad_byte(line)
        if problem:
            self.bad[self.number] = problem
        return line

    def problem(self, first: int, last: int) -> str | None:
        """The first bad byte on lines `first`..`last` (its line named when not `first`);
        forgets those lines, so memory stays bounded by a record."""
        found = None
        for number in range(first, last + 1):
            problem = self.bad.pop(number, None)
            if problem and found is None:
                where = "" if number == first else f"line {number}, "
                found = problem.replace("at column", f"at {where}column", 1)
        return found


def _csv_rows(
    path: Path,
    handle: IO[str],
    delimiter: str,
    quoting: str = "csv",
    column_names: Sequence[str] | None = None,
    on_blank: Callable[[int], None] | None = None,
) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    """(first line, row) of each CSV record read by `quoting`; the header (none where
    `column_names` name the columns) and blank lines skipped (as training reads CSV; not a
    quoted cell of white space; `on_blank` is called with the line's number), a record with
    fewer cells than the header padded with None."""
    lines = _CheckedLines(handle)
    unquoted = quoting == "none"  # quotes are text: every line is one record
    reader = csv.reader(
        lines, delimiter=delimiter, quoting=csv.QUOTE_NONE if unquoted else csv.QUOTE_MINIMAL
    )
    header: list[str] | None = list(column_names) if column_names else None
    width = "data.csv_column_names names" if column_names else "the header has"
    previous = 0
    try:
        for record in reader:
            start, previous = previous + 1, reader.line_num
            problem = lines.problem(start, previous)
            # A blank line is skipped; a quoted cell of spaces (`"  "`) is a row, whose empty
            # text gets its error entry (csv.reader gives both as ['  ']).
            if is_blank_record(record) and (start != previous or '"' not in lines.last):
                if on_blank is not None:
                    on_blank(start)
                continue
            if problem and header is None:
                from lab.data.text_encoding import reencode_advice

                advice = reencode_advice(str(path), "the file")
                raise DataError(
                    f"{path}:{start}: the header is not valid UTF-8 ({problem}); {advice}"
                )
            if problem:
                cells = [replaced(cell) for cell in record]  # for the row's id (`RowError`)
                fits = header is not None and len(cells) <= len(header)
                read = dict(itertools.zip_longest(header or [], cells)) if fits else None
                yield start, RowError(utf8_message(problem), read=read)
            elif header is None:
                header = record
            elif len(record) > len(header):
                yield start, RowError(f"{len(record)} cells but {width} {len(header)}")
            else:
                yield start, dict(itertools.zip_longest(header, record))
    except csv.Error as err:  # e.g. an unterminated quote: nothing after it can be read
        yield previous + 1, RowError(f"not valid CSV ({err}); the rest of the file is unread")


def count_rows(path: Path, quoting: str = "csv", column_names: Sequence[str] | None = None) -> int:
    """Rows in the file, as `read_rows` yields them (a streaming pass; for the progress bar)."""
    suffix = input_kind(path)
    if suffix == ".parquet":
        return int(_parquet(path).metadata.num_rows)
    with _open_text(path) as handle:
        if suffix in (".csv", ".tsv"):  # counted as `_csv_rows` yields them
            delimiter = "\t" if suffix == ".tsv" else ","
            return sum(1 for _ in _csv_rows(path, handle, delimiter, quoting, column_names))
        return sum(1 for line in handle if line.strip())  # JSON Lines and text: blanks skipped


def check_output(path: Path) -> Path:
    """Refuse an output file of an unknown kind, or one that cannot be written (a folder, a
    read-only place, a file where a folder would be), before any model is loaded."""
    from lab.tool_outputs import check_output as check_writable

    _check_suffix(path, OUTPUT_SUFFIXES, "output file")
    return check_writable(path)


def partial_path(path: Path) -> Path:
    """Where an interrupted prediction keeps the rows it wrote: `pred.partial.jsonl` for
    `pred.jsonl` (still a file of the output's kind)."""
    return path.with_name(f"{path.stem}.partial{path.suffix}")


class RowWriter:
    """Write result rows to `.jsonl` or `.csv` as they come (atomic: a temp file, renamed).

    `fields` is the CSV header (JSON Lines rows carry their own keys). Interrupted (Ctrl-C,
    SIGTERM: `lab.tool_interrupts`), the rows written so far are kept in `partial` when given
    (`kept` names it then); the target is never written but whole. `rows`: rows written.
    """

    def __init__(self, path: str | Path, fields: list[str], partial: Path | None = None) -> None:
        from lab.run_dir.disk import writing

        self.path = Path(path)
        self.fields = fields
        self.partial = partial
        self.kept: Path | None = None
        self.rows = 0
        self.suffix = _check_suffix(self.path, OUTPUT_SUFFIXES, "output file")
        self._tmp = self.path.with_name(self.path.name + ".tmp")
        with writing(self.path):  # a full disk, a read-only folder: one line naming the output
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle: IO[str] = self._tmp.open("w", newline="", encoding="utf-8")
        self._csv: csv.DictWriter[str] | None = None

    def write(self, row: dict[str, Any]) -> None:
        """Append one result row."""
        if self.suffix == ".jsonl":
            self._handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            flat = {
                k: v if isinstance(v, str | int | float) else json.dumps(v) for k, v in row.items()
            }
            if self._csv is None:
                self._csv = csv.DictWriter(
                    self._handle, fieldnames=self.fields, extrasaction="ignore"
                )
                self._csv.writeheader()
            self._csv.writerow(flat)
        self.rows += 1

    def close(self) -> None:
        """Finish the file (rename the temp file over the target)."""
        from lab.run_dir.disk import writing

        with writing(self.path):
            self._handle.close()
            self._tmp.replace(self.path)

    def __enter__(self) -> RowWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, *_: object
    ) -> None:
        from lab.run_dir.disk import DISK_ERRNOS, disk_error
        from lab.tool_interrupts import signal_of

        if error is None:
            self.close()
            return
        with contextlib.suppress(OSError):  # a full disk: the error being raised says so
            self._handle.close()
        if self.partial is not None and self.rows and signal_of(error) is not None:
            with contextlib.suppress(OSError):
                # The rows the file holds, counted from it: the signal may land between a
                # row's write and its count (the note said 266 rows of a file of 267).
                self.rows = _rows_in(self._tmp, self.suffix)
                self._tmp.replace(self.partial)  # whole rows only: each is one write call
                self.kept = self.partial
        self._tmp.unlink(missing_ok=True)
        if isinstance(error, OSError) and error.errno in DISK_ERRNOS:  # not the input's errors
            fault = disk_error(error, path=self.path)
            if fault is not None:
                raise fault from error


def _rows_in(path: Path, suffix: str) -> int:
    """The result rows a `RowWriter` file holds: its JSON lines, or its CSV records less the
    header (a quoted cell may hold a line break)."""
    with path.open(newline="", encoding="utf-8") as handle:
        if suffix == ".jsonl":
            return sum(1 for line in handle if line.strip())
        return max(sum(1 for _ in csv.reader(handle)) - 1, 0)
