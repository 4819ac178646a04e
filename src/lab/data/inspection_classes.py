"""The labels of `python -m lab.inspect`: train's balance table, and the classes every split holds.

Train's balance (`inspection_stats.label_balance`: counts, shares, class weights) says what the
model learns from; it says nothing of what it is scored on. A skewed or few-shot file can leave
a class out of validation or test, given or carved: 40 rows with 2 of class 1 carve a
validation and a test of 4 rows each (`data.val_fraction` / `data.test_fraction` 0.1,
stratified by class: `lab.data.stratified`), and a class of 2 rows in 40 has 0.2 of a row in
each, so neither holds one. Their scores then say nothing of that class, and nothing said so
before training. So every split's rows of each of train's classes are counted too
(`label_counts` of each split in `inspect.json`: the classes of train's table, in its order,
0 for one the split lacks), and a class train holds that a validation or test split lacks is
named in one warning per split (`split_lacks_classes_warning`, its names bounded by
`unseen_classes.few`; `classes_missing` in the JSON). A split's values that name no class of
train's table (a label training refuses, a class train lacks) are not counted here: they are
the head's warnings (`lab.data.unseen_classes`, the head's label rules).

A value is named as train's table names it (`inspection_stats.class_key`: the head's classes
where it resolves them, else an id into the names, else the value as text). Counted with Arrow
over the label column (its distinct values and their counts; a list column's elements: the
tags of words, the labels of a multi-label row): the Python work is per distinct value, not per
row. A column `datasets` holds as Json text (mixed types) is read in Python, as the heads read
it. Classes are counted for every head whose train balance has counts (text classification,
multi-label, token classification's tags, multiple choice's answer positions); numbers that
are no classes (regression) have none.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from lab.data.inspection_hooks import train_classes
from lab.data.inspection_places import place
from lab.data.inspection_stats import class_key, label_balance, label_gaps
from lab.data.unseen_classes import few, value_counts

if TYPE_CHECKING:
    from datasets import Dataset
    from omegaconf import DictConfig

#: the key whose fraction of train carves each split (the advice for a carved split)
CARVED_BY = {"validation": "data.val_fraction", "test": "data.test_fraction"}


def inspect_labels(
    data: DictConfig, splits: dict[str, Dataset], column: str, report: dict[str, Any]
) -> list[str] | None:
    """Fill `report` (lab.inspect's) with the labels of `column`: train's balance
    (`report["labels"]`) and, per split, its label gaps (hidden -1, empty cells), its rows of
    each of train's classes (`label_counts`) and, for validation and test, the classes train
    holds and it lacks (`classes_missing`). Returns the class names the head's label rules
    get (training's, where the head resolves them)."""
    names = label_names(data, splits["train"], column)
    resolved = train_classes(data, splits["train"], column)
    name_of, refused = None, None
    if resolved is not None:  # training's classes, where the head resolves them
        names, name_of, *rest = resolved
        refused = rest[0] if rest else None  # a reading training refuses: stored values
    labels = label_balance(
        splits["train"][column],
        names,
        numeric=data.get("problem_type") == "regression",
        name_of=name_of,
        per_row=data.get("problem_type") == "multi_label",
    )
    report["labels"] = labels
    if refused and "counts" in labels:  # no weights to advise for them
        labels.pop("imbalance_ratio", None)
        labels["class_weights"] = dict.fromkeys(labels["counts"])
        labels["refused"] = refused
    hidden = "-1" not in {str(n).strip() for n in names or []}  # unless -1 names a class
    for name, dataset in splits.items():
        if column not in dataset.column_names:  # a missing column is the head's to refuse
            continue
        gaps = label_gaps(dataset, column, hidden=hidden)
        if "first_empty" in gaps:  # named as training names a row: file and line
            gaps["first_empty"] = place(splits, name, gaps["first_empty"])
        entry = report["splits"][name]
        entry["label_gaps"] = gaps
        if "counts" not in labels:  # numbers, not classes: nothing to count per class
            continue
        classes = list(labels["counts"])
        entry["label_counts"] = (
            dict(labels["counts"])  # train's own table: one counting, not two
            if name == "train"
            else class_counts(dataset, column, classes, names, name_of)
        )
        if name != "train":
            entry["classes_missing"] = [
                c for c in classes if labels["counts"][c] and not entry["label_counts"][c]
            ]
    return names


def label_names(data: DictConfig, train: Dataset, column: str) -> list[str] | None:
    """The names training gives the label ids: `data.label_names` checked against the column's
    ClassLabel as training checks them (another order or count: the same DataError)."""
    from lab.data.label_names import reconcile_label_names

    configured = [str(n) for n in data.get("label_names") or []]
    feature = train.features.get(column)
    feature = getattr(feature, "feature", feature)  # a list of ClassLabel (NER tags)
    if hasattr(feature, "names"):
        if configured:
            return reconcile_label_names(configured, feature.names, column)
        return list(feature.names)
    return configured or None


def class_counts(
    dataset: Dataset,
    column: str,
    classes: Sequence[str],
    names: Sequence[str] | None,
    name_of: Callable[[Any], str | None] | None,
) -> dict[str, int]:
    """The rows (of a list column, the elements: tags, a multi-label row's labels) of
    `dataset` of each of `classes` (train's table, in its order; 0 for one it lacks), each
    distinct value named as train's table names it (`class_key` with `names`, `name_of`).
    Values of no class in `classes` are left out (the head's warnings say them)."""
    found = dict.fromkeys(classes, 0)
    for value, count in value_counts(dataset, column)[0].items():
        if value is None:  # an empty cell: train's table leaves them out too
            continue
        key = class_key(value, names, name_of)
        if key in found:
            found[key] += count
    return found


def split_lacks_classes_warning(
    split: str, missing: Sequence[str], *, unit: str = "row", carved: bool = False
) -> str:
    """The warning for the classes train holds that split `split` has no `unit` (row, tag)
    of (`missing`, named as `unseen_classes.few` bounds them), in the words of training's own
    line on them (`lab.data.missing_classes`: "holds no row of ...: its scores do not measure
    it"), one per split; for a carved split, how to carve some into it."""
    noun, holder = ("tag", "word") if unit == "tag" else ("class", unit)
    plural = "es" if noun == "class" else "s"
    what = (
        f"{noun} {missing[0]!r}"
        if len(missing) == 1
        else f"{len(missing)} {noun}{plural} ({few(list(missing))})"
    )
    them = "it" if len(missing) == 1 else "them"
    message = (
        f"{split}{' (carved)' if carved else ''} holds no {holder} of {what} that train "
        f"holds: its scores do not measure {them}"
    )
    if carved and split in CARVED_BY:
        these = f"this {noun}" if len(missing) == 1 else f"these {noun}{plural}"
        message += (
            f"; a larger {CARVED_BY[split]} or more rows of {these} in the file would carve "
            "some into it"
        )
    return message
