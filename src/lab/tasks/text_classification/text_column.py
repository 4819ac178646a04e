"""The text column of a classification split: text in every row, checked on Arrow."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from lab.errors import DataError
from lab.tasks.text_classification.label_values import describe_non_text

if TYPE_CHECKING:
    from datasets import Dataset

    from lab.data.datamodule import DataModule

log = logging.getLogger(__name__)


def check_text_column(data: DataModule, split: str, dataset: Dataset, column: str) -> None:
    """Refuse a text column that holds no text (a number, a list, an empty cell), naming the
    row; warn once per split of empty or blank texts, which are kept."""
    # Checked on the Arrow column (type and null count) so a 600k-row split is not
    # copied into Python objects just to find that every value is fine.
    problem = non_text(dataset, column)
    if problem is not None:
        row, why = problem
        where = (
            data.where(split, row, column)
            if row is not None
            else f"{data.source_of(split) or f'the {split} split'} column '{column}'"
        )
        raise DataError(f"{where}: {why}")
    import pyarrow.compute as pc

    values = dataset.with_format("arrow")[column]
    empty = empty_cells(dataset, column)
    if empty is not None:  # an empty CSV cell, a JSON null: no text at all
        raise DataError(f"{data.where(split, empty[1], column)}: the cell is empty")
    # An empty or blank string is text, as HF's tokenizers take it (special tokens only):
    # kept, but said, since it is mostly a scraping or export mistake.
    # A match per row (booleans), not a trimmed copy of every text: a large split's text
    # column is not duplicated in memory for this check.
    blank = pc.match_substring_regex(values, pattern=r"^[\s\p{Z}]*$")  # Unicode spaces too
    count = int(pc.sum(blank).as_py() or 0)
    if count:
        first = int(pc.index(blank, True).as_py())
        rows = f"{count} rows" if count > 1 else "1 row"
        log.warning(
            "%s: the text is empty or only whitespace (%s of the %s split, this the first); "
            "kept as empty inputs",
            data.where(split, first, column),
            rows,
            split,
        )


def empty_cells(dataset: Dataset, column: str) -> tuple[int, int] | None:
    """(how many, the first row) of `column`'s empty cells (null: an empty CSV cell, a JSON
    null), which training refuses; None where there is none (counted by Arrow)."""
    values = dataset.with_format("arrow")[column]
    if not values.null_count:
        return None
    first = next(i for i, v in enumerate(dataset[column]) if v is None)
    return int(values.null_count), first


def non_text(dataset: Dataset, column: str) -> tuple[int | None, str] | None:
    """Why `column` holds no text, or None: `(None, "holds int64 values, not text")` where its
    Arrow type says so; `(row, why)` for the first cell that is no text where `datasets`
    stored mixed types as Json (decoded row by row: an empty cell, a number, a list)."""
    dtype = getattr(dataset.features[column], "dtype", None)
    if dtype is None:  # a column of mixed types: `datasets` infers a Json feature
        for row, value in enumerate(dataset[column]):
            if value is None:
                return row, "the cell is empty"
            if not isinstance(value, str):
                return row, describe_non_text(value)
        # Every row of this split is text: the file's other types are in rows another split
        # took (a validation split carved from the file), refused there by row (s34b M2).
        return None
    if dtype not in ("string", "large_string"):
        return None, f"holds {dtype or dataset.features[column]} values, not text"
    return None
