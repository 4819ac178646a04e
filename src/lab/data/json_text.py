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
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datasets import Dataset

# Cells looked at per column: a real text column fails on its first cell; JSON text passes all.
_CELLS = 1_000


def json_text_columns(dataset: Dataset) -> list[str]:
    """The string columns of `dataset` whose every cell (of the first `_CELLS`) is JSON text
    and at least one a quoted JSON string (`'"neg"'`): what a Json column cast to strings
    holds. Plain text fails at its first cell (`neg` is no JSON); a column of number strings
    (`'1'`, `'2'`) has no quoted cell and is left alone."""
    found = []
    table = dataset.with_format("arrow")[:_CELLS]
    for name in table.column_names:
        column = table[name]
        if str(column.type) not in ("string", "large_string"):
            continue
        quoted, valid = False, True
        for cell in column.to_pylist():
            if cell is None:
                continue
            try:
                value = json.loads(cell)
            except ValueError:
                valid = False
                break
            quoted = quoted or isinstance(value, str)
        if valid and quoted:
            found.append(name)
    return found
