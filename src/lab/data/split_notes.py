"""What `lab.train` says about its splits before it trains, beside the data line.

Three warnings, each once per run and each only where it applies (Lightning-free, cheap: they
run on every training run):

    small validation   lab.data.small_splits     too few rows to choose the best checkpoint by
    leaked rows        lab.data.leaked_rows      validation/test rows with a train row's text
    missing classes    lab.data.missing_classes  train classes validation/test hold no row of

Said when a run starts, not again when it is resumed (`lab.train.build`: a resume checks that
its data is the data the run started on, so the lines would be the same, appended again to the
same train.log). Each trial of a sweep is a run of its own and says them in its own log.

A split that is not scored is left out: validation under `trainer.limit_val_batches=0`, test
under `trainer.limit_test_batches=0`. A split whose pass the trainer cuts short
(`trainer.limit_test_batches=1`, or `0.25`) is still counted whole, and the leaked-rows line
says that only part of it is scored (`limited_passes`): the rows a limited pass scores are its
first batches of the length-sorted evaluation order (`lab.data.samplers`: the longest rows
first, per DDP rank), which the tokenized rows and the device count decide, not the first rows
of the split; the count of the whole split is the one that says something about the data.
Nothing for a streamed train split (its rows are not at hand before training: see
`lab.data.leaked_rows`).

`lab.eval` says the same lines for the split it scores, by the same `split_warnings`, against
the run's train split as the run read it (`lab.eval_split_notes`).

The checks read the splits as the data module reads them (carved, subsampled, checked; not
tokenized), which it does not keep: `SplitsAsRead.keep`, given to `lab.build.build_parts` as
its `before_setup`, holds each split as it goes to `prepare_split`, and `release` lets them go
once the notes are said, so the run holds no second copy while it trains.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab.data.small_splits import small_validation_line

if TYPE_CHECKING:
    from datasets import Dataset
    from omegaconf import DictConfig

    from lab.data.datamodule import DataModule

#: the evaluated splits and the trainer key that turns each pass off (0)
SCORED = {"validation": "limit_val_batches", "test": "limit_test_batches"}


class SplitsAsRead:
    """The splits a data module reads, held from `prepare_split` until `release`."""

    def __init__(self) -> None:
        self.splits: dict[str, Dataset] = {}

    def keep(self, datamodule: DataModule) -> None:
        """Hold each split `datamodule.setup` passes to its `prepare_split` (an instance
        attribute over the head's own method, which still runs; removed by `release`)."""
        prepare: Callable[[str, Dataset], Dataset] = datamodule.prepare_split

        def prepare_split(name: str, dataset: Dataset) -> Dataset:
            self.splits[name] = dataset
            return prepare(name, dataset)

        datamodule.prepare_split = prepare_split  # type: ignore[method-assign]

    def release(self, datamodule: DataModule) -> None:
        """Let the splits go and give `datamodule` its own `prepare_split` back."""
        self.splits = {}
        vars(datamodule).pop("prepare_split", None)

    def __getstate__(self) -> dict[str, Any]:
        # `data.num_proc` workers get the data module (its `tokenize`) pickled, with the
        # hook above: the splits already read need not travel with it.
        return {"splits": {}}

    def warnings(self, cfg: DictConfig, datamodule: DataModule, run_dir: Path) -> list[str]:
        """The lines to say about the splits of `datamodule` under the run config `cfg`
        (`run_dir`: the run, which `python -m lab.inspect run=` reads)."""
        scored = [s for s, key in SCORED.items() if cfg.trainer.get(key, 1) != 0]
        found = []
        if "validation" in scored and (few := small_validation_line(datamodule)):
            found.append(few)
        if getattr(datamodule, "streaming", False) or "train" not in self.splits:
            return found
        from lab.data.inspection import head_data

        limited = limited_passes(cfg.trainer, datamodule, scored)
        found += split_warnings(
            head_data(cfg), datamodule, self.splits, scored, run_dir, limited=limited
        )
        return found


def limited_passes(trainer: Any, datamodule: Any, scored: Sequence[str]) -> dict[str, str]:
    """Per split of `scored` whose evaluation pass the `trainer` config cuts short, the setting
    that does (`trainer.limit_test_batches=1`). Lightning reads an int as a number of batches
    (short of the split's batches of `datamodule.eval_batch_size` on one device: a limit of
    more batches than a split has cuts nothing) and a float as a share of them (1.0: all)."""
    found = {}
    for split in scored:
        key = SCORED[split]
        value = trainer.get(key)
        if value is None or isinstance(value, bool):
            continue
        if isinstance(value, float):
            cut = value < 1
        else:
            rows = len((getattr(datamodule, "datasets", None) or {}).get(split) or ())
            size = int(getattr(datamodule, "eval_batch_size", 0) or 0)
            cut = not size or int(value) < math.ceil(rows / size)
        if cut:
            found[split] = f"trainer.{key}={value}"
    return found


def split_warnings(
    data: DictConfig,
    datamodule: Any,
    splits: dict[str, Dataset],
    scored: list[str],
    run_dir: Path | str | None,
    *,
    limited: Mapping[str, str] | None = None,
) -> list[str]:
    """The leaked-rows and missing-classes lines for `splits` as read (the data config
    `data`, its `_target_` the head's data module), of the splits `scored`; `datamodule`: what
    the head read (its `tokenizer`, `carved` splits and train `classes`). `run_dir`: the run
    whose data `python -m lab.inspect run=` inspects, or None where that inspection would not
    count these rows (`lab.eval` on other data); `limited`: the scored splits only part of
    which is scored, with the setting that cuts them (`limited_passes`)."""
    from lab.data.inspection import text_specs
    from lab.data.leaked_rows import leaked_rows, leaked_rows_line
    from lab.data.missing_classes import missing_classes_warning

    found = []
    specs, label_column = text_specs(data)
    tokenizer = getattr(datamodule, "tokenizer", None)
    leaked = leaked_rows(data, specs, tokenizer, splits, scored)
    carved = list(getattr(datamodule, "carved", None) or [])
    if line := leaked_rows_line(leaked, carved, run_dir, limited or {}):
        found.append(line)
    if line := missing_classes_warning(datamodule, splits, label_column, scored):
        found.append(line)
    return found
