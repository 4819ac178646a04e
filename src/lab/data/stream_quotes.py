"""Quoting no CSV writer writes in a streamed CSV/TSV file (`data.streaming=true`).

A map-style load checks each whole file once it is read (`lab.data.csv_quotes.
check_quote_merges`). A stream is never held whole, and a file larger than memory is not read
through before the first step (a 10 GB file would cost a minute or more), so a stream gets two
checks instead:

* **its head, at setup**: the first `HEAD_LINES` lines of each local CSV file it reads are read
  by Python's strict CSV reader (`check_file_quotes`; ~0.1 s per 200,000 lines), so a cell
  whose quote closes before more text (GLUE's `" We are doing well , " he said .`, whose quotes
  CSV quoting would drop) or rows a quote merged are refused before any row is trained on
  (a well-formed multi-line cell is left to the next check, which warns once);
* **every row, as it is read**: the cheap test of the map-style path, a text cell holding a line
  break and the delimiter (what a quote that merged rows leaves in its cell), as a `map` over the
  stream (`RowCheck`), so it covers what setup reads (validation/test, the train sample) and
  every row streamed after them. Only when it fires is that source's file read whole, once,
  record by record: merged rows are refused with the map-style path's message, a quoted
  multi-line cell with tabs in a .tsv is warned about once, a well-formed one (pandas'
  multi-line cells) passes quietly.

What a stream does not see: a cell past the head whose quote closes before more text, with no
merged row after it (its quotes are dropped and nothing in the read row shows it). Such a file
is refused by the same setting trained without streaming, or by `lab.inspect`.

Hub streams, non-CSV files and `data.csv_quoting=none` (quotes are text: nothing to check) are
not watched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lab.data.csv_quotes import check_file_quotes, delimiter_of
from lab.data.local_files import local_data_files

if TYPE_CHECKING:
    from datasets import IterableDataset

    from lab.data.sources import Source

# Lines of each streamed file read at setup: ~0.1 s, whatever the file's size.
HEAD_LINES = 200_000
# Rows per test: the stream pipeline's own batch (`lab.data.streaming`), so reading a few
# rows at setup reads no further ahead than the stream already does.
_BATCH = 1000


class QuoteWatch:
    """The quote checks of every local CSV stream of one data module; files already checked
    are remembered across its streams (setup's reads and the train stream), so a file is
    read, and warned about, at most once per check."""

    def __init__(self) -> None:
        self.headed: set[str] = set()
        self.scanned: set[str] = set()
        self._files: dict[tuple[str, str | None], tuple[str, dict[str, list[str]]] | None] = {}

    def watch(self, stream: IterableDataset, source: Source, split: str) -> IterableDataset:
        """`stream` (the rows of `source`'s `split`), its files' heads checked, with the row
        test on every batch it reads; as is for a Hub source, non-CSV files and
        `data.csv_quoting=none`."""
        found = self._csv_files(source)
        if found is None or split not in found[1]:
            return stream
        delimiter, files = found
        header = not source.csv_column_names
        for file in files[split]:
            if file not in self.headed:
                self.headed.add(file)
                check_file_quotes(file, delimiter, header, max_lines=HEAD_LINES, warn=False)
        check = RowCheck(self, files[split], delimiter, header)
        return stream.map(check, batched=True, batch_size=_BATCH)

    def scan(self, files: list[str], delimiter: str, header: bool = True) -> None:
        """Check `files` whole (those not yet checked): refuse quoting no CSV writer writes,
        warn about a .tsv cell with tabs over several lines."""
        for file in files:
            if file not in self.scanned:
                self.scanned.add(file)
                check_file_quotes(file, delimiter, header)

    def _csv_files(self, source: Source) -> tuple[str, dict[str, list[str]]] | None:
        """(delimiter, {split: files}) of a local CSV source read with CSV quoting, else None;
        the delimiter is the one its stream is read with (`csv_options`: any .tsv, a tab)."""
        if not source.path or source.csv_quoting != "csv":
            return None
        key = (str(source.path), source.hub_config)
        if key not in self._files:
            builder, files = local_data_files(source.path, source.hub_config)
            every = [file for group in files.values() for file in group]
            self._files[key] = (delimiter_of(every), dict(files)) if builder == "csv" else None
        return self._files[key]


class RowCheck:
    """The `map` function of a watched stream: rows pass unchanged; a batch with a suspicious
    cell has its source's files checked whole (`QuoteWatch.scan`)."""

    def __init__(self, watch: QuoteWatch, files: list[str], delimiter: str, header: bool) -> None:
        self.watch = watch
        self.files = files
        self.delimiter = delimiter
        self.header = header

    def __call__(self, batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        unscanned = any(file not in self.watch.scanned for file in self.files)
        if unscanned and spanning(batch, self.delimiter):  # scanned files: nothing to test
            self.watch.scan(self.files, self.delimiter, self.header)
        return {}  # no column changed: the batch goes on as read


def spanning(batch: dict[str, list[Any]], delimiter: str) -> bool:
    """Whether a text cell of `batch` holds a line break and `delimiter` (the test of
    `csv_quotes.has_spanning_cells`, on a streamed batch: its columns may mix types)."""
    for values in batch.values():
        for value in values:
            if isinstance(value, str) and delimiter in value and ("\n" in value or "\r" in value):
                return True
    return False
