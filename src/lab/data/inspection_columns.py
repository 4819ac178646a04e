"""The columns `lab.inspect` refuses a split for, as `lab.train` refuses it: one line, exit 2.

Training checks a data config's columns twice, and `lab.inspect` follows both:

- before anything loads, each local split file's header against every column the config
  names (`lab.config.data_rules.check_local_data`, one of `lab.train`'s config rules): a
  file is named first, and a validation or test file without the label column (GLUE's
  original `test.tsv` of `index, sentence`, a Kaggle `test.csv`) gets the fix
  `data.splits.<split>=null`; `lab.inspect` (`lab.data.inspection.inspect_data`) calls that
  very rule first;
- once the splits are read, each split's columns (`DataModule.require_columns`): the same
  words for a Hub dataset or a `save_to_disk` folder, whose files have no header to peek;
  `require_label_column` says them for the label column of every split.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lab.data.column_refusal import missing_columns_message, named_column, unlabeled_split_fix
from lab.errors import DataError

if TYPE_CHECKING:
    from lab.data.inspection_places import PlacedSplits

SPLITS = ("train", "validation", "test")


def require_label_column(splits: PlacedSplits, column: str, keys: dict[str, str]) -> None:
    """Refuse, as training does, a split without the label column `column` (`keys`: column ->
    its `data.<key>`), train first; a validation or test split lacking `data.label_column`
    with the way training gives: carve a labeled one from train instead."""
    for split in sorted(splits, key=SPLITS.index):
        dataset = splits[split]
        if column in dataset.column_names:
            continue
        key = keys.get(column, "data.label_column")
        origin = splits.places.get(split, (None, ()))[0]
        hint = unlabeled_split_fix(split) if split != "train" and key == "data.label_column" else ""
        raise DataError(
            missing_columns_message(
                [named_column(column, key)],
                split,
                dataset.column_names,
                where=origin.describe() if origin is not None else "",
                hint=hint,
            )
        )
