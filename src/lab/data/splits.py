"""Reading a loaded (not streamed) data module's source into lab's three splits.

The source's train split, and its validation and test splits where the source has them (by
`data.splits`); a missing one is carved from train with `data.split_seed` (`test_fraction`
first, then `val_fraction`); then each split is cut to its `max_*_samples` by a shuffle seeded
the same way. `data.split_seed` is fixed (42), not the run seed: each seed of a seed study is
validated and tested on the same rows, as HF's scripts take theirs. Every
row keeps its place in its file (`lab.data.origins`), so a bad row can be named as the user
finds it. `lab.data.stream_setup` is the streamed counterpart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lab.data.dropped_labels import drop_marked_rows
from lab.data.origins import ROW_COLUMN, Origin, number_rows
from lab.data.sources import origins_of
from lab.data.stratified import carve, stratifies
from lab.data.unread_splits import unread_labeled_warning
from lab.errors import DataError
from lab.log_records import FILE_ONLY_RECORD

if TYPE_CHECKING:
    import numpy as np
    from datasets import Dataset, DatasetDict

    from lab.data.datamodule import DataModule

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
#: How messages name the one split of a lone file lab.eval reads (`the file's only split`):
#: the source's name for it, `train`, would read as if lab.eval looked at training data.
LONE_FILE = "file's only"


def read_splits(dm: DataModule, *, warn: bool = True) -> dict[str, Dataset]:
    """`dm`'s train, validation and test splits, carved and subsampled as its config says;
    records each split's origin (`dm.origins`) and its rows' indices there (`dm.row_indices`).
    `warn`: say which labeled splits of the source go unread while lab carves (training;
    `lab.eval` reading a run's split again has no use for it)."""
    label_column = getattr(dm, "label_column", None)
    splits, carved, places = placed_splits(
        dm.load_raw(),
        dm.source_splits,
        local=bool(dm.path),
        seed=dm.split_seed,
        fractions={"test": dm.test_fraction, "validation": dm.val_fraction},
        limits=dm.max_samples,
        drop_labels=dm.drop_labels(),
        label_column=label_column if warn and isinstance(label_column, str) else None,
        stratify_by=label_column if stratifies(dm.stratify, dm) else None,
    )
    for name, (origin, indices) in places.items():
        dm.origins[name], dm.row_indices[name] = origin, indices
    dm.carved = list(carved)
    return splits


#: a split's origin and each of its rows' index there (0-based, as the loader read the source)
Place = tuple[Origin, "np.ndarray[Any, Any]"]


def placed_splits(
    source: DatasetDict,
    mapping: Mapping[str, str | None],
    *,
    local: bool,
    seed: int,
    fractions: Mapping[str, float],
    limits: Mapping[str, int | None],
    drop_labels: tuple[str, Sequence[Any]] | None = None,
    label_column: str | None = None,
    stratify_by: str | None = None,
) -> tuple[dict[str, Dataset], list[str], dict[str, Place]]:
    """`carve_splits` with every row's place in its source (`lab.data.origins`): the splits,
    the names of the carved ones, and each split's `Place` (training and lab.inspect alike).
    `drop_labels`: (label column, values) of `data.drop_labels`, whose rows are left out of
    each source split once numbered (`lab.data.dropped_labels`); `label_column`,
    `stratify_by`: as `carve_splits` takes them."""
    origins: dict[str, Origin] = {}

    def numbered(name: str, source_name: str) -> Dataset:
        found = origins_of(source).get(source_name)
        origins[name] = found or Origin(f"the {source_name} split", "rows")
        rows = number_rows(source[source_name])
        if drop_labels is None:
            return rows
        return drop_marked_rows(rows, *drop_labels, origins[name].describe())

    def carved_from_train(name: str) -> None:
        origins[name] = origins["train"]

    def source_of(name: str) -> str:
        return f" ({origins[name].describe()})" if name in origins else ""

    splits, carved = carve_splits(
        source,
        mapping,
        local=local,
        seed=seed,
        fractions=fractions,
        limits=limits,
        take=numbered,
        on_carve=carved_from_train,
        source_of=source_of,
        label_column=label_column,
        stratify_by=stratify_by,
    )
    places = {
        name: (origins[name], dataset.with_format("arrow")[ROW_COLUMN].to_numpy())
        for name, dataset in splits.items()
    }
    return {n: d.remove_columns(ROW_COLUMN) for n, d in splits.items()}, carved, places


def carve_splits(
    source: DatasetDict,
    mapping: Mapping[str, str | None],
    *,
    local: bool,
    seed: int,
    fractions: Mapping[str, float],
    limits: Mapping[str, int | None],
    take: Callable[[str, str], Dataset] | None = None,
    on_carve: Callable[[str], None] | None = None,
    source_of: Callable[[str], str] = lambda name: "",
    label_column: str | None = None,
    stratify_by: str | None = None,
) -> tuple[dict[str, Dataset], list[str]]:
    """lab's three splits of `source` and the names of those carved from train: the
    training path (`read_splits`) and `lab.inspect` (without Lightning) share this one rule.

    `mapping` is `data.splits` (lab's name -> the source's); `fractions` the test and
    validation shares carved from train where the source lacks them (test first); `limits`
    the `max_*_samples` of each split (a seeded shuffle, then the first rows). `take(name,
    source_name)` gives a source split as lab's split `name` (default: as stored); `on_carve`
    is told each carved split's name before it is carved; `source_of(name)` words where a
    split came from in errors (" (data/train.csv)"). With `label_column` (the data's), a
    split carved because `data.splits` maps it to its own name, which the source lacks, while
    labeled source splits of other names go unread (MNLI's `validation_matched` under a
    generic config) is a console warning naming them (`lab.data.unread_splits`). With
    `stratify_by` (the label column, `data.stratify`), a split of classes is carved with each
    class in its share (`lab.data.stratified`).
    """
    take = take or (lambda name, source_name: source[source_name])
    train_name = source_split_name(mapping, "train", source, local)
    _say_if_read_by_lab_name(mapping, "train", train_name, source)
    if train_name not in source:
        raise DataError(no_train_split(train_name, source))
    splits: dict[str, Dataset] = {"train": take("train", train_name)}
    carved: list[str] = []
    read, own_name_carved = {train_name}, []  # source splits read; carved for `name: name`
    for name in ("test", "validation"):
        source_name = source_split_name(mapping, name, source, local)
        _say_if_read_by_lab_name(mapping, name, source_name, source)
        if source_name and source_name in source:
            splits[name] = take(name, source_name)
            read.add(source_name)
            continue
        if source_name:
            named_split_missing(name, source_name, list(source), local)
            own_name_carved += [name] if source_name == name else []
        if on_carve is not None:
            on_carve(name)
        if len(splits["train"]) < 2:
            left = f" left after carving {' and '.join(carved)} from it" if carved else ""
            raise DataError(
                f"the train split{source_of('train')} has {len(splits['train'])} row(s)"
                f"{left}; too few to carve a {name} split from it"
            )
        parts, by_class = carve(splits["train"], fractions[name], seed, stratify_by)
        splits["train"], splits[name] = parts["train"], parts["test"]
        carved.append(name)
        rows, how = len(parts["test"]), ", each class in its share" if by_class else ""
        log.info(  # train.log only: the console's one data line counts the carved split
            "carved a %s split of %d rows from train (seed %d%s)", name, rows, seed, how,
            extra=FILE_ONLY_RECORD,
        )  # fmt: skip
    unread = unread_labeled_warning(source, read, own_name_carved, label_column)
    if unread:
        log.warning("%s", unread)
    for name, dataset in splits.items():
        if len(dataset) == 0:
            raise DataError(f"the {name} split{source_of(name)} has no rows")
        limit = limits.get(name)
        if limit is not None and limit < len(dataset):
            splits[name] = dataset.shuffle(seed=seed).select(range(limit))
    return {name: splits[name] for name in SPLITS}, carved


def named_split_missing(name: str, source_name: str, present: list[str], local: bool) -> None:
    """`data.splits` names a split the source lacks. A Hub split renamed on purpose
    (`test: test_sft`) that is not there is a mistake (a typo, another configuration): an
    error. Otherwise the split is carved from train: said in the log where the data config
    names lab's own split (`test: test`, the generic configs' default; one file is the common
    case, or the source is one local file), with a warning where it names another
    (`validation: dev`) that a folder of splits lacks."""
    if not local and source_name != name:
        raise DataError(
            f"data.splits.{name}={source_name}: the dataset has no '{source_name}' split; "
            f"splits present: {', '.join(present)} (data.splits.{name}=null carves it from train)"
        )
    # One local file (its rows are `train`): carving is what it is for, whatever the config
    # calls the Hub's evaluation split (HellaSwag's `test: validation`); said in the log only.
    expected = source_name == name or (local and list(present) == ["train"])
    log.log(
        logging.INFO if expected else logging.WARNING,
        "data.splits.%s=%s but the dataset has no such split (splits present: %s): carving "
        "one from train (data.splits.%s=null says so and silences this)",
        name,
        source_name,
        ", ".join(present),
        name,
        # lab's own split name, or one file: train.log only; a renamed one (`validation:
        # dev`) missing from a folder of splits is a warning, on screen.
        extra=FILE_ONLY_RECORD if expected else None,
    )


def _say_if_read_by_lab_name(
    mapping: Mapping[str, str | None], name: str, source_name: str, source: DatasetDict
) -> None:
    """One line where `data.splits.<name>` names a split the local data lacks and the split
    named like lab's is read instead (see `source_split_name`): a data config's Hub name
    (`train_sft`) meets local files, or a name mistyped on the command line."""
    wanted = mapping.get(name)
    if wanted and source_name != wanted:
        log.info(
            "data.splits.%s=%s: the local data has no such split; reading its '%s' split "
            "(splits present: %s)",
            name,
            wanted,
            source_name,
            ", ".join(source),
        )


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
    # Not a split another of lab's splits reads by name (SST-2's `test: validation`): with
    # `validation: <missing>` that would validate on the test rows. Such a split is carved.
    taken = {str(v) for k, v in mapping.items() if k != name and v and str(v) in present}
    return wanted if name not in present or name in taken else name


def split_seed_of(data: Mapping[str, Any]) -> int:
    """The seed a data config (`cfg.data`) carves and subsamples with: `data.split_seed`, or
    `data.seed` for a config recorded before that setting existed (as the run did then)."""
    seed = data.get("split_seed")
    return int(seed if seed is not None else data.get("seed") or 0)


def no_train_split(train_name: str, present: Iterable[str]) -> str:
    """The refusal of a source without the split `train_name` that lab's train reads, naming
    the splits `present`: training's words, and lab.validate's where the split names are file
    names (`lab.config.data_rules.check_local_data`, s31e N9)."""
    present = list(present)
    return (
        f"the dataset has no '{train_name}' split; splits present: {', '.join(present)}"
        + _train_split_advice(present)
    )


def _train_split_advice(present: Iterable[str]) -> str:
    """`; read one as train: data.splits.train=train_sft (or train_gen)` where splits named
    like a train split are present (a Hub folder of `train_sft`/`train_gen`, as UltraChat's,
    given to a config that reads `train_prefs`: s30c N8); what that split then holds is the
    head's column check to judge."""
    found = sorted(name for name in present if name.startswith("train"))
    if not found:
        return ""
    others = f" (or {', '.join(found[1:])})" if found[1:] else ""
    return f"; read one as train: data.splits.train={found[0]}{others}"
