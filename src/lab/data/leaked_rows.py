"""Validation/test rows with the same text as a train row, said before training (s24c M7).

A row the model was trained on scores better than an unseen one, so a test or validation split
that repeats train rows reports inflated scores, and the best checkpoint and a sweep follow
them. `lab.inspect` counted such rows (leakage); a run said nothing. Training now says, in one
line per run, how many rows of each evaluated split have exactly the text of a train row,
with the way to `lab.inspect` (which also counts rows that differ only in case, spaces or
Unicode form). A split carved from train repeats a train row only where the data holds that
row more than once; the line says so, as the fix is the data's. `lab.eval` says the same line
for the split it scores, against the run's train rows (`lab.eval_split_notes`).

**The row key is lab.inspect's** (`lab.data.inspection`): the columns a head's declaration
names (`conf/data/base/inspect/<head>.yaml`: a text, a pair, question + context, the context,
prefix and endings of multiple choice, a seq2seq source and target), read by
`inspection_rows.row_keys`; a head that reads whole rows (chat messages, preference pairs)
keys them with its own `RowReader`, as lab.inspect does. Only exact equality counts here.

**Cost**: it runs on every training run. Where every key column is a plain Arrow string
column (text classification, QA, multiple choice with ending columns: the common case), the
keys are joined and compared in Arrow (`binary_join_element_wise`, `is_in`: hashing in C++, no
Python object per row); the other columns are read into the same keys by `row_keys` in Python.
IMDB as training splits it (22,500 train, 2,500 validation carved, 25,000 test reviews):
about 0.08 s on 2 cores, against 0.13 s for `row_keys`' Python strings of train and test alone.
No tokenizer is called, except by a row reader whose key needs the head's own parsing.

**Rows that say too little to leak are not counted** (s30d F1; the rule is
`lab.data.counted_rows`, which lab.inspect's duplicate and leak counts share): a blank row (no
letter or digit: WikiText's empty lines, a third of its validation split, which the LM heads
skip) never; and where a head's declaration sets `leak_min_words` (the LM heads: 4), a row of
fewer words (WikiText's ` = = Plot = = ` headings, list items), which recurs in any corpus and,
joined into blocks, is no example of its own. Without this the line fired on every
`data=wikitext2` run (180 of 240 validation rows of a tester's WikiText-shaped set, none a
shared paragraph).

**Streamed train data is skipped**: its rows are read once, in order, while training; holding
every train key before the first step would mean reading the whole stream first (the very
cost streaming avoids), and a sample of its first rows would undercount.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab.data.counted_rows import counted_mask, fewest_words
from lab.data.inspection_hooks import row_reader
from lab.data.inspection_rows import choice_columns, read_split, row_keys

if TYPE_CHECKING:
    import pyarrow as pa
    from datasets import Dataset
    from omegaconf import DictConfig

    from lab.data.inspection_rows import TextSpec

#: what `row_keys` puts between a row's texts
SEPARATOR = "\x1f"


def split_keys(
    dataset: Dataset, specs: Sequence[TextSpec], split: str
) -> pa.Array | pa.ChunkedArray:
    """Each row's key (`row_keys`'s: its texts joined), as an Arrow string array: joined by
    Arrow where every key column is plain text, else `row_keys`'s Python strings."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = sorted({c for s in specs for c in s.columns} | choice_columns(specs))
    plain = not any(s.lang for s in specs) and all(
        getattr(dataset.features.get(c), "dtype", None) in ("string", "large_string")
        for c in columns
    )
    if not plain:  # lists of words, {lang: text} cells, chat messages, Json text
        return pa.array(row_keys(dataset, specs, split), pa.large_string())
    table = dataset.with_format("arrow")
    cells = [table[c].cast(pa.large_string()) for c in columns]
    # A missing cell is "" in `cell_text`: the same under `null_handling="replace"`.
    if len(cells) == 1:  # the key is the text itself: no copy where no cell is missing
        return cells[0] if not cells[0].null_count else pc.fill_null(cells[0], "")
    separator = pa.scalar(SEPARATOR, pa.large_string())
    return pc.binary_join_element_wise(
        *cells, separator, null_handling="replace", null_replacement=""
    )


def reader_keys(reader: Any, split: str, dataset: Dataset) -> pa.Array:
    """The keys a head's `RowReader` gives every row of `dataset` (none measured)."""
    import pyarrow as pa

    return pa.array(read_split(reader, split, dataset, ()).keys, pa.large_string())


def leaked_rows(
    data: DictConfig,
    specs: Sequence[TextSpec],
    tokenizer: Any,
    splits: Mapping[str, Dataset],
    scored: Sequence[str],
) -> dict[str, tuple[int, int]]:
    """Per split of `scored` present in `splits`: (rows whose key is a train row's, rows);
    `specs` and `data` (the data config, for a head's row reader) say what a key is."""
    import pyarrow.compute as pc

    if "train" not in splits:
        return {}
    reader = row_reader(data, tokenizer, splits["train"])
    if reader is None and not specs:
        return {}

    def keys(split: str) -> Any:
        if reader is not None:
            return reader_keys(reader, split, splits[split])
        return split_keys(splits[split], specs, split)

    fewest = fewest_words(data)
    train = keys("train")
    found: dict[str, tuple[int, int]] = {}
    for split in scored:
        if split in splits:
            rows_of_split = keys(split)
            # Words are counted in the shared rows only (few, usually none): not a scan of
            # every review of a large test split on each run's start.
            shared = pc.filter(rows_of_split, pc.is_in(rows_of_split, value_set=train))
            counted = counted_mask(shared, fewest)
            found[split] = (int(pc.sum(counted).as_py() or 0), len(splits[split]))
    return found


def leaked_rows_line(
    counts: Mapping[str, tuple[int, int]],
    carved: Sequence[str],
    run_dir: Path | str | None,
    limited: Mapping[str, str] | None = None,
) -> str | None:
    """The warning for `counts` (`leaked_rows`: split -> (shared, rows)), or None where no row
    is shared; `carved`: the splits cut from train (theirs repeat rows the data holds twice);
    `run_dir`: the run, for lab.inspect's command (None: a row is called one the run trained
    on, and no command is given: `lab.eval` on other data, which that inspection does not
    read); `limited`: split -> the setting that scores only part of it (its count is of the
    whole split all the same: `lab.data.split_notes`)."""
    leaked = [(split, shared, rows) for split, (shared, rows) in counts.items() if shared]
    if not leaked:
        return None
    limited = limited or {}
    counted = " and ".join(
        f"{shared} of {rows} {split} rows"
        + (
            f" (the whole split: {limited[split]} scores only part of it)"
            if split in limited
            else ""
        )
        for split, shared, rows in leaked
    )
    verb = "has" if len(leaked) == 1 and leaked[0][1] == 1 else "have"
    names = " and ".join(split for split, _, _ in leaked)
    twice = [split for split, _, _ in leaked if split in carved]
    source = (
        f" (the carved {' and '.join(twice)} split{'s' * (len(twice) > 1)}: rows the data "
        "holds more than once)"
        if twice
        else ""
    )
    memory = f"the {names} scores partly measure memory"
    if run_dir is None:
        return f"{counted} {verb} the same text as a row the run trained on{source}: {memory}"
    inspect = shlex.join(["python", "-m", "lab.inspect", f"run={run_dir}"])
    return (
        f"{counted} {verb} the same text as a train row{source}: {memory}; {inspect} counts "
        "them, and the rows that differ only in case or spaces"
    )
