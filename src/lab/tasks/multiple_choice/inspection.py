"""What `lab.inspect` says about multiple-choice labels, by the rule training applies
(`conf/data/base/inspect/multiple_choice.yaml` names `label_warnings` under `labels:`).

Training refuses a label that is no ending index 0..N-1 (N: `data.num_choices`, or the first
train row's endings); `lab.inspect` lists, per split, each such value with its rows in
training's words (`labels.label_problem`, the function `MultipleChoiceDataModule` checks every
row with). Empty cells and the hidden label -1 are counted by lab.inspect's label gaps.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from lab.data.inspection_refusals import Refused, refusal_warnings, value_order
from lab.data.inspection_stats import is_label_gap
from lab.tasks.multiple_choice.labels import first_row_endings, label_index, label_problem

if TYPE_CHECKING:
    from datasets import Dataset
    from omegaconf import DictConfig


def label_warnings(
    data: DictConfig, splits: dict[str, Dataset], names: Sequence[str] | None
) -> list[str]:
    """Per split, each label training refuses as no ending index, with its rows (`names` is
    not needed: the labels are indices)."""
    column = str(data.get("label_column") or "label")
    count = choice_count(data, splits["train"])
    if count is None:
        return []  # training refuses the data (or N itself) before any label
    found: list[str] = []
    for split, dataset in splits.items():
        if column not in dataset.column_names:  # a missing column is the head's to refuse
            continue
        # label gaps count empty cells and -1; a list or mapping cell (which training refuses
        # too) has no value to count: it is left to training
        rows = Counter(
            v for v in dataset[column] if not is_label_gap(v) and not isinstance(v, (list, dict))
        )
        refused: list[Refused] = []
        for value, held in sorted(rows.items(), key=lambda item: value_order(item[0])):
            why = label_problem(value, int(count))
            if why is not None:
                refused.append((value, held, why))
        found += refusal_warnings(split, refused)
    return found


def train_classes(
    data: DictConfig, train: Dataset, column: str
) -> tuple[list[str], Callable[[Any], str | None]] | None:
    """The ending positions 0..N-1 training scores (N as `label_warnings` finds it) and the
    position a stored label names (None: a label training refuses), for lab.inspect's
    balance table: a label 4 under 4 endings is a warning, not a fifth class."""
    count = choice_count(data, train)
    if count is None:
        return None
    names = [str(i) for i in range(count)]

    def name_of(value: Any) -> str | None:
        index = label_index(value, count)
        return None if index is None else names[index]

    return names, name_of


def choice_count(data: DictConfig, train: Dataset) -> int | None:
    """N as training learns it (`data.num_choices`, or the first train row's endings); None
    where training refuses the data (or N < 2) before any label is read."""
    endings = data.get("ending_columns")
    list_column = endings if isinstance(endings, str) else None
    columns = [] if list_column else [str(c) for c in endings or []]
    count = data.get("num_choices")
    if count is None:
        if not len(train) or (list_column and list_column not in train.column_names):
            return None
        count = first_row_endings(train, list_column, columns)
    return int(count) if int(count) >= 2 else None
