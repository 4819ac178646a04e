"""Acceptance findings S1, S5, S6 and S7 through the real command line: `python -m lab.train
-m` refusing a bad enqueued trial or search space before it makes anything, a trial not
pruned at its last validation, and the printed command that reproduces the best trial."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from test_sweeps import STUDY, _sweep_args

from conftest import lab_cli

pytestmark = pytest.mark.slow  # python -m lab.* processes; the last test trains


def _sweep(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return lab_cli("train", *_sweep_args(*args), cwd=cwd, env=env, timeout=400)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [
                "optimizer.lr=tag(log,interval(1e-4,1e-2))",
                "hydra.sweeper.enqueue_trials=[{optimizer.lr:-0.1}]",
            ],
            "error: hydra.sweeper.enqueue_trials[0]: optimizer.lr=-0.1 is out of range "
            "(optimizer.lr takes a number > 0); valid: its search space, a number in "
            "[0.0001, 0.01] on a log scale",
        ),
        (
            ["optimizer.lr=interval(-1,-0.5)"],
            "error: optimizer.lr: interval(-1, -0.5) searches -1.0 to -0.5, both ends out of "
            "range; valid: a number > 0",
        ),
        (  # a plain override, the same for every trial: each would fail on it
            ["optimizer.lr=tag(log,interval(1e-4,1e-2))", "scheduler.warmup_ratio=2"],
            "error: scheduler.warmup_ratio=2 is out of range; valid: a number in [0, 1]",
        ),
    ],
)
def test_a_bad_enqueued_trial_or_search_space_is_refused_before_the_sweep_exists(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = _sweep("hydra.sweeper.n_trials=2", *args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-3000:]
    assert result.stderr.strip().splitlines()[-1] == message
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out" / "sweeps").exists()  # no directory, storage or trial


def test_a_trial_is_not_pruned_at_its_last_validation_and_the_best_one_reproduces(
    tmp_path: Path,
) -> None:
    # One epoch per trial: trial 2 (lr=1.0 diverges) trails the median of trials 0 and 1 at
    # its first validation, which is its last. It was pruned there, its test pass and export
    # thrown away; now it completes.
    result = _sweep(
        "hydra.sweeper.n_trials=3",
        "optimized_metric=val/loss",
        "optimized_mode=min",
        "hydra/sweeper/pruner=median",
        "hydra.sweeper.pruner.n_startup_trials=2",
        "optimizer.lr=choice(0.003,0.002,1.0)",
        "trainer.max_epochs=1",
        "hydra.sweeper.enqueue_trials=[{optimizer.lr:0.003},{optimizer.lr:0.002},"
        "{optimizer.lr:1.0}]",
        "logger=wandb",
        cwd=tmp_path,
        env={"WANDB_MODE": "offline"},
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    sweep_dir = tmp_path / "out" / "sweeps" / STUDY
    url = f"sqlite:///{sweep_dir / 'study.db'}"
    trials = optuna.load_study(study_name=STUDY, storage=url).get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3
    bad = trials[2]
    assert bad.intermediate_values[1000] > max(t.intermediate_values[1000] for t in trials[:2])
    record = json.loads((sweep_dir / "trials" / "2" / "record.json").read_text())
    assert record["status"] == "finished"
    assert "test/acc" in record["metrics"]  # its test pass ran

    # The summary names the best trial and the command that reproduces it; run that command.
    best = min(trials, key=lambda t: t.value)
    best_dir = sweep_dir / "trials" / str(best.number)
    output = re.sub(r"\s*\n\s*", " ", result.stdout)  # soft-wrapped lines joined
    assert f"Best trial {best.number}: {best_dir}" in output
    command = f"python -m lab.reproduce {best_dir}"
    assert f"Reproduce it: {command}" in output
    _, _, module, target = shlex.split(command)
    reproduced = lab_cli(
        module.removeprefix("lab."), target, cwd=tmp_path, env={"WANDB_MODE": "offline"}
    )
    assert reproduced.returncode == 0, reproduced.stdout[-2000:] + reproduced.stderr[-4000:]
    (reproduction,) = (best_dir / "reproductions").iterdir()
    config = (reproduction / "config.yaml").read_text()
    assert f"name: {STUDY}-trial{best.number}-repro" in config and f"group: {STUDY}" in config
    assert "optuna_trial" not in config
    after = optuna.load_study(study_name=STUDY, storage=url).get_trials()
    assert [(t.state, t.intermediate_values) for t in after] == [
        (t.state, t.intermediate_values) for t in trials
    ]  # the reproduction reported nothing to the study
