"""A disk that is really full (s26 H2, H3): what a failed write holds is let go before the
failed record is written; a log file the disk refuses is one line, not a traceback per
record; a run that a full disk ended is described as its record says, with its whole best
checkpoint as the way on.

The full disk is simulated (no root, no mount): writes that raise `OSError(ENOSPC)`, and
`/dev/full`, which refuses every write with it.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import io
import json
import logging
import os
import shlex
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from omegaconf import OmegaConf

from lab.errors import LabError
from lab.run_dir import records
from lab.run_dir.disk import DiskError, release_failed_write
from lab.run_dir.endings import disk_fault_line
from lab.run_dir.log_file_faults import quiet_on_write_faults
from lab.run_dir.no_checkpoint import passing_over_line, refuse_without_last_checkpoint
from lab.run_dir.records import RunRecord

from conftest import TINY_FIXTURE_RUN

NO_SPACE = os.strerror(errno.ENOSPC)
TORCH_FAILURE = "[enforce fail at inline_container.cc:672] . unexpected pos 576 vs 534"
BEST = "best-epoch00-step000041.ckpt"
WAY_OUT = f"copy checkpoints/{BEST} (step 41) to checkpoints/last.ckpt to continue from there"


class Partial:
    """Stands for a library's writer of a partial file: while it lives, its blocks are taken
    (the disk is full); it lives as long as something refers to it."""

    alive = 0

    def __init__(self) -> None:
        Partial.alive += 1
        self.me = self  # a reference cycle, as a frame and its error make one

    def __del__(self) -> None:
        Partial.alive -= 1


def failing_write() -> None:
    """A write that fails deep down with its writer in a local, as torch.save does."""
    writer = Partial()  # noqa: F841  (held by this frame, which the traceback keeps)
    raise RuntimeError(TORCH_FAILURE) from OSError(errno.ENOSPC, NO_SPACE)


def open_files_to(target: str) -> int:
    found = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            found += os.readlink(f"/proc/self/fd/{fd}") == target
    return found


def whole_best_checkpoint(run_dir: Path, step: int = 41) -> Path:
    """A checkpoint a resume could continue from (`load_resume_meta` takes it)."""
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    path = run_dir / "checkpoints" / BEST
    state = {
        "state_dict": {"w": torch.zeros(2)},
        "loops": {},
        "global_step": step,
        "epoch": 0,
        "optimizer_states": [{"state": {}, "param_groups": [{"lr": 1e-3}]}],
        "lr_schedulers": [{"last_epoch": step}],
    }
    torch.save(state, path)
    return path


# ----------------------------------------------------------------------------- H2
def test_release_failed_write_lets_go_of_what_the_error_frames_hold() -> None:
    Partial.alive = 0
    try:
        failing_write()
    except RuntimeError as err:
        error = DiskError(f"cannot write x: {NO_SPACE}")
        error.__cause__ = err
    gc.collect()
    assert Partial.alive == 1, "the error's frames keep the writer (and its file) alive"
    release_failed_write(error)
    assert Partial.alive == 0
    # The lines stay for a traceback; only the locals go.
    assert error.__cause__ is not None and error.__cause__.__traceback__ is not None


@pytest.mark.skipif(
    not (Path("/dev/full").exists() and Path("/proc/self/fd").is_dir()),
    reason="needs Linux's /dev/full and /proc",
)
def test_a_checkpoint_serialized_in_the_background_that_fails_closes_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """torch's writer of the partial file lived on in the error's frames, the file open: the
    unlink freed no block, and the failed record found the disk still full (s26 H2)."""
    from lab.run_dir import disk
    from lab.training.checkpoint_writer import AtomicCheckpointIO, wait_for_checkpoints

    target = tmp_path / "checkpoints" / "last.ckpt"
    target.parent.mkdir()
    temporary = disk.temporary_path(target)
    temporary.symlink_to("/dev/full")  # every write: ENOSPC, as on a full disk
    monkeypatch.setattr(  # and statvfs says no space is left
        disk.os, "statvfs", lambda path: SimpleNamespace(f_bavail=0, f_frsize=4096)
    )
    writer = AtomicCheckpointIO(serialize_in_background=True)
    checkpoint = {"global_step": 2, "state_dict": {"w": torch.arange(100_000.0)}}
    writer.save_checkpoint(checkpoint, target)
    with pytest.raises(DiskError) as caught:
        wait_for_checkpoints()
    monkeypatch.undo()
    assert str(caught.value) == f"cannot write {target}: {NO_SPACE}"
    assert "inline_container" in str(caught.value.__cause__)
    assert open_files_to("/dev/full") == 0, "the partial file is closed"
    assert not os.path.lexists(temporary)
    assert not target.exists()


def _space_held_while(monkeypatch: pytest.MonkeyPatch, full: Any) -> list[Path]:
    """record.json writes fail with ENOSPC while `full()`; returns the paths refused."""
    refused: list[Path] = []
    real = records.write_json

    def write_json(path: Path, data: Any, sort_keys: bool = True) -> None:
        if full():
            refused.append(path)
            raise OSError(errno.ENOSPC, NO_SPACE)
        real(path, data, sort_keys)

    monkeypatch.setattr(records, "write_json", write_json)
    return refused


def test_a_failed_write_that_held_the_space_lets_the_failed_record_land(
    compose_cfg: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = tmp_path / "run"
    cfg = compose_cfg(*TINY_FIXTURE_RUN, output_dir=run_dir)
    Partial.alive = 0
    refused = _space_held_while(monkeypatch, lambda: Partial.alive > 0)
    with pytest.raises(DiskError) as caught, RunRecord(cfg):
        failing_write()
    assert refused == []
    status = f"failed: cannot write files in {run_dir}: {NO_SPACE}"
    assert json.loads((run_dir / "record.json").read_text())["status"] == status
    again = shlex.join(["python", "-m", "lab.train", *TINY_FIXTURE_RUN])
    assert (
        str(caught.value)
        == f"{status.removeprefix('failed: ')}; once fixed, start it again: {again}"
    )


def test_a_record_whose_temporary_file_finds_no_room_is_written_in_place(
    compose_cfg: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    run_dir = tmp_path / "run"
    cfg = compose_cfg(*TINY_FIXTURE_RUN, output_dir=run_dir)
    full = {"now": False}
    refused = _space_held_while(monkeypatch, lambda: full["now"])
    with pytest.raises(DiskError), RunRecord(cfg):
        full["now"] = True  # someone else's files fill it: nothing of the run to let go
        failing_write()
    assert refused == [run_dir / "record.json"]
    # No block for the atomic write's temporary file: the record is written over where it
    # lies, in the blocks it holds (s26c M2; tests/test_disk_startup.py).
    status = f"failed: cannot write files in {run_dir}: {NO_SPACE}"
    assert json.loads((run_dir / "record.json").read_text())["status"] == status
    assert [r for r in caplog.records if r.levelno == logging.WARNING] == []


def test_the_error_line_names_a_whole_best_checkpoint_before_the_first_last_ckpt(
    tmp_path: Path,
) -> None:
    run_dir = tmp_path / "run"
    fault = DiskError(f"cannot write {run_dir}/checkpoints/last.ckpt: {NO_SPACE}")
    overrides = ["model=tiny_bert", "paths.output_root=out"]
    again = shlex.join(["python", "-m", "lab.train", *overrides])
    run_dir.mkdir()
    assert (
        disk_fault_line(fault, run_dir, overrides)
        == f"{fault}; once fixed, start it again: {again}"
    )
    whole_best_checkpoint(run_dir)
    resume = f"{again} resume={run_dir}"
    assert disk_fault_line(fault, run_dir, overrides) == (
        f"{fault}; once fixed, {WAY_OUT}: {resume}, or start it again: {again}"
    )
    (run_dir / "checkpoints" / "last.ckpt").write_bytes(b"whole")
    assert (
        disk_fault_line(fault, run_dir, overrides) == f"{fault}; once fixed, continue with {resume}"
    )


# ----------------------------------------------------------------------------- H3 (a)
class RefusingStream(io.StringIO):
    """A log file's stream on a full disk: writes are buffered, every flush is refused."""

    def flush(self) -> None:
        raise OSError(errno.ENOSPC, NO_SPACE)


@pytest.fixture
def run_log(tmp_path: Path) -> Any:
    """A root-logger file handler writing `<tmp>/run/train.log` through `RefusingStream`."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    handler = logging.FileHandler(run_dir / "train.log", delay=True)
    handler.stream = RefusingStream()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield SimpleNamespace(run_dir=run_dir, handler=handler)
    finally:
        root.removeHandler(handler)


def test_a_log_file_the_disk_refuses_is_said_once_then_left_alone(
    run_log: Any, capsys: pytest.CaptureFixture[str], caplog: Any
) -> None:
    quiet_on_write_faults(run_log.run_dir)
    quiet_on_write_faults(run_log.run_dir)  # twice: still one handler of its own
    log = logging.getLogger("lab.train")
    with caplog.at_level(logging.INFO):
        for step in range(5):
            log.warning("line %d", step)
    assert "Logging error" not in capsys.readouterr().err
    faults = [r.getMessage() for r in caplog.records if "cannot write" in r.getMessage()]
    assert faults == [
        f"cannot write {run_log.run_dir / 'train.log'}: {NO_SPACE}; no more lines go to it in "
        "this run (the console still shows them)"
    ]
    assert run_log.handler.stream is None, "its file is closed: nothing more is written"


def test_a_log_call_that_is_a_bug_is_still_reported(
    run_log: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    run_log.handler.stream = io.StringIO()  # a disk with room
    quiet_on_write_faults(run_log.run_dir)
    # arguments that do not fit the message, to this handler alone
    bug = logging.LogRecord("lab.train", logging.WARNING, __file__, 1, "%d steps", ("x",), None)
    run_log.handler.handle(bug)
    assert "--- Logging error ---" in capsys.readouterr().err
    logging.getLogger("lab.train").warning("after it")
    assert "after it" in run_log.handler.stream.getvalue(), "the handler goes on"


def test_a_run_record_makes_its_log_file_quiet(
    run_log: Any, compose_cfg: Any, capsys: pytest.CaptureFixture[str], caplog: Any
) -> None:
    cfg = compose_cfg(*TINY_FIXTURE_RUN, output_dir=run_log.run_dir)
    with caplog.at_level(logging.INFO), RunRecord(cfg):
        logging.getLogger("lab.train").warning("a line train.log cannot take")
    assert "Logging error" not in capsys.readouterr().err
    assert [r.getMessage() for r in caplog.records if "cannot write" in r.getMessage()] == [
        f"cannot write {run_log.run_dir / 'train.log'}: {NO_SPACE}; no more lines go to it in "
        "this run (the console still shows them)"
    ]


# ----------------------------------------------------------------------------- H3 (b)
FAILED = "failed: cannot write {run}/checkpoints/last.ckpt: " + NO_SPACE


@pytest.mark.parametrize(
    ("status", "said"),
    [
        ("interrupted (SIGTERM); no checkpoint was written; start the run again", "interrupted"),
        (FAILED, "failed"),
        ("running", "stopped"),
        ("pruned: TrialPruned: step 3", "pruned"),
    ],
)
def test_a_refusal_without_last_ckpt_says_how_the_run_ended_as_its_record_does(
    tmp_path: Path, status: str, said: str
) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    status = status.format(run=run_dir)
    with pytest.raises(LabError) as caught:
        refuse_without_last_checkpoint(run_dir, {"status": status})
    ended = {
        "interrupted": "it was interrupted before writing a checkpoint (checkpoints/last.ckpt)",
        "failed": "it failed before writing a checkpoint (checkpoints/last.ckpt; record.json: "
        f"{status!r})",
        "stopped": "it stopped before writing a checkpoint (checkpoints/last.ckpt; record.json "
        "still says 'running': its process was killed)",
        "pruned": "it was pruned before writing a checkpoint (checkpoints/last.ckpt; "
        f"record.json: {status!r})",
    }[said]
    again = "start the run again without resume="
    assert str(caught.value) == f"cannot resume {run_dir}: {ended}; {again}"
    whole_best_checkpoint(run_dir)
    with pytest.raises(LabError) as caught:
        refuse_without_last_checkpoint(run_dir, {"status": status})
    assert str(caught.value) == f"cannot resume {run_dir}: {ended}; {WAY_OUT}, or {again}"


def _failed_run(root: Path, cfg: Any) -> Path:
    """A run that a full disk ended at its first last.ckpt, holding a whole best checkpoint."""
    run_dir = root / "runs" / "2026-12-06" / "10-00-00_1-abcd"
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    record = {
        "status": FAILED.format(run=run_dir),
        "overrides": [*TINY_FIXTURE_RUN, f"paths.output_root={root}"],
        "started": "2026-12-06T10:00:00+00:00",
    }
    (run_dir / "record.json").write_text(json.dumps(record))
    whole_best_checkpoint(run_dir)
    return run_dir


def test_resume_of_a_run_a_full_disk_ended_names_its_best_checkpoint(
    compose_cfg: Any, tmp_path: Path
) -> None:
    from lab.run_dir.resume import prepare_resume

    root = tmp_path / "out"
    run_dir = root / "runs" / "2026-12-06" / "10-00-00_1-abcd"
    cfg = compose_cfg(*TINY_FIXTURE_RUN, f"paths.output_root={root}", output_dir=run_dir)
    _failed_run(root, cfg)
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    resume = compose_cfg(
        *TINY_FIXTURE_RUN, f"paths.output_root={root}", f"resume={run_dir}", output_dir=run_dir
    )
    with pytest.raises(LabError) as caught:
        prepare_resume(run_dir, resume)
    status = FAILED.format(run=run_dir)
    assert str(caught.value) == (
        f"cannot resume {run_dir}: it failed before writing a checkpoint "
        f"(checkpoints/last.ckpt; record.json: {status!r}); {WAY_OUT}, or start the run "
        "again without resume="
    )
    assert {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == before


def test_resume_auto_passes_over_a_run_a_full_disk_ended_saying_why(
    compose_cfg: Any, tmp_path: Path, caplog: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lab.run_dir.resume import find_auto_resume, prepare_resume

    root = tmp_path / "out"
    first = compose_cfg(*TINY_FIXTURE_RUN, f"paths.output_root={root}", output_dir=tmp_path / "x")
    run_dir = _failed_run(root, first).resolve()
    overrides = [*TINY_FIXTURE_RUN, f"paths.output_root={root}"]
    assert find_auto_resume(str(root), overrides) is None, "still passed over: a new run starts"
    cfg = compose_cfg(*overrides, "resume=auto", output_dir=tmp_path / "new")
    monkeypatch.setattr(records, "hydra_overrides", lambda: overrides)  # as typed
    with caplog.at_level(logging.INFO, logger="lab.run_dir.resume"):
        assert prepare_resume(tmp_path / "new", cfg) is None
    status = FAILED.format(run=run_dir)
    assert [r.getMessage() for r in caplog.records if "passing over" in r.getMessage()] == [
        f"resume=auto: passing over {run_dir} (failed before writing a checkpoint; record.json: "
        f"{status!r}; {WAY_OUT}, with resume={run_dir})"
    ]
    assert passing_over_line(run_dir).startswith(f"resume=auto: passing over {run_dir} (failed")
