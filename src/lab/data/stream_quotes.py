"""Rows merged by a stray quote in a streamed CSV/TSV file (`data.streaming=true`).

A map-style load checks a whole split once it is read (`lab.data.csv_quotes.check_quote_merges`);
a stream is never held whole, and a file larger than memory is not scanned up front. Instead
every row is tested as it is read, by the same cheap test: a text cell holding a line break and
the delimiter, what a quote that merged rows leaves in its cell. The test is a `map` over each
local CSV source's stream (`QuoteWatch.watch`), so it covers what setup reads into memory
(validation/test, the train sample) and every row streamed after them alike. Only when it fires
is that source's file read record by record (`first_quoted_span`, once per file): rows merged
by a quote are refused with the map-style path's message, a quoted multi-line cell with tabs
in a .tsv is warned about once, a well-formed one (pandas' multi-line cells) passes quietly.

Hub streams, non-CSV files and `data.csv_quoting=none` (quotes are text: nothing merges) are
not watched.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from lab.data.csv_quotes import delimiter_of, first_quoted_span
from lab.data.local_files import local_data_files
from lab.errors import DataError

if TYPE_CHECKING:
    from datasets import IterableDataset

    from lab.data.sources import Source

log = logging.getLogger(__name__)

# rows per test: the stream pipeline's own batch (`lab.data.streaming`), so reading a few
# rows at setup reads no further ahead than the stream already does
_BATCH = 1000


class QuoteWatch:
    """The quote test of every local CSV stream of one data module; files already scanned are
    remembered across its streams (setup's reads and the train stream), so a file is scanned,
    and warned about, at most once."""

    def __init__(self) -> None:
        self.scanned: set[str] = set()
        self._files: dict[tuple[str, str | None], tuple[str, dict[str, list[str]]] | None] = {}

    def watch(self, stream: IterableDataset, source: Source, split: str) -> IterableDataset:
        """`stream` (the rows of `source`'s `split`) with the quote test on every batch it
        reads; as is for a Hub source, non-CSV files and `data.csv_quoting=none`."""
        found = self._csv_files(source)
        if found is None or split not in found[1]:
            return stream
        delimiter, files = found
        check = RowCheck(self, files[split], delimiter)
        return stream.map(check, batched=True, batch_size=_BATCH)

    def scan(self, files: list[str], delimiter: str) -> None:
        """Read `files` (not yet scanned) for the first quoted cell over several lines:
        refuse rows a quote merged, warn about a .tsv cell with tabs (`QuotedSpan`)."""
        for file in files:
            if file in self.scanned:
                continue
            self.scanned.add(file)
            span = first_quoted_span(file, delimiter)
            if span is None:
                continue
            if span.malformed:
                raise DataError(span.refusal())
            log.warning("%s", span.warning())

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
    cell has its source's files scanned (`QuoteWatch.scan`)."""

    def __init__(self, watch: QuoteWatch, files: list[str], delimiter: str) -> None:
        self.watch = watch
        self.files = files
        self.delimiter = delimiter

    def __call__(self, batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        unscanned = any(file not in self.watch.scanned for file in self.files)
        if unscanned and spanning(batch, self.delimiter):  # scanned files: nothing to test
            self.watch.scan(self.files, self.delimiter)
        return {}  # no column changed: the batch goes on as read


def spanning(batch: dict[str, list[Any]], delimiter: str) -> bool:
    """Whether a text cell of `batch` holds a line break and `delimiter` (the test of
    `csv_quotes.has_spanning_cells`, on a streamed batch: its columns may mix types)."""
    for values in batch.values():
        for value in values:
            if isinstance(value, str) and delimiter in value and ("\n" in value or "\r" in value):
                return True
    return False
