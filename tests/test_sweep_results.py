"""The sweep's results without training: a re-run trial's duration (acceptance s4 F1), the
end-of-sweep table at 80 columns (F4) and the plots of a study without pruning (F10)."""

from __future__ import annotations

import datetime
import io
import logging
import time
from pathlib import Path

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState
from rich.console import Console

from lab.compat.optuna import study_storage, trial_id
from lab.sweeps.liveness import STARTED, stamp
from lab.sweeps.results import RUN_DIR, trial_rows, write_plots
from lab.sweeps.summary import print_sweep_summary, print_trials_table


def _finished(number: int, ran_s: float, down_s: float, stamped: bool) -> optuna.trial.FrozenTrial:
    """A COMPLETE trial whose first attempt began `ran_s + down_s` seconds before it finished
    and whose last attempt (stamped, when `stamped`) ran the last `ran_s` seconds."""
    end = datetime.datetime.now()
    return optuna.trial.FrozenTrial(
        number=number,
        state=TrialState.COMPLETE,
        value=0.5,
        values=None,
        datetime_start=end - datetime.timedelta(seconds=ran_s + down_s),
        datetime_complete=end,
        params={},
        distributions={},
        user_attrs={},
        system_attrs={STARTED: end.timestamp() - ran_s} if stamped else {},
        intermediate_values={},
        trial_id=number,
    )


def test_a_rerun_trial_lasts_its_last_attempt_not_the_time_the_sweep_was_down() -> None:
    study = optuna.create_study(direction="maximize")
    study.add_trial(_finished(0, ran_s=35.0, down_s=142.0, stamped=True))  # re-run after a kill
    study.add_trial(_finished(1, ran_s=30.0, down_s=0.0, stamped=False))  # not run by lab
    assert [row["duration_s"] for row in trial_rows(study)] == [35.0, 30.0]


def test_every_attempt_stamps_its_start() -> None:
    study = optuna.create_study()
    trial = study.ask()
    before = time.time()
    stamp(study_storage(study), trial_id(trial))
    started = study.get_trials()[0].system_attrs[STARTED]
    assert before <= started <= time.time()


HEADER = [
    "trial",
    "val/acc",
    "data.batch_size",
    "optimizer.lr",
    "scheduler.warmup_ratio",
    "task.module.label_smoothing",
]


def _render(header: list[str], rows: list[list[str]], width: int = 80) -> str:
    console = Console(width=width, file=io.StringIO(), soft_wrap=True)
    print_trials_table("Study s: top trials", header, rows, console)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(output, str)
    return output


def test_a_table_too_wide_for_80_columns_turns_and_keeps_every_key_whole() -> None:
    rows = [[str(n), f"0.{80 + n}00", "32", "0.00123", "0.1", "0.1"] for n in (4, 0, 2, 5, 1)]
    output = _render(HEADER, rows)
    lines = output.splitlines()
    assert "…" not in output
    assert max(len(line) for line in lines) <= 80
    assert "(1/" not in output  # five trials of these keys fit in one part
    # One row per key, its name whole in the first column; one column per trial, in order.
    cells = {line.split()[0]: line.split()[1:] for line in lines[1:] if line.strip("━╇ ")}
    assert cells["trial"] == ["┃", "4", "┃", "0", "┃", "2", "┃", "5", "┃", "1"]
    assert list(cells)[1:] == HEADER[1:]
    assert cells["val/acc"][1::2] == ["0.8400", "0.8000", "0.8200", "0.8500", "0.8100"]
    assert cells["optimizer.lr"][1::2] == ["0.00123"] * 5


def test_a_table_that_fits_keeps_one_row_per_trial() -> None:
    output = _render(["trial", "val/acc", "optimizer.lr"], [["3", "0.9000", "0.001"]])
    header_line = next(line for line in output.splitlines() if "┃ trial" in line)
    assert header_line.split("┃")[1:4] == [" trial ", " val/acc ", " optimizer.lr "]


def test_a_narrow_console_folds_the_trials_into_parts_and_still_shows_whole_keys() -> None:
    rows = [[str(n), "0.8000", "32", "0.00123", "0.1", "0.1"] for n in range(5)]
    output = _render(HEADER, rows, width=50)
    assert "(1/3)" in output and "(3/3)" in output
    assert output.count("task.module.label_smoothing") == 3
    assert "…" not in output


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_the_sweep_summary_names_every_parameter_in_full_at_80_columns() -> None:
    study = optuna.create_study(direction="maximize", study_name="custom")
    study.set_metric_names(["val/acc"])
    space = {
        "data.batch_size": CategoricalDistribution([16, 32]),
        "optimizer.lr": FloatDistribution(1e-3, 3e-2, log=True),
        "scheduler.warmup_ratio": FloatDistribution(0.0, 0.15, step=0.05),
        "task.module.label_smoothing": CategoricalDistribution([0.0, 0.1]),
        "trainer.max_epochs": IntDistribution(1, 3),
    }
    for number in range(6):
        params = {
            "data.batch_size": 32,
            "optimizer.lr": 0.001 * (number + 1),
            "scheduler.warmup_ratio": 0.05,
            "task.module.label_smoothing": 0.1,
            "trainer.max_epochs": 3,
        }
        study.add_trial(
            optuna.trial.create_trial(params=params, distributions=space, value=0.8 + number / 100)
        )
    console = Console(width=80, file=io.StringIO(), soft_wrap=True)
    print_sweep_summary(study, Path("/tmp/sweeps/custom"), [], console)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    assert "…" not in output
    assert max(len(line) for line in output.splitlines()) <= 80
    keys = [line.split()[0] for line in output.splitlines() if line.startswith(" ")]
    assert keys[:7] == ["trial", "val/acc", *sorted(space)]
    assert "Study custom: top 5 trials (6 complete)" in output


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
@pytest.mark.parametrize(
    ("values", "line"),
    [
        ((0.86, 0.80, 0.86, 0.86), "Tied with it: trial 2, trial 3 (the same val/acc; the "),
        ((0.80, 0.86, 0.85, 0.84), None),
    ],
)
def test_trials_tied_with_the_best_are_named(values: tuple[float, ...], line: str | None) -> None:
    """s29b F3: Optuna names the first of equal trials best; the others are said."""
    study = optuna.create_study(direction="maximize", study_name="ties")
    study.set_metric_names(["val/acc"])
    space = {"optimizer.lr": FloatDistribution(1e-4, 1e-2, log=True)}
    for number, value in enumerate(values):
        study.add_trial(
            optuna.trial.create_trial(
                params={"optimizer.lr": 1e-4 * (number + 1)},
                distributions=space,
                value=value,
                user_attrs={RUN_DIR: f"/tmp/sweeps/ties/trials/{number}"},
            )
        )
    console = Console(width=120, file=io.StringIO(), soft_wrap=True)
    print_sweep_summary(study, Path("/tmp/sweeps/ties"), [], console)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    best = 0 if line else 1
    assert f"Best trial {best}: /tmp/sweeps/ties/trials/{best}" in output
    if line:
        assert line + "lowest number is named best)" in output
    else:
        assert "Tied" not in output


def test_a_parameter_count_objective_is_shown_whole() -> None:
    study = optuna.create_study(directions=["maximize", "minimize"], study_name="lora")
    study.set_metric_names(["val/acc", "model/params_trainable"])
    space = {"peft.config.r": CategoricalDistribution([2, 8])}
    for r, values in ((2, [0.75, 578.0]), (8, [0.8125, 2312.0])):
        study.add_trial(
            optuna.trial.create_trial(
                params={"peft.config.r": r}, distributions=space, values=values
            )
        )
    console = Console(width=120, file=io.StringIO(), soft_wrap=True)
    print_sweep_summary(study, Path("/tmp/sweeps/lora"), [], console)
    rows = [line.split("│") for line in console.file.getvalue().splitlines() if "│" in line]  # type: ignore[attr-defined]
    cells = [[cell.strip() for cell in row[1:-1]] for row in rows]
    assert ["0", "0.7500", "578", "2"] in cells and ["1", "0.8125", "2312", "8"] in cells


def test_objective_cells_show_the_digits_that_rank_the_trials() -> None:
    """s31d L2: trials 0.69312924 and 0.69314271 both printed `0.6931`, hiding the order."""
    from lab.sweeps.summary import objective_cells

    assert objective_cells("val/loss", [0.69312924, 0.69314271, 0.7]) == [
        "0.69313",
        "0.69314",
        "0.70000",
    ]
    assert objective_cells("val/acc", [0.75, 0.8125]) == ["0.7500", "0.8125"]
    assert objective_cells("val/acc", [0.5, 0.5]) == ["0.5000", "0.5000"]  # a tie stays one
    assert objective_cells("model/params_trainable", [578.0]) == ["578"]


def _study_with_reports(reports: bool) -> optuna.Study:
    study = optuna.create_study(direction="maximize")
    space = {"optimizer.lr": FloatDistribution(1e-4, 1e-2, log=True)}
    for number in range(3):
        study.add_trial(
            optuna.trial.create_trial(
                params={"optimizer.lr": 1e-3 * (number + 1)},
                distributions=space,
                value=0.5 + number / 10,
                # what a pruning sweep's trials report once per validation (milli-epochs)
                intermediate_values={1000: 0.4, 2000: 0.5 + number / 10} if reports else None,
            )
        )
    return study


@pytest.mark.parametrize("reports", [False, True])
def test_the_intermediate_values_plot_is_drawn_only_when_trials_reported_values(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, reports: bool
) -> None:
    """Without pruning (pruner: none, or a multi-objective study) no trial reports; Optuna's
    plot would log "You need to set up the pruning feature" and draw empty axes."""
    study = _study_with_reports(reports)
    optuna.logging.enable_propagation()  # Optuna's own handler hides its records from caplog
    caplog.clear()
    try:
        with caplog.at_level(logging.WARNING, logger="optuna"):
            written = write_plots(study, tmp_path)
    finally:
        optuna.logging.disable_propagation()
    names = sorted(p.name for p in written)
    assert names == sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert ("intermediate_values.png" in names) is reports
    assert "optimization_history.png" in names
    assert not [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("optuna") and r.levelno >= logging.WARNING
    ]


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_pruned_trials_are_marked_on_the_plots() -> None:
    """s29b F6: Optuna's stock plots drew pruned trials as ordinary short curves (intermediate
    values) or left them out with no word (optimization history)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.trial import TrialState
    from optuna.visualization import matplotlib as vis

    from lab.sweeps.results import mark_pruned

    study = _study_with_reports(True)
    space = {"optimizer.lr": FloatDistribution(1e-4, 1e-2, log=True)}
    for number, value in ((3, 0.2), (4, 0.25)):
        study.add_trial(
            optuna.trial.create_trial(
                params={"optimizer.lr": 1e-3 * number},
                distributions=space,
                state=TrialState.PRUNED,
                intermediate_values={1000: value},
            )
        )
    axes = vis.plot_intermediate_values(study)
    mark_pruned(axes, study, drawn=True)
    assert axes.get_title().endswith("\nx: pruned (trials 3, 4)")
    (marks,) = [c for c in axes.collections if c.get_offsets().shape[0] == 2]
    assert marks.get_offsets().tolist() == [[1000.0, 0.2], [1000.0, 0.25]]  # each one's last
    plt.close(axes.figure)
    axes = vis.plot_optimization_history(study)
    mark_pruned(axes, study, drawn=False)
    assert axes.get_title().endswith("\npruned, not shown: trials 3, 4")
    plt.close(axes.figure)
    unpruned = _study_with_reports(True)
    axes = vis.plot_optimization_history(unpruned)
    title = axes.get_title()
    mark_pruned(axes, unpruned, drawn=False)
    assert axes.get_title() == title  # nothing pruned: nothing said
    plt.close(axes.figure)
