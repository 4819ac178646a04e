"""How `python -m lab.eval` builds its parts (`lab.build.build_parts`) for the split it
evaluates: the run's test split read with the run's three splits as trained, the run's train or
validation split read as training read it and handed to the head's data module as its rows,
other data as the evaluation config reads it (`lab.eval_splits`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf

from lab.eval_labels import data_labels_of, model_label_names
from lab.eval_splits import RUN_SPLIT, evaluation_of, rows_source, run_split_rows
from lab.run_dir.runs import TrainedRun

if TYPE_CHECKING:
    from lab.build import Parts
    from lab.data.datamodule import DataModule


def test_notes_only(datamodule: DataModule) -> None:
    """The notes on the run's own splits (rows cut, classes train lacks) for the test split
    alone: lab.eval reads the three as trained, and evaluates one."""
    datamodule.noted_splits = frozenset({"test"})


def build_evaluation_parts(
    run: TrainedRun,
    cfg: DictConfig,
    *,
    tokenizer: Any = None,
    model: Any = None,
    on_data: Callable[[DataModule], None] | None = None,
    before_setup: Callable[[DataModule], None] | None = None,
) -> Parts:
    """`lab.build.build_parts`, with the run's own train or validation split
    (`cfg[RUN_SPLIT]`) read as training read it and handed to the data module as its rows;
    `before_setup` after this function's own hook."""
    from lab.build import build_parts
    from lab.data.fingerprints import content_fingerprint
    from lab.training.tokenizers import build_tokenizer

    evaluation = replace(
        evaluation_of(cfg),
        model_labels=tuple(model_label_names(run) or ()),
        data_labels=data_labels_of(cfg),
    )
    module = OmegaConf.to_container(cfg.task.module, resolve=True)
    settings = {str(k): v for k, v in module.items()} if isinstance(module, dict) else {}

    def told(datamodule: DataModule) -> None:
        # A head's notes may name the settings the evaluation runs with: a seq2seq target
        # cut, the length generations stop at (`lab.data.cut_counts`).
        from lab.data.cut_counts import CutCountingDataModule

        if isinstance(datamodule, CutCountingDataModule):
            datamodule.module_settings = settings
        if before_setup is not None:
            before_setup(datamodule)

    def evaluating(datamodule: DataModule) -> None:
        # Every split of the data module holds the rows evaluated: its messages name that
        # split and give lab.eval's advice, not training's.
        datamodule.evaluation = evaluation
        told(datamodule)

    def own_test(datamodule: DataModule) -> None:
        test_notes_only(datamodule)
        told(datamodule)

    split = cfg.get(RUN_SPLIT)
    if split == "test":  # the run's own three splits, read as trained: training's words fit
        return build_parts(
            cfg, tokenizer=tokenizer, model=model, on_data=on_data, before_setup=own_test
        )
    if split not in ("train", "validation"):
        return build_parts(
            cfg, tokenizer=tokenizer, model=model, on_data=on_data, before_setup=evaluating
        )
    if tokenizer is None:
        tokenizer = build_tokenizer(cfg)
    rows, origin = run_split_rows(run, tokenizer, split)

    def given_rows(datamodule: DataModule) -> None:
        # The rows are read already: the data module's own source hook returns them (the
        # run's files or Hub split are not read again), under the one name `cfg.data.splits`
        # gives.
        datamodule.load_raw = lambda: rows_source(rows, origin)  # type: ignore[method-assign]
        evaluating(datamodule)

    def read(datamodule: DataModule) -> None:
        # The digest `record.json` notes for this split: it covers the Arrow metadata too,
        # where numbering the rows again (for error messages) leaves a fingerprint.
        digest = content_fingerprint(rows)
        datamodule.split_fingerprints = dict.fromkeys(datamodule.split_fingerprints, digest)
        if on_data is not None:
            on_data(datamodule)

    return build_parts(cfg, tokenizer=tokenizer, model=model, on_data=read, before_setup=given_rows)
