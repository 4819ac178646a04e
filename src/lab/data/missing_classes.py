"""Train classes a validation or test split holds no row of, said before training (s24e M3).

With skewed data an evaluated split can lack a class train has: a 40-row file of 38 rows of
class 0 and 2 of class 1, carved with each class in its share (`lab.data.stratified`), gives a
4-row validation and test their 0.2 of a class-1 row, rounded to none; an untrained model then
scores val/acc 1.0, and class 1's F1 there is no measure of anything. Training now says, in one
line per run, which train classes each evaluated split holds no row of (with their train rows),
so the scores are read for what they cover. The carving is unchanged: the fix is more rows of
the class, or a larger `data.val_fraction` / `data.test_fraction`.

The inverse of `lab.data.unseen_classes` (classes an evaluated split holds but train lacks), on
its machinery: the classes the head read from train (the data module's `classes`: text
classification's `LabelClasses`, single- and multi-label; token classification's
`TrainClasses`, whose classes are tags), each with `names`, `class_of` (the class a stored
label means) and `seen` (the class ids train has rows of), and the label column's distinct
values counted by Arrow (`unseen_classes.value_counts`): the Python work is per distinct
value, not per row (IMDB: about 0.05 s for its three splits). A head without such classes
(regression, multiple choice, generation) and a streamed train split get no line. Under
`lab.eval` a data module's `seen` is None (it reads no train split of its own): lab.eval gives
its classes the ids of the run's train split (`lab.eval_split_notes`). Names are shortened as
every such message shortens them (`unseen_classes.few`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lab.data.inspection_classes import CARVED_BY
from lab.data.unseen_classes import few, value_counts

if TYPE_CHECKING:
    from datasets import Dataset


def missing_classes(
    classes: Any, splits: Mapping[str, Dataset], column: str, scored: Sequence[str]
) -> tuple[dict[str, list[int]], Callable[[Sequence[int]], int]]:
    """Per split of `scored` present in `splits` (with label `column`), the ids of the train
    classes it holds no row of (`classes`: the head's, see the module), and how many train
    rows hold any of some classes."""
    train_counts, train_rows = value_counts(splits["train"], column)
    values_of: dict[int, set[Any]] = {}
    for value in train_counts:
        if (found := classes.class_of(value)) is not None:
            values_of.setdefault(found, set()).add(value)
    in_train = sorted(set(values_of) & set(classes.seen))
    missing: dict[str, list[int]] = {}
    for split in scored:
        if split not in splits or column not in splits[split].column_names:
            continue
        held = {classes.class_of(value) for value in value_counts(splits[split], column)[0]}
        if lacking := [i for i in in_train if i not in held]:
            missing[split] = lacking

    def rows_of(ids: Sequence[int]) -> int:
        return train_rows(set().union(*(values_of[i] for i in ids)))

    return missing, rows_of


def missing_classes_line(
    missing: Mapping[str, Sequence[int]],
    names: Sequence[str],
    rows_of: Callable[[Sequence[int]], int],
    rows: int,
    noun: str = "class",
    carved: Sequence[str] = (),
) -> str | None:
    """The warning for `missing` (split -> ids of the train classes it holds no row of;
    `names`: class names in id order; `rows_of`: the train rows holding any of some classes,
    of `rows`; `noun`: what a class is called), or None where no split lacks one. Splits that
    lack the same classes are named together; for those `carved` from train, how to carve some
    of the classes into them."""
    groups: dict[tuple[int, ...], list[str]] = {}
    for split, ids in missing.items():
        groups.setdefault(tuple(ids), []).append(split)
    if not groups:
        return None
    plural = "es" if noun.endswith("s") else "s"
    parts = []
    for ids, splits in groups.items():
        counted = f"{rows_of(ids)} of {rows} train row{'s' * (rows != 1)}"
        which = (
            f"{noun} {names[ids[0]]!r} ({counted})"
            if len(ids) == 1
            else f"{len(ids)} {noun}{plural} ({few([names[i] for i in ids])}: {counted})"
        )
        parts.append(
            f"{' and '.join(splits)} {'hold' if len(splits) > 1 else 'holds'} no row of {which}"
        )
    scored = [split for splits in groups.values() for split in splits]
    lacking = {i for ids in groups for i in ids}
    them = "it" if len(lacking) == 1 else "them"
    line = (
        f"{'; '.join(parts)}: {'its' if len(scored) == 1 else 'their'} scores do not measure {them}"
    )
    return line + _carving_advice(groups, carved, rows_of)


def _carving_advice(
    groups: Mapping[tuple[int, ...], Sequence[str]],
    carved: Sequence[str],
    rows_of: Callable[[Sequence[int]], int],
) -> str:
    """`; more rows of it in the file, or a larger data.test_fraction, would carve some into
    test`, for the splits of `groups` carved from train (a given split's rows come from its own
    file: no advice for it, s25b M2). The larger fraction is not offered where a lacking class
    has a single train row: carving keeps a class's last row in train (s25b M1)."""
    into = [split for splits in groups.values() for split in splits if split in carved]
    into = [split for split in into if split in CARVED_BY]
    if not into:
        return ""
    lacking = {i for ids, splits in groups.items() if set(splits) & set(into) for i in ids}
    them = "it" if len(lacking) == 1 else "them"
    keys = " / ".join(CARVED_BY[split] for split in into)
    larger = "" if any(rows_of([i]) < 2 for i in lacking) else f", or a larger {keys},"
    return f"; more rows of {them} in the file{larger} would carve some into {' and '.join(into)}"


def missing_classes_warning(
    datamodule: Any, splits: Mapping[str, Dataset], column: str | None, scored: Sequence[str]
) -> str | None:
    """`missing_classes_line` for the splits of `datamodule` as read (`splits`), label
    `column`; None where the head keeps no train classes (see the module)."""
    classes: Any = getattr(datamodule, "classes", None)
    if not column or "train" not in splits or getattr(classes, "seen", None) is None:
        return None
    if column not in splits["train"].column_names:
        return None
    missing, rows_of = missing_classes(classes, splits, column, scored)
    noun = str(getattr(classes, "noun", "class"))
    carved = list(getattr(datamodule, "carved", None) or [])
    rows = len(splits["train"])
    return missing_classes_line(missing, classes.names, rows_of, rows, noun, carved)
