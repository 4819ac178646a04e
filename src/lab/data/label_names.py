"""Configured label names against a dataset's own `ClassLabel` names.

A `ClassLabel` column stores ids; its names say what each id means. `data.label_names` may name
the classes too (a dataset config, or `lab.eval` pinning the model's names). When both exist
they must describe the same ids: a different count, or the same names in another order, would
train or score every example under the wrong class, so both are refused. Names that differ only
in wording ("2 stars" for the Hub's "2 star") keep the configured ones, with a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from lab.errors import DataError

log = logging.getLogger(__name__)


def reconcile_label_names(
    configured: Sequence[str], class_names: Sequence[str], column: str
) -> list[str]:
    """The names to use for ids 0..N-1 of `column`; raises DataError when the two lists
    cannot describe the same ids."""
    configured, class_names = [str(n) for n in configured], [str(n) for n in class_names]
    if configured == class_names:
        return configured
    if len(configured) != len(class_names):
        raise DataError(
            f"data.label_names has {len(configured)} names {configured} but column "
            f"'{column}' holds {len(class_names)} classes {class_names}; set data.label_names "
            "to the dataset's classes in id order, or null to take them from the dataset"
        )
    if sorted(configured) == sorted(class_names):
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
