"""Disk faults in words (issue 19): a full disk, a read-only or virtual file system, a path
that is a file, a forbidden place.

Each ends a run with one line naming the path and the OS reason, exit 2, the record
`failed: <that line>`, the previous checkpoint whole and no temporary file left (one left by
a killed process is removed at the next start). A sweep's trials.csv and best.json are as
readable as every other file.
"""

from __future__ import annotations

import errno
import io
import json
import os
import shlex
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from lab.errors import EXIT_USER_ERROR
from lab.run_dir.disk import (
    DiskError,
    check_output_root,
    disk_error,
    output_root_problem,
    remove_stale_temporaries,
)
from lab.run_dir.records import RunRecord
from lab.training.checkpoint_writer import AtomicCheckpointIO

from conftest import TINY_FIXTURE_RUN, lab_cli

HELPERS = Path(__file__).resolve().parent / "helpers"
# Lets the runs' config name the test-only callbacks of tests/helpers.
FAULTS_ON_PATH = {"PYTHONPATH": str(HELPERS)}
# 56 train rows / batch 16 = 4 steps per epoch, 2 epochs; last.ckpt every 2 steps. Every
# fault callback is in every run's config (a resume needs the same config); each acts only
# where its environment variable is set.
FAULTABLE_RUN = [
    *TINY_FIXTURE_RUN,
    "callbacks.last_checkpoint.every_n_train_steps=2",
    "+callbacks.kill={_target_: fault_injection.KillAtStep}",
    "+callbacks.disk={_target_: run_faults.DiskFullAtStep}",
    "+callbacks.signal={_target_: run_faults.SignalAt}",
    "paths.output_root=out",
]
NO_SPACE = os.strerror(errno.ENOSPC)


@pytest.fixture(autouse=True)
def _helpers_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(HELPERS))


def only_run(root: Path) -> Path:
    (run_dir,) = root.glob("runs/*/*")
    return run_dir


def record_of(run_dir: Path) -> dict[str, Any]:
    return dict(json.loads((run_dir / "record.json").read_text()))


def temporaries(run_dir: Path) -> list[str]:
    return sorted(p.name for p in run_dir.rglob("*.tmp"))


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


# ----------------------------------------------------------------------------- disk faults
def test_a_full_disk_during_a_checkpoint_write_names_the_file_and_keeps_the_last_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from run_faults import fill_disk_for_checkpoints  # type: ignore[import-not-found]

    monkeypatch.setattr(io, "open", io.open)  # undone after the test, whatever replaces it
    writer = AtomicCheckpointIO()
    path = tmp_path / "last.ckpt"
    writer.save_checkpoint({"step": 1, "weights": torch.arange(1000)}, path)
    fill_disk_for_checkpoints()
    with pytest.raises(DiskError) as caught:
        writer.save_checkpoint({"step": 2, "weights": torch.arange(100_000)}, path)
    monkeypatch.undo()
    assert str(caught.value) == f"cannot write {path}: {NO_SPACE}"
    # What torch itself says about a full disk, and what the message replaces.
    assert "inline_container.cc" in str(caught.value.__cause__)
    assert torch.load(path, weights_only=True)["step"] == 1
    assert list(tmp_path.iterdir()) == [path], "the temporary file is removed"


def test_disk_errors_are_found_behind_wrapping_errors_and_only_for_run_files(
    tmp_path: Path,
) -> None:
    run_dir = tmp_path / "run"
    wrapped = RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos")
    wrapped.__context__ = OSError(errno.ENOSPC, NO_SPACE)
    assert str(disk_error(wrapped, run_dir)) == f"cannot write files in {run_dir}: {NO_SPACE}"
    rust = Exception("Error while serializing: IoError(Os { code: 30 }) (os error 30)")
    assert str(disk_error(rust, run_dir)) == f"cannot write files in {run_dir}: " + os.strerror(
        errno.EROFS
    )
    refused = PermissionError(errno.EACCES, "denied", str(run_dir / "record.json"))
    assert str(disk_error(refused, run_dir)) == (
        f"cannot write {run_dir / 'record.json'}: {os.strerror(errno.EACCES)}"
    )
    # A missing data file elsewhere is not a disk fault of the run (it is a data error).
    missing = FileNotFoundError(errno.ENOENT, "missing", str(tmp_path / "train.csv"))
    assert disk_error(missing, run_dir) is None
    assert disk_error(ValueError("bad value"), run_dir) is None


def test_an_output_root_that_cannot_hold_runs_is_refused_in_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, compose_cfg: Any
) -> None:
    a_file = tmp_path / "results.txt"
    a_file.write_text("not a directory\n")
    not_a_dir = os.strerror(errno.ENOTDIR)
    assert output_root_problem(a_file) == f"{a_file} is a file, not a directory ({not_a_dir})"
    assert output_root_problem(a_file / "below") == output_root_problem(a_file)
    if Path("/proc/self").is_dir():  # Linux: a virtual file system that creates nothing
        problem = output_root_problem("/proc/lab-test/out")
        assert problem == f"cannot create directories in /proc: {os.strerror(errno.ENOENT)}"
    before = sorted(tmp_path.iterdir())
    assert output_root_problem(tmp_path / "new" / "root") is None
    assert sorted(tmp_path.iterdir()) == before, "the check leaves nothing behind"

    # Read-only and forbidden places (root may write anywhere a mode allows: the OS answers
    # are simulated where they would come from).
    for code in (errno.EROFS, errno.EACCES):

        def refuse(*args: Any, code: int = code, **kwargs: Any) -> str:
            raise OSError(code, os.strerror(code))

        monkeypatch.setattr("tempfile.mkdtemp", refuse)
        assert output_root_problem(tmp_path) == (
            f"cannot create directories in {tmp_path}: {os.strerror(code)}"
        )
        monkeypatch.undo()

    cfg = compose_cfg(*TINY_FIXTURE_RUN, f"paths.output_root={a_file}")
    with pytest.raises(DiskError, match=rf"^paths.output_root={a_file} cannot hold runs: "):
        check_output_root(cfg)
    check_output_root(compose_cfg(*TINY_FIXTURE_RUN, f"paths.output_root={tmp_path}"))


def test_a_disk_fault_marks_the_record_failed_with_the_os_reason(
    compose_cfg: Any, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    cfg = compose_cfg(*TINY_FIXTURE_RUN, output_dir=run_dir)
    with pytest.raises(DiskError) as caught, RunRecord(cfg):
        error = RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos")
        raise error from OSError(errno.ENOSPC, NO_SPACE)
    # No last.ckpt yet, so nothing to resume: the command that starts the run again.
    again = shlex.join(["python", "-m", "lab.train", *TINY_FIXTURE_RUN])
    assert str(caught.value) == (
        f"cannot write files in {run_dir}: {NO_SPACE}; once fixed, start it again: {again}"
    )
    assert record_of(run_dir)["status"] == f"failed: cannot write files in {run_dir}: {NO_SPACE}"
    assert temporaries(run_dir) == []


def test_temporaries_of_killed_writers_are_removed_and_no_others(tmp_path: Path) -> None:
    host = socket.gethostname()
    dead, alive = dead_pid(), os.getpid()
    checkpoints = tmp_path / "run" / "checkpoints"
    checkpoints.mkdir(parents=True)
    names = {
        "dead": f".last.ckpt~{host}~{dead}.tmp",
        "alive": f".last.ckpt~{host}~{alive}.tmp",
        "other_host": f".last.ckpt~elsewhere~{dead}.tmp",
        "legacy": f".last.ckpt.{dead}.tmp",
    }
    for name in names.values():
        (checkpoints / name).write_bytes(b"partial")
    (tmp_path / "run" / "record.json.tmp").write_text("{")

    removed = remove_stale_temporaries([tmp_path / "run", checkpoints])
    assert [p.name for p in removed] == [names["dead"]]
    # Resuming the run: nothing else writes there, so an older lab's files go too.
    removed = remove_stale_temporaries([tmp_path / "run", checkpoints], resuming=True)
    assert sorted(p.name for p in removed) == sorted([names["legacy"], "record.json.tmp"])
    assert sorted(p.name for p in checkpoints.iterdir()) == sorted(
        [names["alive"], names["other_host"]]
    )


# ----------------------------------------------------------------------------- sweeps
def test_sweep_result_files_get_the_same_mode_as_every_other_file(tmp_path: Path) -> None:
    import optuna

    from lab.sweeps.results import write_results

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", study_name="modes")
    study.optimize(lambda trial: trial.suggest_float("lr", 1e-5, 1e-3, log=True), n_trials=2)
    write_results(study, tmp_path)
    (tmp_path / "other.txt").write_text("an ordinary file\n")
    expected = (tmp_path / "other.txt").stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert expected == 0o666 & ~umask
    for name in ("trials.csv", "best.json"):
        assert (tmp_path / name).stat().st_mode & 0o777 == expected, name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.json", "other.txt", "trials.csv"]


# ----------------------------------------------------------------------------- CLI runs
@pytest.mark.slow
@pytest.mark.parametrize("where", ["file", "below_a_file", "proc"])
def test_an_unusable_output_root_is_one_line_and_exit_2(where: str, tmp_path: Path) -> None:
    (tmp_path / "results.txt").write_text("a file\n")
    root = {
        "file": "results.txt",
        "below_a_file": "results.txt/runs",
        "proc": "/proc/lab-test",
    }[where]
    if where == "proc" and not Path("/proc/self").is_dir():
        pytest.skip("no /proc here")
    result = lab_cli("train", *TINY_FIXTURE_RUN, f"paths.output_root={root}", cwd=tmp_path)
    assert result.returncode == EXIT_USER_ERROR, result.stderr[-3000:]
    (line,) = result.stderr.strip().splitlines()
    reason = os.strerror(errno.ENOENT if where == "proc" else errno.ENOTDIR)
    assert line.startswith(f"error: paths.output_root={root} cannot hold runs: ")
    assert line.endswith(f"({reason})" if where != "proc" else reason)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.txt"]


def test_a_multirun_into_an_unusable_output_root_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """s25c H4: a plain multirun (`-m seed=1,2`) was a traceback where a single run and a
    `sweep=` run are refused in one line."""
    (tmp_path / "results.txt").write_text("a file\n")
    result = lab_cli(
        "train", "-m", *TINY_FIXTURE_RUN, "seed=1,2", "paths.output_root=results.txt", cwd=tmp_path
    )
    assert result.returncode == EXIT_USER_ERROR, result.stderr[-3000:]
    (line,) = result.stderr.strip().splitlines()
    assert line == (
        "error: paths.output_root=results.txt cannot hold runs: results.txt is a file, not a "
        f"directory ({os.strerror(errno.ENOTDIR)})"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.txt"]
    # hydra.sweep.dir itself below a file (s25d H1): the same one line
    result = lab_cli(
        "train", "-m", *TINY_FIXTURE_RUN, "seed=1,2", "hydra.sweep.dir=results.txt/x", cwd=tmp_path
    )
    assert result.returncode == EXIT_USER_ERROR, result.stderr[-3000:]
    assert result.stderr.strip().splitlines() == [
        f"error: cannot make the multirun directory results.txt/x: {os.strerror(errno.ENOTDIR)} "
        "(choose another place with hydra.sweep.dir=... or paths.output_root=...)"
    ]


@pytest.mark.slow
def test_a_full_disk_while_checkpointing_is_one_line_exit_2_and_a_failed_record(
    tmp_path: Path,
) -> None:
    # Step 6 is mid-epoch (4 steps an epoch): its last.ckpt is written at the batch's end.
    env = {**FAULTS_ON_PATH, "LAB_TEST_DISK_FULL_AT_STEP": "6"}
    result = lab_cli("train", *FAULTABLE_RUN, cwd=tmp_path, env=env)
    assert result.returncode == EXIT_USER_ERROR, result.stderr[-3000:]
    run_dir = only_run(tmp_path / "out")
    last = run_dir / "checkpoints" / "last.ckpt"
    failure = f"cannot write {last}: {NO_SPACE}"
    resume = shlex.join(["python", "-m", "lab.train", *FAULTABLE_RUN, f"resume={run_dir}"])
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {failure}; once fixed, continue with {resume}"
    )
    assert "Traceback" not in result.stderr + result.stdout
    assert record_of(run_dir)["status"] == f"failed: {failure}"
    # Nothing earlier lost: the step-4 checkpoint is whole; no partial file is left.
    assert torch.load(last, map_location="cpu", weights_only=False)["global_step"] == 4
    assert temporaries(run_dir) == []


def test_a_torch_write_failure_on_a_full_disk_is_a_disk_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """s25c H2: torch's serializer reports a failed write as its own RuntimeError, with no OS
    error inside; on a disk with no space left it is the full disk, said in lab's words."""
    from types import SimpleNamespace

    from lab.run_dir import disk

    target = tmp_path / "checkpoints" / "last.ckpt"
    failure = RuntimeError(
        "[enforce fail at inline_container.cc:672] . unexpected pos 30592 vs 30486"
    )
    space = {"free": 0}
    monkeypatch.setattr(
        disk.os, "statvfs", lambda path: SimpleNamespace(f_bavail=space["free"], f_frsize=4096)
    )
    fault = disk.disk_error(failure, path=target)
    assert isinstance(fault, disk.DiskError)
    assert str(fault) == f"cannot write {target}: {os.strerror(errno.ENOSPC)}"
    space["free"] = 10_000  # 40 MB free: some other failure, not said to be the disk
    assert disk.disk_error(failure, path=target) is None
    space["free"] = 0
    assert disk.disk_error(RuntimeError("CUDA error: out of memory"), path=target) is None
    assert disk.disk_error(failure) is None  # no file named: nothing to judge
