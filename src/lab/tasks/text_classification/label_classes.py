"""The classes a train split's labels resolve to, and why a label cell names none of them.

`TextClassificationDataModule.describe_labels` (training, `lab.eval`) resolves the class names
and the value -> id map here, and its row checks ask `LabelClasses.problem` why a label is
refused; `lab.inspect` (`lab.tasks.text_classification.inspection`) resolves and asks the same,
so it lists every label training would refuse, in training's words, before anything trains:
a string that names no class, a fractional number (0.5), an integer outside the ids. Empty
cells and the hidden label -1 are worded by the data module with the split they are in
(`lab.inspect` counts them in its own label gaps).

Names come, in order, from `data.label_names` (checked against a ClassLabel's), the column's
ClassLabel, the sorted distinct strings of train, the booleans' `False`/`True`, or the integer
labels (`lab.data.label_names.integer_label_names`). Lightning-free: `lab.inspect` imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lab.data.label_names import (
    as_integer,
    id_as_text,
    integer_label_names,
    reconcile_label_names,
)
from lab.tasks.text_classification.label_values import (
    BOOL_NAMES,
    class_id,
    outside_classes,
    string_label_names,
)
from lab.tasks.text_classification.train_labels import TrainLabels


@dataclass(frozen=True)
class LabelClasses:
    """The classes of a run's labels.

    Attributes:
        names: class names in id order.
        ids: stored label value -> class id where the labels are values rather than ids
            (strings, booleans, integers that do not count from 0); None where they are ids.
        one_based: integer labels 1..K under K configured names (the label K gets the shift
            advice).
    """

    names: list[str]
    ids: dict[Any, int] | None
    one_based: bool
    # The names are `data.label_names` (a data config's own list, e.g. GoEmotions' 28), not
    # the data's: a label outside them may be the user's own data under that config.
    configured: bool = False

    @classmethod
    def resolve(
        cls,
        read: TrainLabels,
        configured: Sequence[str] | None,
        num_labels: int | None,
        column: str,
        *,
        evaluating: bool = False,
    ) -> LabelClasses:
        """The classes of the train labels `read`, under the `configured` names
        (data.label_names, or None) and `num_labels` (data.num_labels, or None); `evaluating`:
        under `lab.eval`, whose configured names are the model's (pinned)."""
        names = [str(n) for n in configured] if configured else None
        ids: dict[Any, int] | None = None
        one_based = False
        if names is not None and read.class_names is not None:
            names = reconcile_label_names(names, read.class_names, column, pinned=evaluating)
        elif names is not None:
            one_based = read.one_based(names)
        if names is None:
            if read.class_names is not None:  # a ClassLabel column
                names = list(read.class_names)
            elif read.string:
                names = string_label_names(read.values)
            elif read.boolean and num_labels in (None, 2):  # BoolQ's answer, a flag
                names, ids = list(BOOL_NAMES), {False: 0, True: 1}
            else:
                names, ids = integer_label_names(read.values, num_labels)
        if read.string:
            ids = {name: i for i, name in enumerate(names)}
        return cls(names, ids, one_based, configured=bool(configured) and not evaluating)

    def hides(self, value: Any) -> bool:
        """Whether `value` is the hidden label -1 (a number or text: GLUE's test splits, an
        export that cast it to the other splits' strings), which it is unless it names a
        class."""
        if isinstance(value, bool) or not (value == -1 or value == "-1"):
            return False
        return self.ids is None or class_id(self.ids, value) is None

    def problem(self, value: Any, count: int, *, evaluating: bool = False) -> str | None:
        """Why training refuses the label `value` under `count` classes (data.num_labels, else
        the names), after the row that holds it; None when it names a class. Not for empty
        cells or the hidden label -1 (see the module)."""
        if self.ids is not None:
            if class_id(self.ids, value) is not None:
                return None
            names_from = (
                "; fix the data, or set data.label_names to its names (null: those in train)"
                if self.configured and not evaluating
                else ""
            )
            if self.configured and not evaluating and (as_id := id_as_text(value, self.names)):
                names_from = f"; {as_id}"
            return f"label {value!r} is not one of the label names {self.names}{names_from}"
        number = as_integer(value)  # 1.0 is 1, True is 1
        if isinstance(number, float):
            return (
                f"label {value!r} is not a class id (a whole number) or name; for a number per "
                "row set data.problem_type=regression"
            )
        if not isinstance(number, int) or not 0 <= number < count:
            return outside_classes(value, count, one_based=self.one_based, evaluating=evaluating)
        return None


def lists_under_single_label(values: Sequence[Any]) -> str | None:
    """Why training refuses train labels `values` under `data.problem_type=single_label` when
    a cell holds a list (several labels per row: multi-label data); None otherwise."""
    first = next((value for value in values if isinstance(value, list)), None)
    if first is None:
        return None
    return (
        f"the train split's labels are lists ({first!r}, ...), but "
        "data.problem_type=single_label takes one label per row; for several labels per row "
        "set data.problem_type=multi_label"
    )


def not_a_list(value: Any) -> str:
    """Why training refuses a multi-label cell that is not a list."""
    why = f"multi-label rows need a list of labels, got {value!r}"
    if isinstance(value, str) and value.strip().startswith("["):
        why += " (a CSV file stores a list as text: write multi-label data as JSON lines or "
        why += "Parquet)"
    return why
