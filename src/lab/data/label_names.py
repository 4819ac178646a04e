"""Configured label names against a dataset's own `ClassLabel` names; names of integer labels.

A `ClassLabel` column stores ids; its names say what each id means. `data.label_names` may name
the classes too (a dataset config, or `lab.eval` pinning the model's names). When both exist
they must describe the same ids: a different count, or the same names in another order, would
train or score every example under the wrong class, so both are refused. Names that differ only
in wording ("2 stars" for the Hub's "2 star") keep the configured ones, with a warning.

Integer labels (whole-number floats too: 1.0 is 1) without names are class ids when they count
from 0; integers that do not (1-5 stars, -1/0/1 sentiment) are values, named and mapped to ids
0..K-1 in sorted order, as string labels are. Ids that never occur in train below the largest
one are warned about: a class a subsample missed, or a typo that would add empty classes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from lab.errors import DataError

log = logging.getLogger(__name__)


def reconcile_label_names(
    configured: Sequence[str], class_names: Sequence[str], column: str, *, pinned: bool = False
) -> list[str]:
    """The names to use for ids 0..N-1 of `column`; raises DataError when the two lists
    cannot describe the same ids. `pinned`: `configured` are the trained model's classes
    (`lab.eval` sets them whatever data.label_names says), so a refusal asks for data of the
    model's classes instead of another data.label_names."""
    configured, class_names = [str(n) for n in configured], [str(n) for n in class_names]
    if configured == class_names:
        return configured
    if len(configured) != len(class_names):
        if pinned:  # data.label_names cannot help: lab.eval would pin the model's names again
            raise DataError(
                f"the data's column '{column}' holds {len(class_names)} classes {class_names} "
                f"but the model was trained on {len(configured)} classes {configured}; "
                "lab.eval keeps the model's classes: evaluate data labelled with the model's "
                "classes"
            )
        raise DataError(
            f"data.label_names has {len(configured)} names {configured} but column "
            f"'{column}' holds {len(class_names)} classes {class_names}; set data.label_names "
            "to the dataset's classes in id order, or null to take them from the dataset"
        )
    if sorted(configured) == sorted(class_names):
        if pinned:
            raise DataError(
                f"the data's column '{column}' holds the model's classes in another order (the "
                f"data's id order is {class_names}, the model's {configured}): every id would "
                "be scored as the wrong class; lab.eval keeps the model's class ids: evaluate "
                "data whose classes are in the model's id order"
            )
        raise DataError(
            f"data.label_names {configured} are column '{column}''s classes in another order "
            f"(the dataset's id order is {class_names}): every id would get the wrong name; "
            "list them in the dataset's order, or set data.label_names=null"
        )
    log.warning(
        "data.label_names %s differ from column '%s''s class names %s; ids 0..%d are named by "
        "data.label_names",
        configured,
        column,
        class_names,
        len(configured) - 1,
    )
    return configured


def integer_label_names(
    values: Sequence[Any], num_labels: int | None
) -> tuple[list[str], dict[Any, int] | None]:
    """Names of integer labels, and the value -> id map where the values are not the ids.

    Labels counting from 0 are ids 0..K-1 (K: `num_labels`, else the largest + 1); labels
    that do not count from 0 (and no `num_labels`) are mapped in sorted order. Whole-number
    floats are the integers they are (pandas stores 0/1 with an empty cell as 0.0/1.0/NaN);
    empty cells and other values are left out, for the split's row checks to name.
    """
    present = sorted({v for v in map(as_integer, values) if isinstance(v, int)})
    if num_labels is None and present and present[0] != 0:
        # -1 beside ids 0..K-1 is a class (-1/0/1 sentiment) or SNLI's "no gold label" rows,
        # which a file without a ClassLabel cannot tell apart: the line says both readings.
        rest = present[1:] if present[0] == -1 else []
        hidden = (
            "; if -1 marks rows without a label (SNLI's), remove those rows from the file"
            if rest and rest == list(range(len(rest)))
            else ""
        )
        log.info(
            "labels %s do not count from 0: they name the classes, in sorted order (ids 0..%d)%s",
            ", ".join(map(str, present)),
            len(present) - 1,
            hidden,
        )
        return [str(v) for v in present], {value: index for index, value in enumerate(present)}
    count = num_labels or (present[-1] + 1 if present else 0)
    missing = sorted(set(range(count)) - set(present))
    if missing and num_labels is None:
        shown = ", ".join(map(str, missing[:10])) + (", ..." if len(missing) > 10 else "")
        log.warning(
            "train labels are class ids 0..%d, but %s never occur in train: a typo in the data, "
            "or a subsample that missed them? set data.num_labels=%d to confirm",
            count - 1,
            shown,
            count,
        )
    return [str(i) for i in range(count)], None


def as_integer(value: Any) -> Any:
    """`value` as the integer it is when it is a whole-number float (1.0 -> 1) or a bool;
    any other value unchanged (a float like 0.5 or NaN stays a float, for the caller to
    refuse). The one reading of integer labels, for `lab.data` and the heads alike."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def id_as_text(value: Any, names: Sequence[str]) -> str | None:
    """Advice for a label (or tag) that reads as a class id written as text ('1' under names
    ['negative', 'positive']: a CSV, or an export that cast ids to strings); None otherwise.
    data.label_names=null would train, but name the classes '0', '1'."""
    if not isinstance(value, str) or not value.strip().isdigit() or int(value) >= len(names):
        return None
    return (
        f"{value!r} looks like a class id written as text: store the labels as integers "
        f"(ids into data.label_names: {int(value)} is {names[int(value)]!r}); "
        "data.label_names=null would name the classes by the text instead"
    )
