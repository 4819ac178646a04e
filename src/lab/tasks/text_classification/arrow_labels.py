"""Facts about a split's label column, read with Arrow compute instead of row by row.

`dataset[column]` hands each cell to Python one at a time: a pass over a million float labels
took 13 s, the same answer from the Arrow column 3 ms. These answer for the common column
types (integers, floats, strings, booleans, `ClassLabel` ids); for any other (a column of
mixed types, which `datasets` reads as Json; a type Arrow cannot compare with -1) they return
None and the caller reads the values in Python as before, so the answer never changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from datasets import Dataset

# What comparing a column Arrow has no kernel for raises (a float16 column against -1).
_CANNOT_COMPARE = (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError)


def label_array(dataset: Dataset, column: str) -> pa.ChunkedArray:
    """`column` of `dataset` as Arrow (the rows a `select` or `shuffle` left, in order)."""
    return dataset.with_format("arrow")[column]


def all_numbers(values: pa.ChunkedArray) -> bool:
    """Whether every cell is a finite number and none is empty (an integer or float column
    without nulls, NaN or infinities). False where some cell may not be, for the caller to
    find it."""
    kind = values.type
    if values.null_count or not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
        return False
    if pa.types.is_integer(kind):
        return True
    try:
        return bool(pc.all(pc.is_finite(values)).as_py())
    except _CANNOT_COMPARE:
        return False


def minus_one_rows(values: pa.ChunkedArray) -> tuple[int | str, int] | None:
    """The -1 the column holds and its rows: the number (-1 or -1.0) in an integer or float
    column, the string "-1" (exactly) in a string column; no rows in a boolean column (True is
    not -1) or one of nulls only. None where the column's type cannot say (the caller counts
    in Python)."""
    kind = values.type
    if pa.types.is_boolean(kind) or pa.types.is_null(kind):
        return -1, 0
    target: int | str
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        target = -1
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        target = "-1"
    else:
        return None
    try:
        rows = pc.sum(pc.equal(values, target)).as_py()
    except _CANNOT_COMPARE:
        return None
    return target, int(rows or 0)  # an empty column sums to null


def distinct_labels(values: pa.ChunkedArray) -> list[Any] | None:
    """The distinct cells of a label column (of a list column, the distinct elements of its
    rows) as Python values, empty cells included as None; None where the type cannot say."""
    if pa.types.is_list(values.type) or pa.types.is_large_list(values.type):  # multi-label
        values = pc.list_flatten(values)
    return pc.unique(values).to_pylist() if plain_type(values.type) else None


def plain_type(kind: pa.DataType) -> bool:
    """Whether Arrow holds a label column of type `kind` as Python reads it: integers,
    floats, booleans, strings or nulls (not, e.g., the Json text `datasets` stores for a
    column of mixed types, which Python reads decoded)."""
    return not isinstance(kind, pa.ExtensionType) and (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_null(kind)
    )
