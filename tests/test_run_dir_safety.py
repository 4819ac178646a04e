"""A run directory is claimed before Hydra writes into it (`lab.run_dir.claim`).

* A new run into a directory that holds a run (an explicit `hydra.run.dir` used again) is
  refused in one line, exit 2, before anything is written; the ranks of one DDP or
  multi-node run, a resume, a sweep's trial and an empty folder are not refused.
* A resume of a run directory that cannot be written (a read-only folder or file), or that
  another process trains now, is refused in one line, exit 2, naming the path and the OS
  reason, with the advice to make it writable and run the same command again.
* `.hydra/resume-<time>/` is made only for a resume; `Resuming <dir> from step N` is said
  only once the resume is accepted; `resume=auto` whose run finished after it was chosen
  says to run the command again.

Two `python -m lab.train` processes in all (one trains, one is refused); the rest calls the
resolvers and `RunRecord` in process. Read-only files are made with `chattr +i` as root
(permission bits do not stop root) and `chmod` otherwise.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from lab.config import compose_train_config
from lab.errors import LabError
from lab.run_dir import claim
from lab.run_dir.records import RunRecord
from lab.run_dir.resume import hydra_subdir_for, prepare_resume, run_dir_for
from lab.run_dir.run_lock import hold_run_lock, release_claim, release_run_lock

from conftest import lab_cli

RUN = ["model=tiny_bert", "debug=fast"]
RESUME_ADVICE = (
    "make the run directory writable (every folder and file in it), then run the same command again"
)


@pytest.fixture(autouse=True)
def _fresh_decisions(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test decides anew (`hydra_subdir` remembers its last decision in the process),
    as rank 0 of a single process; the run lock it claimed goes with it (`claim_run_lock`)."""
    monkeypatch.setattr(claim, "_decided", {})
    for variable in ("RANK", "SLURM_PROCID", "LOCAL_RANK"):
        monkeypatch.delenv(variable, raising=False)
    yield
    release_claim()


def _snapshot(run_dir: Path) -> dict[str, str]:
    """Every path under `run_dir` (folders too), with each file's sha256."""
    return {
        str(path.relative_to(run_dir)): (
            hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "<dir>"
        )
        for path in sorted(run_dir.rglob("*"))
    }


def _fake_run(run_dir: Path, status: str, checkpoint: bool = False, **record: Any) -> Path:
    """A run directory as lab leaves one: record.json, Hydra's record, train.log."""
    (run_dir / ".hydra").mkdir(parents=True)
    (run_dir / ".hydra" / "config.yaml").write_text("seed: 7\n")
    (run_dir / "train.log").write_text("the run's own log\n")
    data = {"status": status, "seed": 7, "overrides": ["seed=7"], **record}
    (run_dir / "record.json").write_text(json.dumps(data))
    if checkpoint:
        (run_dir / "checkpoints").mkdir()
        (run_dir / "checkpoints" / "last.ckpt").write_bytes(b"weights")
    return run_dir


def _job(resume: str | None = None, mode: str = "RUN", **more: Any) -> Any:
    """The job config `hydra.output_subdir`'s resolver sees as `_root_`."""
    return OmegaConf.create({"resume": resume, "hydra": {"mode": f"RunMode.{mode}"}, **more})


def _refusal(capsys: pytest.CaptureFixture[str], call: Any, *args: Any) -> str:
    """The one stderr line of a resolver's refusal (after checking exit code 2)."""
    with pytest.raises(SystemExit) as stop:
        call(*args)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err.rstrip("\n")


# ----------------------------------------------------------------------------- new runs
@pytest.mark.parametrize(
    ("status", "checkpoint", "then"),
    [
        ("finished", True, "; a new run there would overwrite it: choose another hydra.run.dir"),
        (
            "interrupted (SIGTERM); continue with resume=X",
            True,
            "; continue it with python -m lab.train seed=7 resume={dir}, or choose another "
            "hydra.run.dir",
        ),
        (
            "failed: cannot write x: No space left on device",
            False,
            " with no checkpoint to continue from; choose another hydra.run.dir, or delete "
            "that folder to start the run there again",
        ),
    ],
    ids=["finished", "interrupted", "failed-without-checkpoint"],
)
def test_a_new_run_into_a_directory_holding_a_run_is_refused_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], status: str, checkpoint: bool, then: str
) -> None:
    run_dir = _fake_run(tmp_path / "same", status, checkpoint)
    before = _snapshot(run_dir)
    line = _refusal(capsys, hydra_subdir_for, str(run_dir), _job())
    state = re.split(r"[;:]", status, maxsplit=1)[0]
    assert line == (
        f"error: {run_dir} already holds a run (status: {state}, seed 7)" + then.format(dir=run_dir)
    )
    assert _snapshot(run_dir) == before


def test_a_multirun_job_into_a_used_sweep_folder_names_hydra_sweep_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = _fake_run(tmp_path / "0", "finished")
    line = _refusal(capsys, hydra_subdir_for, str(run_dir), _job(mode="MULTIRUN"))
    assert line.endswith("a new run there would overwrite it: choose another hydra.sweep.dir")


def test_an_unreadable_record_or_a_run_being_trained_is_refused_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = _fake_run(tmp_path / "broken", "running")
    (broken / "record.json").write_text("{cut sh")
    line = _refusal(capsys, hydra_subdir_for, str(broken), _job())
    assert line.startswith(f"error: {broken} already holds a run (its record.json cannot be read: ")
    assert line.endswith("); a new run there would overwrite it: choose another hydra.run.dir")

    # Another process trains it (it holds the run lock): refused before Hydra writes .hydra/.
    busy = _fake_run(tmp_path / "busy", "running")
    lock = hold_run_lock(busy, resuming=False)
    try:
        line = _refusal(capsys, hydra_subdir_for, str(busy), _job())
    finally:
        release_run_lock(lock)
    assert line == (
        f"error: {busy} already holds a run (being trained by another process now, seed 7); "
        "a new run there would overwrite it: choose another hydra.run.dir"
    )
    assert not list((busy / ".hydra").glob("resume-*"))


def test_an_empty_folder_or_one_without_a_run_is_used_with_hydras_record_in_dot_hydra(
    tmp_path: Path,
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert hydra_subdir_for(str(empty), _job()) == ".hydra"
    # Hydra's record of a command that never started a run: not a run, written over.
    no_record = tmp_path / "no-record"
    (no_record / ".hydra").mkdir(parents=True)
    (no_record / ".hydra" / "config.yaml").write_text("seed: 1\n")
    assert hydra_subdir_for(str(no_record), _job()) == ".hydra"
    assert hydra_subdir_for(str(tmp_path / "not-yet"), _job()) == ".hydra"


@pytest.mark.parametrize("variable", ["RANK", "SLURM_PROCID", "LOCAL_RANK"])
def test_other_ranks_of_one_run_share_its_directory_and_write_no_hydra_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    """torchrun / SLURM start every rank with the same hydra.run.dir: rank 0 may have
    written record.json already; the others neither refuse nor race rank 0's .hydra/."""
    run_dir = _fake_run(tmp_path / "shared", "running")
    monkeypatch.setenv(variable, "1")
    assert hydra_subdir_for(str(run_dir), _job()) is None
    assert run_dir_for(str(run_dir), str(tmp_path), "unused") == str(run_dir)


def test_a_sweep_trial_run_again_in_its_own_folder_is_not_refused(tmp_path: Path) -> None:
    """The sweeper runs an abandoned trial again in its folder: from scratch where it has no
    checkpoint (Hydra's record rewritten with the run's), resumed where it has one."""
    trial = _fake_run(tmp_path / "trials" / "0", "interrupted (SIGTERM); no checkpoint")
    job = _job(mode="MULTIRUN", optuna_trial={"number": 0})
    assert hydra_subdir_for(str(trial), job) == ".hydra"
    claim._decided.clear()
    resumed = _job(resume=str(trial), mode="MULTIRUN", optuna_trial={"number": 0})
    assert re.fullmatch(r"\.hydra/resume-[\d_-]+", hydra_subdir_for(str(trial), resumed) or "")


# ----------------------------------------------------------------------------- resumes
def test_hydras_record_of_a_resume_goes_to_resume_time_and_only_for_a_resume(
    tmp_path: Path,
) -> None:
    run_dir = _fake_run(tmp_path / "run", "interrupted (SIGTERM)", checkpoint=True)
    for resume in (str(run_dir), "auto"):
        claim._decided.clear()
        subdir = hydra_subdir_for(str(run_dir), _job(resume=resume))
        assert re.fullmatch(r"\.hydra/resume-\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d", subdir or "")
    # resume=auto that found no run to continue: a new run, in a new folder.
    claim._decided.clear()
    assert hydra_subdir_for(str(tmp_path / "new"), _job(resume="auto")) == ".hydra"


def test_a_second_reading_of_the_subdir_keeps_the_first_answer(tmp_path: Path) -> None:
    """Hydra reads hydra.output_subdir twice; once this run wrote its record.json there, a
    later reading must not refuse it (nor name another resume folder)."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    assert hydra_subdir_for(str(run_dir), _job()) == ".hydra"
    (run_dir / "record.json").write_text('{"status": "running"}')
    assert hydra_subdir_for(str(run_dir), _job()) == ".hydra"


@contextmanager
def _read_only(*paths: Path) -> Iterator[str]:
    """Make `paths` read-only for this process (root: `chattr +i`), yielding the OS reason
    a write then gets; undone afterwards, whatever happens."""
    root = os.geteuid() == 0
    done: list[Path] = []
    try:
        for path in paths:
            if root:
                if shutil.which("chattr") is None:
                    pytest.skip("running as root without chattr: nothing makes a file read-only")
                made = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
                if made.returncode != 0:
                    pytest.skip(f"chattr +i unsupported here: {made.stderr.decode().strip()}")
            else:
                path.chmod(0o555 if path.is_dir() else 0o444)
            done.append(path)
        yield os.strerror(errno.EPERM if root else errno.EACCES)
    finally:
        for path in done:
            if root:
                subprocess.run(["chattr", "-i", str(path)], check=True)
            else:
                path.chmod(0o755 if path.is_dir() else 0o644)


@pytest.mark.parametrize("what", ["train.log", ".hydra", "run dir"])
def test_a_resume_of_a_run_that_cannot_be_written_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], what: str
) -> None:
    """Refused while Hydra resolves hydra.run.dir, before it opens train.log (a read-only
    one was a 57-line traceback) or makes .hydra/resume-<time>/ (a read-only .hydra/ was
    called "the run directory", with advice to choose another place)."""
    run_dir = _fake_run(tmp_path / "run", "interrupted (SIGTERM)", checkpoint=True)
    target = {"train.log": run_dir / "train.log", ".hydra": run_dir / ".hydra"}.get(what, run_dir)
    before = _snapshot(run_dir)
    with _read_only(target) as reason:
        line = _refusal(capsys, run_dir_for, str(run_dir), str(tmp_path), "unused")
        # the same with an explicit hydra.run.dir, where Hydra opens train.log first
        claim._decided.clear()
        if what != "train.log":
            again = _refusal(capsys, hydra_subdir_for, str(run_dir), _job(resume=str(run_dir)))
            assert again == line
    assert (
        line == f"error: cannot resume {run_dir}: cannot write {target}: {reason}; {RESUME_ADVICE}"
    )
    assert _snapshot(run_dir) == before


def test_a_resume_of_a_run_being_trained_is_refused_before_hydra_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """By `resume=<dir>`, and by `resume=auto` when it chooses a run still training: refused
    then, not later as "already finished" if the run ends in between."""
    import lab.run_dir.records

    run_dir = _fake_run(tmp_path / "runs" / "day" / "run", "running", checkpoint=True)
    monkeypatch.setattr(lab.run_dir.records, "hydra_overrides", lambda: ["seed=7"])
    lock = hold_run_lock(run_dir, resuming=False)
    try:
        named = _refusal(capsys, run_dir_for, str(run_dir), str(tmp_path), "unused")
        auto = _refusal(capsys, run_dir_for, "auto", str(tmp_path), "unused")
    finally:
        release_run_lock(lock)
    assert named == auto
    assert named.startswith(
        f"error: {run_dir} is being trained by another process now, so it cannot be resumed here"
    )
    assert not list((run_dir / ".hydra").glob("resume-*"))
    assert run_dir_for("auto", str(tmp_path), "unused") == str(run_dir)  # once it is free


def test_resume_auto_whose_run_finished_after_it_was_chosen_says_to_run_it_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lab.run_dir.records

    monkeypatch.setattr(lab.run_dir.records, "hydra_overrides", lambda: ["seed=7"])
    run_dir = _fake_run(tmp_path / "runs" / "day" / "run", "running", checkpoint=True)
    assert run_dir_for("auto", str(tmp_path), "unused") == str(run_dir)
    # ... and another process continues it and finishes it before this one starts it.
    finished = {"status": "finished", "seed": 7, "finished": "2026-12-06T04:20:00+00:00"}
    (run_dir / "record.json").write_text(json.dumps(finished))
    with pytest.raises(LabError) as refused:
        prepare_resume(run_dir, OmegaConf.create({"resume": "auto"}))
    assert str(refused.value) == (
        f"cannot resume: the run in {run_dir} finished (2026-12-06T04:20:00+00:00) while this "
        "command was starting; run the same command again: resume=auto starts a new run where "
        "no unfinished one is left"
    )
    # A finished run that resume=auto did not choose (an explicit hydra.run.dir) says so.
    other = _fake_run(tmp_path / "fixed", "finished", finished="2026-12-06T04:20:00+00:00")
    with pytest.raises(LabError, match=r"already finished .*; start a new run instead$"):
        prepare_resume(other, OmegaConf.create({"resume": "auto"}))
    # Where it exported its weights, the way to train them further is named (s24a M2).
    (other / "model").mkdir()
    with pytest.raises(LabError) as refused:
        prepare_resume(other, OmegaConf.create({"resume": str(other)}))
    assert str(refused.value).endswith(
        f"start a new run instead; model.pretrained={other / 'model'} trains its weights on, "
        "with a fresh optimizer and schedule"
    )


# ----------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny run in an explicit hydra.run.dir (seed 7)."""
    cwd = tmp_path_factory.mktemp("claim")
    run_dir = cwd / "same"
    result = lab_cli("train", *RUN, "seed=7", f"hydra.run.dir={run_dir}", cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir


@pytest.mark.slow
def test_the_same_hydra_run_dir_again_is_refused_and_the_run_kept_byte_for_byte(
    finished: Path, tmp_path: Path
) -> None:
    before = _snapshot(finished)
    again = lab_cli("train", *RUN, "seed=8", f"hydra.run.dir={finished}", cwd=tmp_path)
    assert again.returncode == 2, again.stderr[-3000:]
    assert again.stderr == (
        f"error: {finished} already holds a run (status: finished, seed 7); a new run there "
        "would overwrite it: choose another hydra.run.dir\n"
    )
    assert _snapshot(finished) == before  # no file changed, none added (.hydra/resume-* too)


@pytest.mark.slow
def test_a_read_only_run_is_refused_and_resuming_is_said_only_once_accepted(
    finished: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: Any
) -> None:
    """On the real run's files: every file and folder read-only (`chattr -R +i`) is refused
    while Hydra resolves the run directory; writable again, the resume is checked without
    a `Resuming` line, which comes when `commit_resume` writes it."""
    run_dir = tmp_path / "run"
    shutil.copytree(finished, run_dir)
    record = json.loads((run_dir / "record.json").read_text())
    record["status"] = f"interrupted (SIGTERM); continue with resume={run_dir}"
    (run_dir / "record.json").write_text(json.dumps(record))
    before = _snapshot(run_dir)
    everything = [run_dir, *sorted(run_dir.rglob("*"))]
    with _read_only(*everything) as reason:
        line = _refusal(capsys, run_dir_for, str(run_dir), str(tmp_path), "unused")
    assert (
        line == f"error: cannot resume {run_dir}: cannot write {run_dir}: {reason}; {RESUME_ADVICE}"
    )
    assert _snapshot(run_dir) == before

    cfg = compose_train_config([*RUN, "seed=7", f"resume={run_dir}"], output_dir=run_dir)
    caplog.set_level(logging.INFO, logger="lab.run_dir.records")
    with pytest.raises(RuntimeError, match="refused later"), RunRecord(cfg) as held:
        assert held.resume_pending
        assert not [r for r in caplog.records if r.getMessage().startswith("Resuming")]
        raise RuntimeError("refused later (its data, its weights)")
    assert _snapshot(run_dir) == before
    with RunRecord(cfg) as held:
        held.commit_resume()
        step = held.resume_point.global_step  # type: ignore[union-attr]
        said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Resuming")]
        assert said == [f"Resuming {run_dir} from step {step}"]
