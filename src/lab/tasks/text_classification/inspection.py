"""What `lab.inspect` says about this head's labels, by the rules training applies
(`conf/data/base/inspect/text_classification.yaml` names `label_warnings` under `labels:`).

Training refuses a label that names no class (a string outside the names, a fractional number
such as 0.5, an integer outside the ids: the label K of 1-based labels 1..K under K configured
names with the shift advice) and warns where class 0 has no train row; `lab.inspect` lists the
same words as warnings, for every split and every such value with its rows, before anything
trains. The classes and the refusals are `label_classes.LabelClasses` and the class-0 warning
`train_labels.TrainLabels`', the ones `TextClassificationDataModule` calls: nothing here decides
what is refused. Labels refused as never in train (train's labels are the classes, no names
given) are one line per split, however many, with training's reason and fix once; classes the
names list but no train row holds get training's warning, once per evaluated split
(`lab.data.unseen_classes`). Empty cells and the hidden label -1 are counted by lab.inspect's
label gaps.
A text column training refuses as no text (`text_column.non_text`: numbers, e.g. the text and
label columns swapped) is listed first, as training checks it first.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

from lab.data.inspection_places import place
from lab.data.inspection_refusals import Refused, refusal_warnings, rows_have, value_order
from lab.data.label_names import as_integer
from lab.data.unseen_classes import never_in_train_warning
from lab.tasks.text_classification.arrow_labels import all_numbers, label_array, plain_type
from lab.tasks.text_classification.label_classes import (
    LabelClasses,
    lists_under_single_label,
    not_a_list,
)
from lab.tasks.text_classification.label_values import (
    EMPTY_CELL,
    class_id,
    is_empty,
    mixed_label_problem,
    multi_label_element_problem,
    regression_label_problem,
)
from lab.tasks.text_classification.text_column import empty_cells, non_text
from lab.tasks.text_classification.train_labels import TrainLabels

if TYPE_CHECKING:
    from datasets import Dataset
    from omegaconf import DictConfig

#: `train_classes`: (class names in id order, a stored label's class name or None), and where
#: training refuses that reading of the labels, why (the names are then the stored values)
ClassesRead = (
    tuple[list[str], Callable[[Any], str | None]]
    | tuple[list[str], Callable[[Any], str | None], str]
)


def label_warnings(
    data: DictConfig, splits: dict[str, Dataset], names: Sequence[str] | None
) -> list[str]:
    """The warnings training's label rules give `splits`: class 0 without a train row, and per
    split each label training refuses, with its rows (`names`, lab.inspect's own resolution,
    is not needed: the classes are resolved here as training resolves them)."""
    problem_type = str(data.get("problem_type") or "single_label")
    column = str(data.get("label_column") or "label")
    train = splits["train"]
    texts = _text_warnings(data, splits)  # training checks the text before the labels
    if column not in train.column_names:
        return texts
    if problem_type == "regression":
        return texts + _regression_warnings(splits, column)
    configured = data.get("label_names") or None
    read = TrainLabels.read(train, column, problem_type, configured=bool(configured))
    if problem_type == "single_label" and (lists := lists_under_single_label(read.values)):
        return [*texts, f"lab.train refuses the labels: {lists}"]
    if problem_type == "single_label" and (mixed := mixed_label_problem(read.values)):
        row, why = mixed
        return [*texts, f"train: {place(splits, 'train', row)}: lab.train refuses it: {why}"]
    if read.non_list is not None:
        row, value = read.non_list
        where = place(splits, "train", row)
        return [*texts, f"train: {where}: lab.train refuses it: {not_a_list(value)}"]
    num_labels = data.get("num_labels")
    with _quiet():  # what resolving says (merged spellings, absent ids) is training's to log
        classes = LabelClasses.resolve(read, configured, num_labels, column)
    found = texts
    unused = read.class_zero_warning(classes.names, column=column, split="the train split")
    if unused:
        found.append(unused)
    count = int(num_labels) if num_labels is not None else len(classes.names)
    single = problem_type == "single_label"
    for split, dataset in splits.items():
        if column not in dataset.column_names:  # a missing column is the head's to refuse
            continue
        refused_here: list[Refused] = []
        unseen: list[Any] = []  # labels train never holds, where its labels are the classes
        for value, rows in _label_counts(dataset, column, flatten=not single).items():
            # lab.inspect's label gaps count empty cells and a single label's hidden -1; they
            # do not look inside a multi-label list, whose empty elements training refuses too
            if single and (is_empty(value) or classes.hides(value)):
                continue
            element = None if single or is_empty(value) else multi_label_element_problem(value)
            if element is None and classes.never_in_train(value):
                unseen.append(value)
                continue
            refused = EMPTY_CELL if is_empty(value) else element or classes.problem(value, count)
            if refused:
                refused_here.append((value, rows, refused))
        if unseen:
            found.append(_never_in_train(split, dataset, column, unseen, classes, len(train)))
        found += refusal_warnings(split, refused_here)
        # classes the names list but no train row holds: training's warning, once per split
        if missing := classes.unseen_warning(split, dataset, column):
            found.append(missing)
    return found


def _never_in_train(
    split: str,
    dataset: Dataset,
    column: str,
    values: list[Any],
    classes: LabelClasses,
    train_rows: int,
) -> str:
    """One warning for the labels of `split` that training refuses as never in train (whose
    labels are the classes), however many: training's reason and fix once, not per label."""
    rows = _rows_holding(dataset, column, set(values))
    # A text column named as the labels: (almost) every train row its own class, every other
    # split's label unseen.
    text = " (a label column holding text?)" if 5 * len(classes.names) > 4 * train_rows > 16 else ""
    return never_in_train_warning(split, values, rows, classes.names, fix=classes.fix(), hint=text)


def _rows_holding(dataset: Dataset, column: str, values: set[Any]) -> int:
    """The rows of `dataset` whose `column` (a label, or a list of them) holds any of
    `values`, as Python reads the cells (only where training would refuse them)."""
    return sum(
        1
        for cell in dataset[column]
        if any(
            not isinstance(v, (list, dict)) and v in values
            for v in (cell if isinstance(cell, list) else [cell])
        )
    )


def train_classes(data: DictConfig, train: Dataset, column: str) -> ClassesRead | None:
    """The classes training resolves from `train` (`LabelClasses`, as `label_warnings`
    resolves them) and the class name of a stored label (None: hidden or refused), so that
    lab.inspect's balance table and class weights count training's classes: a stray 5 beside
    0 and 1 makes 6, "negative " is "negative", -1 beside 0 and 1 names a class. None where
    this head's labels are not classes (regression) or training refuses them before classes.

    Resolving says what training says of it (the classes bare integers -1, 0, 1 name, a
    label read without its spaces): lab.inspect shows those lines as training's. Labels
    1..K under K configured names, which training refuses as 1-based, are not read as the
    classes 0..K-1 would be (every row one class up): their stored values are listed, with
    why training refuses them (the third element)."""
    problem_type = str(data.get("problem_type") or "single_label")
    if problem_type == "regression" or column not in train.column_names:
        return None
    configured = data.get("label_names") or None
    read = TrainLabels.read(train, column, problem_type, configured=bool(configured))
    single = problem_type == "single_label"
    if single and mixed_label_problem(read.values):
        return [], lambda _: None  # training refuses every label until they are one kind
    if read.non_list is not None or (single and lists_under_single_label(read.values)):
        return None
    num_labels = data.get("num_labels")
    # Configured names against a ClassLabel were said by lab.inspect's own check (the same
    # `reconcile_label_names`); the rest is training's to say once, here (`label_warnings`
    # resolves again, quietly).
    with _quiet() if configured else nullcontext():
        classes = LabelClasses.resolve(read, configured, num_labels, column)
    if classes.one_based:

        def as_stored(value: Any) -> str | None:
            number = as_integer(value)
            return str(number) if isinstance(number, int) and number in read.present else None

        why = f"labels 1..{len(classes.names)} look 1-based"
        return [str(v) for v in sorted(read.present)], as_stored, why
    count = int(num_labels) if num_labels is not None else len(classes.names)
    names = list(classes.names) + [str(i) for i in range(len(classes.names), count)]

    def name_of(value: Any) -> str | None:
        if is_empty(value) or (problem_type == "single_label" and classes.hides(value)):
            return None
        if problem_type == "multi_label" and multi_label_element_problem(value):
            return None
        if classes.problem(value, count) is not None:
            return None
        if classes.ids is not None:
            index = class_id(classes.ids, value)
            return None if index is None else names[index]
        number = as_integer(value)
        return names[number] if isinstance(number, int) else None

    return names, name_of


def _text_warnings(data: DictConfig, splits: dict[str, Dataset]) -> list[str]:
    """Per split, a text column training refuses as no text (`text_column.non_text`: a
    column of numbers, e.g. text and label swapped), in its words."""
    found = []
    for split, dataset in splits.items():
        for column in filter(None, (data.get("text_column"), data.get("text_pair_column"))):
            problem = non_text(dataset, column) if column in dataset.column_names else None
            if problem is not None:
                row, why = problem
                where = f"column '{column}'"
                if row is not None:
                    where = f"{place(splits, split, row)} {where}"
                found.append(f"{split}: {where}: lab.train refuses it: {why}")
            elif column in dataset.column_names and (empty := empty_cells(dataset, column)):
                count, row = empty
                found.append(
                    f"{split}: {rows_have(count)} an empty '{column}' cell (the first: "
                    f"{place(splits, split, row)}); lab.train refuses it: the cell is empty"
                )
    return found


def _regression_warnings(splits: dict[str, Dataset], column: str) -> list[str]:
    """Per split, the first label training refuses as no number, in its words (with the row,
    1-based as lab.train counts file lines' rows)."""
    found = []
    for split, dataset in splits.items():
        if column not in dataset.column_names or all_numbers(label_array(dataset, column)):
            continue
        # Missing cells are the label-gap warning's ("no label (an empty cell)"): once.
        refused = regression_label_problem(dataset[column], skip_missing=True)
        if refused is not None:
            row, why = refused
            found.append(f"{split}: {place(splits, split, row)}: lab.train refuses it: {why}")
    return found


def _label_counts(dataset: Dataset, column: str, *, flatten: bool) -> dict[Any, int]:
    """The distinct labels of `dataset` (with `flatten`, the elements of list cells) with their
    rows, integers in value order first, then the rest in order of first appearance. Counted
    by Arrow for the plain column types; a column `datasets` reads as Json (mixed types: 0, 1
    and "pos" in one JSON file) is counted from its decoded values, as training reads them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = label_array(dataset, column)
    if flatten and (pa.types.is_list(values.type) or pa.types.is_large_list(values.type)):
        values = pc.list_flatten(values)
    if plain_type(values.type):
        counts = {entry["values"]: entry["counts"] for entry in pc.value_counts(values).to_pylist()}
    else:
        cells = dataset[column]
        if flatten:
            cells = [v for cell in cells for v in (cell if isinstance(cell, list) else [cell])]
        counts = dict(Counter(v for v in cells if not isinstance(v, (list, dict))))

    return dict(sorted(counts.items(), key=lambda item: value_order(item[0])))


@contextmanager
def _quiet() -> Iterator[None]:
    """Log no warnings meanwhile."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)
