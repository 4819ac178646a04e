"""Sweep commands that must not start, or not run twice, what they cannot run well
(acceptance s17a): `hydra/launcher=slurm` without SLURM (#3), one direction for several
metrics (#4), a grid asked for more trials than it has points (#5), a trial job that outlived
its sweep process (#1, #2), a study made with a misspelt metric (#8) and a multi-objective
sweep's unused pruner (#10)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import optuna
import pytest
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import OmegaConf
from optuna.trial import TrialState

from helpers.sweepers import bare_sweeper
from hydra_plugins.lab_optuna_sweeper.sweeper import LabOptunaSweeper
from lab.compat.optuna import study_storage, trial_id
from lab.errors import ConfigError
from lab.run_dir.endings import RunInterrupted
from lab.run_dir.run_lock import hold_run_lock, release_run_lock
from lab.sweeps.grid_budget import grid_trials
from lab.sweeps.launchers import require_slurm
from lab.sweeps.liveness import PID, stamp
from lab.sweeps.objectives import note_unused_pruner, objectives
from lab.sweeps.orphans import ended_outcome, run_dir_busy
from lab.sweeps.results import RUN_DIR
from lab.sweeps.search_space import parse_search_space
from lab.sweeps.storage import open_storage
from lab.sweeps.worker import SweepPlan, TrialOutcome, open_study, run_worker

ROOT = Path(__file__).resolve().parents[1]
NO_SLURM = (
    "error: hydra/launcher=slurm submits each job to SLURM, but SLURM was not found here "
    "(srun and sbatch not on PATH): run the command on the cluster's login node, or leave out "
    "hydra/launcher=slurm to run the jobs here with the default launcher\n"
)


# #3: hydra/launcher=slurm on a machine without SLURM
def _fake_slurm(folder: Path, *commands: str) -> str:
    folder.mkdir()
    for command in commands:
        script = folder / command
        script.write_text("#!/bin/sh\nexit 0\n")
        script.chmod(0o755)
    return str(folder)


def test_require_slurm_needs_both_srun_and_sbatch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", _fake_slurm(tmp_path / "bin", "sbatch"))
    with pytest.raises(ConfigError) as caught:
        require_slurm()
    assert "(srun not on PATH)" in str(caught.value)
    monkeypatch.setenv("PATH", _fake_slurm(tmp_path / "both", "sbatch", "srun"))
    require_slurm()  # a login node: nothing to say


@pytest.mark.parametrize(
    "arguments",
    [
        ["sweep=demo_lr", "hydra.sweeper.n_trials=2"],  # lab's sweeper
        ["seed=1,2"],  # Hydra's basic sweeper: a plain multirun
    ],
)
def test_slurm_without_slurm_is_one_line_before_anything_is_made(
    tmp_path: Path, arguments: list[str]
) -> None:
    env = {
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",  # no srun, no sbatch
        "HF_HUB_OFFLINE": "1",
        "WANDB_MODE": "offline",
    }
    out = tmp_path / "out"
    command = [sys.executable, "-m", "lab.train", "-m", "hydra/launcher=slurm", "model=tiny_bert"]
    done = subprocess.run(
        [*command, *arguments, "trainer.max_steps=2", f"paths.output_root={out}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr == NO_SLURM
    assert not out.exists()  # no study, no sweep directory, no multiruns/<time>/


# #4: one direction for several metrics
@pytest.mark.parametrize(
    ("metric", "direction", "message"),
    [
        (
            ["val/acc", "val/loss"],
            "maximize",  # the default, ${optimized_mode}: a string
            "hydra.sweeper.metric=[val/acc,val/loss] has 2 metrics but "
            "hydra.sweeper.direction=maximize is one direction: give one per metric, in their "
            "order, e.g. hydra.sweeper.direction=[maximize,minimize]",
        ),
        (
            OmegaConf.create(["val/acc", "val/loss", "model/params_trainable"]),
            OmegaConf.create(["maximize", "minimize"]),
            "hydra.sweeper.metric=[val/acc,val/loss,model/params_trainable] has 3 metrics but "
            "hydra.sweeper.direction=[maximize,minimize] has 2: give one per metric, in their "
            "order, e.g. hydra.sweeper.direction=[maximize,minimize,maximize]",
        ),
        (
            ["val/acc", "val/loss"],
            ["maximize"],
            "hydra.sweeper.metric=[val/acc,val/loss] has 2 metrics but "
            "hydra.sweeper.direction=[maximize] has 1: give one per metric, in their order, "
            "e.g. hydra.sweeper.direction=[maximize,minimize]",
        ),
        ("val/acc", "maximise", "hydra.sweeper.direction=maximise: use maximize or minimize"),
    ],
)
def test_directions_must_be_one_per_metric(metric: Any, direction: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        objectives(metric, direction)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_directions_written_one_per_metric_pass() -> None:
    assert objectives("val/acc", "max") == (["val/acc"], ["maximize"])
    assert objectives(["val/acc"], "minimize") == (["val/acc"], ["minimize"])
    assert objectives(
        OmegaConf.create(["val/acc", "val/loss"]), OmegaConf.create(["max", "min"])
    ) == (["val/acc", "val/loss"], ["maximize", "minimize"])


def _sweeper(output_root: Path, **settings: Any) -> LabOptunaSweeper:
    sweeper = bare_sweeper(output_root, "s", "MedianPruner", **settings)
    return sweeper


def test_a_metric_list_with_the_default_direction_stops_before_anything_is_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sweeper = _sweeper(tmp_path / "out", metric=OmegaConf.create(["val/acc", "val/loss"]))
    with pytest.raises(SystemExit) as stopped:
        sweeper.sweep(["optimizer.lr=choice(1e-3,1e-2)"])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.startswith(
        "error: hydra.sweeper.metric=[val/acc,val/loss] has 2 metrics but "
        "hydra.sweeper.direction=maximize is one direction"
    )
    assert not (tmp_path / "out").exists()


# a whole sweep, with a launcher that trains nothing
class FakeLauncher:
    """Returns `val/acc` = 0.1 * the trial's number, or raises `raises` at trial `at`."""

    def __init__(self, raises: BaseException | None = None, at: int = 0) -> None:
        self.numbers: list[int] = []
        self.raises = raises
        self.at = at

    def launch(self, jobs: list[list[str]], initial_job_idx: int) -> list[JobReturn]:
        self.numbers.append(initial_job_idx)
        if self.raises is not None and initial_job_idx == self.at:
            raise self.raises
        ret = JobReturn()
        ret.status = JobStatus.COMPLETED
        ret.return_value = {"val/acc": 0.1 * initial_job_idx, "val/loss": 1.0}
        return [ret]


def _run(sweeper: LabOptunaSweeper, launcher: FakeLauncher, arguments: list[str]) -> Any:
    sweeper.trial_launcher = launcher  # type: ignore[assignment]
    return sweeper.sweep(arguments)


@pytest.fixture(autouse=True)
def _no_plots(monkeypatch: pytest.MonkeyPatch) -> None:
    import lab.sweeps.results

    monkeypatch.setattr(lab.sweeps.results, "write_plots", lambda study, sweep_dir: [])


# #5: the grid runs each point once
def test_a_grid_sweep_runs_each_point_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sweeper = _sweeper(tmp_path / "out", n_trials=12)
    sweeper.sampler_cfg = OmegaConf.create({"_target_": "optuna.samplers.GridSampler"})
    launcher = FakeLauncher()
    with caplog.at_level(logging.INFO):
        study = _run(
            sweeper,
            launcher,
            ["optimizer.lr=choice(1e-3,1e-2)", "data.batch_size=8,16", "seed=choice(1,2)"],
        )
    assert "the grid has 8 points: 8 trials, not 12" in caplog.text
    assert launcher.numbers == list(range(8))
    points = {tuple(sorted(t.params.items())) for t in study.get_trials()}
    assert len(points) == 8  # no point twice
    assert grid_trials({"a": [1, 2, 3]}, 2) == 2  # a budget below the grid's size stays


# #10: a multi-objective sweep says it does not prune
def test_a_multi_objective_sweep_says_its_pruner_is_not_used(
    caplog: pytest.LogCaptureFixture,
) -> None:
    median = OmegaConf.create({"_target_": "optuna.pruners.MedianPruner"})
    with caplog.at_level(logging.INFO):
        note_unused_pruner(["val/acc"], median)
        note_unused_pruner(["val/acc", "val/loss"], {"_target_": "optuna.pruners.NopPruner"})
        assert caplog.text == ""
        note_unused_pruner(["val/acc", "val/loss"], median)
    assert caplog.messages == [
        "2 metrics (multi-objective): pruning is off, Optuna prunes single-objective studies "
        "only (the configured MedianPruner is not used)"
    ]


# #8: a study made with a misspelt metric
def _plan(sweep_dir: Path, metrics: list[str], n_trials: int = 2, **kw: Any) -> SweepPlan:
    return SweepPlan(
        study_name="s",
        storage_url=kw.pop("storage_url", f"sqlite:///{sweep_dir / 'study.db'}"),
        sweep_dir=sweep_dir,
        metrics=metrics,
        directions=["maximize"] * len(metrics),
        n_trials=n_trials,
        space=parse_search_space({"optimizer.lr": "choice(1e-3,1e-2)"}, []),
        heartbeat_interval=0.01,
        **kw,
    )


def _open(plan: SweepPlan) -> Any:
    sampler = optuna.samplers.RandomSampler(0)
    return open_study(plan, open_storage(plan.storage_url), sampler, None)


def test_a_study_of_another_metric_is_refused_with_how_to_remove_it(tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweeps" / "s"
    _open(_plan(sweep_dir, ["val/acuracy"]))
    with pytest.raises(ConfigError) as caught:
        _open(_plan(sweep_dir, ["val/acc"]))
    assert str(caught.value) == (
        "study 's' optimizes ['val/acuracy'] (['maximize']), this sweep ['val/acc'] "
        "(['maximize']); set hydra.sweeper.study_name=<new name> to start a separate study, "
        f"or remove this one (rm -r {sweep_dir}) to start it again under its name"
    )
    shared = tmp_path / "shared.db"
    _open(_plan(sweep_dir, ["val/acuracy"], storage_url=f"sqlite:///{shared}"))
    with pytest.raises(ConfigError) as caught:
        _open(_plan(sweep_dir, ["val/acc"], storage_url=f"sqlite:///{shared}"))
    assert (
        f"(optuna delete-study --study-name s --storage sqlite:///{shared}, then rm -r "
        f"{sweep_dir})" in str(caught.value)
    )


# #1, #2: a trial job that outlived its sweep process
def _orphan(sweep_dir: Path, n_trials: int) -> tuple[Any, SweepPlan, Path]:
    """A study whose trial 0 is RUNNING, stamped by a sweep process that is gone, as a
    submitit launcher leaves it when the sweep process is killed while the job trains."""
    plan = _plan(sweep_dir, ["val/acc"], n_trials=n_trials)
    study = _open(plan)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    trial = study.ask()
    trial.suggest_categorical("optimizer.lr", [1e-3, 1e-2])
    stamp(study_storage(study), trial_id(trial))
    study_storage(study).set_trial_system_attr(trial_id(trial), PID, dead.pid)
    run_dir = plan.trial_dir(0)
    trial.set_user_attr(RUN_DIR, str(run_dir))
    (run_dir / "checkpoints").mkdir(parents=True)
    return study, plan, run_dir


def _end(run_dir: Path, status: str, metrics: dict[str, float] | None = None) -> None:
    (run_dir / "record.json").write_text(json.dumps({"status": status}))
    if metrics is not None:
        (run_dir / "metrics.json").write_text(json.dumps(metrics))


def _launch(launched: list[int], then: Any = None) -> Any:
    def launch(number: int, overrides: list[str]) -> TrialOutcome:
        launched.append(number)
        if then is not None:
            then()
        return TrialOutcome(metrics={"val/acc": 0.5})

    return launch


def test_a_trial_whose_job_finished_is_taken_not_trained_again(tmp_path: Path) -> None:
    study, plan, run_dir = _orphan(tmp_path, n_trials=1)
    _end(run_dir, "finished", {"val/acc": 0.75, "test/acc": 0.7})
    launched: list[int] = []
    assert run_worker(study, plan, _launch(launched)) == 0
    assert launched == []
    (trial,) = study.get_trials()
    assert (trial.state, trial.values) == (TrialState.COMPLETE, [0.75])


def test_a_trial_whose_job_was_pruned_is_recorded_pruned(tmp_path: Path) -> None:
    study, plan, run_dir = _orphan(tmp_path, n_trials=1)
    _end(run_dir, "pruned: TrialPruned: trial 0 pruned at 1.00 epochs: val/acc=0.1000")
    assert ended_outcome(run_dir) is not None
    run_worker(study, plan, _launch([]))
    assert study.get_trials()[0].state == TrialState.PRUNED


def test_a_trial_whose_job_stopped_is_run_again(tmp_path: Path) -> None:
    study, plan, run_dir = _orphan(tmp_path, n_trials=1)
    _end(run_dir, "interrupted (SIGTERM); continue with the sweep's command")
    launched: list[int] = []
    run_worker(study, plan, _launch(launched))
    assert launched == [0]
    assert study.get_trials()[0].state == TrialState.COMPLETE


def test_a_trial_another_process_still_trains_is_left_to_finish(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    study, plan, run_dir = _orphan(tmp_path, n_trials=2)
    lock = hold_run_lock(run_dir, resuming=False)  # the trial job, still training
    assert run_dir_busy(run_dir)

    def orphan_finishes() -> None:  # while trial 1 runs here, the job of trial 0 ends
        _end(run_dir, "finished", {"val/acc": 0.9})
        release_run_lock(lock)

    launched: list[int] = []
    with caplog.at_level(logging.INFO):
        assert run_worker(study, plan, _launch(launched, then=orphan_finishes)) == 1
    assert launched == [1]  # trial 0 neither claimed nor failed: its job's result is taken
    assert not run_dir_busy(run_dir)
    states = [(t.state, t.values) for t in study.get_trials()]
    assert states == [(TrialState.COMPLETE, [0.9]), (TrialState.COMPLETE, [0.5])]
    assert caplog.text.count("is still being trained by another process") == 1
    assert "Trial 0 ended in a job its sweep process no longer watched" in caplog.text


# #2: a signal to a sweep whose trial runs as a job of its own
@pytest.mark.parametrize(
    ("launcher", "expected"),
    [
        ("hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher", "local"),
        ("hydra_plugins.lab_optuna_sweeper.slurm_launcher.LabSlurmLauncher", "slurm"),
    ],
)
def test_an_interrupted_sweep_says_its_trial_jobs_go_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], launcher: str, expected: str
) -> None:
    sweeper = _sweeper(tmp_path / "out", n_trials=2)
    sweeper.cfg.hydra.launcher._target_ = launcher
    sweeper.cfg.hydra.runtime.choices["hydra/launcher"] = expected
    with pytest.raises(SystemExit) as stopped:
        _run(sweeper, FakeLauncher(RunInterrupted("SIGTERM"), at=1), ["optimizer.lr=choice(1,2)"])
    assert stopped.value.code == 143
    err = capsys.readouterr().err
    assert err.startswith(
        f"sweep interrupted by SIGTERM while trial 1 runs as a job of its own "
        f"(hydra/launcher={expected}): the trial jobs go on"
    )
    assert "between its trials" not in err
    assert "the same command later takes the results of those that finished" in err


def test_an_interrupted_in_process_sweep_leaves_the_words_to_lab_train(tmp_path: Path) -> None:
    sweeper = _sweeper(tmp_path / "out", n_trials=2)
    with pytest.raises(RunInterrupted):
        _run(sweeper, FakeLauncher(RunInterrupted("SIGTERM"), at=0), ["optimizer.lr=choice(1,2)"])
