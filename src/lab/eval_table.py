"""What `python -m lab.eval` prints beside its progress bar.

* The data settings that differ from training, before the evaluation (`note_setting_changes`):
  `data.max_length=8 (the run trained with 128)`.
* Plain progress lines where no bar is drawn (stdout a file or a pipe: a batch job's log),
  `plain_test_progress`: `evaluated 30 of 125 batches (24%), 0:00:35 elapsed, about 0:01:50 left`.
* The table: the evaluation's metrics, next to those recorded at train time for the same split,
  and why the two may differ: the run's trainer limited that pass (`trainer.limit_test_batches`,
  `trainer.limit_val_batches`); the split's data changed since training (`changed_data_note`);
  the weights evaluated (`checkpoint=last`) are not those the run recorded metrics for (its best
  checkpoint, `other_weights`: the column is titled `at train time (best checkpoint)`); a metric
  differs and other code recorded the run: this lab's code computed the new value, and may
  score it otherwise (`other_code_scoring`, naming that code and how to use it).
* A note on a class no row of the data evaluated is labelled with, that the model predicted
  all the same: the macro averages score it 0 (`absent_classes_note`).
* Where the metrics, the report and the figures were written.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab.run_dir.runs import TrainedRun

if TYPE_CHECKING:
    from lightning.pytorch.callbacks import Callback
    from omegaconf import DictConfig


def print_metrics(
    metrics: dict[str, float],
    recorded: dict[str, float],
    compare: bool,
    target: Path,
    note: str = "",
    title: str = "Evaluation",
    *,
    run: TrainedRun | None = None,
    checkpoint: str = "model",
    report: dict[str, Any] | None = None,
    figures: bool = True,
) -> None:
    """A table of the evaluation's metrics, next to `recorded` (the train-time metrics of the
    evaluated split, named as the evaluation names them) when `compare`; `note` (why the two
    may differ, `limited_pass_note`) is printed under it, its column header marked `*`;
    `title` (which split was evaluated) above it. With the `run` and the `checkpoint`
    evaluated, a column of other weights is titled with those it holds (`other_weights`);
    with the head's `report`, a class absent from the data is noted and the report's file
    named (`lab.eval_results.report_paths`), and its figures' folder unless `figures` is
    False (`plots=false`: a folder there is an earlier evaluation's)."""
    from rich.table import Table

    from lab.eval_results import report_paths
    from lab.run_dir.summary import format_metric
    from lab.training.console import message_console

    weights, other = other_weights(run, checkpoint) if run is not None else ("", "")
    scoring = other_code_scoring(run, metrics, recorded) if run is not None and compare else ""
    note = "; ".join(filter(None, [other, note, scoring]))
    console = message_console()
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    if compare:
        header = f"at train time ({weights})" if weights else "at train time"
        table.add_column(header + ("*" if note else ""), justify="right")
    for name in sorted(metrics):
        row = [name, format_metric(metrics[name])]
        if compare:
            row.append(format_metric(recorded[name]) if name in recorded else "")
        table.add_row(*row)
    console.print(table)
    if compare and note:
        console.print(f"* {note}", highlight=False, markup=False)
    absent = absent_classes_note(report or {})
    if absent:
        console.print(f"note: {absent}", highlight=False, markup=False)
    console.print(f"Metrics written to [bold]{target}[/bold]")
    if report:
        report_file, plots = report_paths(target)
        drawn = f" (figures in {plots})" if figures and plots.is_dir() else ""
        console.print(f"Report written to {report_file}{drawn}", highlight=False, markup=False)


# How far an evaluation may be from the recorded number and still be the same (README: "tested
# to 1e-6"): what a float32 metric rounds to, not a change of scoring.
SAME_METRIC = 1e-6


def other_code_scoring(
    run: TrainedRun, metrics: dict[str, float], recorded: dict[str, float]
) -> str:
    """Why the metrics of a run recorded by other code may differ from those recorded at train
    time: this lab's code computed them (an entity rule, a loss's averaging may have changed
    since), with the line naming that code and how to use it (`TrainedRun.code_note`); "" when
    every shared metric matches (to `SAME_METRIC`) or this code recorded the run."""
    import math

    differs = [
        name
        for name in metrics
        if name in recorded
        and not math.isclose(metrics[name], recorded[name], rel_tol=0, abs_tol=SAME_METRIC)
    ]
    if not differs:
        return ""
    code = run.code_note()
    if code is None:
        return ""
    them = "them" if len(differs) > 1 else "it"
    return (
        f"{', '.join(sorted(differs))}: computed by this lab's code, which may score {them} "
        f"otherwise than the code that recorded {them}; {code}"
    )


def other_weights(run: TrainedRun, checkpoint: str) -> tuple[str, str]:
    """(the weights the run's recorded metrics are of, as `record.json`'s `tested` names them:
    `best checkpoint` or `last weights`; why they differ from those evaluated) when the
    `checkpoint` evaluated (lab.eval's option: `model`, `best`, `last` or a path) holds other
    weights; ("", "") when it holds the same: the tested checkpoint or a link to it
    (`last.ckpt` of a run whose last epoch was its best is the best file), or the run's own
    export. A `model/` that `lab.export checkpoint=last` wrote is of that checkpoint (its card
    says so: `lab.run_dir.model_card.exported_checkpoint`)."""
    import os

    from lab.run_dir.model_card import exported_checkpoint
    from lab.run_dir.runs import CHECKPOINT_DIR
    from lab.run_dir.summary import BEST, LAST

    tested = run.record.get("tested") or BEST  # a record from before `tested`: the best
    # `last.ckpt` holds the last weights once training ends (`PeriodicLastCheckpoint`).
    recorded = _checkpoint_file(run, "best" if tested == BEST else "last")
    folder = (run.directory / CHECKPOINT_DIR).resolve()
    if checkpoint == "model":
        source = exported_checkpoint(run.model_dir)
        if source is None or (recorded is not None and source == recorded.name):
            return "", ""
        evaluated = _checkpoint_file(run, str(folder / source))
        named = f"model/ exported from {source}"
    else:
        evaluated = _checkpoint_file(run, checkpoint)
        inside = evaluated is not None and evaluated.resolve().parent == folder
        named = evaluated.name if evaluated and inside else str(evaluated or checkpoint)
    if evaluated and recorded and os.path.samefile(evaluated, recorded):
        return "", ""
    if tested == LAST:
        of = "its last weights, at the end of training"
    else:  # the tested file may be gone: named where it is not
        of = f"its best checkpoint ({recorded.name})" if recorded else "its best checkpoint"
    return tested, f"the run recorded these metrics for {of}, not for the {named} evaluated here"


def _checkpoint_file(run: TrainedRun, which: str) -> Path | None:
    """`run.checkpoint(which)`, None where there is no such file."""
    from lab.errors import LabError

    try:
        return run.checkpoint(which)
    except LabError:
        return None


def absent_classes_note(report: dict[str, Any], where: str = "the data evaluated") -> str:
    """A classifier's report (`confusion_matrix`, true label by row, and its `labels`): the
    classes no row is labelled with that the model predicted all the same, which the macro
    averages (f1, precision, recall) count as classes scored 0 (torchmetrics, like sklearn,
    leaves out only a class neither labelled nor predicted); a multi-label report (`per_label`
    alone): the classes neither labelled nor predicted, which its `f1_macro` counts as 0
    (`unscored_labels_note`); "" when there is none or the report is of another kind.
    `where`: the data the report is of, as the note names it."""
    if "confusion_matrix" not in report and isinstance(report.get("per_label"), dict):
        return unscored_labels_note(report["per_label"], where)
    matrix, labels = report.get("confusion_matrix"), report.get("labels")
    if not isinstance(matrix, list) or not isinstance(labels, list) or len(matrix) != len(labels):
        return ""
    try:
        truth = [sum(row) for row in matrix]
        predicted = [sum(row[i] for row in matrix) for i in range(len(labels))]
    except (TypeError, IndexError):
        return ""
    absent = [(str(labels[i]), predicted[i]) for i in range(len(labels)) if not truth[i]]
    absent = [(name, count) for name, count in absent if count]
    if not absent:
        return ""
    named = ", ".join(
        f"'{name}' (predicted for {count} row{'s' * (count != 1)})" for name, count in absent
    )
    which = "that class" if len(absent) == 1 else "each such class"
    return (
        f"no row of {where} is labelled {named}; the macro averages (f1, precision, "
        f"recall) count {which} with a score of 0, which lowers them"
    )


# Class names a note lists before "and N more".
NAMED_CLASSES = 8


def unscored_labels_note(per_label: dict[str, Any], where: str) -> str:
    """A multi-label report's classes that no row of `where` holds and none was predicted
    for: `f1_macro` (torchmetrics, as sklearn's `average="macro"` on label columns) counts
    each as F1 0, where the single-label head leaves such a class out, so a set with rare
    classes (GoEmotions' grief, pride) reads lower than its classes score (s30b F2). The
    note names them and the mean over the others; "" when there are none, or the report
    predates the `predicted` counts."""
    rows = [r for r in per_label.values() if isinstance(r, dict)]
    if len(rows) != len(per_label) or any("predicted" not in r for r in rows):
        return ""
    unscored = [n for n, r in per_label.items() if not r.get("support") and not r["predicted"]]
    if not unscored:
        return ""
    scored = [float(r["f1"]) for n, r in per_label.items() if n not in unscored]
    shown = ", ".join(f"'{n}'" for n in unscored[:NAMED_CLASSES])
    if len(unscored) > NAMED_CLASSES:
        shown += f" and {len(unscored) - NAMED_CLASSES} more"
    others = (
        f"; over the other {len(scored)} it is {sum(scored) / len(scored):.4f}" if scored else ""
    )
    return (
        f"{len(unscored)} of {len(per_label)} classes are neither labelled nor predicted in "
        f"{where} ({shown}): f1_macro counts each with an F1 of 0, as sklearn's "
        f"average='macro' does on label columns{others}"
    )


def setting_changes_line(
    run: TrainedRun, cfg: DictConfig, data_overrides: Sequence[str] = ()
) -> str:
    """`Data settings that differ from training: data.max_length=8 (the run trained with
    128)` for the data settings of the evaluation that differ from the run's
    (`lab.eval_results.settings_changed`); "" when none does."""
    from lab.eval_results import settings_changed

    groups = [o.split("=", 1)[1] for o in data_overrides if o.split("=", 1)[0] == "data"]
    given = {o.split("=", 1)[0].lstrip("+~") for o in data_overrides}
    parts = []
    for key, (trained, evaluated) in settings_changed(run, cfg, data_overrides).items():
        # Not given: the data config chosen (`data=demo`) sets its own value.
        source = f"data={groups[-1]} sets it; " if groups and key not in given else ""
        parts.append(f"{key}={_shown(evaluated)} ({source}the run trained with {_shown(trained)})")
    return f"Data settings that differ from training: {'; '.join(parts)}" if parts else ""


def note_setting_changes(
    run: TrainedRun, cfg: DictConfig, data_overrides: Sequence[str] = ()
) -> None:
    """Print `setting_changes_line` (before the evaluation), if there is one."""
    from lab.training.console import message_console

    line = setting_changes_line(run, cfg, data_overrides)
    if line:
        message_console().print(line, highlight=False, markup=False)


def _shown(value: Any) -> str:
    """A setting's value as the command line writes it (`null`, `true`, `[a, b]`)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return f"[{', '.join(_shown(v) for v in value)}]"
    return str(value)


def plain_test_progress() -> Callback:
    """A Lightning callback for lab.eval's test loop: plain progress lines, as lab.predict
    says them (`lab.inference.plain_progress.PlainProgress`), where
    `lab.training.progress.ProgressBar` draws no bar (stdout a file or a pipe); it says
    nothing on a terminal, where the bar is drawn."""
    from lightning.pytorch.callbacks import Callback

    from lab.inference.plain_progress import PlainProgress

    class PlainTestProgress(Callback):  # type: ignore[misc]
        def __init__(self) -> None:
            self.lines: PlainProgress | None = None

        def on_test_start(self, trainer: Any, pl_module: Any) -> None:
            from lab.training.progress_lines import interactive_console

            if interactive_console() or not trainer.is_global_zero:
                return
            batches = trainer.num_test_batches
            total = sum(int(n) for n in batches if n != float("inf"))
            self.lines = PlainProgress("evaluated", total or None, unit="batches")

        def on_test_batch_end(self, trainer: Any, *args: Any, **kwargs: Any) -> None:
            if self.lines is not None:
                self.lines.advance(1)

    return PlainTestProgress()


def limited_pass_note(run: TrainedRun, split: str | None, rows: int | None) -> str:
    """Why the metrics recorded for the run's `split` may differ from an evaluation of the whole
    split (`rows` rows): the run's trainer limited that pass (`trainer.limit_test_batches=1`
    tests one batch); "" when it did not. lab.eval always evaluates the whole split."""
    key = {"test": "limit_test_batches", "validation": "limit_val_batches"}.get(split or "")
    value = run.config.trainer.get(key) if key else None
    # Lightning reads an int as a number of batches and a float as a share of them (1.0: all).
    if value is None or isinstance(value, bool) or (isinstance(value, float) and value >= 1):
        return ""
    seen = f"{value * 100:g}% of its batches" if isinstance(value, float) else f"{value} batch"
    seen += "" if isinstance(value, float) or value == 1 else "es"
    pass_name = "test" if split == "test" else "validation"
    whole = f"the whole split ({rows} rows)" if rows is not None else "the whole split"
    return (
        f"at train time trainer.{key}={value} limited the {pass_name} pass to at most {seen}; "
        f"this evaluation saw {whole}, so the two can differ"
    )


# What the run did with each of its splits, for the changed-data warning.
_USE = {"train": "trained on", "validation": "validated on", "test": "tested on"}


def changed_data_note(run: TrainedRun, split: str | None, sha256: str | None) -> str:
    """Why the run's own `split`, read again with digest `sha256`, is not what the run saw:
    `record.json` notes another digest for it (the files changed since training), so the
    metrics recorded at train time are of other rows; "" when they match, for other data
    (`split` None), or where either digest is unknown (an older record, a streamed split)."""
    if not split or not sha256:
        return ""
    recorded = ((run.record.get("data") or {}).get(split) or {}).get("sha256")
    if not recorded or recorded == sha256:
        return ""
    return (
        f"the {split} split's data differs from the one the run {_USE.get(split, 'used')} "
        f"(sha256 {sha256[:8]} now, {recorded[:8]} in record.json): its files changed since "
        "training, so metrics recorded at train time are of other rows"
    )


def recorded_for(run: TrainedRun, split: str | None) -> dict[str, float]:
    """The metrics recorded at train time for the run's `split`, named as `lab.eval` names
    them (`val/acc` as `test/acc`): only test and validation have final metrics ({} else)."""
    prefix = {"test": "test/", "validation": "val/"}.get(split or "")
    if prefix is None:
        return {}
    recorded = run.recorded_metrics.items()
    return {f"test/{k[len(prefix) :]}": v for k, v in recorded if k.startswith(prefix)}
