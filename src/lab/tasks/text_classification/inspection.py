"""What `lab.inspect` says about this head's labels, by the rules training applies
(`conf/data/base/inspect/text_classification.yaml` names `label_warnings` under `labels:`).

Training refuses an integer label outside the ids of the named classes (the label K of
1-based labels 1..K under K configured names with the shift advice) and warns where class 0
has no train row; `lab.inspect` lists the same words as warnings, for every split, before
anything trains. The rules are `train_labels.TrainLabels` and `label_values`' messages, the
ones `TextClassificationDataModule` calls: nothing here decides what is refused.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lab.data.label_names import as_integer
from lab.tasks.text_classification.arrow_labels import label_array
from lab.tasks.text_classification.label_values import outside_classes
from lab.tasks.text_classification.train_labels import TrainLabels

if TYPE_CHECKING:
    from datasets import Dataset
    from omegaconf import DictConfig


def label_warnings(
    data: DictConfig, splits: dict[str, Dataset], names: Sequence[str] | None
) -> list[str]:
    """The warnings training's label rules give `splits` under the class `names` lab.inspect
    resolved (data.label_names, checked against a ClassLabel's; None: the labels name
    themselves, no ids to check): class 0 without a train row, and per split the integer
    labels outside the ids, which lab.train refuses (the hidden label -1 is
    `lab.data.inspection_warnings`')."""
    problem_type = str(data.get("problem_type") or "single_label")
    column = str(data.get("label_column") or "label")
    train = splits["train"]
    if problem_type == "regression" or not names or column not in train.column_names:
        return []
    read = TrainLabels.read(train, column, problem_type, configured=bool(data.get("label_names")))
    if read.string or read.boolean:
        return []
    found = []
    unused = read.class_zero_warning(names, column=column, split="the train split")
    if unused:
        found.append(unused)
    count, one_based = len(names), read.one_based(names)
    for split, dataset in splits.items():
        if column not in dataset.column_names:  # a missing column is the head's to refuse
            continue
        for value, rows in _outside(dataset, column, count).items():
            refused = outside_classes(value, count, one_based=one_based)
            found.append(f"{split}: {_rows(rows)} label {value!r}; lab.train refuses it: {refused}")
    return found


def _outside(dataset: Dataset, column: str, count: int) -> dict[Any, int]:
    """The integer labels of `dataset` (elements of list cells too) outside 0..`count`-1, but
    -1 (a hidden label, warned about on its own), with their rows, in value order."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = label_array(dataset, column)
    if pa.types.is_list(values.type) or pa.types.is_large_list(values.type):
        values = pc.list_flatten(values)
    try:
        counts = {entry["values"]: entry["counts"] for entry in pc.value_counts(values).to_pylist()}
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
        counts = dict(Counter(v for v in values.to_pylist() if not isinstance(v, (list, dict))))
    found = {}
    for value, rows in counts.items():
        number = as_integer(value)
        if isinstance(value, bool) or not isinstance(number, int):
            continue  # an empty cell, 0.5, a string: refused by other words
        if number != -1 and not 0 <= number < count:
            found[value] = rows
    return dict(sorted(found.items(), key=lambda item: as_integer(item[0])))


def _rows(count: int) -> str:
    return "1 row has" if count == 1 else f"{count} rows have"
