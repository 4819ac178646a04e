"""Splits of a JSON folder whose mixed-type column `datasets` stored as JSON text.

A JSON Lines column that mixes types (text labels with one number among them) is read by
`datasets` as its `Json` feature: each cell is kept as JSON text and decoded on access. With
several split files read in one call, though, the builder takes the column type of the first
split it meets (alphabetical: `test`) for all of them, and a later split's Json column is cast
to plain strings: its cells then read `'"neg"'` and `'1'`, and training would complain about
labels no file holds. `json_text_columns` finds such a column, so the caller reads the splits
one by one instead (each keeps its own, decoded, Json column).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datasets import Dataset

# Cells looked at per column: a real text column fails on its first cell; JSON text passes all.
_CELLS = 1_000


def json_text_columns(dataset: Dataset) -> list[str]:
    """The string columns of `dataset` whose every cell (of the first `_CELLS`) is JSON text
    and at least one a quoted JSON string (`'"neg"'`): what a Json column cast to strings
    holds. Plain text fails at its first cell (`neg` is no JSON); a column of number strings
    (`'1'`, `'2'`) has no quoted cell and is left alone. A dictionary column (WMT's
    `translation: {en, ro}`) is found by such a string field: `{"en": 5}` among text read
    `"5"` as the source text."""
    import pyarrow as pa

    found = []
    table = dataset.with_format("arrow")[:_CELLS]
    for name in table.column_names:
        column = table[name]
        if pa.types.is_struct(column.type):
            fields = [
                [chunk.field(i) for chunk in column.chunks]
                for i, field in enumerate(column.type)
                if _is_text(field.type)
            ]
            if any(_is_json_text(pa.chunked_array(parts).to_pylist()) for parts in fields):
                found.append(name)
        elif _is_text(column.type) and _is_json_text(column.to_pylist()):
            found.append(name)
    return found


def _is_text(kind: Any) -> bool:
    return str(kind) in ("string", "large_string")


def _is_json_text(cells: list[Any]) -> bool:
    quoted = False
    for cell in cells:
        if cell is None:
            continue
        try:
            value = json.loads(cell)
        except ValueError:
            return False
        quoted = quoted or isinstance(value, str)
    return quoted
