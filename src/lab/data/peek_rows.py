"""The first rows of a local data file, read without reading the file whole, and the columns
whose labels they hide.

`lab.data.split_files_named` asks this of a split file no split of lab's reads (`test.jsonl`
beside a data config that tests on `validation`): where its first rows hold only the hidden
label of a column that train's first rows fill with short values (SWAG's and GLUE's test
files keep `label` as -1, HellaSwag's as ""), reading it as a split would be refused (hidden
labels cannot be scored), so no override is offered for it. The column is found without
knowing the data config's label column: a whole column of -1 or of blanks where train holds
short values (a class name, an index, a score) is a hidden label, never text; train's
column must hold values of at most `SHORT` characters, so a text column that happens to be
blank in a file's first rows (HellaSwag's `ctx_b`) is not taken for one.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lab.data.inspection_stats import is_label_gap

#: how many rows are read from the top of each file
PEEKED_ROWS = 20
#: the longest value (in characters) a label column of train holds in its first rows
SHORT = 20


def peek_rows(
    file: Path, column_names: Sequence[str] | None = None, rows: int = PEEKED_ROWS
) -> list[dict[str, Any]] | None:
    """Up to `rows` rows from the top of `file` (JSON lines, CSV, TSV, Parquet, Arrow; gzip
    for the text formats) as dicts; `column_names` (`data.csv_column_names`) name a headerless
    CSV/TSV file's fields where its first record has as many. None where the file cannot be
    read so (one JSON document, another format, a read error: the loader names those)."""
    from lab.data.local_files import file_suffix

    suffix = file_suffix(file)
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            batch = next(pq.ParquetFile(file).iter_batches(batch_size=rows), None)
            return batch.to_pylist() if batch is not None else []
        if suffix == ".arrow":
            import pyarrow.ipc

            with pyarrow.ipc.open_stream(file) as reader:
                return reader.read_next_batch().slice(0, rows).to_pylist()
        if suffix in (".csv", ".tsv", ".jsonl", ".json"):
            return _text_rows(file, suffix, column_names, rows)
    except (OSError, ValueError, UnicodeDecodeError, StopIteration):  # pyarrow's are ValueErrors
        return None
    return None


def _text_rows(
    file: Path, suffix: str, column_names: Sequence[str] | None, rows: int
) -> list[dict[str, Any]] | None:
    opener: Any = gzip.open if file.name.lower().endswith(".gz") else open
    with opener(file, "rt", encoding="utf-8-sig", newline="") as handle:
        if suffix in (".csv", ".tsv"):
            head = "".join(itertools.islice(handle, rows + 1))
            delimiter = "\t" if suffix == ".tsv" else ","
            if column_names:
                from lab.data.csv_header import headerless_columns

                fields = headerless_columns(str(file), column_names)
                if fields:
                    reader = csv.DictReader(io.StringIO(head), fields, delimiter=delimiter)
                    return list(itertools.islice(reader, rows))
            return list(
                itertools.islice(csv.DictReader(io.StringIO(head), delimiter=delimiter), rows)
            )
        found: list[dict[str, Any]] = []
        for line in handle:
            if not line.strip():
                continue
            row = json.loads(line)  # a ValueError where the file is one JSON document
            if not isinstance(row, dict):
                return None
            found.append(row)
            if len(found) == rows:
                break
        return found


def hidden_label_columns(
    train: list[dict[str, Any]] | None, other: list[dict[str, Any]] | None
) -> list[str]:
    """The columns of `other`'s first rows (a split file) that hold only hidden labels (-1 as
    a number or text, blanks, nulls: `inspection_stats.is_label_gap`) where `train`'s first
    rows hold a short value in every row (see the module); [] where either is unknown."""
    if not train or not other:
        return []
    hidden = []
    for column in other[0]:
        given = [row.get(column) for row in train]
        if any(is_label_gap(v) or isinstance(v, (list, dict)) for v in given):
            continue  # train's rows leave it empty too, or it is no single value
        if any(len(str(v)) > SHORT for v in given):
            continue  # text, not a label
        if all(is_label_gap(row.get(column)) for row in other):
            hidden.append(column)
    return hidden
