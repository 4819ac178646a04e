"""How `lab.inspect` words the labels `lab.train` refuses, for every head alike.

A head's label rules (`labels:` in `conf/data/base/inspect/<head>.yaml`) find, per split,
each value training refuses with the rows that hold it and training's words for it (from
the head's own check function); these turn them into warnings of one form:

    validation: 2 rows have label 0.5; lab.train refuses it: <training's words>
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lab.data.label_names import as_integer

# Refused values listed one by one per split; past these, one line counts the rest (a text
# column named as the labels would list every review).
SHOWN_PER_SPLIT = 5

#: a refused value, the rows of the split that hold it, and why training refuses it
Refused = tuple[Any, int, str]


def value_order(value: Any) -> tuple[int, Any]:
    """A sort key: integers (whole-number floats too) in value order first, then the rest as
    they came (a stable sort keeps their order of first appearance)."""
    number = as_integer(value)
    return (0, number) if isinstance(number, int) else (1, 0)


def refusal_warnings(
    split: str, refused: Sequence[Refused], noun: str = "label", rest_rows: int | None = None
) -> list[str]:
    """One warning per refused value of `split` (`noun`: what a value is, "label" or "tag"),
    the first `SHOWN_PER_SPLIT` of them; then one line for the rest, in `rest_rows` rows
    (default: their rows summed, right where a row holds one value)."""
    found = [
        f"{split}: {rows_have(rows)} {noun} {value!r}; lab.train refuses it: {why}"
        for value, rows, why in refused[:SHOWN_PER_SPLIT]
    ]
    rest = refused[SHOWN_PER_SPLIT:]
    if rest:
        rows = sum(count for _, count, _ in rest) if rest_rows is None else rest_rows
        found.append(
            f"{split}: {len(rest)} more {noun}s lab.train refuses, in {rows} rows "
            f"(a {noun} column holding text?)"
        )
    return found


def rows_have(count: int) -> str:
    """'1 row has' or 'N rows have'."""
    return "1 row has" if count == 1 else f"{count} rows have"
