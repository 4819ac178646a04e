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
labels (`lab.data.label_names.integer_label_names`). Under `lab.eval` the names are the model's;
other data's integer ids are read by the names that data gives them (`Evaluation.data_labels`):
mapped to the model's ids by name where they are its classes (`LabelClasses.data_names`).
Where the names are train's own labels (strings, or integers that do not count from 0, no
names given: `LabelClasses.from_train`), a label of another split outside them is refused as
one that never occurs in train, with the way to train with it (list every class in
`data.label_names`); where the names were given, as one that is not among them. Either way a
long list of names is shortened (`lab.data.unseen_classes.few`): 150 intents made a 2.5 KB
line. Classes the names list but no train row holds are warned about per evaluated split
(`LabelClasses.unseen_warning`, the rule every head shares: `lab.data.unseen_classes`).
Lightning-free: `lab.inspect` imports it (`Evaluation` is imported for its type only).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from lab.data.label_names import (
    as_integer,
    evaluated_id_names,
    id_as_text,
    integer_label_names,
    reconcile_label_names,
)
from lab.data.unseen_classes import (
    listed,
    never_in_train,
    seen_classes,
    unseen_classes_warning,
)
from lab.tasks.text_classification.label_values import (
    BOOL_NAMES,
    class_id,
    is_empty,
    outside_classes,
    string_label_names,
)
from lab.tasks.text_classification.train_labels import TrainLabels

if TYPE_CHECKING:
    from datasets import Dataset

    from lab.data.datamodule import Evaluation

log = logging.getLogger(__name__)

#: `LabelClasses.from_train`: the names are train's string labels / integer labels
TEXT, NUMBERS = "text", "numbers"


@dataclass(frozen=True)
class LabelClasses:
    """The classes of a run's labels.

    Attributes:
        names: class names in id order.
        ids: stored label value -> class id where the labels are values rather than ids
            (strings, booleans, integers that do not count from 0); None where they are ids.
        one_based: integer labels 1..K under K configured names (the label K gets the shift
            advice).
        data_names: `lab.eval` on other data whose integer ids name the model's classes in
            another order (or some of them): the data's names of its ids 0..K-1, which `ids`
            maps to the model's ids by name; None otherwise.
        from_train: where the classes are train's own labels (no names given): `TEXT` for
            string labels, `NUMBERS` for integers that do not count from 0 (1-5 stars);
            "" where the names were given (a ClassLabel, data.label_names, the model's) or
            are fixed (booleans, ids 0..K-1).
        seen: the class ids train has rows of; None where unknown (a streamed train split,
            of which only the first rows are read) or beside the point (`lab.eval`).
        train_rows: the rows the classes were read from, as messages name them: "train", or
            the first rows of a streamed train split.
    """

    names: list[str]
    ids: dict[Any, int] | None
    one_based: bool
    # The names are `data.label_names` (a data config's own list, e.g. GoEmotions' 28), not
    # the data's: a label outside them may be the user's own data under that config.
    configured: bool = False
    data_names: list[str] | None = None
    from_train: str = ""
    seen: frozenset[int] | None = None
    train_rows: str = "train"

    @classmethod
    def resolve(
        cls,
        read: TrainLabels,
        configured: Sequence[str] | None,
        num_labels: int | None,
        column: str,
        *,
        evaluating: bool = False,
        evaluation: Evaluation | None = None,
        streamed: bool = False,
    ) -> LabelClasses:
        """The classes of the train labels `read`, under the `configured` names
        (data.label_names, or None) and `num_labels` (data.num_labels, or None); `evaluating`:
        under `lab.eval`, whose configured names are the model's (pinned). `evaluation` (its
        data module's, which implies `evaluating`): on other data, integer labels are read by
        the names the data gives its ids (`lab.data.label_names.evaluated_id_names`).
        `streamed`: `read` are the first rows of a streamed train split."""
        evaluating = evaluating or evaluation is not None
        names = [str(n) for n in configured] if configured else None
        ids: dict[Any, int] | None = None
        one_based = False
        data_names = None
        if names is not None and read.class_names is not None:
            names = reconcile_label_names(names, read.class_names, column, pinned=evaluating)
        elif names is not None:
            one_based = read.one_based(names)
            given = _named_ids(read, names, evaluation)
            if given is not None:
                data_names = evaluated_id_names(names, given)
            if data_names is not None:  # the data's id i is its names[i], the model's id of it
                ids = {i: names.index(name) for i, name in enumerate(data_names)}
                one_based = read.one_based(data_names)
        if names is None:
            if read.class_names is not None:  # a ClassLabel column
                names = list(read.class_names)
            elif read.string:
                names = string_label_names(read.values)
            elif read.boolean and num_labels in (None, 2):  # BoolQ's answer, a flag
                names, ids = list(BOOL_NAMES), {False: 0, True: 1}
            else:
                names, ids = integer_label_names(read.values, num_labels)
        from_train = ""  # names read from train's values: its strings, or integers mapped
        if not (configured or evaluating or read.class_names is not None or read.boolean):
            from_train = TEXT if read.string else NUMBERS if ids is not None else ""
        if read.string:
            ids = {name: i for i, name in enumerate(names)}
        configured_names = bool(configured) and not evaluating
        classes = cls(
            names,
            ids,
            one_based,
            configured=configured_names,
            data_names=data_names,
            from_train=from_train,
            train_rows=(
                f"the first {read.rows} rows of the streamed train split" if streamed else "train"
            ),
        )
        if streamed or evaluating:  # classes of train unknown, or no train (lab.eval)
            return classes
        return replace(classes, seen=seen_classes(read.distinct, classes.class_of))

    def class_of(self, value: Any) -> int | None:
        """The class id the stored label `value` means; None where it means none (an empty
        cell, the hidden label -1, a label training refuses)."""
        if is_empty(value) or isinstance(value, (list, dict)):
            return None
        if self.ids is not None and (found := class_id(self.ids, value)) is not None:
            return found
        if self.hides(value) or self.problem(value, len(self.names)) is not None:
            return None
        number = as_integer(value)
        return number if isinstance(number, int) else None

    def unseen_warning(self, split: str, dataset: Dataset, column: str) -> str | None:
        """The warning where the labels of `dataset` (split `split`, label `column`) hold
        classes no train row holds (`lab.data.unseen_classes`); None where they hold none, for
        train itself, or where train's classes are not known (`seen`)."""
        if self.seen is None or split == "train":
            return None
        return unseen_classes_warning(
            split, dataset, column, seen=self.seen, class_of=self.class_of, names=self.names
        )

    def warn_unseen(self, split: str, dataset: Dataset, column: str) -> None:
        """Log `unseen_warning` (training's check of each split: scored, never learnt)."""
        if (unseen := self.unseen_warning(split, dataset, column)) is not None:
            log.warning(unseen)

    def never_in_train(self, value: Any) -> bool:
        """Whether training refuses `value` as a label that never occurs in train, whose labels
        are the classes (`from_train`): not an empty cell, a hidden -1 or, under integer
        labels, a fraction."""
        if not self.from_train or self.ids is None or is_empty(value) or self.hides(value):
            return False
        if self.from_train == NUMBERS and isinstance(as_integer(value), float):
            return False  # 0.5 is no class id: said as such
        return class_id(self.ids, value) is None

    def fix(self) -> str:
        """How to train with classes train lacks, where the classes are its labels
        (`from_train`): a refusal's last words."""
        if self.from_train == TEXT:
            return "list every class: data.label_names=[...]"
        return "store the labels as class ids 0..K-1 and set data.num_labels=K"

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
        if self.data_names is not None and class_id(self.ids or {}, value) is None:
            return self._not_a_data_id(value)
        if self.ids is not None and class_id(self.ids, value) is not None:
            return None
        if self.never_in_train(value):
            # `POS` beside train's `pos`: likely the data's spelling, said first
            near = _same_but_case(value, self.names)
            return never_in_train(
                value, self.names, fix=self.fix(), rows=self.train_rows, near=near
            )
        if self.ids is not None and self.from_train != NUMBERS:  # names given (or train's text)
            names_from = (
                "; fix the data, or set data.label_names to its names (null: those in train)"
                if self.configured and not evaluating
                else ""
            )
            if self.configured and not evaluating and (as_id := id_as_text(value, self.names)):
                names_from = f"; {as_id}"
            if (near := _same_but_case(value, self.names)) is not None:
                # `POS` against a model's `pos`: matching loosely would merge classes that a
                # dataset may tell apart by case, so say it rather than guess.
                names_from = (
                    f" ({value!r} differs from {near!r} only in letter case or spaces; labels "
                    f"are matched exactly){names_from}"
                )
            names = listed(self.names)
            return f"label {value!r} is not one of the label names {names}{names_from}"
        number = as_integer(value)  # 1.0 is 1, True is 1
        if isinstance(number, float):
            return (
                f"label {value!r} is not a class id (a whole number) or name; for a number per "
                "row set data.problem_type=regression"
            )
        if not isinstance(number, int) or not 0 <= number < count:
            return outside_classes(
                value,
                count,
                one_based=self.one_based,
                evaluating=evaluating,
                configured=self.configured,
            )
        return None

    def _not_a_data_id(self, value: Any) -> str:
        """Why `lab.eval` refuses an integer label outside the data's named ids (`data_names`):
        the ids mapped are those the data names, whatever the model's count."""
        number, count = as_integer(value), len(self.data_names or ())
        if isinstance(number, float) or not isinstance(number, int):
            return f"label {value!r} is not a class id (a whole number)"
        why = (
            f"label {value!r} is not one of the data's class ids 0..{count - 1} (data.label_names "
            f"{listed(self.data_names or ())}, mapped to the model's classes by name)"
        )
        if self.one_based and number == count:
            why += f"; labels 1..{count} look 1-based: shift the labels by -1"
        return why


def _named_ids(
    read: TrainLabels, names: list[str], evaluation: Evaluation | None
) -> tuple[str, ...] | None:
    """The names other data gives its ids (() for none), where `read` are that data's integer
    labels and `lab.eval` reads them under the model's class `names`; None otherwise (the
    run's own data is read as training read it; strings and booleans name their classes)."""
    if evaluation is None or list(evaluation.model_labels) != names:
        return None
    return None if read.string or read.boolean else evaluation.data_labels


def lists_under_single_label(values: Sequence[Any]) -> str | None:
    """Why training refuses train labels `values` under `data.problem_type=single_label` when
    a cell holds a list (several labels per row: multi-label data); None otherwise."""
    first = next((value for value in values if isinstance(value, list)), None)
    if first is None:
        return None
    return (
        f"the train split's labels are lists ({first!r}, ...), but "
        "data.problem_type=single_label takes one label per row; for several labels per row "
        "set task=multi_label_classification data.problem_type=multi_label"
    )


def not_a_list(value: Any) -> str:
    """Why training refuses a multi-label cell that is not a list."""
    why = f"multi-label rows need a list of labels, got {value!r}"
    if isinstance(value, str) and value.strip().startswith("["):
        why += " (a CSV file stores a list as text: write multi-label data as JSON lines or "
        why += "Parquet)"
    return why


def _same_but_case(value: Any, names: list[Any]) -> Any:
    """The label name `value` equals but for letter case and surrounding spaces, or None."""
    if not isinstance(value, str):
        return None
    folded = value.strip().casefold()
    return next((n for n in names if isinstance(n, str) and n.strip().casefold() == folded), None)
