"""Two commands into one run directory, and exports into a run being trained (s26 H4, M2).

* H4: two new runs started at once into one `hydra.run.dir` both found it free, both wrote
  Hydra's record (`.hydra/`), and the one refused later (by the run lock) had put its record
  over the winner's. Now `hydra.output_subdir`'s resolver claims the run lock before Hydra
  writes `.hydra/` and keeps it for the run (`lab.run_dir.run_lock.claim_run_lock`): the
  second command is refused there, before it writes anything.
* M2: `lab.export run=<run being trained>` without `output=` wrote `model/` into the live run
  (exit 0); it is refused in one line, exit 2, with the command that exports the run's latest
  weights outside it. With `output=` it goes on.

"Another process" holding a lock is this test process with a descriptor of its own (`flock`
locks of two descriptors exclude each other, in one process too), or a real `python -m
lab.train` refused by this process's claim.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from lab.errors import LabError
from lab.export_checks import check_not_training
from lab.run_dir import claim, run_lock
from lab.run_dir.resume import hydra_subdir_for, run_dir_for
from lab.run_dir.run_lock import (
    claimed_here,
    held_elsewhere,
    hold_run_lock,
    release_claim,
    release_run_lock,
)

from conftest import lab_cli

RUN = ["model=tiny_bert", "debug=fast"]


@pytest.fixture(autouse=True)
def _fresh_claims(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Rank 0 of a single process, deciding anew; no claim left to the next test."""
    monkeypatch.setattr(claim, "_decided", {})
    for variable in ("RANK", "SLURM_PROCID", "LOCAL_RANK"):
        monkeypatch.delenv(variable, raising=False)
    release_claim()
    yield
    release_claim()


def _job(resume: str | None = None, mode: str = "RUN") -> Any:
    """The job config `hydra.output_subdir`'s resolver sees as `_root_`."""
    return OmegaConf.create({"resume": resume, "hydra": {"mode": f"RunMode.{mode}"}})


def _hydra_record(run_dir: Path, seed: int) -> dict[str, str]:
    """Write `.hydra/` as Hydra's `_save_config` does for a command with `seed`; its hashes."""
    folder = run_dir / ".hydra"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(f"seed: {seed}\n")
    (folder / "overrides.yaml").write_text(f"- seed={seed}\n")
    (folder / "hydra.yaml").write_text(f"hydra:\n  overrides:\n    task:\n    - seed={seed}\n")
    return _hashes(folder)


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


# ----------------------------------------------------------------------------- H4
def test_the_second_of_two_new_runs_into_one_folder_is_refused_before_it_writes_hydra(
    tmp_path: Path,
) -> None:
    """The winner claimed the folder as Hydra resolved its record's place and wrote its
    `.hydra/` (seed 1); a real second command (seed 2) started now, before the winner's
    record.json exists, is refused in one line, exit 2, and the winner's record stays."""
    run_dir = tmp_path / "exp1"
    run_dir.mkdir()
    assert hydra_subdir_for(str(run_dir), _job()) == ".hydra"  # the winner's claim
    assert claimed_here(run_dir)
    before = _hydra_record(run_dir, seed=1)  # Hydra's _save_config, for the winner

    loser = lab_cli("train", *RUN, "seed=2", f"hydra.run.dir={run_dir}", cwd=tmp_path)

    assert loser.returncode == 2, loser.stderr[-3000:]
    assert loser.stderr == (
        f"error: {run_dir} already holds a run (being trained by another process now); a new "
        "run there would overwrite it: choose another hydra.run.dir\n"
    )
    assert _hashes(run_dir / ".hydra") == before
    assert sorted(p.name for p in run_dir.iterdir()) == [".hydra", "train.log"]
    assert (run_dir / "train.log").read_bytes() == b""  # opened by the loser's Hydra, not written


def test_the_run_takes_over_the_claim_under_any_spelling_of_its_folder(tmp_path: Path) -> None:
    """Hydra's `runtime.output_dir` (absolute) and the run's `paths.output_dir` (resolved)
    may spell the folder differently (a link, `..`): one folder, one claim to take over."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (tmp_path / "link").symlink_to(run_dir)
    hydra_subdir_for(str(tmp_path / "link"), _job())
    lock = hold_run_lock(tmp_path / "other" / ".." / "run", resuming=False)
    assert lock is not None and not claimed_here(run_dir)
    release_run_lock(lock)


def test_a_claim_is_handed_over_once_and_seen_as_this_processs_own(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    hydra_subdir_for(str(run_dir), _job())
    assert not held_elsewhere(run_dir)  # this process's own claim: nobody else trains it
    other = run_lock._claim
    assert other is not None
    lock = hold_run_lock(run_dir, resuming=False)  # RunRecord, in the claiming process
    assert lock == other[1] and not claimed_here(run_dir)
    with pytest.raises(LabError, match="is being trained by another process now"):
        hold_run_lock(run_dir, resuming=False)  # another descriptor: as another process
    release_run_lock(lock)  # the run ends
    release_run_lock(hold_run_lock(run_dir, resuming=False))  # free again


def test_a_refused_new_run_lets_go_of_its_claim(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "done"
    run_dir.mkdir()
    (run_dir / "record.json").write_text(json.dumps({"status": "finished", "seed": 7}))
    with pytest.raises(SystemExit) as stop:
        hydra_subdir_for(str(run_dir), _job())
    assert stop.value.code == 2
    assert capsys.readouterr().err == (
        f"error: {run_dir} already holds a run (status: finished, seed 7); a new run there "
        "would overwrite it: choose another hydra.run.dir\n"
    )
    assert not claimed_here(run_dir)
    release_run_lock(hold_run_lock(run_dir, resuming=False))  # nobody holds it


def test_a_folder_being_trained_before_its_record_exists_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The race itself: the other command holds the lock, and has written nothing yet."""
    run_dir = tmp_path / "exp1"
    run_dir.mkdir()
    winner = hold_run_lock(run_dir, resuming=False)
    try:
        with pytest.raises(SystemExit) as stop:
            hydra_subdir_for(str(run_dir), _job())
    finally:
        release_run_lock(winner)
    assert stop.value.code == 2
    assert capsys.readouterr().err == (
        f"error: {run_dir} already holds a run (being trained by another process now); a new "
        "run there would overwrite it: choose another hydra.run.dir\n"
    )
    assert list(run_dir.iterdir()) == []


def test_each_multirun_job_claims_its_own_folder_and_lets_go_of_the_last(tmp_path: Path) -> None:
    """One process runs one job at a time: a claim no run took over (its job failed before
    its record) goes with the next job's claim."""
    first, second = tmp_path / "0", tmp_path / "1"
    first.mkdir()
    second.mkdir()
    assert hydra_subdir_for(str(first), _job(mode="MULTIRUN")) == ".hydra"
    assert claimed_here(first)
    assert hydra_subdir_for(str(second), _job(mode="MULTIRUN")) == ".hydra"
    assert claimed_here(second) and not claimed_here(first)
    release_run_lock(hold_run_lock(first, resuming=False))  # free for anyone


def test_a_resume_claims_its_run_and_a_second_resume_is_refused_before_hydra_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`.hydra/resume-<time>/` of two resumes started in one second was one folder, too."""
    run_dir = tmp_path / "run"
    (run_dir / ".hydra").mkdir(parents=True)
    (run_dir / ".hydra" / "config.yaml").write_text("seed: 7\n")
    (run_dir / "record.json").write_text(json.dumps({"status": "interrupted", "seed": 7}))
    # this process: hydra.run.dir's resolver looks, hydra.output_subdir's claims
    assert run_dir_for(str(run_dir), str(tmp_path), "unused") == str(run_dir)
    assert not claimed_here(run_dir)
    subdir = hydra_subdir_for(str(run_dir), _job(resume=str(run_dir)))
    assert subdir is not None and subdir.startswith(".hydra/resume-")
    assert claimed_here(run_dir)
    # Hydra reads hydra.run.dir again: its own claim is no refusal
    assert run_dir_for(str(run_dir), str(tmp_path), "unused") == str(run_dir)
    # another command resuming the same run now
    other = lab_cli("train", *RUN, f"resume={run_dir}", cwd=tmp_path)
    assert other.returncode == 2, other.stderr[-3000:]
    assert other.stderr.startswith(
        f"error: {run_dir} is being trained by another process now, so it cannot be resumed"
    )
    assert other.stderr.endswith("wait for it to end (or stop it), then resume it\n")
    assert sorted(p.name for p in (run_dir / ".hydra").iterdir()) == ["config.yaml"]


# ----------------------------------------------------------------------------- M2
def _live_run(folder: Path) -> Path:
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "checkpoints" / "last.ckpt").write_bytes(b"")
    (folder / "config.yaml").write_text("task: {}\n")
    (folder / "record.json").write_text(json.dumps({"status": "running", "seed": 1}))
    return folder


def test_an_export_into_a_run_being_trained_is_refused_with_the_way_outside_it(
    tmp_path: Path,
) -> None:
    run_dir = _live_run(tmp_path / "live")
    training = hold_run_lock(run_dir, resuming=False)  # the run's own process
    try:
        result = lab_cli("export", f"run={run_dir}", "checkpoint=last", cwd=tmp_path)
        onnx = lab_cli("export", f"run={run_dir}", "form=onnx", cwd=tmp_path)
        with pytest.raises(LabError) as elsewhere:
            check_not_training(run_dir, None, "merged", "best")
        check_not_training(run_dir, tmp_path / "outside")  # output=: allowed
        with pytest.raises(LabError) as inside:  # s26c M1: an output= inside the live run
            check_not_training(run_dir, run_dir / "model", "merged", "last")
    finally:
        release_run_lock(training)
    assert result.returncode == 2, result.stderr[-3000:]
    assert result.stderr == (
        f"error: cannot export into {run_dir}: it is being trained now, and exports its model "
        "when it ends: wait for that; its latest weights now, outside the run: python -m "
        f"lab.export run={run_dir} checkpoint=last output=<folder>\n"
    )
    assert onnx.returncode == 2
    assert onnx.stderr.endswith(
        f"python -m lab.export run={run_dir} form=onnx checkpoint=last output=<folder>\n"
    )
    assert str(elsewhere.value).endswith(f"run={run_dir} checkpoint=best output=<folder>")
    assert str(inside.value).startswith(f"cannot export into {run_dir}: it is being trained now")
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "checkpoints",
        "config.yaml",
        "record.json",
    ]
    check_not_training(run_dir, None)  # the run ended: an export into it goes on
