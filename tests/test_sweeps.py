"""The Optuna sweeper end to end: real `python -m lab.train -m` processes, tiny models on the
fixture data, a real SQLite (and, when the machine has one, PostgreSQL) storage."""

from __future__ import annotations

import csv
import getpass
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
import torch
from optuna.trial import TrialState

from conftest import TINY_FIXTURE_RUN, lab_cli, lab_command

CONF = Path(__file__).resolve().parents[1] / "conf"

pytestmark = pytest.mark.slow  # every test runs a sweep of real training processes

STUDY = "s"


def _sweep_args(*args: str) -> list[str]:
    return [
        "-m",
        "hydra/sweeper=lab_optuna",
        "hydra/sweeper/sampler=random",
        f"hydra.sweeper.study_name={STUDY}",
        "hydra.sweeper.heartbeat_interval=1",
        *TINY_FIXTURE_RUN,
        "paths.output_root=out",
        "callbacks=none",
        *args,
    ]


def _sweep_command(*args: str) -> list[str]:
    return lab_command("train", *_sweep_args(*args))


def _sweep(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return lab_cli("train", *_sweep_args(*args), cwd=cwd, env=env, timeout=400)


def _study(cwd: Path, storage: str | None = None) -> optuna.Study:
    url = storage or f"sqlite:///{cwd / 'out' / 'sweeps' / STUDY / 'study.db'}"
    return optuna.load_study(study_name=STUDY, storage=url)


def _ok(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]


def test_study_runs_n_trials_and_reports_the_best_one(tmp_path: Path) -> None:
    result = _sweep(
        "hydra.sweeper.n_trials=3",
        "optimizer.lr=tag(log,interval(1e-4,1e-2))",
        "logger=wandb",
        cwd=tmp_path,
        env={"WANDB_MODE": "offline"},
    )
    _ok(result)
    sweep_dir = tmp_path / "out" / "sweeps" / STUDY
    study = _study(tmp_path)
    trials = study.get_trials()
    assert [t.number for t in trials] == [0, 1, 2]
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert len({t.params["optimizer.lr"] for t in trials}) == 3

    best = json.loads((sweep_dir / "best.json").read_text())
    assert best["best"]["value"] == study.best_value == max(t.value for t in trials)
    assert best["best"]["params"] == study.best_trial.params
    assert best["objectives"] == {"val/acc": "maximize"}
    assert best["trials"]["complete"] == 3

    # Job numbers are trial numbers; each trial is a full lab run with its sampled lr.
    for trial in trials:
        run_dir = sweep_dir / "trials" / str(trial.number)
        assert trial.user_attrs["run_dir"] == str(run_dir)
        record = json.loads((run_dir / "record.json").read_text())
        assert record["status"] == "finished"
        assert record["metrics"]["val/acc"] == pytest.approx(trial.value)
        config = (run_dir / "config.yaml").read_text()
        assert f"lr: {trial.params['optimizer.lr']}" in config
        # W&B: one run per trial, named after it, grouped by the study.
        assert f"name: {STUDY}-trial{trial.number}" in config and f"group: {STUDY}" in config
        assert list((run_dir / "wandb").glob("offline-run-*"))
    assert best["best"]["run_dir"] == str(sweep_dir / "trials" / str(study.best_trial.number))
    assert list((sweep_dir / "wandb").glob("offline-run-*-sweep-*"))  # the summary run

    with open(sweep_dir / "trials.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["number"]) for r in rows] == [0, 1, 2]
    assert [float(r["val/acc"]) for r in rows] == [t.value for t in trials]
    for name in ("optimization_history", "parallel_coordinate"):
        assert (sweep_dir / "plots" / f"{name}.png").stat().st_size > 1000
    # Importances need complete trials whose values differ: tiny trials may all tie.
    importances = sweep_dir / "plots" / "param_importances.png"
    tied = len({t.value for t in trials}) < 2
    assert (not importances.exists()) if tied else importances.stat().st_size > 1000
    assert tied == ("param_importances.png skipped: " in result.stdout.replace("\n", ""))
    assert f"Sweep directory: {sweep_dir}" in result.stdout.replace("\n", "")
    assert sorted(p.name for p in sweep_dir.glob("study.db*")) == ["study.db"]  # no lock left


def test_killed_sweep_resumes_to_exactly_n_trials(tmp_path: Path) -> None:
    args = ("hydra.sweeper.n_trials=4", "optimizer.lr=interval(1e-4,1e-2)")
    log = (tmp_path / "first-attempt.log").open("w")
    process = subprocess.Popen(
        _sweep_command(*args), cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT
    )
    db = tmp_path / "out" / "sweeps" / STUDY / "study.db"
    deadline = time.time() + 300
    while time.time() < deadline:  # kill it mid-study: one trial done, the next running
        time.sleep(0.5)
        # A sweep that ended by itself before the kill point says why (not a silent timeout).
        assert process.poll() is None, (tmp_path / "first-attempt.log").read_text()[-4000:]
        if not db.exists():
            continue
        try:
            trials = _study(tmp_path).get_trials()
        except (KeyError, Exception):
            continue
        states = [t.state for t in trials]
        # Killed once the running trial's values are stored: a kill between Optuna's ask and
        # lab's suggest leaves a RUNNING trial with no values, which is re-run with new ones.
        if TrialState.COMPLETE in states and states[-1] == TrialState.RUNNING and trials[-1].params:
            break
    else:
        pytest.fail("no trial finished in 300 s: " + (tmp_path / "first-attempt.log").read_text())
    process.send_signal(signal.SIGKILL)
    process.wait()
    log.close()
    before = {t.number: t for t in _study(tmp_path).get_trials()}
    assert any(t.state == TrialState.RUNNING for t in before.values())

    _ok(_sweep(*args, cwd=tmp_path))
    after = _study(tmp_path).get_trials()
    assert [t.number for t in after] == [0, 1, 2, 3]
    assert all(t.state == TrialState.COMPLETE for t in after)
    for trial in after:  # the trials finished before the kill are untouched
        earlier = before.get(trial.number)
        if earlier is not None and earlier.state == TrialState.COMPLETE:
            assert trial.value == earlier.value
            assert trial.datetime_complete == earlier.datetime_complete
    interrupted = next(n for n, t in before.items() if t.state == TrialState.RUNNING)
    assert after[interrupted].params == before[interrupted].params  # re-run, same number


def test_sigterm_during_a_trial_saves_it_and_the_same_command_continues_it(
    tmp_path: Path,
) -> None:
    """SLURM preempting a sweep: the running trial saves last.ckpt after its batch (it died at
    once, its record left `running`, with "interrupted before the run started"), the sweep
    exits 143 saying the same command continues it, and that command resumes the trial."""
    helpers = Path(__file__).resolve().parent / "helpers"
    args = [
        "-m", "hydra/sweeper=lab_optuna", f"hydra.sweeper.study_name={STUDY}",
        "hydra.sweeper.n_trials=1", "hydra.sweeper.heartbeat_interval=1",
        "hydra.sweeper.stale_after=2", *TINY_FIXTURE_RUN, "paths.output_root=out",
        "optimizer.lr=choice(0.001)", "+callbacks.fault={_target_: fault_injection.KillAtStep}",
    ]  # fmt: skip
    kill = {"LAB_TEST_KILL_AT_STEP": "3", "LAB_TEST_KILL_SIGNAL": "SIGTERM"}
    first = lab_cli("train", *args, cwd=tmp_path, env={"PYTHONPATH": str(helpers), **kill})
    assert first.returncode == 143, first.stderr[-3000:]
    trial = tmp_path / "out" / "sweeps" / STUDY / "trials" / "0"
    last = trial / "checkpoints" / "last.ckpt"
    assert (
        first.stderr.strip()
        .splitlines()[-1]
        .startswith(
            f"sweep interrupted by SIGTERM during trial 0 (its last checkpoint is {last}); "
            "continue the sweep with the same command: python -m lab.train -m "
        )
    )
    # The trial's own record points at the sweep's command too, not at a single-run resume=.
    assert json.loads((trial / "record.json").read_text())["status"] == (
        "interrupted (SIGTERM); continue with the sweep's command (it resumes this trial from "
        "its checkpoint)"
    )
    assert torch.load(last, weights_only=True)["global_step"] == 3  # after the batch

    time.sleep(2)  # the trial's heartbeat goes stale: the next sweep process claims it
    _ok(lab_cli("train", *args, cwd=tmp_path, env={"PYTHONPATH": str(helpers)}))
    record = json.loads((trial / "record.json").read_text())
    assert record["status"] == "finished" and record["resumes"][0]["from_step"] == 3
    assert [t.state for t in _study(tmp_path).get_trials()] == [TrialState.COMPLETE]


def test_pruning_stops_a_clearly_bad_trial_and_the_sweep_goes_on(tmp_path: Path) -> None:
    # Two good trials set the median; the third (lr=1.0) diverges and must be pruned at its
    # first validation; the fourth runs normally after it.
    result = _sweep(
        "hydra.sweeper.n_trials=4",
        "optimized_metric=val/loss",
        "optimized_mode=min",
        "hydra/sweeper/pruner=median",
        "hydra.sweeper.pruner.n_startup_trials=2",
        "optimizer.lr=choice(0.003,0.002,1.0,0.001)",
        "trainer.max_epochs=3",
        "hydra.sweeper.enqueue_trials=[{optimizer.lr:0.003},{optimizer.lr:0.002},"
        "{optimizer.lr:1.0},{optimizer.lr:0.001}]",
        cwd=tmp_path,
    )
    _ok(result)
    trials = _study(tmp_path).get_trials()
    assert [t.params["optimizer.lr"] for t in trials] == [0.003, 0.002, 1.0, 0.001]
    assert [t.state for t in trials[:3]] == [
        TrialState.COMPLETE,
        TrialState.COMPLETE,
        TrialState.PRUNED,
    ]
    assert trials[2].intermediate_values[1000] > 5.0  # clearly bad: ln 2 = 0.69 is chance
    assert trials[3].state.is_finished()  # the sweep went on after the pruned trial
    assert list(trials[2].intermediate_values) == [1000]  # stopped after its first epoch
    assert list(trials[0].intermediate_values) == [1000, 2000, 3000]
    record = json.loads((tmp_path / "out/sweeps/s/trials/2/record.json").read_text())
    assert record["status"].startswith("pruned: TrialPruned: trial 2 pruned at 1.00 epochs")


def test_failed_and_nan_trials_are_recorded_and_too_many_failures_stop_the_sweep(
    tmp_path: Path,
) -> None:
    # Trial 0 raises (3 heads do not divide a 32-wide model), trial 1 diverges to a NaN loss,
    # trial 2 is fine: two failures of three are within max_failure_rate=0.7.
    args = [
        "optimized_metric=val/loss",
        "optimized_mode=min",
        "hydra/sweeper/pruner=none",
        "model.network.config.num_attention_heads=choice(2,3)",
        "optimizer.lr=choice(0.001,1e30)",
        "trainer.max_epochs=1",
        "hydra.sweeper.enqueue_trials=[{model.network.config.num_attention_heads:3,"
        "optimizer.lr:0.001},{model.network.config.num_attention_heads:2,optimizer.lr:1e30},"
        "{model.network.config.num_attention_heads:2,optimizer.lr:0.001}]",
    ]
    _ok(
        _sweep(
            "hydra.sweeper.n_trials=3", "hydra.sweeper.max_failure_rate=0.7", *args, cwd=tmp_path
        )
    )
    trials = _study(tmp_path).get_trials()
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.FAIL, TrialState.COMPLETE]
    assert "ValueError" in trials[0].user_attrs["error"]
    assert "not a multiple of the number of attention heads (3)" in trials[0].user_attrs["error"]
    assert "objective is NaN" in trials[1].user_attrs["error"]
    assert (tmp_path / "out/sweeps/s/trials/0/error.log").read_text().startswith("Traceback")

    # The same study with two more trials and a stricter budget: 2 failures > 0.25 * 5 stops
    # it at once, with the reason, exit code 2, and nothing lost.
    result = _sweep(
        "hydra.sweeper.n_trials=5", "hydra.sweeper.max_failure_rate=0.25", *args, cwd=tmp_path
    )
    assert result.returncode == 2
    assert "2 of 5 trials failed, more than max_failure_rate=0.25" in result.stderr
    assert len(_study(tmp_path).get_trials()) == 3


def test_a_sweep_whose_last_trial_ends_it_over_the_budget_is_an_error(tmp_path: Path) -> None:
    """The budget is checked when the study ends too: a one-trial sweep whose trial failed
    exited 0 with an empty table (its failure came last, after the last check)."""
    result = _sweep(
        "hydra.sweeper.n_trials=1",
        "hydra/sweeper/pruner=none",
        "model.network.config.num_attention_heads=choice(3)",  # 3 heads: 32 wide fails
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"error: sweep '{STUDY}' ended with no completed trial: 1 of 1 failed. Last failure, "
        "trial 0: ValueError: "
    )
    assert [t.state for t in _study(tmp_path).get_trials()] == [TrialState.FAIL]
    assert (tmp_path / "out" / "sweeps" / STUDY / "trials.csv").is_file()  # nothing lost


@pytest.mark.parametrize("key", ["hydra.sweeper.metric", "optimized_metric"])
def test_a_misspelt_sweep_metric_stops_the_sweep_at_the_first_validation(
    key: str, tmp_path: Path
) -> None:
    """Found at trial 0's first validation (of 2 epochs), not after the whole trial; the
    sweep stops there instead of failing every trial the same way."""
    result = _sweep(
        "hydra.sweeper.n_trials=3",
        "optimizer.lr=tag(log,interval(1e-4,1e-2))",
        *(["callbacks=default"] if key == "optimized_metric" else []),  # with its checkpoints
        f"{key}=val/acuracy",
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    logged = "it logged: val/acc, val/f1, val/f1_positive, val/loss, val/mcc"
    assert "val/acuracy" in last and logged in last, last
    assert "Did you mean" in last and "=val/acc?" in last, last
    [trial] = _study(tmp_path).get_trials()
    assert trial.state == TrialState.FAIL
    assert not (tmp_path / "out" / "sweeps" / STUDY / "trials" / "0" / "model").exists()


def test_a_pruner_setting_the_chosen_pruner_does_not_take_is_named(tmp_path: Path) -> None:
    """`sweep=demo_lr` sets the median pruner's `n_startup_trials`; choosing
    `hydra/sweeper/pruner=none` kept it, and Optuna's NopPruner refused it in Hydra's words."""
    result = lab_cli(
        "train", "-m", "sweep=demo_lr", "hydra/sweeper/pruner=none", "paths.output_root=out",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: hydra.sweeper.pruner.n_startup_trials is not a setting of pruner none "
        "(optuna.pruners.NopPruner; its settings: none); a sweep file may set it for another "
        "pruner: drop it with ~hydra.sweeper.pruner.n_startup_trials"
    )
    assert not (tmp_path / "out").exists()  # refused before a directory or a storage


def test_multi_objective_study_returns_the_pareto_front_and_fails_a_nan_result(
    tmp_path: Path,
) -> None:
    # Smaller feed-forward layers cost accuracy or not; lr=1e30 ends in a NaN loss, which
    # the run returns (no pruning callback in a multi-objective study): recorded FAIL.
    result = _sweep(
        "hydra.sweeper.n_trials=3",
        "hydra.sweeper.max_failure_rate=0.5",  # the NaN trial (1 of 3) is within the budget
        "hydra.sweeper.metric=[val/loss,model/params_trainable]",
        "hydra.sweeper.direction=[minimize,minimize]",
        "model.network.config.intermediate_size=choice(16,64)",
        "optimizer.lr=choice(0.001,1e30)",
        "trainer.max_epochs=1",
        "hydra.sweeper.enqueue_trials=[{model.network.config.intermediate_size:16,"
        "optimizer.lr:0.001},{model.network.config.intermediate_size:64,optimizer.lr:0.001},"
        "{model.network.config.intermediate_size:16,optimizer.lr:1e30}]",
        cwd=tmp_path,
    )
    _ok(result)
    study = _study(tmp_path)
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.FAIL]
    assert trials[2].user_attrs["error"].startswith("objective is NaN")
    assert trials[0].values[1] < trials[1].values[1]  # fewer parameters with 16
    assert trials[0].intermediate_values == {}  # nothing reported: no pruning
    best = json.loads((tmp_path / "out/sweeps/s/best.json").read_text())
    front = {p["number"] for p in best["pareto_front"]}
    assert front == {t.number for t in study.best_trials} and 0 in front
    assert (tmp_path / "out/sweeps/s/plots/pareto_front.png").is_file()


def test_two_workers_share_one_study(tmp_path: Path) -> None:
    _ok(
        _sweep(
            "hydra.sweeper.n_trials=4",
            "hydra.sweeper.n_jobs=2",
            "optimizer.lr=interval(1e-4,1e-2)",
            "trainer.max_epochs=40",  # a few seconds per trial: the second worker's start-up
            cwd=tmp_path,
        )
    )
    trials = _study(tmp_path).get_trials()
    assert [t.number for t in trials] == [0, 1, 2, 3]
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert len({t.params["optimizer.lr"] for t in trials}) == 4
    assert len({t.system_attrs["lab:pid"] for t in trials}) == 2  # both workers ran trials
    assert (tmp_path / "out/sweeps/s/worker-1.log").is_file()
    # s31f F9: the finished study leaves none of lab's lock files beside study.db
    assert not list((tmp_path / "out/sweeps/s").glob("study.db*.lock"))


def test_a_worker_that_crashes_fails_the_sweep_after_its_results(tmp_path: Path) -> None:
    """A worker process that exits with an error leaves the sweep's exit code 1 (after the
    summary and results are written: the other worker may have completed the study)."""
    crash = tmp_path / "crash_worker_1"
    crash.mkdir()
    # Python imports `sitecustomize` from the path at start-up: worker 1 exits 3 at its end.
    (crash / "sitecustomize.py").write_text(
        "import atexit, os\n"
        "if os.environ.get('LAB_SWEEP_WORKER') == '1':\n"
        "    atexit.register(os._exit, 3)\n"
    )
    pythonpath = os.pathsep.join(filter(None, [str(crash), os.environ.get("PYTHONPATH")]))
    result = _sweep(
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.n_jobs=2",
        "optimizer.lr=interval(1e-4,1e-2)",
        cwd=tmp_path,
        env={"PYTHONPATH": pythonpath},
    )
    assert result.returncode == 1, result.stderr[-3000:]
    worker_log = tmp_path / "out/sweeps/s/worker-1.log"
    *_, error, state = result.stderr.strip().splitlines()
    assert error.startswith("error: sweep worker pid ")
    assert error.endswith(f"exited with 3; see {worker_log}")
    assert state == (
        "the study is complete all the same (2 of 2 trials ended; a trial a dead worker left "
        "is run again by the others): its results above stand"
    )
    assert (tmp_path / "out/sweeps/s/best.json").is_file()  # the results came first
    trials = _study(tmp_path).get_trials()
    assert len(trials) == 2 and all(t.state == TrialState.COMPLETE for t in trials)


def test_a_study_refuses_a_different_setup_and_a_space_that_does_not_compose(
    tmp_path: Path,
) -> None:
    _ok(_sweep("hydra.sweeper.n_trials=1", "optimizer.lr=interval(1e-4,1e-2)", cwd=tmp_path))
    changed = _sweep(
        "hydra.sweeper.n_trials=2",
        "optimizer.lr=interval(1e-4,1e-2)",
        "data.batch_size=8",
        cwd=tmp_path,
    )
    assert changed.returncode == 2
    assert (
        "was started with other overrides: this command adds data.batch_size=8; it lacks "
        "data.batch_size=16. Continuing" in changed.stderr
    )
    assert len(_study(tmp_path).get_trials()) == 1

    typo = _sweep("hydra.sweeper.study_name=t", "optimizer.lrr=interval(1e-4,1e-2)", cwd=tmp_path)
    assert typo.returncode == 2 and "do not compose" in typo.stderr and "lrr" in typo.stderr
    # One line, and refused before the study's directory or storage exists.
    assert typo.stderr.strip().splitlines()[-1].startswith("error: the sweep's overrides")
    # lab's words for a key that is none (Hydra advised `+optimizer.lrr=`: every trial failed)
    assert typo.stderr.strip().splitlines()[-1] == (
        "error: the sweep's overrides do not compose: 'optimizer.lrr' is not a config key. Did "
        "you mean optimizer.lr? Valid keys of optimizer: _partial_, _target_, betas, eps, fused, "
        "layer_decay, lr, weight_decay"
    )
    assert not (tmp_path / "out" / "sweeps" / "t").exists()


def test_a_study_refuses_its_sweep_file_edited_between_two_runs_of_one_command(
    tmp_path: Path,
) -> None:
    """s29b F1: the same command after the sweep file was edited (more rows, another rate
    of warmup) continued the study without a word, mixing two setups; now refused, naming
    what changed, before any trial runs."""
    sweep_file = tmp_path / "conf" / "sweep" / "mine.yaml"
    sweep_file.parent.mkdir(parents=True)
    text = (
        "# @package _global_\n"
        "data: {max_train_samples: 20}\n"
        "scheduler: {warmup_ratio: 0.0}\n"
        "hydra: {sweeper: {params: {optimizer.lr: 'interval(1e-4, 1e-2)'}}}\n"
    )
    sweep_file.write_text(text)

    def sweep(n_trials: int) -> subprocess.CompletedProcess:
        # Hydra's options come before the overrides
        options = ("--config-dir", str(tmp_path / "conf"))
        arguments = _sweep_args("sweep=mine", f"hydra.sweeper.n_trials={n_trials}")
        return lab_cli("train", *options, *arguments, cwd=tmp_path, timeout=400)

    _ok(sweep(1))
    sweep_file.write_text(text.replace("20}", "30}").replace("0.0}", "0.1}"))
    edited = sweep(2)
    assert edited.returncode == 2
    assert (
        edited.stderr.strip()
        .splitlines()[-1]
        .startswith(
            f"error: study 's' in {tmp_path / 'out' / 'sweeps' / 's'} was started with other "
            "configs, with the same command: data.max_train_samples was 20, is 30; "
            "scheduler.warmup_ratio was 0.0, is 0.1. Continuing would mix two setups in one "
            "study: restore the config files as they were (the files that compose these "
            f"keys: data=csv: {CONF}/data/csv.yaml; scheduler=linear: "
            f"{CONF}/scheduler/linear.yaml; sweep=mine: {tmp_path}/conf/sweep/mine.yaml; "
            f"{CONF}/train.yaml), set hydra.sweeper.study_name=<new name>"
        )
    )
    assert len(_study(tmp_path).get_trials()) == 1
    # As it was: the study continues (the sweep's own settings, n_trials, are not its setup).
    sweep_file.write_text(text)
    _ok(sweep(2))
    assert len(_study(tmp_path).get_trials()) == 2


def test_a_study_refuses_a_searched_options_file_edited(tmp_path: Path) -> None:
    """s29c F2: the file of an option of a searched group (a model of one's own under
    `model=choice(...)`) edited between two runs of one command."""
    own = tmp_path / "conf" / "model" / "mine.yaml"
    own.parent.mkdir(parents=True)
    text = "defaults:\n  - tiny_bert\n  - _self_\nnetwork:\n  config:\n    num_hidden_layers: 1\n"
    own.write_text(text)

    def sweep(n_trials: int) -> subprocess.CompletedProcess:
        options = ("--config-dir", str(tmp_path / "conf"))
        arguments = _sweep_args(
            f"hydra.sweeper.n_trials={n_trials}", "model=choice(tiny_bert,mine)"
        )
        return lab_cli("train", *options, *arguments, cwd=tmp_path, timeout=400)

    _ok(sweep(1))
    own.write_text(text.replace("num_hidden_layers: 1", "num_hidden_layers: 2"))
    edited = sweep(2)
    assert edited.returncode == 2
    assert (
        "was started with other configs, with the same command: "
        "model=mine:network.config.num_hidden_layers was 1, is 2. Continuing"
    ) in edited.stderr
    assert len(_study(tmp_path).get_trials()) == 1


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL server on a Unix socket; skipped where none can be started."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) on this machine")
    pytest.importorskip("psycopg")
    root = Path(tempfile.mkdtemp(prefix="lab-pg-"))
    data, socket_dir = root / "data", root / "socket"
    socket_dir.mkdir()
    prefix: list[str] = []
    user = getpass.getuser()
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        user = "nobody"
        prefix = ["runuser", "-u", user, "--"]
        os.chmod(root, 0o777)
        shutil.chown(socket_dir, user)
    try:
        subprocess.run(
            [*prefix, initdb, "-D", str(data), "-U", user, "-A", "trust"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        options = f"-k {socket_dir} -c listen_addresses='' -p 5439"
        subprocess.run(
            [
                *prefix,
                pg_ctl,
                "-D",
                str(data),
                "-o",
                options,
                "-w",
                "-l",
                str(root / "log"),
                "start",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    except (subprocess.SubprocessError, OSError) as err:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"could not start a PostgreSQL server: {err}")
    try:
        yield f"postgresql+psycopg://{user}@/postgres?host={socket_dir}&port=5439"
    finally:
        subprocess.run(
            [*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)


def test_independent_workers_share_a_postgresql_study(tmp_path: Path, postgres_url: str) -> None:
    args = (
        f"hydra.sweeper.storage='{postgres_url}'",
        "hydra.sweeper.n_trials=4",
        "optimizer.lr=interval(1e-4,1e-2)",
    )
    workers = [
        subprocess.Popen(
            _sweep_command(*args, f"hydra.sweeper.sampler.seed={seed}"),
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in (1, 2)
    ]
    for worker in workers:
        _, stderr = worker.communicate(timeout=400)
        assert worker.returncode == 0, stderr[-3000:]
    trials = _study(tmp_path, storage=postgres_url).get_trials()
    assert [t.number for t in trials] == [0, 1, 2, 3]
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert len({t.params["optimizer.lr"] for t in trials}) == 4


def test_a_dead_worker_is_said_in_words_with_what_it_left_of_the_study() -> None:
    """`Popen`'s -9 is the signal that killed the worker; the closing line says whether the
    study is complete all the same or how many trials are left."""
    from hydra_plugins.lab_optuna_sweeper.workers import ending, study_state

    assert ending(-9) == "was killed by SIGKILL (the OOM killer, or kill -9)"
    assert ending(-15) == "was killed by SIGTERM"
    assert ending(3) == "exited with 3"
    assert study_state(["COMPLETE", "PRUNED", "FAIL", "RUNNING"], 4) == (
        "3 of 4 trials ended, 1 left running by a dead worker: run the same command again "
        "to finish the study"
    )
    assert study_state(["COMPLETE"] * 4, 4).startswith("the study is complete all the same (4 of 4")
