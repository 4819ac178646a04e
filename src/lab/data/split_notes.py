"""What `lab.train` says about its splits before it trains, beside the data line.

Three warnings, each once per run and each only where it applies (Lightning-free, cheap: they
run on every training run):

    small validation   lab.data.small_splits     too few rows to choose the best checkpoint by
    leaked rows        lab.data.leaked_rows      validation/test rows with a train row's text
    missing classes    lab.data.missing_classes  train classes validation/test hold no row of

A split that is not scored is left out: validation under `trainer.limit_val_batches=0`, test
under `trainer.limit_test_batches=0`. Nothing for a streamed train split (its rows are not at
hand before training: see `lab.data.leaked_rows`), and nothing under `lab.eval`, which has no
train split of its own to compare with (it does not build through `lab.train`).

The checks read the splits as the data module reads them (carved, subsampled, checked; not
tokenized), which it does not keep: `SplitsAsRead.keep`, given to `lab.build.build_parts` as
its `before_setup`, holds each split as it goes to `prepare_split`, and `release` lets them go
once the notes are said, so the run holds no second copy while it trains.
"""

from __future__ import annotations

from collections.abc import Callable
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

        found += split_warnings(head_data(cfg), datamodule, self.splits, scored, run_dir)
        return found


def split_warnings(
    data: DictConfig,
    datamodule: Any,
    splits: dict[str, Dataset],
    scored: list[str],
    run_dir: Path | str,
) -> list[str]:
    """The leaked-rows and missing-classes lines for `splits` as read (the data config
    `data`, its `_target_` the head's data module), of the splits `scored`."""
    from lab.data.inspection import text_specs
    from lab.data.leaked_rows import leaked_rows, leaked_rows_line
    from lab.data.missing_classes import missing_classes_warning

    found = []
    specs, label_column = text_specs(data)
    tokenizer = getattr(datamodule, "tokenizer", None)
    leaked = leaked_rows(data, specs, tokenizer, splits, scored)
    carved = list(getattr(datamodule, "carved", None) or [])
    if line := leaked_rows_line(leaked, carved, run_dir):
        found.append(line)
    if line := missing_classes_warning(datamodule, splits, label_column, scored):
        found.append(line)
    return found
