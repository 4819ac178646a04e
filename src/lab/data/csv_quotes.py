"""How lab reads the cells of local .csv / .tsv files, and the rows an unclosed quote merges.

Two ways of writing such files meet in practice, and `data.csv_quoting` says which one a file
follows:

* `csv` (the default): cells are quoted the way CSV writers quote them (pandas' `to_csv`,
  spreadsheets, Python's `csv`): a cell holding the delimiter, a line break or a quote is
  wrapped in quotes, its own quotes doubled. Such a cell may span lines and is one row (a
  review of several paragraphs).
* `none`: quotes are text and every line is one row. GLUE's TSVs (SST-2, CoLA, MRPC's
  `msr_paraphrase_*.txt`) are written this way, and Hugging Face's glue loader reads them with
  `quoting=csv.QUOTE_NONE` for that reason.

Read under `csv`, a file of the second kind whose sentence starts with `"` (`" the deal is off ,
he said<TAB>1`) opens a quoted cell that runs, line breaks and delimiters included, up to the
next quote anywhere below: the rows in between become one giant row with the label of the last.
Nothing fails; rows are simply gone. So after loading (`check_quote_merges`), a split that holds
a cell with a line break and the delimiter (what such a merge leaves in its cell, short of a
two-line merge opened in the last column; cheap to look for) has its file read again with
Python's `csv`, record by record:

* a record over several lines whose quoting no CSV writer writes (a quote that closes and is not
  followed by the delimiter or the line's end, or one never closed) is a merge: refused, naming
  the line where the quote opens, the line where it closes and `data.csv_quoting=none`;
* in a .tsv file, a well-formed quoted cell over several lines that holds a tab may be a merge
  whose quote happened to close just before a tab, or a real cell (a pandas export of text with
  tabs): a warning names it and the setting, and the file is read as written.

A comma in a multi-line cell is ordinary text (`"Great phone,\\nwould buy again"`), so a .csv
file is refused only for quoting no writer produces. A streamed split (`data.streaming`) is
never held whole: its rows get the same test as they are read (`lab.data.stream_quotes`).

Cells that read `NA`, `None`, `null`, `N/A` or `nan` are text (`csv_options`): pandas, which
`datasets` reads CSV with, would make them missing by default, and a title or a tweet may be
exactly that word. Only an empty cell is missing, as before, and is refused or warned about at
its line by the heads' own checks.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab.data.origins import is_blank_record, open_text, other_delimiter
from lab.errors import ConfigError, DataError

if TYPE_CHECKING:
    from datasets import Dataset

log = logging.getLogger(__name__)

#: the values of `data.csv_quoting` (the default lives in conf/data/base/source.yaml)
QUOTINGS = ("csv", "none")
#: what they mean, said with a refusal of any other value
QUOTINGS_MEANING = (
    "csv: cells quoted as CSV writers quote them; none: quotes are text, one row per line"
)
#: how each value is read by pandas and Python's csv
READER_QUOTING = {"csv": csv.QUOTE_MINIMAL, "none": csv.QUOTE_NONE}


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


def csv_options(files: Iterable[str], quoting: str = "csv") -> dict[str, Any]:
    """The keyword arguments of `datasets`' csv builder for `files` under `data.csv_quoting`:
    the delimiter, the quoting, and only empty cells as missing values (module docstring)."""
    checked_quoting(quoting)
    options: dict[str, Any] = {"keep_default_na": False, "na_values": [""]}
    if delimiter_of(files) == "\t":
        options["delimiter"] = "\t"
    if quoting == "none":
        options["quoting"] = csv.QUOTE_NONE
    return options


@dataclass(frozen=True)
class QuotedSpan:
    """A record of a CSV file that a quoted cell stretches over several lines.

    Args:
        file: the file.
        start / end: its first and last line (1-based, as an editor counts them).
        closed: whether CSV quoting closes the cell at all (False: it runs to the file's end).
        malformed: its quoting is none a CSV writer writes: rows merged by a stray quote.
    """

    file: str
    start: int
    end: int
    closed: bool
    malformed: bool

    def refusal(self) -> str:
        """The one line that refuses the file for this span."""
        where = (
            f"that CSV quoting closes only on line {self.end}"
            if self.closed
            else f"that is never closed (line {self.end} ends the file)"
        )
        return (
            f'{self.file}:{self.start}: a quote (") opens a cell {where}, so lines '
            f"{self.start}-{self.end} would be read as one row; a file written without CSV "
            "quoting (as GLUE's TSVs are) is read with data.csv_quoting=none (quotes as text, "
            "one row per line)"
        )

    def warning(self) -> str:
        """The warning for a well-formed quoted cell over several lines that holds tabs."""
        return (
            f"{self.file}:{self.start}: a quoted cell runs over lines {self.start}-{self.end} "
            "and holds tabs, read as one row; if the file is not CSV-quoted (GLUE's TSVs are "
            "not), those lines are rows merged by a quote: set data.csv_quoting=none"
        )


def check_quote_merges(loaded: Mapping[str, Dataset], data_files: Mapping[str, list[str]]) -> None:
    """Refuse a split whose CSV file had rows merged by an unclosed quote, or warn about a
    cell that may be such a merge (module docstring); `loaded` is what `datasets` read from
    `data_files` under `data.csv_quoting=csv`."""
    delimiter = delimiter_of(f for files in data_files.values() for f in files)
    warned = set()
    for split, files in data_files.items():
        if split not in loaded or not has_spanning_cells(loaded[split], delimiter):
            continue
        for file in files:
            span = first_quoted_span(file, delimiter)
            if span is None:
                continue
            if span.malformed:
                raise DataError(span.refusal())
            if file not in warned:
                warned.add(file)
                log.warning("%s", span.warning())


def has_spanning_cells(dataset: Dataset, delimiter: str) -> bool:
    """Whether a text cell of `dataset` holds a line break and `delimiter`: what a quote that
    merged rows leaves in its cell (the rows' own delimiters and line ends)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for column in dataset.data.table.columns:  # the Arrow table under datasets' wrapper
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            continue
        broken = pc.match_substring_regex(column, r"[\r\n]")
        held = pc.match_substring(column, delimiter)
        if pc.any(pc.and_kleene(broken, held)).as_py():
            return True
    return False


def first_quoted_span(file: str, delimiter: str) -> QuotedSpan | None:
    """The first record of `file` whose cells span lines and whose quoting no CSV writer
    writes; else the first (in a .tsv file) whose spanning cell holds a tab; else None. A file
    whose header another delimiter splits (`text;label`) is left to the refusal that says so:
    its quotes are misread for that reason."""
    raw: list[str] = []

    def lines(handle: Iterable[str]) -> Iterator[str]:
        for line in handle:  # the reader takes one line at a time: `raw` is its record
            raw.append(line)
            yield line

    suspect: QuotedSpan | None = None
    header: list[str] | None = None
    with open_text(file) as handle, _fields_unlimited():
        reader = csv.reader(lines(handle), delimiter=delimiter)
        previous = 0
        try:
            for record in reader:
                start, previous = previous + 1, reader.line_num
                text = "".join(raw)
                raw.clear()
                if previous == start or is_blank_record(record):
                    if header is None and not is_blank_record(record):
                        header = record
                        if other_delimiter(header):  # ';'-separated: refused for that
                            return None
                    continue
                problem = _strict_problem(text, delimiter)
                if problem is not None:
                    closed = "end of data" not in problem
                    return QuotedSpan(file, start, previous, closed, malformed=True)
                spanning = [cell for cell in record if "\n" in cell or "\r" in cell]
                if suspect is None and delimiter == "\t" and any("\t" in c for c in spanning):
                    suspect = QuotedSpan(file, start, previous, closed=True, malformed=False)
        except csv.Error:  # a NUL byte: the loader's own errors say what is wrong
            return suspect
    return suspect


@contextmanager
def _fields_unlimited() -> Iterator[None]:
    """Python's csv refuses a cell over 128 KiB; a quote that merged thousands of rows makes
    one, and pandas has no such limit. The limit is process-wide: restored on exit."""
    saved = csv.field_size_limit(2**31 - 1)  # a C long on every platform
    try:
        yield
    finally:
        csv.field_size_limit(saved)


def _strict_problem(text: str, delimiter: str) -> str | None:
    """Why Python's strict CSV reader refuses the record `text`, or None: a quote that closes
    before anything but the delimiter or the line's end, or one never closed."""
    try:
        for _ in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True):
            pass
    except csv.Error as err:
        return str(err)
    return None


def unquoted_width_problem(file: str, delimiter: str) -> str | None:
    """`<file>:<line>: ...` for the first line with more cells than the header when quotes are
    text (`data.csv_quoting=none`), or None."""
    with open_text(file) as handle:
        reader = csv.reader(handle, delimiter=delimiter, quoting=csv.QUOTE_NONE)
        width = None
        try:
            for record in reader:
                if is_blank_record(record):
                    continue
                if width is None:
                    width = len(record)
                elif len(record) > width:
                    return (
                        f"{file}:{reader.line_num}: {len(record)} cells but the header has "
                        f"{width} (data.csv_quoting=none reads quotes as text, so no cell can "
                        "hold the delimiter; a file that quotes such cells is read with "
                        "data.csv_quoting=csv)"
                    )
        except csv.Error as err:
            return f"{file}:{reader.line_num}: {err}"
    return None
