"""Labeled splits of a source that none of lab's splits reads while lab carves one from train.

A dataset whose labeled evaluation splits have names of their own (GLUE MNLI's
`validation_matched` and `validation_mismatched`), read through a generic data config
(`data=csv data.path=glue data.hub_config=mnli`, whose `data.splits` names lab's own splits):
it has no `validation` and no `test`, so both are carved from train (`lab.data.splits`), and
the two dev sets go unread. Carving a missing split of lab's own name is said in `train.log`
only, since one file is the common case; here it is a console warning naming those splits and
the override that reads them:

    data.splits.validation=validation and data.splits.test=test: the dataset has no such
    splits, so they are carved from train, while its labeled splits validation_matched,
    validation_mismatched are not read (to use them: data.splits.validation=validation_matched
    data.splits.test=validation_mismatched)

A split is unlabeled where it lacks the label column or every label is hidden (-1, as in
GLUE's test splits; for text, "-1" or empty): one Arrow column's minimum and maximum or its
distinct values, never a pass over rows in Python. `lab.eval` leaves such splits out of the
ones it offers (`lab.eval_splits`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datasets import Dataset

#: lab's splits in the order an override names them (validation before test)
_ORDER = ("validation", "test")


def has_labels(dataset: Dataset, column: str) -> bool:
    """Whether `dataset` holds labels in `column`: False where it lacks the column or no row
    has a label by `lab.inspect`'s reading (`inspection_stats.label_gaps`: null, NaN, blank
    text and the hidden -1, as a number or as text); True for any other column type (lists of
    labels, booleans) with a value and for data that is not an in-memory `Dataset` (a stream:
    unknown). One rule for both, so `lab.inspect`'s "no labels" and `lab.eval`'s offered
    splits never disagree."""
    from lab.data.inspection_stats import label_gaps

    names = getattr(dataset, "column_names", None)
    if names is None or not hasattr(dataset, "with_format"):
        return True
    if column not in names:
        return False
    gaps = label_gaps(dataset, column)
    return gaps["empty"] + gaps["hidden"] < len(dataset)


def unread_labeled_warning(
    source: Mapping[str, Dataset],
    read: set[str],
    carved: Sequence[str],
    label_column: str | None,
) -> str | None:
    """The warning for `source`'s labeled splits that no split of lab's reads (`read`: the
    source splits read), where lab carved `carved` from train because `data.splits` mapped
    them to their own names, which `source` lacks; None where there are none, or where
    `label_column` is unknown (a head without one: labeled splits cannot be told apart)."""
    if not carved or not label_column:
        return None
    unread = [
        name for name in source if name not in read and has_labels(source[name], label_column)
    ]
    if not unread:
        return None
    ordered = [name for name in _ORDER if name in carved]
    # Fewer unread splits than carved ones: GLUE's practice, the public dev split as test
    # (the last of `ordered`), validation carved; else in the source's order.
    pairs = list(zip(ordered[-len(unread) :], unread, strict=False))
    use = " ".join(f"data.splits.{name}={split}" for name, split in pairs)
    used = [split for _, split in pairs]
    them = ("it" if len(used) == 1 else "them") if used == unread else ", ".join(used)
    many = len(ordered) > 1
    asked = " and ".join(f"data.splits.{name}={name}" for name in ordered)
    plural = "s" if len(unread) > 1 else ""
    return (
        f"{asked}: the dataset has no such split{'s' if many else ''}, so "
        f"{'they are' if many else 'it is'} carved from train, while its labeled "
        f"split{plural} {', '.join(unread)} {'are' if plural else 'is'} not read "
        f"(to use {them}: {use})"
    )
