"""The labels of multiple-choice rows: the right ending's index, as training reads and
refuses it (`MultipleChoiceDataModule` checks every row with these, `lab.inspect` lists what
they refuse); light, without torch or Lightning."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datasets import Dataset


def first_row_endings(
    train: Dataset, list_column: str | None, ending_columns: Sequence[str]
) -> int:
    """N as training learns it when `data.num_choices` is null: the endings of the first train
    row's list column, or the ending columns' count (0 where the first cell is no list)."""
    if not list_column:
        return len(ending_columns)
    first = train[0][list_column]
    return len(first) if isinstance(first, list) else 0


def label_problem(label: Any, count: int) -> str | None:
    """Why training refuses `label` as the right ending's index of a row of `count` endings
    (the words after the row it names), or None where it takes it."""
    if label_index(label, count) is not None:
        return None
    # HellaSwag's hidden test labels are "" or "-1" (a digit string, as its labels are).
    unset = label in (-1, -1.0, "") or (isinstance(label, str) and label.strip() == "-1")
    hidden = " (hidden test labels cannot be scored)" if unset else ""
    return f"label {label!r} is not an ending index 0..{count - 1}{hidden}"


def label_index(value: Any, count: int) -> int | None:
    """`value` as an ending index (an int, a whole-number float as pandas writes a column
    with a gap, or a digit string like HellaSwag's), or None. A column with one fraction in
    it (1.5) is read as floats: 0.0 is then index 0, and the 1.5 is the row refused."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < count:
        return None
    return value
