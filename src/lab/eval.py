"""`python -m lab.eval`: evaluate a trained run's model on its test split or on other data.

    python -m lab.eval run=outputs/runs/2026-11-22/10-00-00_123-abcd
    python -m lab.eval run=<run dir> split=validation                 # the run's validation split
    python -m lab.eval run=<run dir> data.path=other_reviews.csv      # same format, new rows
    python -m lab.eval run=<run dir> data=sst2 data.text_column=sentence
    python -m lab.eval run=<run dir> --config-dir conf data=my_data   # a data config of yours
    python -m lab.eval run=<run dir> checkpoint=last                  # a checkpoint, not model/

The run's resolved `config.yaml` rebuilds the data module exactly as in training (same seed,
splits, subsampling, tokenization), so evaluating the run's own test split reproduces the
test metrics recorded at train time.

Which rows are evaluated (`split=`):

- On the run's own data (no `data` option), `split=` names one of lab's three splits, `train`,
  `validation` or `test` (the default), and means that split *as training read it*: the same
  source split by `data.splits`, or the same rows carved from train with the same fractions and
  seed, cut to the same `max_*_samples`. So `split=validation` measures the rows behind
  the `val/` numbers of `metrics.json` (the best checkpoint's; the exported model is that
  checkpoint), whichever way the run made them. The source's own name for one of those
  splits (`split=test_sft` on an UltraChat run) means the same split. Any other split the
  source holds (`split=test_gen`) is evaluated whole, like other data. lab's names win
  where they clash: on an SST-2 run, whose `test` is the source's `validation`,
  `split=validation` is the run's validation split, carved from train. Those rows reach the
  head's data module as its test split, so the head's test-time rules apply to them (train
  rows too). A streamed run's train split was never held whole: `split=train` is refused.
- Other data (`data=...`, `data.<key>=...`) loads the new source; `split=` names one of *its*
  splits. Without it, the split the data config tests on (`data.splits.test`: `test_sft` for
  `data=ultrachat`, `validation` for `data=sst2`; a local folder of files named after lab's
  splits gives its `test` file, as in training) is evaluated, else the source's `test`
  split, else its only split. Label names are pinned to the model's, so a dataset holding a
  subset of the classes keeps the model's class ids. Integer labels name no class: where
  the data names its ids (`data.label_names=`, or the `data=` config's), they are mapped to
  the model's ids by name; without names a line says they are read as the model's ids
  (`lab.eval_labels`).

A split that is not there is refused with the splits that are, and so is a split that
cannot be evaluated (unlabeled rows, as in IMDB's `unsupervised`); messages about the data
name the split evaluated.

Writes `<run dir>/eval/<time>/metrics.json` (metrics, checkpoint, data: its source, the split
evaluated, and that split's row count and digest, `rows` and `sha256`, as `record.json` notes
them for the run's own splits; the data options given and the data settings that differ from
training, said in a line before the evaluation too) and the head's report and figures beside
it (`output=ev.json`: `ev.test_report.json`, `ev.plots/`; `lab.eval_results`), prints a table
(on the run's test or validation split, next to the metrics recorded for it at train time,
noting when the run's trainer limited that pass: `trainer.limit_test_batches=1` tests one
batch, where lab.eval evaluates the whole split; a warning before it where the run's split
read again has another digest than `record.json` notes: its files changed since training; and
lab.train's lines on the split scored, its rows with a train row's text and the train classes
it holds no row of, also kept in `metrics.json`'s `warnings`: `lab.eval_split_notes`), and
exits 0 (2 on bad input).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf, open_dict

from lab.config.cli import parse_options, run_tool
from lab.config.optimized_mode import recorded_direction_note
from lab.config.ranges import check_keys
from lab.errors import ConfigError, DataError
from lab.eval_build import build_evaluation_parts
from lab.eval_build import test_notes_only as test_notes_only  # imported from here too
from lab.eval_data_path import locate_run_data
from lab.eval_fit import change_data, note_other_task
from lab.eval_labels import pin_label_names
from lab.eval_results import claim_folder, results_target, write_results
from lab.eval_settings import set_module_settings, set_overrides
from lab.eval_split_notes import EvaluatedSplitNotes
from lab.eval_splits import (
    RUN_SPLIT,
    choose_split,
    evaluated_split,
    note_evaluated,
    read_as_test,
    run_split_named,
)
from lab.eval_table import (
    changed_data_note,
    limited_pass_note,
    note_setting_changes,
    plain_test_progress,
    print_metrics,
    recorded_for,
)
from lab.inference.settings import settings_line
from lab.run_dir.runs import (
    TrainedRun,
    building,
    load_checkpoint_weights,
    load_exported,
    open_run,
)
from lab.tool_flags import flag_option
from lab.tool_interrupts import on_interrupt

if TYPE_CHECKING:
    from lab.data.datamodule import DataModule

log = logging.getLogger(__name__)

OPTIONS = {
    "run": "run directory written by python -m lab.train (required)",
    "checkpoint": "model (the exported best model, default), best, last, or a .ckpt path",
    "split": "the run's train, validation or test (default) as training read them; with other "
    "data, a source split (default: the data config's test split, test, or the only one)",
    "output": "where to write metrics.json (default: <run>/eval/<time>/metrics.json)",
    "batch_size": "evaluation batch size (default: the run's data.eval_batch_size)",
    "load_in": "8bit or 4bit: load the exported model quantized (bitsandbytes, CUDA only)",
    "plots": "true (default) or false: draw the head's figures beside metrics.json, whatever "
    "the run's own `plots` was",
    "data": "another dataset config (data=sst2) and/or data.<key>=<value> overrides",
    "task.module.<key>": "a setting of the head's evaluation, e.g. extractive QA's "
    "task.module.null_score_diff_threshold=-2 (the weights are the run's)",
    "--config-dir": "a folder of your own config groups, searched before lab's as lab.train "
    "--config-dir searches it: data=<your data config>; may be repeated",
}
USAGE = "python -m lab.eval run=<run dir> [data=<name>] [data.<key>=<value> ...] [key=value ...] [--config-dir <folder>]"  # noqa: E501


#: lab.eval_build's, under the name callers of this module use
_build_parts = build_evaluation_parts

# Data keys that change how rows are batched, not which rows or how they read: still the
# run's own data (its split, beside the metrics recorded for it) once overridden.
BATCHING_KEYS = ("pad_to_multiple_of", "pin_memory", "eval_batch_size", "num_workers")


def evaluation_config(run: TrainedRun, data_overrides: list[str], split: str | None) -> DictConfig:
    """The run's config with its data section changed as asked and the split to evaluate chosen
    (see the module docstring); the run's own test split leaves the config as trained, but
    for the batching keys (`BATCHING_KEYS`), which never make the data other data."""
    locate_run_data(run, data_overrides)  # a relative path, from the run's working directory
    batching = [o for o in data_overrides if o.split("=", 1)[0] in _batching_overrides()]
    cfg = _evaluation_config(run, [o for o in data_overrides if o not in batching], split)
    set_overrides(cfg, batching)
    check_keys(cfg, [o.split("=", 1)[0] for o in data_overrides if "." in o.split("=", 1)[0]])
    return cfg


def _batching_overrides() -> set[str]:
    return {f"data.{key}" for key in BATCHING_KEYS}


def _evaluation_config(run: TrainedRun, data_overrides: list[str], split: str | None) -> DictConfig:
    cfg = OmegaConf.create(OmegaConf.to_container(run.config))
    assert isinstance(cfg, DictConfig)
    if data_overrides:
        change_data(cfg, data_overrides, run)
        choose_split(cfg, split, run, own=False)
    else:
        own = run_split_named(cfg.data, split)
        with open_dict(cfg):
            cfg[RUN_SPLIT] = own
        if own:
            note_evaluated(cfg, own)
        if own == "test":
            return cfg
        if own:
            read_as_test(cfg.data)
        else:
            choose_split(cfg, str(split), run, own=True)
    # Other data keeps the model's names and class ids; the names it gives integer ids are
    # noted first (`lab.eval_labels`).
    pin_label_names(cfg, run, data_overrides)
    return cfg


def evaluate(
    run: TrainedRun,
    cfg: DictConfig,
    checkpoint: str = "model",
    batch_size: int | None = None,
    load_in: str | None = None,
    on_data: Callable[[DataModule], None] | None = None,
    before_setup: Callable[[DataModule], None] | None = None,
) -> tuple[dict[str, float], dict[str, Any]]:
    """Test the run's model on `cfg`'s test split; return (metrics, the head's report).

    `on_data(datamodule)` is called once the data is read, before any model is built (`main`
    notes the rows evaluated), `before_setup(datamodule)` before it is read (`main` holds the
    splits as read)."""
    import lightning as L

    from lab.training.checkpointing import read_checkpoint
    from lab.training.console import tame_library_output
    from lab.training.progress import ProgressBar

    tame_library_output(data=True)
    L.seed_everything(int(cfg.seed), workers=True, verbose=False)
    if batch_size:
        cfg.data.eval_batch_size = batch_size
    if load_in and checkpoint != "model":
        raise ConfigError("load_in applies to the exported model; drop checkpoint=")
    if checkpoint == "model":
        model, tokenizer = load_exported(run, load_in=load_in)

        def checked(data: DataModule) -> None:
            _check_labels(data.model_kwargs().get("id2label"), model.config.id2label)
            if on_data is not None:
                on_data(data)

        parts = _build_parts(
            run, cfg, tokenizer=tokenizer, model=model, on_data=checked, before_setup=before_setup
        )
    else:
        path = run.checkpoint(checkpoint)
        saved = read_checkpoint(path)  # a bad file fails before any model is built
        parts = _build_parts(run, cfg, on_data=on_data, before_setup=before_setup)
        load_checkpoint_weights(parts.module, saved, path)
    module, datamodule = parts.module, parts.datamodule
    trainer = L.Trainer(
        accelerator=str(cfg.trainer.get("accelerator", "auto")),
        devices=1,
        precision=cfg.trainer.get("precision", "32-true"),
        logger=False,
        callbacks=[ProgressBar(), plain_test_progress()],  # plain lines where no bar is drawn
        enable_checkpointing=False,
        enable_model_summary=False,
    )
    results = trainer.test(module, datamodule=datamodule, verbose=False)
    metrics = {k: float(v) for result in results for k, v in result.items()}
    return metrics, module.test_report


def _check_labels(data_labels: dict[int, str] | None, model_labels: dict[int, str]) -> None:
    if data_labels is None:
        return
    wanted = {int(k): v for k, v in model_labels.items()}
    given = {int(k): v for k, v in data_labels.items()}
    if given != wanted:
        # The same classes in another order: names map the data's labels to the model's ids.
        # Other classes: no setting can score them with this model.
        advice = (
            "set data.label_names to the model's labels in id order"
            if sorted(given.values()) == sorted(wanted.values())
            else "lab.eval keeps the model's classes: evaluate data labelled with them"
        )
        raise DataError(
            f"the data's labels {list(given.values())} differ from the model's "
            f"{list(wanted.values())}; {advice}"
        )


def main(argv: list[str]) -> int:
    """Console entry point: parse `key=value` arguments, evaluate, write and print."""
    from lab.config.resolvers import register_resolvers
    from lab.config.user_dirs import searched_first, take_config_dirs
    from lab.training.console import tame_library_output

    register_resolvers()
    config_dirs, argv = take_config_dirs(argv)  # before key=value parsing: a flag of its own
    values, overrides = parse_options(
        argv, OPTIONS, required=("run",), passthrough=("data", "task"), usage=USAGE
    )
    data_overrides = [o for o in overrides if not o.startswith("task")]
    writing: list[Path] = []  # the folder, once the results are being written
    with on_interrupt(
        lambda: (
            f"its results in {writing[0]} may be incomplete"
            if writing
            else "nothing was written (metrics.json is written once the whole split is evaluated)"
        )
    ):
        run = open_run(values["run"])  # a wrong path: said at once, before the imports
        draw = flag_option("plots", values.get("plots", "true"))
        checkpoint = values.get("checkpoint", "model")
        if checkpoint != "model":  # a missing or folder checkpoint: said before data is read
            run.checkpoint(checkpoint)
        if values.get("output"):  # said before any data is read (a .json file)
            results_target(run, values["output"])
        # Before any data is read: choosing the split (`evaluation_config`) loads the source,
        # so datasets' bars and log lines would show before `evaluate` quiets them.
        tame_library_output(data=True)
        with searched_first(config_dirs):  # data=<a data config of your own>
            cfg = evaluation_config(run, data_overrides, values.get("split"))
        target = results_target(run, values.get("output"))  # before minutes of evaluation
        module_settings = [o for o in overrides if o.startswith("task")]
        set_module_settings(cfg, module_settings)
        note_other_task(run, cfg, data_overrides)  # data=wmt16_ro_en for a summarization run
        note_setting_changes(run, cfg, data_overrides)  # data.max_length=8 (trained with 128)
        batch = int(values["batch_size"]) if values.get("batch_size") else None
        evaluated: dict[str, Any] = {}
        notes = EvaluatedSplitNotes(run, cfg)  # lab.train's lines on the split scored

        def note(datamodule: DataModule) -> None:  # the rows tested, as record.json notes them
            evaluated["rows"] = datamodule.raw_sizes["test"]
            evaluated["sha256"] = datamodule.split_fingerprints["test"]
            notes.read(datamodule)

        with building(run):  # a config of other lab code this code cannot build: one line
            metrics, report = evaluate(
                run, cfg, checkpoint, batch, values.get("load_in"), note, notes.keep
            )
        if not values.get("output"):  # its own eval/<time>/ folder, created now
            target = claim_folder(target)
        writing.append(target.parent)
        write_results(
            target, run, cfg, checkpoint=checkpoint, evaluated=evaluated,
            module_settings=module_settings, metrics=metrics, report=report,
            data_overrides=data_overrides, warnings=notes.lines, plots=draw,
        )  # fmt: skip
    own = cfg.get(RUN_SPLIT)
    recorded = recorded_for(run, own)
    changed = changed_data_note(run, own, evaluated.get("sha256"))
    direction = recorded_direction_note(run.config)  # a "best" chosen the wrong way (s32d G3)
    for line in [direction, changed, *notes.lines]:  # before the table, which they qualify
        if line:
            log.warning(line)
    caveat = limited_pass_note(run, own, evaluated.get("rows"))
    if module_settings:  # the recorded column decoded with the run's own settings
        changed = "; ".join(
            f"{s.split('=', 1)[0]}={OmegaConf.select(run.config, s.split('=', 1)[0])}"
            for s in module_settings
        )
        caveat = "; ".join(filter(None, [caveat, f"at train time with the run's own {changed}"]))
        print(settings_line(module_settings))
    title = f"Evaluation of the {evaluated_split(cfg)} split"
    print_metrics(
        metrics, recorded, bool(recorded), target, caveat, title=title,
        run=run, checkpoint=checkpoint, report=report, figures=draw,
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    run_tool(main, exit_fast=True, stop_on_sigterm=True)
