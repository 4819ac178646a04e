"""Classes that an evaluated split holds but no train row does: one rule for every head and
every way labels are stored.

A model never trained on a class cannot learn it: the validation and test rows of that class
are scored wrong all the same, and lower acc, F1 or entity F1 with nothing said. The rule is
the same whatever the labels are (string names, `ClassLabel` ids, ids into `data.label_names`,
lists of either for multi-label rows, BIO tags of words): each head says which class a stored
value means (`class_of`, None where it means none: an empty cell, the hidden label -1, a value
training refuses), train's classes are those its values mean (`seen_classes`), and a split
whose values mean others gets one warning naming its rows and those classes
(`unseen_classes_warning`), the first few by name.

Where the classes are train's own labels (string labels or tags without `data.label_names`),
a label outside them names no class at all and training refuses it instead, in the words of
`never_in_train` (the classes, where they come from, and how to train with others: list them
all in `data.label_names`); `lab.inspect` says it once per split (`never_in_train_warning`).
The warning is for classes the names list but train lacks. Text classification reads its
classes with `lab.tasks.text_classification.label_classes.LabelClasses`; token classification
with `TrainClasses` and `tag_class_of`.

Counted with Arrow over the label column (its distinct values and their counts; the rows of a
list column by their parent indices): the Python work is per distinct value, not per row, so
IMDB's 25,000 rows cost a few milliseconds. A column Arrow holds in a form Python reads
otherwise (`datasets`' Json text of a mixed-type column) is read in Python instead, as the
heads read it. Lightning-free: `lab.inspect` applies the same rule.

`few` (and `listed`) shorten a list of names in a message to a bounded length: these
messages and the label refusals use them (150 intent names made a 2.5 KB line, repeated in each
of lab.inspect's warnings).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lab.data.inspection_refusals import rows_have

if TYPE_CHECKING:
    import pyarrow as pa
    from datasets import Dataset

#: names shown of a longer list, and the characters they may take (past them: "and N more")
NAMES_SHOWN = 8
NAMES_CHARS = 160

#: a head's reading of one stored label value: the class id it means, None for none
ClassOf = Callable[[Any], "int | None"]


def few(names: Sequence[Any], shown: int = NAMES_SHOWN, chars: int = NAMES_CHARS) -> str:
    """`names` quoted and joined, the first `shown` at most (and within about `chars`
    characters, at least one), the rest counted: `'a', 'b', 'c' and 147 more` (never "and 1
    more": CoNLL's 9 tags are listed whole)."""
    quoted: list[str] = []
    for name in names[:shown]:
        text = repr(name)
        if quoted and sum(len(q) + 2 for q in quoted) + len(text) > chars:
            break
        quoted.append(text)
    if len(names) == len(quoted) + 1 and len(repr(names[-1])) <= chars:
        quoted.append(repr(names[-1]))  # "and 1 more" would take the room of the name
    rest = len(names) - len(quoted)
    return ", ".join(quoted) + (f" and {rest} more" if rest > 0 else "")


def listed(names: Sequence[Any]) -> str:
    """`names` as a message lists them: `['neg', 'pos']` (as Python writes a list) when short,
    `['a', 'b', 'c' and 147 more]` when long."""
    return f"[{few(names)}]"


def never_in_train(
    value: Any,
    names: Sequence[str],
    *,
    fix: str,
    noun: str = "label",
    rows: str = "train",
    near: Any = None,
) -> str:
    """Why training refuses `value` where the classes are train's own labels (`names`, read
    from `rows`): it never occurs there (`near`: the class it differs from only in case or
    spaces, or None); `fix`: how to train with other classes too."""
    if near is None:
        return f"{noun} {value!r} never occurs in {rows}: {train_classes(names, fix, noun, rows)}"
    return (
        f"{noun} {value!r} never occurs in {rows}, but differs from {near!r} only in letter "
        f"case or spaces ({noun}s are matched exactly): fix the data; "
        f"{train_classes(names, fix, noun, rows)}"
    )


def train_classes(names: Sequence[str], fix: str, noun: str = "label", rows: str = "train") -> str:
    """Where the classes come from when no names are given, and `fix`: `the classes are the
    labels of train (140 of them: 'a', ... and 132 more); to train with other classes too,
    list every class: data.label_names=[...]`."""
    others = "classes" if noun == "label" else f"{noun}s"  # "other tags": a tag is a class
    return (
        f"the classes are the {noun}s of {rows} ({len(names)} of them: {few(names)}); to "
        f"train with other {others} too, {fix}"
    )


def never_in_train_warning(
    split: str,
    values: Sequence[Any],
    rows: int,
    names: Sequence[str],
    *,
    fix: str,
    noun: str = "label",
    hint: str = "",
) -> str:
    """lab.inspect's one warning for the `values` of `split` (in `rows` rows) that training
    refuses as never in train, whose labels (`names`) are the classes: training's reason and
    `fix` once, however many values (`hint`: a guess at the cause, after the values)."""
    held = f"{len(values)} {noun}s that never occur"
    if len(values) == 1:
        held = f"1 {noun} that never occurs"
    them = "them" if len(values) > 1 else "it"
    return (
        f"{split}: {rows_have(rows)} {held} in train ({few(values)}){hint}; lab.train refuses "
        f"{them}: {train_classes(names, fix, noun)}"
    )


def seen_classes(values: Iterable[Any], class_of: ClassOf) -> frozenset[int]:
    """The class ids train's distinct stored label `values` mean (`class_of`)."""
    return frozenset(i for i in map(class_of, values) if i is not None)


def distinct_values(dataset: Dataset, column: str) -> list[Any]:
    """The distinct values of `column` (of a list column, the distinct elements of its rows),
    empty cells as None: by Arrow for the plain types, else as Python reads the cells."""
    return list(value_counts(dataset, column)[0])


@dataclass(frozen=True)
class TrainClasses:
    """The classes train has rows of, read once, and the warning they give each evaluated
    split (for a head that keeps no other reading of its classes: token classification).

    Attributes:
        names: the class names in id order.
        class_of: the class id a stored value means (None: none).
        seen: the class ids train's values mean.
        noun: what a class is called in the warning (`class`, `tag`).
    """

    names: Sequence[str]
    class_of: ClassOf
    seen: frozenset[int]
    noun: str = "class"

    @classmethod
    def read(
        cls,
        train: Dataset,
        column: str,
        names: Sequence[str],
        class_of: ClassOf,
        noun: str = "class",
    ) -> TrainClasses:
        """The classes the `column` values of `train` mean."""
        return cls(names, class_of, seen_classes(distinct_values(train, column), class_of), noun)

    def warning(self, split: str, dataset: Dataset, column: str) -> str | None:
        """`unseen_classes_warning` for split `split` (`dataset`, label `column`)."""
        return unseen_classes_warning(
            split,
            dataset,
            column,
            seen=self.seen,
            class_of=self.class_of,
            names=self.names,
            noun=self.noun,
        )


def tag_class_of(names: Sequence[str], *, string_tags: bool, iob1: bool = False) -> ClassOf:
    """How a token-classification tag as stored reads as a class: its place in the tag
    `names`, the tag being a name (`string_tags`) or an id into them; None for a tag
    training refuses. Under IOB1 (`iob1`), where an entity's first word may be I-X (B-X once
    converted), a stored B-X reads as I-X: the entity type is the class train has words of."""
    index = {name: i for i, name in enumerate(names)}

    def class_of(tag: Any) -> int | None:
        if string_tags:
            name = tag if isinstance(tag, str) else None
        else:
            ok = isinstance(tag, int) and not isinstance(tag, bool) and 0 <= tag < len(names)
            name = names[tag] if ok else None
        if name is None:
            return None
        if iob1 and name.startswith("B-") and f"I-{name[2:]}" in index:
            name = f"I-{name[2:]}"
        return index.get(name)

    return class_of


def unseen_classes_warning(
    split: str,
    dataset: Dataset,
    column: str,
    *,
    seen: frozenset[int],
    class_of: ClassOf,
    names: Sequence[str],
    noun: str = "class",
) -> str | None:
    """The warning where the labels of `dataset` (split `split`, label `column`) mean classes
    that train's do not (`seen`, by `class_of`; `names`: the class names in id order; `noun`:
    what a class is called, `class` or `tag`); None where every class it holds has a train
    row."""
    counts, rows_holding = value_counts(dataset, column)
    unseen_values: dict[Any, int] = {}
    for value in counts:
        found = class_of(value)
        if found is not None and found not in seen:
            unseen_values[value] = found
    if not unseen_values:
        return None
    ids = sorted(set(unseen_values.values()))
    rows = rows_holding(set(unseen_values))
    plural = "es" if noun.endswith("s") else "s"
    classes = f"{len(ids)} {noun}{'' if len(ids) == 1 else plural}"
    them = "it" if len(ids) == 1 else "them"
    held, lower = (
        ("1 row holds", "that row lowers")
        if rows == 1
        else (f"{rows} rows hold", "those rows lower")
    )
    return (
        f"{split}: {held} {classes} with no train row ({few([names[i] for i in ids])}): the "
        f"model cannot learn {them}, and {lower} the {split} scores"
    )


def value_counts(dataset: Dataset, column: str) -> tuple[dict[Any, int], Callable[[set[Any]], int]]:
    """The distinct values of `column` (a list column's elements) with their counts, and a
    function counting the rows that hold any of a set of them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    # the one reading of which Arrow types hold labels as Python reads them (a light module)
    from lab.tasks.text_classification.arrow_labels import plain_type

    array = dataset.with_format("arrow")[column]
    nested = pa.types.is_list(array.type) or pa.types.is_large_list(array.type)
    flat = pc.list_flatten(array) if nested else array
    if not plain_type(flat.type):  # Json text of mixed cells: read them as the heads do
        return _python_counts(dataset[column], nested)
    counts = {entry["values"]: entry["counts"] for entry in pc.value_counts(flat).to_pylist()}

    def rows_holding(values: set[Any]) -> int:
        if not nested:
            return sum(counts[v] for v in values)
        return _list_rows(array, flat, values)

    return counts, rows_holding


def _list_rows(array: pa.ChunkedArray, flat: pa.ChunkedArray, values: set[Any]) -> int:
    """The rows of list column `array` (its elements `flat`) holding any of `values`."""
    import pyarrow as pa
    import pyarrow.compute as pc

    wanted = [v for v in values if v is not None]
    if not wanted:
        return 0
    hit = pc.is_in(flat, value_set=pa.array(wanted, type=flat.type))
    parents = pc.list_parent_indices(array)  # row of each element, across chunks
    return int(pc.count_distinct(pc.filter(parents, hit)).as_py())


def _python_counts(
    cells: Sequence[Any], nested: bool
) -> tuple[dict[Any, int], Callable[[set[Any]], int]]:
    """`value_counts` for cells as Python reads them (unhashable ones skipped: a dict in a
    JSON label column is no class)."""
    rows = [
        [v for v in (cell if nested and isinstance(cell, list) else [cell]) if _hashable(v)]
        for cell in cells
    ]
    counts = Counter(v for row in rows for v in row)

    def rows_holding(values: set[Any]) -> int:
        return sum(1 for row in rows if any(v in values for v in row))

    return dict(counts), rows_holding


def _hashable(value: Any) -> bool:
    return not isinstance(value, (list, dict))
