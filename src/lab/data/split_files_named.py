"""What `train.log` says of a folder of split files (`train.jsonl`, `validation.jsonl`,
`test.jsonl`; `lab.data.local_files` layout 2): which file each of lab's splits reads, by
the data config's `data.splits`, and which files of the folder no split reads.

A data config written for a Hub dataset without a test split maps lab's test split to the
Hub's `validation` and carves validation from train (`data=squad`, `data=sst2`): over such a
folder, `validation.jsonl` is the test split and `test.jsonl` is not read. The line says so,
as a warning naming the override that reads each file as its own split.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

#: lab's splits, in the order the line names them
ROLES = ("train", "validation", "test")


def split_files_line(
    root: Path,
    named: Mapping[str, list[str]],
    others: list[str],
    splits: Mapping[str, str | None] | None,
) -> tuple[bool, str]:
    """(whether it is a warning, the line) for the folder `root` of split files `named`
    ({split: [its file]}), `others` the names of its other data files (`train_augmented.csv`),
    and `splits` the data config's mapping (lab's split -> the source's; None: unknown, the
    files are named by their split alone). A file no split reads makes it a warning."""
    if splits is None:
        which = ", ".join(f"{s}={Path(named[s][0]).name}" for s in ROLES if s in named)
        unread: list[str] = []
        hint = ""
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
        unread = [Path(named[s][0]).name for s in ROLES if s in named and s not in used]
        own = " ".join(
            f"data.splits.{role}={role}" for role in ROLES if role in named and read[role] != role
        )
        hint = f" ({own} reads each file as the split it is named after)"
    line = f"data.path {root} read as a folder of split files: {which}"
    if unread:
        line += f"; not read: {', '.join(unread)}{hint}"
    if others:
        line += (
            f"; not read: {', '.join(others)} (a split is read from the one file named after "
            "it: merge other rows into that file to use them)"
        )
    return bool(unread or others), line
