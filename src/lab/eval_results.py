"""What `python -m lab.eval` writes, and where: `metrics.json` (metrics, checkpoint, the data
evaluated, the data settings given and those that differ from training) with the head's report
and figures beside it, in `<run dir>/eval/<time>/` or where `output=` says. The place is
checked before the evaluation (an evaluation takes minutes; a folder that cannot be written is
one line then, not a traceback after it), and a write that fails all the same (a full disk) is
one line naming the file.

`output=` names the metrics file, a `.json` (a name without it, `output=evals/ev_order`, is
refused in one line: a file named like a folder would be written). Its report and figures are
named after it, so evaluations written to one folder keep their own: `ev_int.json` gets
`ev_int.test_report.json` and `ev_int.plots/`. A file named `metrics.json` (the default, in a
folder of its own) gets the names a run directory uses: `test_report.json` and `plots/`.
`metrics.json` names both (`report`, `plots`: beside it), and keeps the lines said before the
table on the split scored (`warnings`: its rows with a train row's text, the train classes it
holds no row of; `lab.eval_split_notes`)."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from lab.errors import ConfigError
from lab.eval_splits import EVALUATED, RUN_SPLIT
from lab.run_dir.runs import TrainedRun
from lab.tool_outputs import check_output

METRICS = "metrics.json"
REPORT = "test_report.json"
PLOTS = "plots"

# The data settings that shape the model's inputs (where the text is cut, what is put before
# it): one a data config of other data (`data=demo`: max_length 64) sets other than the run
# trained with is said and recorded even though it was not given on the command line.
INPUT_KEYS = (
    "max_length",
    "doc_stride",
    "max_source_length",
    "max_target_length",
    "block_size",
    "truncation_side",
    "source_prefix",
    "history_cut",  # SFT: a long chat's oldest turns left out, or the chat cut at its end
)
# Data keys that choose which rows are read (the source and its splits, recorded as such in
# `metrics.json`), not how they are read: other data is no setting that differs from training.
SOURCE_KEYS = ("path", "hub_id", "hub_config", "hub_revision", "splits")


def results_target(run: TrainedRun, output: str | None) -> Path:
    """Where `metrics.json` goes (`output=`, a `.json` file, else
    `<run dir>/eval/<time>/metrics.json`), or a `LabError` when it cannot be written there."""
    if output:
        path = check_output(Path(output))  # a place that cannot be written: said as such
        if path.suffix.lower() != ".json":
            # Else the metrics would be a file named like the folder the user had in mind.
            raise ConfigError(
                f"output={output} must name a .json file (the metrics are written there, the "
                "report and plots beside it, named after it), e.g. "
                f"output={path.with_name(f'{path.stem}.json')}"
            )
        return path
    stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    return check_output(run.directory / "eval" / stamp / METRICS, option="output")


def claim_folder(target: Path) -> Path:
    """`target` (the default `eval/<time>/metrics.json`) in a folder this evaluation creates
    itself: where another evaluation of the run took that second's folder (two started in
    the same second, s25c H1: one's results were lost), the next free `<time>_2`, `_3`, ...
    (after `<time>`, before the next second, in name order)."""
    folder = target.parent
    for number in range(2, 10_000):
        try:
            folder.mkdir(parents=True, exist_ok=False)
            return folder / target.name
        except FileExistsError:
            folder = target.parent.with_name(f"{target.parent.name}_{number}")
        except OSError:  # unwritable: `write_results` says so, naming the folder
            return target
    return target  # ten thousand evaluations in one second: written as before


def report_paths(target: Path) -> tuple[Path, Path]:
    """(the report file, the plots folder) of the metrics file `target`: named after it
    (`ev_int.json`: `ev_int.test_report.json`, `ev_int.plots/`), so that evaluations written
    to one folder never replace each other's; `test_report.json` and `plots/` beside a file
    named `metrics.json` (the default, alone in its folder, laid out as a run directory)."""
    if target.name == METRICS:
        return target.parent / REPORT, target.parent / PLOTS
    return target.with_name(f"{target.stem}.{REPORT}"), target.with_name(f"{target.stem}.{PLOTS}")


def _value(cfg: DictConfig, key: str) -> Any:
    try:
        value = OmegaConf.select(cfg, key)
    except Exception:  # an interpolation that does not resolve here: no value to compare
        return None
    if isinstance(value, DictConfig | ListConfig):
        return OmegaConf.to_container(value, resolve=True)
    return value


def settings_changed(
    run: TrainedRun, cfg: DictConfig, data_overrides: Sequence[str] = ()
) -> dict[str, tuple[Any, Any]]:
    """The data settings of the evaluation (`cfg`) that differ from the run's training, as
    `{"data.max_length": (128, 8)}` (trained, evaluated): each `data.<key>=` given
    (`data_overrides`, as on the command line) but the source's keys (`SOURCE_KEYS`) and the
    batching keys (`lab.eval.BATCHING_KEYS`: they change no result), then each input-shaping
    key (`INPUT_KEYS`) however it changed (a `data=<name>` config sets its own)."""
    from lab.eval import BATCHING_KEYS  # here: lab.eval imports this module

    skipped = {*SOURCE_KEYS, *BATCHING_KEYS}
    keys = []
    for override in data_overrides:
        key = override.split("=", 1)[0].lstrip("+~")
        if key.startswith("data.") and key.split(".")[1] not in skipped and key not in keys:
            keys.append(key)
    keys += [f"data.{name}" for name in INPUT_KEYS if f"data.{name}" not in keys]
    changed = {}
    for key in keys:
        trained, evaluated = _value(run.config, key), _value(cfg, key)
        if trained != evaluated:
            changed[key] = (trained, evaluated)
    return changed


def write_results(
    target: Path,
    run: TrainedRun,
    cfg: DictConfig,
    *,
    checkpoint: str,
    evaluated: dict[str, Any],
    module_settings: list[str],
    metrics: dict[str, float],
    report: dict[str, Any],
    data_overrides: Sequence[str] = (),
    warnings: Sequence[str] = (),
    plots: bool = True,
) -> None:
    """Write `metrics.json` at `target` (`evaluated`: the rows and digest of the split tested;
    `module_settings`: the `task.module.<key>=` changes; `data_overrides`: the `data=` and
    `data.<key>=` options given, recorded with the settings that differ from training;
    `warnings`: lab.train's lines on the split scored, `lab.eval_split_notes`), and the head's
    report and figures beside it (`report_paths`; no figures with `plots=False`)."""
    from lab.run_dir.disk import writing
    from lab.run_dir.records import write_json

    data = cfg.data
    own = cfg.get(RUN_SPLIT)
    # The run's split as training read it: the mapping it was read by is the run's own.
    splits = (run.config.data if own else data).get("splits")
    changed = settings_changed(run, cfg, data_overrides)
    report_file, figures = report_paths(target)
    written: dict[str, str] = {}  # beside metrics.json: names, not paths (a folder moves whole)
    with writing(target.parent):
        target.parent.mkdir(parents=True, exist_ok=True)
        if report:
            write_json(report_file, report, sort_keys=False)  # the test report's own order
            written["report"] = report_file.name
            # The figures name the split evaluated (a confusion matrix of `split=validation`
            # was titled "test": s30b F3); the report file keeps the head's own keys.
            split = str((cfg.get(EVALUATED) or {}).get("split") or "test")
            if plots and _write_plots(figures, {**report, "split": split}, cfg):
                written["plots"] = figures.name
    differs = {key: {"training": old, "evaluation": new} for key, (old, new) in changed.items()}
    with writing(target):
        write_json(
            target,
            {
                "run": str(run.directory),
                "checkpoint": checkpoint,
                "data": {
                    "path": data.get("path"),
                    "hub_id": data.get("hub_id"),
                    "hub_config": data.get("hub_config"),
                    "splits": OmegaConf.to_container(splits),
                    # lab's name on the run's own data, else the source's
                    "split": own or str(data.splits.test),
                    "run_split": bool(own),
                    **evaluated,
                },
                **({"data_overrides": list(data_overrides)} if data_overrides else {}),
                **({"differs_from_training": differs} if differs else {}),
                **({"task_module": module_settings} if module_settings else {}),
                **({"warnings": list(warnings)} if warnings else {}),
                **written,
                "metrics": metrics,
            },
        )


def _write_plots(folder: Path, report: dict[str, Any], cfg: DictConfig) -> bool:
    """Draw the head's figures in `folder`; whether any was drawn. `write_run_plots` draws
    into `<dir>/plots/`, so a folder of another name gets them drawn in a hidden staging
    folder beside it, then moved in one by one (replacing those of an earlier evaluation
    written under the same name)."""
    from lab.run_dir.plots import write_run_plots

    if folder.name == PLOTS:
        return bool(write_run_plots(folder.parent, report, cfg))
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=f".{folder.name}-") as staging:
        drawn = write_run_plots(Path(staging), report, cfg)
        if drawn:
            folder.mkdir(exist_ok=True)
        for figure in drawn:
            figure.replace(folder / figure.name)
    return bool(drawn)
