"""Carving validation and test from train with each class in its share (`data.stratify`).

A plain seeded split of a small train file can put every row of a class on one side: a 16-row
balanced file carved into a validation of `[0, 0]` and a test of `[1, 1]`, and a model that
learned nothing scored val/acc 1.0 and test/acc 0.0 (s24c M1). Where a single-label
classification head's labels are classes (integers, strings, booleans), each class gives the
carved split its share of its rows, so both sides hold the file's class balance as nearly as
whole rows allow, as sklearn's and datasets' stratified splits do. A share is no promise of a
row: a class of 2 rows in 40 has 0.2 of a row in a 10% split (the warning on a small
validation split, `lab.data.small_splits`, says what such a split can tell).

The carved split has exactly the rows a plain split takes (`ceil(fraction x rows)`, as
`datasets.Dataset.train_test_split`): each class gives the whole part of its share, and the
rows left over go to the classes with the largest remainders (ties by class order), taking
a class's last row from train only where no class has another to give (a class of one row
stays where training sees it, unless every class is that small).
Within each class the rows are drawn by a generator seeded with `data.split_seed`, and both
sides come out shuffled, as a plain split's do.

Other heads are split plainly (`datasets`' own split, as before): regression (an integer
target too), multi-label, NER, multiple choice, SFT, DPO, and a column of floats or lists.
Runs recorded before this rule carved plainly: their config lacks `data.stratify`, and the
data module's own default (false) is theirs, so they resume, evaluate, reproduce and inspect
on the rows they trained on (`lab.run_dir.config_upgrade.ADDED_SETTINGS` says so to resume);
lab's YAML sets true for new runs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict


def stratifies(stratify: Any, data: Any) -> bool:
    """Whether a data module (or its config, `data`) carves by class: `data.stratify` true
    (absent in a run recorded before it: false) and a single-label classification head's
    label column (an integer regression target or a multiple-choice answer index is no
    class to balance)."""
    get = data.get if isinstance(data, Mapping) else lambda key: getattr(data, key, None)
    return (
        bool(stratify)
        and get("problem_type") == "single_label"
        and isinstance(get("label_column"), str)
    )


def class_codes(dataset: Dataset, column: str | None) -> np.ndarray | None:
    """Each row's class as a small integer (nulls a class of their own), or None where the
    column is missing or holds no classes (floats, lists)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not column or column not in dataset.column_names:
        return None
    values = dataset.with_format("arrow")[column]
    kind = values.type
    if not (
        pa.types.is_integer(kind)
        or pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_boolean(kind)
    ):
        return None
    codes = pc.dictionary_encode(values).combine_chunks().indices
    return np.asarray(pc.fill_null(codes, -1).to_numpy(zero_copy_only=False), dtype=np.int64)


def stratified_indices(
    codes: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(kept rows, carved rows) of a split whose rows have the classes `codes`: the carved
    part `ceil(fraction x rows)` rows, each class in its share (module doc)."""
    rows = len(codes)
    wanted = min(math.ceil(fraction * rows), rows - 1)
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(codes, return_counts=True)
    shares = fraction * counts
    taken = np.minimum(np.floor(shares).astype(np.int64), counts - 1)
    # The rows left over: largest remainders first, a class's last row taken only where no
    # class has another to give (every class a single row: the split still gets its size).
    order = sorted(range(len(classes)), key=lambda i: (-(shares[i] - taken[i]), i))
    for keep in (1, 0):
        left = wanted - int(taken.sum())
        while left > 0:
            open_classes = [i for i in order if taken[i] < counts[i] - keep]
            if not open_classes:
                break
            for i in open_classes[:left]:
                taken[i] += 1
            left = wanted - int(taken.sum())
    kept, carved = [], []
    for index, label in enumerate(classes):
        members = rng.permutation(np.flatnonzero(codes == label))
        carved.append(members[: taken[index]])
        kept.append(members[taken[index] :])
    return rng.permutation(np.concatenate(kept)), rng.permutation(np.concatenate(carved))


def carve(
    train: Dataset, fraction: float, seed: int, stratify_by: str | None
) -> tuple[DatasetDict | dict[str, Dataset], bool]:
    """(`train` split into `train` and `test`, the carved part; whether by class): by class
    where `stratify_by` names a column of classes, else as `datasets.Dataset.train_test_split`
    splits it."""
    codes = class_codes(train, stratify_by)
    if codes is None or len(codes) < 2:
        return train.train_test_split(test_size=fraction, seed=seed), False
    kept, carved = stratified_indices(codes, fraction, seed)
    return {"train": train.select(kept), "test": train.select(carved)}, True
