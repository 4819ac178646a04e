"""Reading a loaded (not streamed) data module's source into lab's three splits.

The source's train split, and its validation and test splits where the source has them (by
`data.splits`); a missing one is carved from train with the run seed (`test_fraction` first,
then `val_fraction`); then each split is cut to its `max_*_samples` by a seeded shuffle. Every
row keeps its place in its file (`lab.data.origins`), so a bad row can be named as the user
finds it. `lab.data.stream_setup` is the streamed counterpart.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from lab.data.origins import ROW_COLUMN, Origin, number_rows
from lab.data.sources import origins_of
from lab.errors import DataError

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict

    from lab.data.datamodule import DataModule

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")


def read_splits(dm: DataModule) -> dict[str, Dataset]:
    """`dm`'s train, validation and test splits, carved and subsampled as its config says;
    records each split's origin (`dm.origins`) and its rows' indices there (`dm.row_indices`)."""
    source = dm.load_raw()
    local = bool(dm.path)
    train_name = source_split_name(dm.source_splits, "train", source, local)
    if train_name not in source:
        raise DataError(
            f"the dataset has no '{train_name}' split; splits present: {', '.join(source)}"
        )
    splits: dict[str, Dataset] = {"train": _numbered(dm, "train", source, train_name)}
    for lab_name in ("test", "validation"):
        source_name = source_split_name(dm.source_splits, lab_name, source, local)
        if source_name and source_name in source:
            splits[lab_name] = _numbered(dm, lab_name, source, source_name)
            continue
        dm.origins[lab_name] = dm.origins["train"]
        fraction = dm.test_fraction if lab_name == "test" else dm.val_fraction
        if len(splits["train"]) < 2:
            raise DataError(
                f"the train split{dm._from('train')} has {len(splits['train'])} row(s); "
                f"too few to carve a {lab_name} split from it"
            )
        carved = splits["train"].train_test_split(test_size=fraction, seed=dm.seed)
        splits["train"], splits[lab_name] = carved["train"], carved["test"]
        log.info(
            "carved a %s split of %d rows from train (seed %d)",
            lab_name,
            len(carved["test"]),
            dm.seed,
        )
    for name, dataset in splits.items():
        if len(dataset) == 0:
            raise DataError(f"the {name} split{dm._from(name)} has no rows")
        limit = dm.max_samples[name]
        if limit is not None and limit < len(dataset):
            dataset = dataset.shuffle(seed=dm.seed).select(range(limit))
        dm.row_indices[name] = dataset.with_format("arrow")[ROW_COLUMN].to_numpy()
        splits[name] = dataset.remove_columns(ROW_COLUMN)
    return {name: splits[name] for name in SPLITS}


def source_split_name(
    mapping: Mapping[str, str | None], name: str, available: Iterable[str], local: bool
) -> str:
    """The source split lab's split `name` reads: `data.splits[name]` ("" for validation and
    test mapped to null or left out: carved from train). Local files that lack the mapped split
    but have one named like lab's (`train.jsonl`, `test.jsonl`) give that one, so a data
    config written for the Hub's split names (`train_sft`) reads them too."""
    wanted = mapping.get(name) or ("train" if name == "train" else "")
    present = set(available)
    if not wanted or wanted in present or not local:
        return wanted
    return name if name in present else wanted


def _numbered(dm: DataModule, name: str, source: DatasetDict, source_name: str) -> Dataset:
    """Split `source_name` of `source` as lab's split `name`, its rows numbered."""
    found = origins_of(source).get(source_name)
    dm.origins[name] = found or Origin(f"the {source_name} split", "rows")
    return number_rows(source[source_name])
