"""The tags of token classification (NER, POS) as training names and refuses them, and what
`lab.inspect` lists of them (`conf/data/base/inspect/token_classification.yaml` names
`label_warnings` under `labels:`); light, without torch or Lightning.

`TokenClassificationDataModule` takes its tag names from `tag_names` and checks every tag
with `tag_problem`; `label_warnings` applies the same two to every split, so lab.inspect
lists, per split, each tag training refuses with the rows that hold it, in training's words.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lab.data.inspection_refusals import (
    SHOWN_PER_SPLIT,
    Refused,
    refusal_warnings,
    value_order,
)
from lab.data.label_names import id_as_text, reconcile_label_names
from lab.data.unseen_classes import (
    TrainClasses,
    listed,
    never_in_train,
    never_in_train_warning,
    tag_class_of,
)
from lab.errors import DataError

#: how to train with tags train lacks, where its string tags are the tag names
TAG_FIX = "list every tag: data.label_names=[...]"

if TYPE_CHECKING:
    from datasets import Dataset
    from omegaconf import DictConfig


def tag_names(
    train: Dataset, column: str, configured: Sequence[str] | None, *, pinned: bool = False
) -> tuple[list[str], bool]:
    """The tag names in id order and whether the tags are strings: `configured`
    (`data.label_names`, checked against a Sequence(ClassLabel) column's names; `pinned`:
    they are a trained model's, in lab.eval), else the column's names, else the sorted string
    tags of `train`; raises DataError for tag ids without names."""
    string_tags = has_string_tags(train, column)
    class_names = getattr(getattr(train.features[column], "feature", None), "names", None)
    names = list(configured) if configured is not None else None
    if names is not None and class_names:
        names = reconcile_label_names(names, class_names, column, pinned=pinned)
    if names is None:
        if class_names:
            names = list(class_names)
        elif string_tags:
            names = sorted({t for row in train[column][:] for t in row})  # [:]: one read
        else:
            raise DataError(
                f"the {column} column holds tag ids but no tag names are known: "
                "set data.label_names to the tag names in id order"
            )
    return names, string_tags


def has_string_tags(train: Dataset, column: str) -> bool:
    """Whether `column` of `train` holds its tags as strings (not ids)."""
    feature = getattr(train.features[column], "feature", None)
    return getattr(feature, "dtype", None) in ("string", "large_string")


def found_tags_line(names: Sequence[str]) -> str:
    """The one line naming the tags read from the train split's strings and their ids, e.g.
    `tags (9, sorted from the train split's strings): B-LOC=0, ..., O=8` (with IOB1 data, the
    B- tags added after them), so a typo'd tag (`B-persn`), a class of its own, shows."""
    ids = ", ".join(f"{name}={i}" for i, name in enumerate(names))
    return f"tags ({len(names)}, sorted from the train split's strings): {ids}"


def not_a_list(cell: Any, what: str) -> str | None:
    """Why training refuses a words or tags cell (`what`: "words" or "tags") that is not a
    list, one item per word; None for a list."""
    if isinstance(cell, list):
        return None
    if cell is None:
        return f"the cell is empty; give a list of {what}, one per word"
    kind = "text" if isinstance(cell, str) else f"a {type(cell).__name__}"
    example = '["John", "lives"]' if what == "words" else '["B-PER", "O"]'
    return f"{kind} {cell!r}, not a list of {what} (one per word, e.g. {example})"


def tag_problem(
    tag: Any,
    names: Sequence[str],
    string_tags: bool,
    evaluating: bool = False,
    *,
    from_train: bool = False,
) -> str | None:
    """Why training refuses `tag` (a name when `string_tags`, else an id into `names`), in the
    words after the row it names, or None where it takes it. `evaluating` (`lab.eval`): the
    names are the model's own, which no setting changes. `from_train`: the names are train's
    string tags (none were given), so a tag outside them never occurs in train."""
    if tag is None:  # a null element of a tag list (an export with a gap): no id to check
        return f"a tag is empty (null); every word needs one of the label list {listed(names)}"
    if string_tags:
        refused = tag not in names
    else:
        try:  # a whole number in 0..N-1 (1.0 as written by some exporters is 1)
            refused = not 0 <= int(tag) < len(names) or int(tag) != tag
        except (TypeError, ValueError):
            refused = True
    if not refused:
        return None
    if from_train and string_tags and isinstance(tag, str):
        return never_in_train(tag, names, fix=TAG_FIX, noun="tag")
    advice = (
        "the model was trained on these tags only: fix the data"
        if evaluating
        else id_as_text(tag, names) or "fix the data or set data.label_names"
    )
    return f"tag {tag!r} is not in the label list {listed(names)}; {advice}"


def label_warnings(
    data: DictConfig, splits: dict[str, Dataset], names: Sequence[str] | None
) -> list[str]:
    """Per split, each tag training refuses, with the rows that hold it; where training
    refuses the tag names themselves, that. `names`: lab.inspect's own resolution of
    `data.label_names` against the column's ClassLabel, as training resolves them (and warned
    about once, where the two differ); None where it found none (string tags, tag ids without
    names), resolved here as training resolves them."""
    column = str(data.get("tags_column") or "ner_tags")
    train = splits["train"]
    if column not in train.column_names:  # a missing column is the head's to refuse
        return []
    configured = data.get("label_names")
    try:
        # lab.inspect resolved them (and warned where they differ): resolving them again here
        # said that warning twice (s31a F6)
        known, string_tags = (
            (list(names), has_string_tags(train, column))
            if names is not None
            else tag_names(train, column, [str(n) for n in configured] if configured else None)
        )
    except DataError as err:
        return [f"lab.train refuses the labels: {err}"]
    from_train = not configured and string_tags
    iob1 = data.get("tag_scheme") == "iob1"
    read = tag_class_of(known, string_tags=string_tags, iob1=iob1)
    classes = TrainClasses.read(train, column, known, read, "tag")
    found = row_shape_warnings(data, splits)
    for split, dataset in splits.items():
        if column not in dataset.column_names:
            continue
        why: dict[Any, str | None] = {}  # each distinct tag is judged once
        rows: Counter[Any] = Counter()  # rows holding each refused tag
        refused_rows: list[set[Any]] = []
        for tags in dataset[column][:]:  # a list: `datasets`' Column reads a cell per step
            # a null row is counted by lab.inspect's label gaps; a null tag has no id to judge
            # in row order, once each: string tags are listed in order of first appearance
            here = [t for t in dict.fromkeys(tags or []) if t is not None]
            for tag in here:
                if tag not in why:
                    why[tag] = tag_problem(tag, known, string_tags, from_train=from_train)
            bad = [t for t in here if why[t] is not None]
            rows.update(bad)
            if bad:
                refused_rows.append(set(bad))
        ordered = sorted(rows.items(), key=lambda item: value_order(item[0]))
        # tags train never holds, where its tags are the names: one line, not one per tag
        unseen = {tag for tag, _ in ordered if from_train and isinstance(tag, str)}
        if unseen:
            held = sum(1 for bad in refused_rows if bad & unseen)
            listed_unseen = [tag for tag, _ in ordered if tag in unseen]
            found.append(
                never_in_train_warning(split, listed_unseen, held, known, fix=TAG_FIX, noun="tag")
            )
        refused: list[Refused] = [
            (tag, held, str(why[tag])) for tag, held in ordered if tag not in unseen
        ]
        rest = {tag for tag, _, _ in refused[SHOWN_PER_SPLIT:]}
        rest_rows = sum(1 for bad in refused_rows if bad & rest)
        found += refusal_warnings(split, refused, noun="tag", rest_rows=rest_rows)
        # tags the names list but no train word has: training's warning, once per split
        if split != "train" and (missing := classes.warning(split, dataset, column)):
            found.append(missing)
    return found


def is_wordless(words: Any, tags: Any) -> bool:
    """Whether a row holds no words and no tags (two empty lists, a CoNLL file's trailing
    empty sentence): training leaves it out (`wordless_note`). Hugging Face's `run_ner.py`
    trains on such a row as special tokens alone, every label -100: it adds nothing."""
    return isinstance(words, list) and isinstance(tags, list) and not words and not tags


def wordless_note(counts: dict[str, int]) -> str | None:
    """The one warning on the rows without words left out of each split (`counts`: split ->
    rows), e.g. `3 rows have no words (and no tags): left out of train (2), test (1); they
    hold nothing to train on or score`; None where there are none."""
    held = {split: n for split, n in counts.items() if n}
    if not held:
        return None
    total = sum(held.values())
    rows, they = ("1 row has", "it holds") if total == 1 else (f"{total} rows have", "they hold")
    splits = ", ".join(f"{split} ({n})" for split, n in held.items())
    return (
        f"{rows} no words (and no tags): left out of {splits}; {they} nothing to train on or score"
    )


def all_wordless_message(split: str, rows: int) -> str:
    """Training's refusal of a split whose every row has no words (`is_wordless`): leaving them
    out leaves nothing (s31e N2: the empty split crashed the tokenizer's column read), and
    `lab.inspect`'s line for it."""
    return (
        f"the {split} split has no rows left after leaving out its {rows} rows with no words "
        "(and no tags): give it rows with words, or carve it from train "
        f"(data.splits.{split}=null)"
    )


def row_problem(
    words: Any, tags: Any, tokens_column: str, tags_column: str
) -> tuple[str, str] | None:
    """The column and training's words for why it refuses a row's words and tags as a pair
    (not lists, counts that differ); None where it takes the pair (its tags are judged one by
    one by `tag_problem`; a row without words or tags is left out, `is_wordless`)."""
    for column, cell, what in ((tokens_column, words, "words"), (tags_column, tags, "tags")):
        problem = not_a_list(cell, what)  # a string would be read letter by letter
        if problem is not None:
            return column, problem
    if len(words) != len(tags):
        return tags_column, (
            f"{len(words)} words but {len(tags)} tags (columns '{tokens_column}', '{tags_column}')"
        )
    return None


def row_shape_warnings(data: DictConfig, splits: dict[str, Dataset]) -> list[str]:
    """Per split, the rows whose words and tags training refuses as a pair (`row_problem`):
    how many, and the first where its file shows it, in training's words; then training's
    one line on the rows without words it leaves out (`wordless_note`)."""
    from lab.data.inspection_places import place
    from lab.data.inspection_refusals import rows_have

    tokens_column = str(data.get("tokens_column") or "tokens")
    tags_column = str(data.get("tags_column") or "ner_tags")
    found = []
    wordless: dict[str, int] = {}
    for split, dataset in splits.items():
        if not {tokens_column, tags_column} <= set(dataset.column_names):
            continue  # a missing column is the head's to refuse
        pairs = list(zip(dataset[tokens_column], dataset[tags_column], strict=True))
        wordless[split] = sum(1 for pair in pairs if is_wordless(*pair))
        if pairs and wordless[split] == len(pairs):
            found.append(all_wordless_message(split, len(pairs)))
        refused = [
            (row, problem)
            for row, pair in enumerate(pairs)
            if (problem := row_problem(*pair, tokens_column, tags_column)) is not None
        ]
        if refused:
            row, (column, why) = refused[0]
            found.append(
                f"{split}: {rows_have(len(refused))} words and tags lab.train refuses; the first "
                f"({place(splits, split, row)} column '{column}'): {why}"
            )
    note = wordless_note(wordless)
    return [*found, note] if note else found


def iob1_hint(rows: Sequence[Sequence[Any]], names: Sequence[str], string_tags: bool) -> str | None:
    """A warning where tags read as IOB2 look like IOB1 (`rows`: each row's tags, names when
    `string_tags`, else ids into `names`): most entities start with I- (I-X after O or another
    type). lab's scores and `lab.predict` read such a start as an entity (as conlleval does),
    but the model learns to start entities with I-, which a strict IOB2 reader of its tags
    (seqeval's `mode="strict"`, a tool that expects B- starts) drops; converted
    (`data.tag_scheme=iob1`) the data teaches IOB2. None where B- starts most entities (or
    there are none)."""
    b_starts = i_starts = 0
    for tags in rows:
        previous = "O"
        for tag in tags:
            if tag_problem(tag, names, string_tags) is not None:
                continue  # refused by the row checks that follow, in their words
            name = str(tag) if string_tags else str(names[int(tag)])
            if name.startswith("B-"):
                b_starts += 1
            elif name.startswith("I-") and previous[2:] != name[2:]:
                i_starts += 1
            previous = name
    if i_starts <= b_starts:
        return None
    return (
        f"{i_starts} of the train split's {i_starts + b_starts} entities start with I- (after O "
        "or another type), as in IOB1 data; read as IOB2 (data.tag_scheme=iob2) the model "
        "learns to start entities with I- (lab's scores and entities count them, a strict IOB2 "
        "reader drops them): set data.tag_scheme=iob1"
    )
