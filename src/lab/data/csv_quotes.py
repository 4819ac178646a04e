"""How lab reads the cells of local .csv / .tsv files, and the quoting no CSV writer writes.

Two ways of writing such files meet in practice, and `data.csv_quoting` says which one a file
follows:

* `csv` (the default): cells are quoted the way CSV writers quote them (pandas' `to_csv`,
  spreadsheets, Python's `csv`): a cell holding the delimiter, a line break or a quote is
  wrapped in quotes, its own quotes doubled. Such a cell may span lines and is one row (a
  review of several paragraphs).
* `none`: quotes are text and every line is one row. GLUE's TSVs (SST-2, CoLA, MRPC's
  `msr_paraphrase_*.txt`) are written this way, and Hugging Face's glue loader reads them with
  `quoting=csv.QUOTE_NONE` for that reason.

Read under `csv`, a file of the second kind goes wrong silently wherever a cell starts with `"`:

* `" the deal is off , he said<TAB>1` opens a quoted cell that runs, line breaks and delimiters
  included, up to the next quote anywhere below: the rows in between become one giant row with
  the label of the last;
* `" We are doing well , " he said .` (MRPC's news sentences) closes its quote on the same line
  and goes on: pandas and Python's csv accept it and drop the quotes (` We are doing well ,  he
  said .`), so the model trains on text that differs from the file (and from the Hub's Parquet
  of the same dataset).

Both are quoting no CSV writer writes (a closing quote followed by anything but the delimiter
or the line's end, or a quote never closed), and Python's csv with `strict=True` raises on
exactly that. After loading (`check_quote_merges`), each file in which a cell starts with a
quote (a byte search, `opens_quoted_cell`: nothing to check in a file without one) is read
once more by a strict reader (`first_quoted_span`), record by record:

* the first record whose quoting no writer writes is refused, naming the file and its line(s),
  and the cell of a record on one line, with `data.csv_quoting=none`;
* in a .tsv file, a well-formed quoted cell over several lines that holds a tab may be a merge
  whose quote happened to close just before a tab, or a real cell (a pandas export of text with
  tabs): a warning names it and the setting, and the file is read as written.

Its cost, measured on a 200,000-row TSV of 8-30 word sentences (15 MB; AMD EPYC, 2 cores):
the strict pass 100-120 ms, where pandas parses the file in 25-30 ms and `datasets` reloads it
from its cache in 5-15 ms; a file without a cell that starts with a quote, 30-40 ms for the
byte search alone. `data.csv_quoting=none` reads nothing twice. A streamed split
(`data.streaming`) is scanned the same way when its stream is set up (`lab.data.stream_quotes`)
and `lab.predict` scans its input once before the model loads
(`lab.inference.input_quoting`).

Cells that read `NA`, `None`, `null`, `N/A` or `nan` are text (`csv_options`): pandas, which
`datasets` reads CSV with, would make them missing by default, and a title or a tweet may be
exactly that word. Only an empty cell is missing, as before, and is refused or warned about at
its line by the heads' own checks.
"""

from __future__ import annotations

import csv
import gzip
import itertools
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.data.origins import is_blank_record, open_text, other_delimiter
from lab.errors import ConfigError, DataError

log = logging.getLogger(__name__)

#: the values of `data.csv_quoting` (the default lives in conf/data/base/source.yaml)
QUOTINGS = ("csv", "none")
#: what they mean, said with a refusal of any other value
QUOTINGS_MEANING = (
    "csv: cells quoted as CSV writers quote them; none: quotes are text, one row per line"
)
#: how each value is read by pandas and Python's csv
READER_QUOTING = {"csv": csv.QUOTE_MINIMAL, "none": csv.QUOTE_NONE}
#: the advice every refusal of this module ends with
NONE_ADVICE = (
    "a file written without CSV quoting (as GLUE's TSVs are) is read with "
    "data.csv_quoting=none (quotes as text, one row per line)"
)
# the most characters of a cell a refusal shows
_SHOWN = 80


def delimiter_of(files: Iterable[str]) -> str:
    """The delimiter lab reads a split's CSV files with: a tab when any of them is a .tsv."""
    from lab.data.local_files import file_suffix

    return "\t" if any(file_suffix(Path(f)) == ".tsv" for f in files) else ","


def checked_quoting(value: str, where: str = "") -> str:
    """`value` when it is a `data.csv_quoting` value, else a `ConfigError` naming the valid
    ones (lab.predict's option and the data module alike); `where` says where the value came
    from (a run's config.yaml)."""
    if value not in READER_QUOTING:
        raise ConfigError(
            f"data.csv_quoting={value}{where} is not valid; valid: {', '.join(QUOTINGS)} "
            f"({QUOTINGS_MEANING})"
        )
    return value


def csv_options(
    files: Iterable[str], quoting: str = "csv", column_names: Sequence[str] | None = None
) -> dict[str, Any]:
    """The keyword arguments of `datasets`' csv builder for `files` under `data.csv_quoting`:
    the delimiter, the quoting, only empty cells as missing values (module docstring), and
    the names of a headerless file's columns (`data.csv_column_names`, `lab.data.csv_header`)."""
    checked_quoting(quoting)
    options: dict[str, Any] = {"keep_default_na": False, "na_values": [""]}
    if delimiter_of(files) == "\t":
        options["delimiter"] = "\t"
    if quoting == "none":
        options["quoting"] = csv.QUOTE_NONE
    if column_names:
        options["column_names"] = list(column_names)  # pandas' `names`: no header line
    return options


@dataclass(frozen=True)
class QuotedSpan:
    """A record of a CSV file whose quoting no CSV writer writes, or (`malformed` False) a
    well-formed quoted cell over several lines that holds tabs.

    Args:
        file: the file.
        start / end: its first and last line (1-based, as an editor counts them).
        closed: whether CSV quoting closes the cell at all (False: it runs to the file's end).
        malformed: its quoting is none a CSV writer writes.
        cell: the cell as written, for a record on one line (`start == end`) whose quote
            closes before more text; `read`: that cell as CSV quoting reads it.
    """

    file: str
    start: int
    end: int
    closed: bool
    malformed: bool
    cell: str | None = None
    read: str = ""

    def refusal(self) -> str:
        """The one line that refuses the file for this span."""
        if self.cell is not None:
            shown = self.cell if len(self.cell) <= _SHOWN else self.cell[: _SHOWN - 3] + "..."
            return (
                f'{self.file}:{self.start}: the cell {shown!r} starts with a quote (") that '
                "closes before more text, which no CSV writer writes: CSV quoting would read "
                f"it as {self.read!r}, its quotes dropped; {NONE_ADVICE}"
            )
        where = (
            f"that CSV quoting closes only on line {self.end}"
            if self.closed
            else f"that is never closed (line {self.end} ends the file)"
        )
        return (
            f'{self.file}:{self.start}: a quote (") opens a cell {where}, so lines '
            f"{self.start}-{self.end} would be read as one row; {NONE_ADVICE}"
        )

    def warning(self) -> str:
        """The warning for a well-formed quoted cell over several lines that holds tabs."""
        return (
            f"{self.file}:{self.start}: a quoted cell runs over lines {self.start}-{self.end} "
            "and holds tabs, read as one row; if the file is not CSV-quoted (GLUE's TSVs are "
            "not), those lines are rows merged by a quote: set data.csv_quoting=none"
        )


def check_quote_merges(data_files: Mapping[str, list[str]], headless: Iterable[str] = ()) -> None:
    """Refuse a split whose CSV file holds quoting no writer writes, or warn about a cell
    that may be rows merged by a quote (module docstring); `data_files` were read under
    `data.csv_quoting=csv`, the splits in `headless` by `data.csv_column_names` (their first
    line is a row)."""
    delimiter = delimiter_of(f for files in data_files.values() for f in files)
    checked: set[str] = set()
    for split, files in data_files.items():
        for file in files:
            if file not in checked:
                checked.add(file)
                check_file_quotes(file, delimiter, header=split not in headless)


def check_file_quotes(
    file: str,
    delimiter: str,
    header: bool = True,
    max_lines: int | None = None,
    warn: bool = True,
) -> None:
    """Refuse `file` for quoting no CSV writer writes, or warn about a quoted .tsv cell over
    several lines with tabs (`first_quoted_span`); a file in which no cell starts with a quote
    is not read (`opens_quoted_cell`). `header`: its first line is a header, not a row.
    `max_lines`: only the file's first lines are read (a stream's head: no byte search of
    the whole file first); `warn`: False says nothing of a well-formed spanning cell."""
    if max_lines is None and not opens_quoted_cell(file, delimiter):
        return
    span = first_quoted_span(file, delimiter, header, max_lines)
    if span is None:
        return
    if span.malformed:
        raise DataError(span.refusal())
    if warn:
        log.warning("%s", span.warning())


def opens_quoted_cell(file: str, delimiter: str) -> bool:
    """Whether a cell of `file` starts with a quote (at a line's start or after `delimiter`):
    where none does, CSV quoting reads every quote as text and there is nothing to check. A
    byte search, block by block (about 1 ms per MB)."""
    starts = (b'\n"', delimiter.encode() + b'"')
    opener: Any = gzip.open if file.endswith(".gz") else open
    with opener(file, "rb") as handle:
        previous = b"\n"  # the file's start counts as a line's
        while block := handle.read(1 << 20):
            if previous == b"\n" and block.startswith(b"\xef\xbb\xbf"):  # a byte-order mark
                block = block[3:]
            joined = previous + block
            if any(start in joined for start in starts):
                return True
            if b"\r" in joined and b'\r"' in joined:  # old Mac line ends: rare, searched last
                return True
            previous = block[-1:]
    return False


def first_quoted_span(
    file: str, delimiter: str, header: bool = True, max_lines: int | None = None
) -> QuotedSpan | None:
    """The first record of `file` whose quoting no CSV writer writes (Python's strict reader
    refuses it); else the first (in a .tsv file) whose quoted cell spans lines and holds a
    tab; else None. A file whose header another delimiter splits (`text;label`) is left to
    the refusal that says so: its quotes are misread for that reason. `header`: the first line
    is a header (False under `data.csv_column_names`: a row, checked as any other);
    `max_lines`: the records that start within the file's first `max_lines` lines only."""
    suspect: QuotedSpan | None = None
    with open_text(file) as handle, _fields_unlimited():
        reader = csv.reader(handle, delimiter=delimiter, strict=True)
        previous, pending = 0, header
        try:
            for record in reader:
                if max_lines is not None and previous >= max_lines:
                    break
                start, previous = previous + 1, reader.line_num
                if pending and not is_blank_record(record):
                    pending = False
                    if other_delimiter(record):  # ';'-separated: refused for that
                        return None
                if previous == start or suspect is not None or delimiter != "\t":
                    continue  # one line, or a spanning cell already found (malformed next)
                if any("\t" in cell and ("\n" in cell or "\r" in cell) for cell in record):
                    suspect = QuotedSpan(file, start, previous, closed=True, malformed=False)
        except csv.Error as err:
            closed = "expected after" in str(err)  # a quote closed before more text
            if not closed and "end of data" not in str(err):  # nor one never closed
                return suspect  # (a NUL byte before Python 3.11): the loader's errors say
            start, end = previous + 1, reader.line_num
            cell = _malformed_cell(file, start, delimiter) if start == end and closed else None
            read = next(csv.reader([cell], delimiter=delimiter))[0] if cell else ""
            return QuotedSpan(file, start, end, closed, malformed=True, cell=cell, read=read)
    return suspect


def _malformed_cell(file: str, number: int, delimiter: str) -> str | None:
    """The cell of line `number` whose quote closes before more text, as written: the first
    cell that opens with a quote and is followed, after its closing quote (`""` is a quote
    inside it), by anything but the delimiter or the line's end."""
    with open_text(file) as handle:
        line = next(itertools.islice(handle, number - 1, None), "")
    line = line.rstrip("\r\n")
    at = 0
    while at < len(line):
        if line[at] != '"':  # an unquoted cell: its quotes are text
            found = line.find(delimiter, at)
            if found < 0:
                return None
            at = found + 1
            continue
        close = at + 1
        while (close := line.find('"', close)) >= 0 and line.startswith('""', close):
            close += 2
        if close < 0:
            return None
        end = line.find(delimiter, close + 1)
        if close + 1 < len(line) and line[close + 1] != delimiter:
            return line[at : end if end >= 0 else len(line)]
        at = close + 2
    return None


@contextmanager
def _fields_unlimited() -> Iterator[None]:
    """Python's csv refuses a cell over 128 KiB; a quote that merged thousands of rows makes
    one, and pandas has no such limit. The limit is process-wide: restored on exit."""
    saved = csv.field_size_limit(2**31 - 1)  # a C long on every platform
    try:
        yield
    finally:
        csv.field_size_limit(saved)


def unquoted_width_problem(
    file: str, delimiter: str, column_names: Sequence[str] | None = None
) -> str | None:
    """`<file>:<line>: ...` for the first line with more cells than the header (or than
    `data.csv_column_names` names, for a headerless file) when quotes are text
    (`data.csv_quoting=none`), or None."""
    with open_text(file) as handle:
        reader = csv.reader(handle, delimiter=delimiter, quoting=csv.QUOTE_NONE)
        width = len(column_names) if column_names else None
        limit = "data.csv_column_names names" if column_names else "the header has"
        try:
            for record in reader:
                if is_blank_record(record):
                    continue
                if width is None:
                    width = len(record)
                elif len(record) > width:
                    return (
                        f"{file}:{reader.line_num}: {len(record)} cells but {limit} "
                        f"{width} (data.csv_quoting=none reads quotes as text, so no cell can "
                        "hold the delimiter; a file that quotes such cells is read with "
                        "data.csv_quoting=csv)"
                    )
        except csv.Error as err:
            return f"{file}:{reader.line_num}: {err}"
    return None
