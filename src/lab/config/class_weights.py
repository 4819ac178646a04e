"""The forms `task.module.class_weights` takes, and the one message for a value of none of them.

`balanced` (weights counted from the train split's labels), a list of positive numbers (one
per class, in label order), or null (no weights). The form is checked twice with the same
words: before data or weights load by the config rules (`lab.config.ranges.check_ranges`,
for `lab.train`, `lab.validate` and every value a sweep lists), where the class count is not
known yet, and once the data gives the class count (`lab.tasks.losses.check_class_weights`,
which adds the list's length). A module of its own so that both stay free of torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

KEY = "task.module.class_weights"
BALANCED = "balanced"


def valid_forms(num_classes: int | None = None) -> str:
    """`use balanced, a list of 2 numbers, or null` (`one per class` without a class count)."""
    numbers = f"{num_classes} numbers" if num_classes else "numbers (one per class)"
    return f"use {BALANCED}, a list of {numbers}, or null"


def class_weights_problem(value: Any, num_classes: int | None = None) -> str | None:
    """None when `value` has a valid form (its length is not checked here); else the message:
    `task.module.class_weights=balancedd: use balanced, a list of 2 numbers, or null`."""
    if value is None or value == BALANCED:
        return None
    if isinstance(value, str) or not isinstance(value, Sequence):
        return f"{KEY}={_show(value)}: {valid_forms(num_classes)}"
    values = list(value)
    not_numbers = [v for v in values if not _is_number(v)]
    if not_numbers:
        return (
            f"{KEY}={_show(values)}: {_show(not_numbers[0])} is not a number; "
            f"{valid_forms(num_classes)}"
        )
    if any(v <= 0 for v in values):
        return f"{KEY}={_show(values)}: every weight must be > 0"
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _show(value: Any) -> str:
    """As typed on the command line: `balancedd`, `[a, 1]`, `true`, `null`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return f"[{', '.join(_show(v) for v in value)}]"
    return str(value)
