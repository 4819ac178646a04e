"""What happens to a sweep's trial, without training anything: a trial whose enqueued value
its distribution cannot take is recorded FAIL (S1), a trial is not pruned at the validation
that ends its fit (S6), and the summary prints the command that reproduces the best trial,
which runs it as a run of its own (S7)."""

from __future__ import annotations

import io
import subprocess
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import optuna
import pytest
from omegaconf import OmegaConf
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState
from rich.console import Console

from lab.compat.optuna import study_storage, trial_id
from lab.sweeps.liveness import PID, stamp
from lab.sweeps.pruning import OptunaPruning, is_final_validation
from lab.sweeps.search_space import parse_search_space
from lab.sweeps.storage import open_storage
from lab.sweeps.summary import print_sweep_summary
from lab.sweeps.worker import SweepPlan, SweepStopped, TrialOutcome, open_study, run_worker

POISONED = (
    "its enqueued parameters {'optimizer.lr': -0.1} do not fit the search space: ValueError: "
    "`-0.1` is invalid value for the case log=True"
)


def _study(tmp_path: Path, lr: str, max_failure_rate: float) -> tuple[Any, SweepPlan]:
    """A 3-trial study of val/acc over `optimizer.lr=<lr>` in `tmp_path`, random sampler."""
    plan = SweepPlan(
        study_name="s",
        storage_url=f"sqlite:///{tmp_path / 'study.db'}",
        sweep_dir=tmp_path,
        metrics=["val/acc"],
        directions=["maximize"],
        n_trials=3,
        space=parse_search_space({"optimizer.lr": lr}, []),
        max_failure_rate=max_failure_rate,
    )
    sampler = optuna.samplers.RandomSampler(0)
    return open_study(plan, open_storage(plan.storage_url), sampler, None), plan


def _poisoned_study(tmp_path: Path, max_failure_rate: float) -> tuple[Any, SweepPlan]:
    """A study as an older lab left it: `enqueue_trials=[{optimizer.lr: -0.1}]` on a log
    scale, unchecked; its worker took trial 0, crashed in `suggest`, and left it RUNNING."""
    study, plan = _study(tmp_path, "tag(log,interval(1e-4,1e-2))", max_failure_rate)
    study.enqueue_trial({"optimizer.lr": -0.1})
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = study.ask()  # the enqueued trial, with its fixed -0.1
    stamp(study_storage(study), trial_id(orphan))
    study_storage(study).set_trial_system_attr(trial_id(orphan), PID, dead.pid)
    return study, plan


def _launch(launched: list[int]) -> Any:
    def launch(number: int, overrides: list[str]) -> TrialOutcome:
        launched.append(number)
        return TrialOutcome(metrics={"val/acc": 0.5 + number / 10})

    return launch


def test_a_trial_whose_enqueued_value_cannot_be_set_fails_and_the_sweep_goes_on(
    tmp_path: Path,
) -> None:
    study, plan = _poisoned_study(tmp_path, max_failure_rate=0.5)
    launched: list[int] = []
    assert run_worker(study, plan, _launch(launched)) == 2
    assert launched == [1, 2]  # trial 0 never ran: it could not be set up
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.COMPLETE, TrialState.COMPLETE]
    assert trials[0].user_attrs["error"] == POISONED
    assert (tmp_path / "trials.csv").read_text().count("do not fit the search space") == 1


def test_a_trial_whose_enqueued_value_cannot_be_set_counts_against_the_failure_budget(
    tmp_path: Path,
) -> None:
    study, plan = _poisoned_study(tmp_path, max_failure_rate=0.0)
    launched: list[int] = []
    with pytest.raises(SweepStopped) as stopped:
        run_worker(study, plan, _launch(launched))
    assert launched == []
    assert str(stopped.value) == (
        "sweep 's' stopped: 1 of 3 trials failed, more than max_failure_rate=0.0 allows (0). "
        f"Last failure, trial 0: {POISONED}. Results so far: {tmp_path}"
    )
    assert [t.state for t in study.get_trials()] == [TrialState.FAIL]


def test_a_trial_killed_before_its_values_were_stored_runs_again_with_values(
    tmp_path: Path,
) -> None:
    """A sweep process killed between Optuna's `ask` and lab's `suggest` left trial 0 RUNNING
    with no values: the next run claims it (same number), samples its values and runs it."""
    study, plan = _study(tmp_path, "interval(1e-4,1e-2)", max_failure_rate=0.0)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = study.ask()
    stamp(study_storage(study), trial_id(orphan))
    study_storage(study).set_trial_system_attr(trial_id(orphan), PID, dead.pid)
    assert study.get_trials()[0].params == {}
    launched: list[int] = []
    assert run_worker(study, plan, _launch(launched)) == 3
    assert launched == [0, 1, 2]
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3
    assert all(1e-4 <= t.params["optimizer.lr"] <= 1e-2 for t in trials)
    assert trials[0].value == 0.5


def _trainer(**fields: Any) -> SimpleNamespace:
    """What OptunaPruning and milli_epochs read of a Lightning Trainer."""
    base: dict[str, Any] = {
        "num_training_batches": 4,
        "accumulate_grad_batches": 1,
        "val_check_interval": 1.0,
        "max_steps": -1,
        "max_epochs": 3,
        "global_step": 12,
        "callback_metrics": {"val/loss": 5.0},
    }
    return SimpleNamespace(**{**base, **fields})


@pytest.mark.parametrize(
    ("fields", "final"),
    [
        ({"global_step": 12}, True),  # the end of epoch 3 of 3
        ({"global_step": 8}, False),  # the end of epoch 2 of 3
        ({"global_step": 11, "val_check_interval": 0.5}, False),  # mid-epoch, snapped near 3.0
        ({"global_step": 6, "accumulate_grad_batches": 3, "num_training_batches": 5}, True),
        ({"global_step": 5, "max_steps": 5, "max_epochs": 10}, True),  # max_steps reached
        ({"global_step": 12, "max_epochs": -1}, False),  # no epoch limit
        ({"global_step": 12, "num_training_batches": float("inf")}, False),  # a stream
    ],
)
def test_the_final_validation_is_known_from_max_epochs_or_max_steps(
    fields: dict[str, Any], final: bool
) -> None:
    assert is_final_validation(_trainer(**fields)) is final  # type: ignore[arg-type]


def test_a_trial_is_not_pruned_at_the_validation_that_ends_its_fit(tmp_path: Path) -> None:
    # Two trials set the median at 0.1; trials 2 and 3 report 5.0 after epoch 2, which the
    # median pruner stops: trial 2 midway (epoch 2 of 3), not trial 3 (epoch 2 of 2).
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(study_name="s", storage=url, direction="minimize")
    for _ in range(2):
        trial = study.ask({"optimizer.lr": FloatDistribution(1e-4, 1e-2)})
        for step in (1000, 2000):
            trial.report(0.1, step)
        study.tell(trial, 0.1)
    study.ask()
    study.ask()
    pruner = {"_target_": "optuna.pruners.MedianPruner", "n_startup_trials": 2}

    def callback(number: int) -> OptunaPruning:
        return OptunaPruning(url, "s", number, "val/loss", pruner=pruner)

    midway, last = callback(2), callback(3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no Optuna warning either
        assert midway._report(_trainer(global_step=8)) == (  # type: ignore[arg-type]
            True,
            "trial 2 pruned at 2.00 epochs: val/loss=5.0000",
        )
        assert last._report(_trainer(global_step=8, max_epochs=2)) == (False, "")  # type: ignore[arg-type]
    reported = {t.number: t.intermediate_values for t in study.get_trials()}
    assert reported[2] == {2000: 5.0} and reported[3] == {2000: 5.0}  # reported all the same


def _study_with_run_dirs(sweep_dir: Path, directions: list[str]) -> optuna.Study:
    study = optuna.create_study(directions=directions, study_name="s")
    space = {"optimizer.lr": FloatDistribution(1e-4, 1e-2, log=True)}
    for number, values in enumerate(([0.7, 200.0], [0.9, 100.0])):
        study.add_trial(
            optuna.trial.create_trial(
                params={"optimizer.lr": 1e-3 * (number + 1)},
                distributions=space,
                values=values[: len(directions)],
                user_attrs={"run_dir": str(sweep_dir / "trials" / str(number))},
            )
        )
    return study


def _summary(study: optuna.Study, sweep_dir: Path) -> str:
    console = Console(width=80, file=io.StringIO(), soft_wrap=True)
    print_sweep_summary(study, sweep_dir, [], console)
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_the_summary_prints_the_command_that_reproduces_the_best_trial() -> None:
    sweep_dir = Path("/tmp/sweeps/my study")  # a space: the command quotes the directory
    output = _summary(_study_with_run_dirs(sweep_dir, ["maximize"]), sweep_dir)
    lines = output.splitlines()
    best = lines.index(f"Best trial 1: {sweep_dir}/trials/1")
    assert lines[best + 1] == f"Reproduce it: python -m lab.reproduce '{sweep_dir}/trials/1'"


def test_a_pareto_front_summary_says_how_to_reproduce_one_of_its_trials() -> None:
    sweep_dir = Path("/tmp/sweeps/lora")
    output = _summary(_study_with_run_dirs(sweep_dir, ["maximize", "minimize"]), sweep_dir)
    assert f"Reproduce one: python -m lab.reproduce {sweep_dir}/trials/<number>" in output
    assert "Best trial" not in output


def test_a_reproduced_trial_is_a_run_of_its_own_with_a_distinct_wandb_name(
    tmp_path: Path,
) -> None:
    from lab.reproduce import reproduction_config

    trial_dir = str(tmp_path / "sweeps" / "s" / "trials" / "5")
    target = tmp_path / "sweeps" / "s" / "trials" / "5" / "reproductions" / "now"
    recorded = {
        "paths": {"output_dir": trial_dir},
        "resume": None,
        "optuna_trial": {"study_name": "s", "number": 5, "run_name": "s-trial5"},
        "logger": {
            "csv": {"_target_": "lab.training.loggers.csv_logger", "name": "csv"},
            "wandb": {
                "_target_": "lab.training.loggers.wandb_logger",
                "name": "s-trial5",
                "group": "s",
                "save_dir": trial_dir,
            },
        },
    }
    cfg = reproduction_config(recorded, target)
    assert "optuna_trial" not in cfg  # reports nothing to the study, is never pruned
    assert OmegaConf.to_container(cfg.logger) == {
        "csv": {"_target_": "lab.training.loggers.csv_logger", "name": "csv"},
        "wandb": {
            "_target_": "lab.training.loggers.wandb_logger",
            "name": "s-trial5-repro",
            "group": "s",  # beside its trial, in the study's group
            "save_dir": str(target),
        },
    }
    assert cfg.paths.output_dir == str(target) and cfg.resume is None
    assert OmegaConf.is_struct(cfg)
    # A reproduction of a reproduction keeps one suffix.
    again = reproduction_config(OmegaConf.to_container(cfg), target / "again")  # type: ignore[arg-type]
    assert again.logger.wandb.name == "s-trial5-repro"


def test_a_diverged_trial_fails_however_good_its_objective(tmp_path: Path) -> None:
    """Trial 1's losses are NaN while its accuracy (the argmax of NaN logits) ties the best:
    FAIL with the losses, so it can never be the best trial."""
    study, plan = _study(tmp_path, "interval(1e-4,1e-2)", max_failure_rate=0.5)
    nan = float("nan")

    def launch(number: int, overrides: list[str]) -> TrialOutcome:
        loss = nan if number == 1 else 0.6
        return TrialOutcome(metrics={"val/acc": 0.5, "val/loss": loss, "test/loss": loss})

    assert run_worker(study, plan, launch) == 3
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.FAIL, TrialState.COMPLETE]
    assert trials[1].user_attrs["error"] == "training diverged: {'val/loss': nan, 'test/loss': nan}"
    assert study.best_trial.number == 0
