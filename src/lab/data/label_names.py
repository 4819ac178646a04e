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

`lab.eval` reads other data's integer labels under the model's names: as the model's ids, or,
where the data names its ids with the model's classes in another order (or some of them), mapped
to the model's ids by name (`evaluated_id_names`, whose docstring holds the rules).
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
    if pinned:  # the configured names are the model's, whatever data.label_names said
        log.warning(
            "the model's classes %s differ from column '%s''s class names %s; its ids are read "
            "as the model's class ids: %s",
            configured,
            column,
            class_names,
            id_list(configured),
        )
        return configured
    log.warning(
        "data.label_names %s differ from column '%s''s class names %s; ids 0..%d are named by "
        "data.label_names",
        configured,
        column,
        class_names,
        len(configured) - 1,
    )
    return configured


def evaluated_id_names(model: Sequence[str], data: Sequence[str] | None) -> list[str] | None:
    """`lab.eval` on other data whose labels are integers: the data's names of
    its ids where they map to the `model`'s class ids by name; None where the ids are read as
    the model's. `data`: the names the data gives its ids (`lab.eval_labels`), none or empty
    where it gives none.

    Says how the ids are read, except where the names are the model's (a first part of them,
    in its order, included): mapped by name where every one of `data` is a class of the model
    (the same classes in another order, or some of them); read as the model's ids, with a
    warning naming both lists, where the names are worded otherwise (as a ClassLabel worded
    otherwise is: `reconcile_label_names`); read as the model's ids where the data names none.
    Refused in one line naming both lists where no reading holds: other classes than the
    model's, or a name the model has under another id.
    """
    model = [str(n) for n in model]
    advice = "name the data's ids with the model's class names (data.label_names, in the data's "
    advice += "id order) to map them to the model's ids by name"
    if not data:
        log.warning(
            "integer labels are read as the model's class ids: %s; where the data's ids mean "
            "other classes, %s",
            id_list(model),
            advice,
        )
        return None
    data = [str(n) for n in data]
    if len(set(data)) == len(data) and set(data) <= set(model):  # the model's classes, by name
        if data == model[: len(data)]:
            return None  # the model's ids already
        log.warning(
            "integer labels are mapped to the model's class ids by name (data.label_names %s, "
            "the model's classes %s): %s",
            data,
            model,
            ", ".join(f"{i} ({name}) -> {model.index(name)}" for i, name in enumerate(data)),
        )
        return data
    # A name the model has under another id contradicts reading the ids as the model's.
    moved = [(n, i) for i, n in enumerate(data) if n in model and model.index(n) != i]
    others = [n for n in data if n not in model]
    if len(data) == len(model) and not moved and others:  # worded otherwise, as a ClassLabel
        log.warning(
            "data.label_names %s differ from the model's classes %s; integer labels are read as "
            "the model's class ids: %s; where the data's ids mean other classes, %s",
            data,
            model,
            id_list(model),
            advice,
        )
        return None
    if not others:  # every name the model's, one of them twice
        why = "name a class twice"
    elif len(data) != len(model):
        why = f"name {len(data)} classes where the model has {len(model)}"
    else:
        name, at = moved[0]
        why = f"give {name!r} id {at} where the model gives it id {model.index(name)}"
    if others:
        why += f", and {', '.join(map(repr, others))} {'is' if len(others) == 1 else 'are'} not "
        why += "among the model's classes"
    raise DataError(
        f"data.label_names {data} {why} (the model's classes: {model}); lab.eval keeps the "
        f"model's classes: {advice}, or evaluate data labelled with the model's classes"
    )


def id_list(names: Sequence[str]) -> str:
    """Class ids and their names as a line shows them: `0=neg, 1=pos`."""
    return ", ".join(f"{i}={name}" for i, name in enumerate(names))


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
        if len(present) < 2:  # one class: the split's refusal that follows says what to do
            return [str(v) for v in present], {present[0]: 0}
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
