"""Naming the first bad row of a file, whichever split its rows went to.

A data module checks its splits one after another (train, validation, test), and each in its
own row order: a split carved from train is a seeded shuffle of the file, and so is a split
cut to `max_*_samples`. The first bad row met is then any bad row of the file, not its first:
a file whose every row is bad was named at line 26. An error about a file names its first
bad line, so the user fixes the file from the top.

That costs nothing on a clean run: only when a row error stops `DataModule.setup` are the
rows of the file it names checked again, by the head's own `check_split`, `prepare_split`
and `tokenize`, in file order and in chunks, up to the first bad one. Which row an error is
about is learnt from the data module's `where` (the one wording of every row error), watched
for that while.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from lab.data.origins import Origin
from lab.errors import DataError

if TYPE_CHECKING:
    from datasets import Dataset

    from lab.data.datamodule import DataModule

#: rows of the file checked at a time (in file order) while looking for its first bad row
CHUNK_ROWS = 512


def earlier_row_error(
    dm: DataModule, splits: Mapping[str, Dataset], err: DataError
) -> DataError | None:
    """The error about the first bad row (in file order) of the file `err` names, when that
    row comes before the one `err` names; None when `err` already names it (or names no row
    of a file these `splits` were read from).

    `splits` are the raw splits `dm.setup` was checking; rows are placed in their file by
    `dm.origins` and `dm.row_indices`. The head's state changed by the re-check (a split's
    ties, its rows being tokenized) is left as is: `setup` is failing anyway.
    """
    origin = _origin_named_by(dm, splits, str(err))
    if origin is None:
        return None
    names = [name for name in splits if dm.origins.get(name) is origin]
    indices = {name: np.asarray(dm.row_indices[name], dtype=np.int64) for name in names}
    if len(names) == 1 and bool(np.all(np.diff(indices[names[0]]) > 0)):
        return None  # one split, in file order: its check met the first bad row first
    # An error whose row only stands for the column (`DataError.stand_in`) gives way to a row
    # error anywhere in the file: the cell that made the column text may be in another split.
    keep_looking = err.stand_in
    stand_in: DataError | None = None
    order = sorted(
        (int(index), name, position)
        for name in names
        for position, index in enumerate(indices[name])
    )
    saved = {name: dm.row_indices[name] for name in names}
    quiet = logging.root.manager.disable
    logging.disable(logging.WARNING)  # the re-check's warnings were logged by the first check
    try:
        with _watching_where(dm) as located:
            for start in range(0, len(order), CHUNK_ROWS):
                chunk = order[start : start + CHUNK_ROWS]
                found = []
                for name in names:
                    positions = [position for _, split, position in chunk if split == name]
                    if positions:
                        dm.row_indices[name] = indices[name][positions]
                        subset = splits[name].select(positions)
                        found += _row_error(dm, name, subset, located)
                causes = [item for item in found if not item[1].stand_in]
                if causes or (found and not keep_looking):
                    _, error = min(causes or found, key=lambda item: item[0])
                    return None if str(error) == str(err) else error
                if found and stand_in is None:
                    stand_in = min(found, key=lambda item: item[0])[1]
    finally:
        dm.row_indices.update(saved)
        logging.disable(quiet)
    # No cell elsewhere: the column is text through and through; its first row stands for it.
    return None if stand_in is None or str(stand_in) == str(err) else stand_in


def _origin_named_by(dm: DataModule, splits: Mapping[str, Dataset], message: str) -> Origin | None:
    """The origin (of one of `splits`) whose rows `message` names: the message starts with
    the origin as `Origin.locate` words a row of it (`data/train.jsonl:4`, `imdb split
    train row 5`)."""
    best: Origin | None = None
    for name in splits:
        origin = dm.origins.get(name)
        if origin is None:
            continue
        label = origin.describe()
        named = message.startswith(label) and message[len(label) : len(label) + 1] in ": "
        if named and (best is None or len(label) > len(best.describe())):
            best = origin
    return best


def _row_error(
    dm: DataModule, name: str, rows: Dataset, located: list[int]
) -> list[tuple[int, DataError]]:
    """[(file row index, error)] for the first bad row of `rows` (split `name`, in file
    order), as the head's checks and tokenization find it; [] when they pass or fail for a
    reason that names no row (a split-wide rule meeting a chunk of the split)."""
    located.clear()
    try:
        dm.check_split(name, rows)
        prepared = dm.prepare_split(name, rows)
        dm.tokenize(prepared[:])
    except DataError as error:
        return [(located[0], error)] if located else []
    except Exception:  # the first error stands: this search must not replace it by another
        return []
    return []


@contextmanager
def _watching_where(dm: DataModule) -> Iterator[list[int]]:
    """While open, every `dm.where(split, row)` call appends the row's index in its file
    (the first one after a clear is the row an error is about). The instance attribute
    shadows the method and is removed on exit."""
    located: list[int] = []
    method = type(dm).where

    def where(split: str, row: int, column: str | None = None) -> str:
        indices: Any = dm.row_indices.get(split, ())
        if 0 <= row < len(indices):
            located.append(int(indices[row]))
        return method(dm, split, row, column)

    dm.where = where  # type: ignore[method-assign]
    try:
        yield located
    finally:
        del dm.where
