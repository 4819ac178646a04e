"""What a train split's label column says about class ids, read once for the head's label rules.

Two rules of the head depend on it, and both `TextClassificationDataModule.describe_labels`
(training, `lab.eval`) and `lab.inspect` (`lab.tasks.text_classification.inspection`) apply
them from here, so the two cannot disagree:

- integer labels 1..K under K configured names (`data.label_names`, no ClassLabel) look
  1-based: the label K is refused with the shift advice (`label_values.outside_classes`);
- integer labels that all lie in 1..K-1 under K names (configured or a ClassLabel's) leave
  class 0 without a row: a warning (`label_values.class_zero_unused`).

Its distinct labels are the classes train has rows of: a validation or test split holding
others gets a warning (`LabelClasses.unseen_warning`, `lab.data.unseen_classes`).

Lightning-free: `lab.inspect` imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lab.tasks.text_classification.arrow_labels import distinct_labels, label_array
from lab.tasks.text_classification.label_values import (
    class_zero_unused,
    integer_values,
    multi_label_element_problem,
    one_based_top,
)

if TYPE_CHECKING:
    from datasets import Dataset


@dataclass(frozen=True)
class TrainLabels:
    """The train split's label column as the head's rules read it.

    Attributes:
        feature: the column's feature (for multi-label: the feature of its elements).
        values: the labels as Python reads them (multi-label: every element of every row).
        string / boolean: whether the column holds strings / booleans.
        configured: whether `data.label_names` names the classes.
        class_names: the column's ClassLabel names, or None.
        present: the distinct integer labels, where names are given (configured or a
            ClassLabel's) and the labels are not strings; empty otherwise.
        non_list: multi-label only: the first cell that is not a list, as (row, value)
            (a CSV stores a list as text: '[2, 0]'); None when every cell is one.
        distinct: the distinct labels as stored (multi-label: of the elements), empty cells
            as None: the classes train has rows of (`LabelClasses.seen`).
        rows: the rows read.
    """

    feature: Any
    values: list[Any]
    string: bool
    boolean: bool
    configured: bool
    class_names: list[str] | None
    present: set[int] = field(default_factory=set)
    non_list: tuple[int, Any] | None = None
    distinct: list[Any] = field(default_factory=list)
    rows: int = 0

    @classmethod
    def read(
        cls,
        train: Dataset,
        column: str,
        problem_type: str,
        configured: bool,
        file_rows: Sequence[int] | None = None,
    ) -> TrainLabels:
        """Read `column` of `train` (`problem_type`: `single_label` or `multi_label`;
        `configured`: whether data.label_names is set; `file_rows`: each row's place in its
        file, where train is a carved or cut shuffle of it: `non_list` is then the file's
        first such row, not the shuffle's)."""
        feature = train.features[column]
        # A list: `datasets`' lazy Column hands out one cell per step (0.2 s a pass over
        # IMDB's 22,500 labels), and the checks below pass over the values several times.
        values = train[column][:]
        non_list = None
        if problem_type == "multi_label":  # a list per row: look at the elements
            feature = getattr(feature, "feature", feature)
            rows = [i for i, row in enumerate(values) if not isinstance(row, list)]
            if rows:
                place = (lambda i: int(file_rows[i])) if file_rows is not None else None
                first = min(rows, key=place) if place is not None else rows[0]
                non_list = (first, values[first])
            # -1 in a list is refused by each row's check (label_values), not made a class
            values = [
                v
                for row in values
                if isinstance(row, list)
                for v in row
                if multi_label_element_problem(v) is None
            ]
        dtype = getattr(feature, "dtype", None)
        string = dtype in ("string", "large_string")
        if dtype is None and not hasattr(feature, "names"):  # Json: a JSON file's mixed column
            # text labels whose numbers fell in other splits; a mix is refused row by row
            kept = [v for v in values if v is not None and not isinstance(v, (list, dict))]
            string = bool(kept) and all(isinstance(v, str) for v in kept)
        class_names = list(feature.names) if hasattr(feature, "names") else None
        distinct = distinct_labels(label_array(train, column))
        if distinct is None:  # a mixed column (Json): its cells as Python reads them
            distinct = list(dict.fromkeys(v for v in values if not isinstance(v, (list, dict))))
        present: set[int] = set()
        if (configured or class_names is not None) and not string:
            present = set(integer_values(distinct))
        boolean = dtype == "bool"
        return cls(
            feature,
            values,
            string,
            boolean,
            configured,
            class_names,
            present,
            non_list,
            distinct,
            len(train),
        )

    def one_based(self, names: Sequence[str]) -> bool:
        """Whether the labels are 1..K for the K configured `names` (a ClassLabel's ids are
        its own: never 1-based)."""
        return (
            self.configured
            and self.class_names is None
            and not self.string
            and one_based_top(self.present, len(names))
        )

    def class_zero_warning(
        self, names: Sequence[str], *, column: str, split: str, evaluating: bool = False
    ) -> str | None:
        """`class_zero_unused`'s warning for these labels under `names` (None where the labels
        are strings or booleans, or no names were given)."""
        if self.string or self.boolean or not (self.configured or self.class_names is not None):
            return None
        return class_zero_unused(
            self.present,
            names,
            lister="data.label_names" if self.configured and self.class_names is None else None,
            column=column,
            split=split,
            evaluating=evaluating,
        )
