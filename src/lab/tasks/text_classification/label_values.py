"""Label cells as stored, read as the classes they mean (text classification).

Files store class labels less tidily than a `ClassLabel` column:

- integer labels as floats: pandas reads a column of 0/1 with one empty cell as float64
  (0.0, 1.0, NaN), and `DataFrame.to_json` writes a float column as 0.0/1.0. A float that is
  a whole number is that integer (`lab.data.label_names.as_integer`, which the data layer's
  integer label names read the same way); an empty cell (None, NaN) is named as one, not as
  a label.
- booleans (`true`/`false`, BoolQ's `answer`, a `toxic` flag): the classes "False" and "True",
  ids 0 and 1, as `datasets`' users expect.
- strings with surrounding whitespace ('neg ' from a spreadsheet): the same class as 'neg'.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lab.data.label_names import as_integer

log = logging.getLogger(__name__)

#: the names of boolean labels, in id order (False = 0, True = 1)
BOOL_NAMES = ["False", "True"]


def is_empty(value: Any) -> bool:
    """Whether a label cell holds nothing: None (an empty CSV cell, a JSON null), NaN, or a
    string of whitespace only."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and not value.strip()


def integer_values(values: Iterable[Any]) -> list[int]:
    """The integer labels among `values` (whole-number floats read as integers); empty cells
    and other values are left out, for the split's row checks to name."""
    found = (as_integer(v) for v in values if not is_empty(v))
    return [v for v in found if isinstance(v, int)]


def string_label_names(values: Iterable[Any]) -> list[str]:
    """The sorted distinct string labels, surrounding whitespace removed; says which stored
    values were read as another (a warning when that merged them with a class)."""
    counts = Counter(v for v in values if isinstance(v, str) and v.strip())
    spellings = Counter(v.strip() for v in counts)  # stored spellings of each class
    names = sorted(spellings)
    for value, rows in sorted(counts.items()):
        name = value.strip()
        if value == name:
            continue
        # A warning where it merged classes (a spreadsheet's 'neg ' beside 'neg'); info where
        # every row of the class has the same spaces.
        (log.warning if spellings[name] > 1 else log.info)(
            "label %r read as %r (surrounding spaces removed, %d row%s)",
            value,
            name,
            rows,
            "s" if rows > 1 else "",
        )
    return names


def class_id(ids: Mapping[Any, int], value: Any) -> int | None:
    """The class id of a stored label by `ids` (value -> id); a string is also looked up
    without its surrounding whitespace. None when it names no class."""
    if value in ids:
        return ids[value]
    if isinstance(value, str):
        return ids.get(value.strip())
    return None


def one_based_top(present: Iterable[int], count: int) -> bool:
    """Whether integer labels `present` look like 1..`count` (1-based ids for `count` names):
    all within 1..count, `count` among them."""
    values = set(present)
    return bool(values) and count in values and all(1 <= v <= count for v in values)


def warn_class_zero_unused(
    present: Iterable[int], names: Sequence[str], *, lister: str | None, column: str, split: str
) -> None:
    """Warn where integer labels `present` under the K `names` all lie in 1..K-1: class 0 has
    no row in `split`. Not refused: a small train split may miss a class; but they may be
    1-based labels whose top class is absent, every row trained under the wrong class.
    `lister`: "data.label_names" where the names are configured; None for a ClassLabel's."""
    values, count = set(present), len(names)
    if not values or not all(1 <= v < count for v in values):
        return
    labels = "are all 1" if count == 2 else f"lie in 1..{count - 1}"
    # the advice of the 1-based error (labels 1..K under K names); a ClassLabel keeps its
    # names with data.label_names=null, so there the shift is the only fix
    fix = "shift the labels by -1" + (
        ", or set data.label_names=null to use the values as names" if lister else ""
    )
    log.warning(
        "class 0 (%r) has no row in %s, whose labels %s while %s lists %d names for ids 0..%d: "
        "a subsample that missed class 0 trains as is; if the labels are 1-based (1..%d, %d "
        "absent from train), %s",
        names[0],
        split,
        labels,
        lister or f"column '{column}''s ClassLabel",
        count,
        count - 1,
        count,
        count,
        fix,
    )


def describe_non_text(value: Any) -> str:
    """How a cell of a text column that is not a string reads in a message."""
    if isinstance(value, bool):
        return f"{str(value).lower()} is a boolean, not text"
    if isinstance(value, (int, float)):
        return f"{value!r} is a number, not text"
    if isinstance(value, list):
        return "a list is not text"
    if isinstance(value, dict):
        return "an object is not text"
    return f"{value!r} ({type(value).__name__}) is not text"
