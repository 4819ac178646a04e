"""A study's results as files in the sweep directory, rewritten after every trial.

    trials.csv       one row per trial: number, state, value(s), params, duration, run dir, error
                     (duration_s: of the attempt that finished it; a trial re-run after its
                     process died counts from the re-run's start, not the first attempt's)
    best.json        best value, params and run dir (multi-objective: the Pareto front)
    plots/*.png      optimization history, parameter importance (from 2 complete trials
                     whose objective varies), parallel coordinates, intermediate values
                     (what pruning saw: only when trials reported any); Pareto front when
                     multi-objective

Everything is derived from the storage, so any worker may (re)write them: the last writer
wins and is right. Files are written atomically (a half-written CSV is never seen).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import secrets
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

RUN_DIR = "run_dir"  # user attr: the trial's run directory
ERROR = "error"  # user attr: why a trial failed


def trial_rows(study: Any) -> list[dict[str, Any]]:
    """One flat dict per trial, in trial-number order."""
    names = _objective_names(study)
    params = sorted({p for t in study.get_trials(deepcopy=False) for p in t.params})
    rows = []
    for trial in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        row: dict[str, Any] = {"number": trial.number, "state": trial.state.name}
        values = trial.values or [None] * len(names)
        row.update(dict(zip(names, values, strict=True)))
        row.update({f"params.{p}": trial.params.get(p) for p in params})
        duration = duration_s(trial)
        row["duration_s"] = None if duration is None else round(duration, 1)
        row["reports"] = len(trial.intermediate_values)
        row[RUN_DIR] = trial.user_attrs.get(RUN_DIR, "")
        row[ERROR] = trial.user_attrs.get(ERROR, "")
        rows.append(row)
    return rows


def duration_s(trial: Any) -> float | None:
    """Seconds the finished `trial` ran in its last attempt (None while it runs).

    Optuna's own duration starts at the first attempt: for a trial re-run after its sweep was
    killed it would count the time the sweep was down. Each attempt stamps its start
    (`liveness.STARTED`); a trial without the stamp (asked by another tool) keeps Optuna's."""
    from lab.sweeps.liveness import STARTED

    if trial.datetime_complete is None:
        return None
    started = trial.system_attrs.get(STARTED)
    if started is None:
        return trial.duration.total_seconds() if trial.duration else None
    # Optuna stores naive local times; .timestamp() reads them as local, like time.time().
    return max(0.0, trial.datetime_complete.timestamp() - float(started))


def best_summary(study: Any) -> dict[str, Any]:
    """The content of best.json."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    counts = {state.name.lower(): 0 for state in TrialState}
    for trial in trials:
        counts[trial.state.name.lower()] += 1
    summary: dict[str, Any] = {
        "study": study.study_name,
        "objectives": dict(
            zip(_objective_names(study), [d.name.lower() for d in study.directions], strict=True)
        ),
        "trials": counts,
    }
    if not counts["complete"]:
        return summary
    if len(study.directions) == 1:
        best = study.best_trial
        summary["best"] = _describe(best)
    else:
        front = sorted(study.best_trials, key=lambda t: t.number)
        summary["pareto_front"] = [_describe(t) for t in front]
    return summary


def _describe(trial: Any) -> dict[str, Any]:
    return {
        "number": trial.number,
        "value" if len(trial.values) == 1 else "values": (
            trial.values[0] if len(trial.values) == 1 else trial.values
        ),
        "params": trial.params,
        RUN_DIR: trial.user_attrs.get(RUN_DIR, ""),
    }


def write_results(study: Any, sweep_dir: Path) -> None:
    """Write trials.csv and best.json (cheap: after every trial)."""
    rows = trial_rows(study)
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    _atomic_write(sweep_dir / "trials.csv", buffer.getvalue())
    _atomic_write(sweep_dir / "best.json", json.dumps(best_summary(study), indent=2) + "\n")


def write_plots(study: Any, sweep_dir: Path) -> list[Path]:
    """Write the plots that the study has enough trials for; return their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as vis

    names = _objective_names(study)
    first = {"target": lambda t: t.values[0], "target_name": names[0]}
    multi = len(study.directions) > 1
    plots = {
        "optimization_history": lambda: vis.plot_optimization_history(
            study, **(first if multi else {"target_name": names[0]})
        ),
        "param_importances": lambda: vis.plot_param_importances(
            study, **(first if multi else {"target_name": names[0]})
        ),
        "parallel_coordinate": lambda: vis.plot_parallel_coordinate(
            study, **(first if multi else {"target_name": names[0]})
        ),
    }
    # What pruning saw: only trials that reported per-validation values have any (none when
    # the pruner is none or the study is multi-objective), and without them Optuna logs a
    # warning and draws empty axes.
    if any(t.intermediate_values for t in study.get_trials(deepcopy=False)):
        plots["intermediate_values"] = lambda: vis.plot_intermediate_values(study)
    if multi:
        plots["pareto_front"] = lambda: vis.plot_pareto_front(study, target_names=names)
    if importance_skipped(study) is not None:  # said in the summary's Plots line
        del plots["param_importances"]
    out_dir = sweep_dir / "plots"
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, plot in plots.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Optuna marks these plots experimental
                axes: Any = plot()
            figure = getattr(axes, "figure", None) or axes.flat[0].figure
            if name in ("intermediate_values", "optimization_history"):
                mark_pruned(axes, study, drawn=name == "intermediate_values")
            figure.tight_layout()
            figure.savefig(out_dir / f"{name}.png", dpi=120)
            plt.close(figure)
            written.append(out_dir / f"{name}.png")
        except Exception as err:  # e.g. importance needs two finished trials
            log.info("plot %s skipped: %s", name, err)
            plt.close("all")
    return written


def mark_pruned(axes: Any, study: Any, drawn: bool) -> None:
    """Say which trials were pruned on a plot (s29b F6): where their curves are `drawn`
    (intermediate values), a red x at each one's last reported value; where Optuna leaves them
    out (the optimization history), which are not shown. Both name the trials in the title."""
    from optuna.trial import TrialState

    pruned = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.PRUNED]
    if not pruned:
        return
    listed = ", ".join(str(t.number) for t in pruned)
    numbers = f"trial {listed}" if len(pruned) == 1 else f"trials {listed}"
    if drawn:
        ends = [(max(t.intermediate_values), t) for t in pruned if t.intermediate_values]
        steps = [step for step, _ in ends]
        values = [trial.intermediate_values[step] for step, trial in ends]
        axes.scatter(steps, values, marker="x", color="red", s=60, zorder=5)
        note = f"x: pruned ({numbers})"
    else:
        note = f"pruned, not shown: {numbers}"
    axes.set_title(f"{axes.get_title()}\n{note}", fontsize="medium")


def importance_skipped(study: Any) -> str | None:
    """Why the parameter-importance plot is not drawn, or None when it is. With fewer than
    two complete trials, one objective value, or one set of parameter values, Optuna's
    evaluator has no variance to split and draws equal, meaningless bars (0.33 each for
    three parameters)."""
    from optuna.trial import TrialState

    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    if len(complete) < 2:
        return f"{len(complete)} complete trial{'' if len(complete) == 1 else 's'}, needs 2"
    if len({t.values[0] for t in complete}) == 1:  # the first objective: the one it plots
        return f"every complete trial has {_objective_names(study)[0]} {complete[0].values[0]:g}"
    if len({tuple(sorted(t.params.items())) for t in complete}) == 1:
        return "every complete trial ran the same parameters"
    return None


def _objective_names(study: Any) -> list[str]:
    names = study.metric_names
    if names:
        return list(names)
    return (
        ["value"]
        if len(study.directions) == 1
        else [f"value_{i}" for i in range(len(study.directions))]
    )


def _atomic_write(path: Path, text: str) -> None:
    # Created with os.open's mode 0o666, which the umask trims like any other file's
    # (tempfile.mkstemp would make it 0600: results unreadable to the rest of a team).
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
