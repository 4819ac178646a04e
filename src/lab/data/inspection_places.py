"""Where a row `lab.inspect` names came from, in training's words (`<file>:<line>`).

`lab.inspect` reads the splits as training does (`lab.data.splits.carve_splits`): a split
carved from train, or cut to `max_*_samples`, is a shuffle of its file, so a row's place in the
split is no line a user can find. `PlacedSplits` is lab's three splits with each row's place in
its source (`lab.data.origins`, as the training data module keeps them), and `place` names a
row as training's errors do: `data/train.csv:17`, `<hub id> split train row 5 (1-based)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datasets import Dataset

    from lab.data.splits import Place


class PlacedSplits(dict[str, "Dataset"]):
    """lab's splits by name, with `places[split]`: the split's origin and each of its rows'
    index there (0-based, in the order the loader read the source)."""

    def __init__(self, splits: Mapping[str, Dataset], places: Mapping[str, Place]) -> None:
        super().__init__(splits)
        self.places = dict(places)


def place(splits: Mapping[str, Dataset], split: str, row: int) -> str:
    """Row `row` (0-based) of `splits[split]` as training names it; `row N` (1-based, in the
    split) where its source is not known (splits not read by `lab.inspect`)."""
    origin, indices = getattr(splits, "places", {}).get(split, (None, ()))
    if origin is None or not 0 <= row < len(indices):
        return f"row {row + 1}"
    return origin.locate(int(indices[row]))


def in_file_order(splits: Mapping[str, Dataset], places: Mapping[str, Place]) -> PlacedSplits:
    """`splits` with their `places`, each split's rows in the order of its file. A carved or
    cut split is a shuffle of its file, and "the first" row a warning names must be the file's
    first, where training's errors stop too (`lab.data.first_bad_row`); no statistic of
    `lab.inspect` depends on the order."""
    import numpy as np

    ordered, placed = dict(splits), dict(places)
    for name, (origin, indices) in places.items():
        order = indices.argsort(kind="stable")
        if (order != np.arange(len(order))).any():
            ordered[name] = splits[name].select(order)
            placed[name] = (origin, indices[order])
    return PlacedSplits(ordered, placed)
