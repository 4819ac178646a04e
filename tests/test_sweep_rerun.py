"""A trial run again after its process died (lab.sweeps.worker._run_trial, s29b F2): resumed
from its `last.ckpt` where it has one; from scratch otherwise, with the dead attempt's
checkpoints moved aside first, so `checkpoints/` holds only the weights the trial is tested
with (the dead attempt's `best-...ckpt` sat beside the new `best-...-v1.ckpt`)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import optuna
import pytest

from lab.sweeps.orphans import set_aside_checkpoints
from lab.sweeps.search_space import parse_search_space
from lab.sweeps.storage import open_storage
from lab.sweeps.worker import SweepPlan, TrialOutcome, _run_trial, open_study

BEST = "best-epoch00-step000025.ckpt"


def _study_and_plan(tmp_path: Path) -> tuple[Any, SweepPlan]:
    sweep_dir = tmp_path / "sweeps" / "s"
    plan = SweepPlan(
        study_name="s",
        storage_url=f"sqlite:///{sweep_dir / 'study.db'}",
        sweep_dir=sweep_dir,
        metrics=["val/acc"],
        directions=["maximize"],
        n_trials=1,
        space=parse_search_space({}, ["optimizer.lr=choice(0.001)"]),
    )
    study = open_study(plan, open_storage(plan.storage_url), optuna.samplers.RandomSampler(0), None)
    return study, plan


def _attempt(run_dir: Path, content: bytes, calls: list[list[str]]) -> Any:
    def launch(number: int, overrides: list[str]) -> TrialOutcome:
        calls.append(overrides)
        (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        (run_dir / "checkpoints" / BEST).write_bytes(content)
        return TrialOutcome(metrics={"val/acc": 0.5})

    return launch


def test_a_trial_run_again_from_scratch_sets_the_dead_attempts_checkpoints_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    study, plan = _study_and_plan(tmp_path)
    trial = study.ask()
    run_dir = plan.trial_dir(trial.number)
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "checkpoints" / BEST).write_bytes(b"dead attempt")  # killed before last.ckpt
    (run_dir / "train.log").write_text("[2026-12-07 05:00:00,000][lab.train][INFO] - dead\n")
    calls: list[list[str]] = []
    with caplog.at_level(logging.INFO, logger="lab.sweeps.worker"):
        _run_trial(study, trial, {}, True, plan, _attempt(run_dir, b"tested", calls))
    assert not any(o.startswith("resume=") for o in calls[0])  # from scratch
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == [BEST]
    assert (run_dir / "checkpoints" / BEST).read_bytes() == b"tested"
    aside = run_dir / "checkpoints-abandoned-1"
    assert (aside / BEST).read_bytes() == b"dead attempt"  # kept, not deleted
    assert f"Trial 0 starts over; its dead attempt's checkpoints: {aside}" in caplog.text
    # ... and in the trial's train.log, between the two attempts' lines (s29c F1)
    dead, note = (run_dir / "train.log").read_text().splitlines()
    assert dead.endswith(" - dead")  # the dead attempt's lines first, kept
    assert note.endswith(
        "[lab.sweeps.worker][WARNING] - the sweep runs this trial again from scratch (its "
        f"process died before it wrote a last.ckpt); the dead attempt's checkpoints are in {aside}"
    )
    # A second death and rerun: the next free name, the first one untouched.
    assert set_aside_checkpoints(run_dir) == run_dir / "checkpoints-abandoned-2"
    assert (aside / BEST).read_bytes() == b"dead attempt"
    assert set_aside_checkpoints(run_dir) is None  # nothing left to move


def test_a_trial_with_a_last_checkpoint_is_resumed_with_its_checkpoints_in_place(
    tmp_path: Path,
) -> None:
    study, plan = _study_and_plan(tmp_path)
    trial = study.ask()
    run_dir = plan.trial_dir(trial.number)
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "checkpoints" / "last.ckpt").write_bytes(b"last")
    (run_dir / "record.json").write_text(json.dumps({"status": "interrupted"}))
    calls: list[list[str]] = []
    _run_trial(study, trial, {}, True, plan, _attempt(run_dir, b"tested", calls))
    assert f"resume={run_dir}" in calls[0]
    assert (run_dir / "checkpoints" / "last.ckpt").read_bytes() == b"last"
    assert not list(run_dir.glob("checkpoints-abandoned-*"))


def test_a_first_attempt_moves_nothing(tmp_path: Path) -> None:
    study, plan = _study_and_plan(tmp_path)
    trial = study.ask()
    run_dir = plan.trial_dir(trial.number)
    _run_trial(study, trial, {}, False, plan, _attempt(run_dir, b"tested", []))
    assert not list(run_dir.glob("checkpoints-abandoned-*"))


def test_a_signal_before_a_launched_trial_trains_names_the_trial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """s29b F4: a SIGTERM between a trial's launch and its run's start said "between its
    trials", while the study holds that trial running (the same command runs it again)."""
    from lab.sweeps.liveness import launched, trial_in_flight
    from lab.train import interrupted_line

    monkeypatch.setattr("lab.train._command", lambda: "python -m lab.train -m sweep=x")
    study, plan = _study_and_plan(tmp_path)
    trial = study.ask()

    def stopped(number: int, overrides: list[str]) -> TrialOutcome:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _run_trial(study, trial, {}, False, plan, stopped)
    assert trial_in_flight() == trial.number
    assert interrupted_line("SIGTERM", sweep=True) == (
        "sweep interrupted by SIGTERM during trial 0, before it started training (the same "
        "command runs it again); continue it: python -m lab.train -m sweep=x"
    )
    launched(None)
    assert interrupted_line("SIGTERM", sweep=True) == (
        "sweep interrupted by SIGTERM between its trials; continue it: python -m lab.train -m "
        "sweep=x"
    )
    assert interrupted_line("SIGINT", sweep=False) == (
        "interrupted by SIGINT before the run started; start it again: python -m lab.train -m "
        "sweep=x"
    )
    _run_trial(study, study.ask(), {}, False, plan, _attempt(tmp_path / "t", b"x", []))
    assert trial_in_flight() is None  # told: no trial in flight
