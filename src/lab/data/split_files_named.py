"""What `train.log` says of a folder of split files (`train.jsonl`, `validation.jsonl`,
`test.jsonl`; `lab.data.local_files` layout 2): which file each of lab's splits reads, by
the data config's `data.splits`, and which files of the folder no split reads.

A data config written for a Hub dataset without a test split maps lab's test split to the
Hub's `validation` and carves validation from train (`data=squad`, `data=sst2`): over such a
folder, `validation.jsonl` is the test split and `test.jsonl` is not read. The line says so,
as a warning naming the override that reads each file as its own split.

An unread file that lacks a column of train's (GLUE's original `test.tsv` of `index,
sentence` beside `sentence,label`: its labels are hidden) is no split training could read:
the override would have the split refused. The line says it is left out for that and offers
no override for it; where it is the only file left out, nothing needs doing and the line is
for `train.log`. So is an unread file whose first rows hold only the hidden label (-1 or
empty) of a column train fills (SWAG's, STS-B's and HellaSwag's test files as the Hub's
`to_json` writes them; `lab.data.peek_rows`). A mapping that reads one split as all three
(`lab.eval`'s, of the split it evaluates) leaves the other files unread by design: no warning.

The unread files' columns come from its header or first rows only
(`lab.config.data_rules.peek_columns`), never from reading it whole; a headerless CSV file's
from `data.csv_column_names` where its first line has as many fields (`lab.data.csv_header`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

#: lab's splits, in the order the line names them
ROLES = ("train", "validation", "test")
#: a pandas index column (`DataFrame.to_csv` without `index=False`): no data, so a file lacking
#: it lacks nothing (`Unnamed: 0` as `datasets` names it, or the header's empty name)
_INDEX_COLUMN = re.compile(r"(Unnamed: \d+)?")


def dataset_folder_line(
    root: Path, which: str, found: Mapping[str, list[str]], splits: Mapping[str, str | None] | None
) -> str:
    """The log line on a Hub dataset folder `root` read (`which`: its configuration or folder
    note): the splits `found` with their file counts, and `dataset_splits_note`."""
    counts = ", ".join(f"{split} ({len(g)} file{'s' * (len(g) > 1)})" for split, g in found.items())
    note = dataset_splits_note(found, splits)
    return f"data.path {root} read as a dataset folder{which}: {counts}{note}"


def dataset_splits_note(
    found: Mapping[str, list[str]], splits: Mapping[str, str | None] | None
) -> str:
    """For a Hub dataset folder's splits `found`: which one each of lab's splits reads by the
    data config's `splits` (UltraChat: train=train_sft, test=test_sft) and the ones none reads
    (train_gen, test_gen); "" where the config maps none (`splits` None)."""
    if splits is None:
        return ""
    from lab.data.splits import source_split_name  # imports the loaders, which import this

    read = {role: source_split_name(splits, role, found, local=True) for role in ROLES}
    unread = [split for split in found if split not in read.values()]
    not_read = f"; not read: {', '.join(unread)}" if unread else ""
    if read["train"] not in found:  # training's refusal follows: carve nothing (s31e N9)
        return f"; lab's train split reads '{read['train']}', which the folder lacks" + not_read
    which = ", ".join(
        f"{role}={read[role]}" if read[role] in found else f"{role} carved from train"
        for role in ROLES
    )
    return f"; lab's splits: {which}{not_read}"


def split_files_line(
    root: Path,
    named: Mapping[str, list[str]],
    others: list[str],
    splits: Mapping[str, str | None] | None,
    column_names: Sequence[str] | None = None,
) -> tuple[bool, str]:
    """(whether it is a warning, the line) for the folder `root` of split files `named`
    ({split: [its file]}), `others` the names of its other data files (`train_augmented.csv`),
    and `splits` the data config's mapping (lab's split -> the source's; None: unknown, the
    files are named by their split alone). A file no split reads makes it a warning, unless
    it lacks a column of train's (no labels: rightly left out). `column_names`
    (`data.csv_column_names`) name the columns of headerless CSV files."""
    unread: list[str] = []  # file names, with the override that reads them
    lacking: dict[str, list[str]] = {}  # split: train's columns its unread file lacks
    hint = ""
    hidden: dict[str, list[str]] = {}  # split: columns its unread file holds hidden labels in
    if splits is None:
        which = ", ".join(f"{s}={Path(named[s][0]).name}" for s in ROLES if s in named)
    else:
        # lab.data.splits imports the loaders, which import lab.data.local_files and this
        from lab.data.splits import source_split_name

        read = {role: source_split_name(splits, role, named, local=True) for role in ROLES}
        which = ", ".join(
            f"{role}={Path(named[read[role]][0]).name}"
            if read[role] in named
            else f"{role} carved from train"
            for role in ROLES
        )
        used = set(read.values())
        # One split read as all three: lab.eval's reading of the split it evaluates (a
        # deliberate mapping), which leaves the other files unread by design.
        left = [s for s in ROLES if s in named and s not in used and len(used) > 1]
        found = {s: _lacks_train_columns(named, s, column_names) for s in left}
        lacking = {s: columns for s, columns in found.items() if columns}
        hiding = {s: _hides_labels(named, s, column_names) for s in left if s not in lacking}
        hidden = {s: columns for s, columns in hiding.items() if columns}
        unread = [Path(named[s][0]).name for s in left if s not in lacking and s not in hidden]
        own = " ".join(
            f"data.splits.{role}={role}"
            for role in ROLES
            if role in named and read[role] != role and role not in lacking | hidden
        )
        hint = f" ({own} reads each file as the split it is named after)"
    line = f"data.path {root} read as a folder of split files: {which}"
    if unread:
        line += f"; not read: {', '.join(unread)}{hint}"
    for split, columns in lacking.items():
        listed = ", ".join(f"'{c}'" for c in columns)
        line += (
            f"; not read: {Path(named[split][0]).name}, without train's "
            f"column{'s' * (len(columns) > 1)} {listed} (no labels, as in GLUE's test files: "
            "rightly left out)"
        )
    for split, columns in hidden.items():
        listed = ", ".join(f"'{c}'" for c in columns)
        line += (
            f"; not read: {Path(named[split][0]).name}, whose {listed} holds only hidden "
            "labels in its first rows (-1 or empty, as in GLUE's and SWAG's test files: "
            "rightly left out)"
        )
    # A file named like another split of the source (MNLI's `validation_matched.jsonl` under
    # data=json) is read by naming it in `data.splits`, not by merging it (s30c N4).
    split_like = [name for name in others if _split_like(name)]
    extra = [name for name in others if name not in split_like]
    if split_like:
        stem = split_like[0].split(".")[0]
        line += (
            f"; not read: {', '.join(split_like)} (named like splits: "
            f"data.splits.validation=<its name> or data.splits.test=<its name> reads one as "
            f"that split, e.g. data.splits.validation={stem})"
        )
    if extra:
        line += (
            f"; not read: {', '.join(extra)} (a split is read from the one file named after "
            "it: merge other rows into that file to use them)"
        )
    return bool(unread or others), line


# A file name's start that says it holds a validation or test split of its own kind.
_SPLIT_LIKE = re.compile(r"^(validation|valid|val|dev|test)[_-]", re.IGNORECASE)


def _split_like(name: str) -> bool:
    """Whether data file `name` is named like a split of another name (`validation_matched`,
    `test-clean`), not an extra file of one (`train_augmented`)."""
    return bool(_SPLIT_LIKE.match(name.split(".")[0]))


def _lacks_train_columns(
    named: Mapping[str, list[str]], split: str, column_names: Sequence[str] | None = None
) -> list[str]:
    """The columns of train's file that `split`'s file lacks, from their headers (a pandas
    index column aside; `column_names` for a headerless CSV file of as many fields); [] where
    it has them all or either file's columns are unknown (JSON that is not JSON lines, a file
    that cannot be peeked: the loader names it)."""
    # lab.config.data_rules imports lab.data, which imports this module
    from lab.config.data_rules import peek_columns
    from lab.data.csv_header import headerless_columns
    from lab.errors import LabError

    try:
        train, other = (
            headerless_columns(named[s][0], column_names) or peek_columns(Path(named[s][0]))
            for s in ("train", split)
        )
    except (LabError, OSError, ValueError):  # pyarrow's errors are ValueErrors
        return []
    if train is None or other is None:
        return []
    return [c for c in train if c not in other and not _INDEX_COLUMN.fullmatch(c)]


def _hides_labels(
    named: Mapping[str, list[str]], split: str, column_names: Sequence[str] | None = None
) -> list[str]:
    """The columns in which `split`'s file holds only hidden labels in its first rows where
    train's holds short values (`lab.data.peek_rows`): a file no split could score."""
    from lab.data.peek_rows import hidden_label_columns, peek_rows

    rows = (peek_rows(Path(named[s][0]), column_names) for s in ("train", split))
    return hidden_label_columns(*rows)
