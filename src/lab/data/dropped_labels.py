"""`data.drop_labels`: leave out the rows whose label marks no gold label.

The Hub's SNLI keeps pairs the annotators did not agree on with label -1 in every
split (SNLI: 785 of 550,152 train, 158 of 9,842 validation, 176 of 9,824 test rows). lab
refuses a -1 it cannot read as a class, since the row can be neither trained on nor scored;
the usual recipe drops those rows (`dataset.filter(lambda r: r["label"] != -1)`), and
`data.drop_labels=[-1]` does that for every split, in lab's reading of the files.

Rows are left out after each row is numbered in its file (`lab.data.origins`), so an error
about another row still names its line, and before validation/test are carved from train,
so the carved splits hold labelled rows only. Each split's count is said once (a warning:
the metrics are over fewer rows than the file holds). A streamed train split is filtered as
it streams (`drop_from_stream`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datasets import Dataset, IterableDataset

log = logging.getLogger(__name__)


def drop_setting(label_column: str | None, values: Any) -> tuple[str, list[Any]] | None:
    """(label column, values) of `data.drop_labels` (a list, or one value as
    `data.drop_labels=-1` gives it); None where it is empty or the head has no label column."""
    if isinstance(values, (str, int, float)):
        values = [values]
    listed = list(values or ())
    return (label_column, listed) if listed and label_column else None


def marks(values: Sequence[Any]) -> Callable[[Any], bool]:
    """Whether a label cell is one of `values` (`data.drop_labels`): -1 matches -1, -1.0 and
    the text "-1"; a boolean or a list (a multi-label row) is never a mark."""
    wanted = [v for v in values if not isinstance(v, bool)]
    texts = {str(v).strip() for v in wanted}

    def is_mark(cell: Any) -> bool:
        if cell is None or isinstance(cell, (bool, list)):
            return False
        if isinstance(cell, str):
            return cell.strip() in texts
        return any(cell == v for v in wanted if not isinstance(v, str))

    return is_mark


def drop_marked_rows(
    dataset: Dataset, column: str, values: Sequence[Any], described: str
) -> Dataset:
    """`dataset` without the rows whose `column` holds one of `values`; `described` names its
    source in the warning (`snli/validation.parquet`, `snli split validation`)."""
    if not values or column not in dataset.column_names:
        return dataset  # no label column: the split's column check words that
    is_mark = marks(values)
    keep = [not is_mark(cell) for cell in dataset[column]]
    dropped = len(keep) - sum(keep)
    if not dropped:
        return dataset
    log.warning(
        "data.drop_labels: left out %d of %d rows of %s labelled %s",
        dropped,
        len(keep),
        described,
        " or ".join(map(str, values)),
    )
    return dataset.select([i for i, kept in enumerate(keep) if kept])


def drop_from_stream(
    stream: IterableDataset, column: str, values: Sequence[Any]
) -> IterableDataset:
    """A streamed split without the rows whose `column` holds one of `values` (as read)."""
    if not values:
        return stream
    is_mark = marks(values)
    return stream.filter(lambda row: not is_mark(row.get(column)))
