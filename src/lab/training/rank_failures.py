"""A DDP rank that fails alone, said by rank 0 in that rank's own words (s32b F1, F4).

When one rank stops (bad data only it reads, a bug, the out-of-memory killer's SIGKILL),
rank 0 only sees its next collective fail: gloo's `Connection closed by peer` (or `reset`),
60-160 lines of traceback, exit 1, and `record.json` kept that gloo message while the real
error was in no file. So:

* A rank other than 0 that an error stops writes its one line to
  `<run>/.rank_failures/rank<N>.json` before it exits (`write_failure`), and prints nothing:
  rank 0 says it, once. A rank whose collective failed because another rank is gone exits
  quietly (the error is that other rank's to say).
* Rank 0, when a collective fails because a peer is gone, waits briefly for such a file, or
  for a rank its launcher started to be seen exited (`RankWatch`: the `subprocess.Popen`
  objects Lightning keeps; a negative return code is the signal that killed it), and raises
  instead a `RankFailed` of one line: `rank 1: <its line>` (a `DataError` for bad data, so
  that a streamed run's continue advice follows, as for rank 0's own), or
  `rank 1 stopped (killed by signal 9: SIGKILL, e.g. the out-of-memory killer)` with the
  advice a signal's line gives (`resume=`, or a best checkpoint's copy to last.ckpt). Its
  exit code is lab's for that error (2 for bad config or data, 1 for a bug, 128 + the
  signal for a killed rank), and `record.json` and `train.log` keep that line.
* An error rank 0 meets itself is said once (rank 0's); another rank's different error,
  found within a moment, is said after it as `rank N: <its line>`.
* `RankWatch` replaces Lightning's child-process observer (which SIGKILLs every process,
  rank 0 too, up to 5 s after a child exits non-zero: it could cut rank 0 off while it
  records the failure). It does the same, but only where rank 0 has not taken the failure
  in hand within `GRACE_S` (a collective that hangs instead of failing, as NCCL's can), and
  says the rank's line first: nothing hangs, no process is left behind.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab.errors import EXIT_USER_ERROR, DataError, LabError, lab_error_in

if TYPE_CHECKING:
    from lab.run_dir.records import RunRecord

log = logging.getLogger(__name__)

FAILURES_DIR = ".rank_failures"
# How long rank 0 waits for a gone peer's file or exit code (written or ended before its
# sockets closed: found at once but where the file system is slow), and, after an error of
# its own, for the other ranks' (they often read the same bad row).
WAIT_S = 3.0
OTHERS_WAIT_S = 1.5
# How long `RankWatch` lets rank 0 take a failed rank in hand before it ends every process.
GRACE_S = 15.0
_POLL_S = 0.05
# gloo's words (and the OS's under them) when the process at the other end is gone.
_PEER_GONE = re.compile(
    r"Connection (closed|reset) by peer|remote worker crash|Broken pipe|Connection refused",
    re.IGNORECASE,
)
_EXIT_BUG = 1


class RankFailed(LabError):
    """Another DDP rank's error (or its death), as rank 0 reports it; `exit_code` is lab's
    for that error."""

    def __init__(self, message: str, exit_code: int = EXIT_USER_ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class RankDataFailed(DataError, RankFailed):
    """Another rank's bad data: a `DataError`, so a streamed run's continue advice follows."""


def global_rank() -> int:
    """This process's global rank, from the launcher's environment (0 outside DDP)."""
    for variable in ("RANK", "SLURM_PROCID", "LOCAL_RANK"):
        if variable in os.environ:
            return int(os.environ[variable])
    return 0


def peer_gone(error: BaseException) -> bool:
    """Whether `error` (or what it was raised from) says another rank's process is gone."""
    seen: BaseException | None = error
    for _ in range(8):
        if seen is None:
            return False
        if _PEER_GONE.search(str(seen)):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def error_line(error: BaseException) -> tuple[str, str]:
    """`(kind, line)` of an error: `data` or `lab` (lab's own line), else `bug` with the
    exception's type and first line."""
    found = lab_error_in(error)
    if found is not None:
        return ("data" if isinstance(found, DataError) else "lab"), str(found).split("\n")[0]
    first = str(error).strip().split("\n")[0][:500]
    return "bug", f"{type(error).__name__}: {first}" if first else type(error).__name__


def write_failure(output_dir: Path, rank: int, error: BaseException) -> None:
    """Leave rank `rank`'s error line where rank 0 reads it (never fails: a rank that cannot
    write it is said by its exit code)."""
    kind, line = error_line(error)
    folder = output_dir / FAILURES_DIR
    with suppress(OSError):
        folder.mkdir(exist_ok=True)
        temporary = folder / f".rank{rank}.json.tmp"
        temporary.write_text(json.dumps({"rank": rank, "kind": kind, "line": line}))
        temporary.replace(folder / f"rank{rank}.json")


def read_failures(output_dir: Path) -> dict[int, tuple[str, str]]:
    """The other ranks' error lines: `{rank: (kind, line)}`."""
    found: dict[int, tuple[str, str]] = {}
    for path in sorted((output_dir / FAILURES_DIR).glob("rank*.json")):
        with suppress(OSError, ValueError, KeyError, TypeError):
            data = json.loads(path.read_text())
            found[int(data["rank"])] = (str(data["kind"]), str(data["line"]))
    return found


def clear_failures(output_dir: Path) -> None:
    """Remove the folder of the ranks' error lines (a run starting, or reported)."""
    import shutil

    shutil.rmtree(output_dir / FAILURES_DIR, ignore_errors=True)


def stopped_words(rank: int, returncode: int) -> str:
    """`rank 1 stopped (killed by signal 9: SIGKILL, e.g. the out-of-memory killer)`, or
    `rank 1 stopped (exit code 3)`, for a rank that ended without a word."""
    if returncode < 0:
        number = -returncode
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = "unknown signal"
        hint = ", e.g. the out-of-memory killer" if number == signal.SIGKILL else ""
        return f"rank {rank} stopped (killed by signal {number}: {name}{hint})"
    return f"rank {rank} stopped (exit code {returncode}; its log: train_ddp_process_{rank}.log)"


def stopped_line(words: str, output_dir: Path, overrides: list[str]) -> str:
    """`words` and what continues the run, as a signal's line says it: with a `last.ckpt`,
    the resume; before one, the copy of a best checkpoint to last.ckpt; else start again."""
    from lab.run_dir.endings import (
        best_checkpoint_way_out,
        last_checkpoint,
        resume_command,
        saved_at,
        start_command,
    )

    resume = resume_command(overrides, output_dir)
    again = f"start the run again: {start_command(overrides)}"
    checkpoint = last_checkpoint(output_dir)
    if checkpoint:
        return (
            f"{words}; the last checkpoint is {checkpoint}{saved_at(checkpoint)}. "
            f"Continue with: {resume}"
        )
    if best := best_checkpoint_way_out(output_dir):
        return f"{words}; no last.ckpt was written; {best}: {resume}, or {again}"
    return f"{words}; no checkpoint was written; {again}"


class RankWatch(threading.Thread):
    """Watches the ranks rank 0's launcher started (`procs[i]` is local rank i + 1): notes
    the first that exits non-zero, and ends every process (as Lightning's observer does)
    where rank 0 has not taken that in hand within `grace` seconds (see the module doc)."""

    def __init__(self, procs: list[subprocess.Popen[Any]], grace: float = GRACE_S) -> None:
        super().__init__(daemon=True, name="lab-rank-watch")
        self.procs = procs
        self.grace = grace
        self.handled = threading.Event()
        self.output_dir: Path | None = None

    def first_failure(self) -> tuple[int, int] | None:
        """`(rank, return code)` of the first rank seen ended with a non-zero code."""
        for index, proc in enumerate(self.procs):
            code = proc.poll()
            if code:
                return index + 1, code
        return None

    def run(self) -> None:
        while not self.handled.is_set():
            if all(proc.poll() == 0 for proc in self.procs):
                return
            failure = self.first_failure()
            if failure is not None:
                if not self.handled.wait(self.grace):
                    self._end_all(*failure)
                return
            self.handled.wait(_POLL_S * 4)

    def _end_all(self, rank: int, code: int) -> None:
        said = read_failures(self.output_dir).get(rank) if self.output_dir else None
        line = f"rank {rank}: {said[1]}" if said else stopped_words(rank, code)
        sys.stderr.write(f"error: {line}; rank 0 did not stop by itself: ending every rank\n")
        sys.stderr.flush()
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
        os.kill(os.getpid(), signal.SIGKILL)


_WATCHES: list[RankWatch] = []
# Other ranks' different lines, said after rank 0's own error (`other_ranks_lines`).
_SAID_AFTER: list[str] = []


def watch_ranks(procs: list[subprocess.Popen[Any]]) -> None:
    """Start watching the ranks a launcher started (stands in for Lightning's
    `_launch_process_observer`, `lab.compat.lightning.rank_process_watch`)."""
    watch = RankWatch(procs)
    _WATCHES[:] = [watch]
    watch.start()


def _stop_watching() -> None:
    for watch in _WATCHES:
        watch.handled.set()
    _WATCHES.clear()


def _wait_for_peer(output_dir: Path, timeout: float) -> tuple[int, str, str] | tuple[int, int]:
    """The rank that is gone: `(rank, kind, line)` from its file, else `(rank, code)` from its
    exit; `()` where neither shows within `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        failures = read_failures(output_dir)
        if failures:
            rank = min(failures)
            return rank, *failures[rank]
        for watch in _WATCHES:
            failure = watch.first_failure()
            if failure is not None:
                # Its file may land a moment after its sockets closed: look once more.
                time.sleep(_POLL_S)
                again = read_failures(output_dir).get(failure[0])
                return (failure[0], *again) if again else failure
        if time.monotonic() >= deadline:
            return ()  # type: ignore[return-value]
        time.sleep(_POLL_S)


def reported_failure(output_dir: Path, overrides: list[str]) -> RankFailed | None:
    """The error rank 0 reports for a collective that failed because a peer is gone."""
    found = _wait_for_peer(output_dir, WAIT_S)
    if not found:
        return None
    if len(found) == 2:
        rank, code = found  # type: ignore[misc]
        words = stopped_words(int(rank), int(code))
        exit_code = 128 - int(code) if int(code) < 0 else _EXIT_BUG
        return RankFailed(stopped_line(words, output_dir, overrides), exit_code)
    rank, kind, line = found  # type: ignore[misc]
    if kind == "data":
        return RankDataFailed(f"rank {rank}: {line}")
    return RankFailed(f"rank {rank}: {line}", EXIT_USER_ERROR if kind == "lab" else _EXIT_BUG)


def _other_ranks() -> int:
    """How many ranks besides rank 0 the run has: those its launcher started, else the
    launcher's `WORLD_SIZE` (torchrun, SLURM; Lightning's teardown removes its own)."""
    if _WATCHES:
        return len(_WATCHES[0].procs)
    return max(int(os.environ.get("WORLD_SIZE", "1")) - 1, 0)


def _others_said(output_dir: Path, own: BaseException) -> list[str]:
    """Other ranks' lines that differ from rank 0's own error, found within a moment."""
    _, own_line = error_line(own)
    deadline = time.monotonic() + OTHERS_WAIT_S
    expected = _other_ranks()
    while len(read_failures(output_dir)) < expected and time.monotonic() < deadline:
        if _WATCHES and all(p.poll() is not None for p in _WATCHES[0].procs):
            break
        time.sleep(_POLL_S)
    return [
        f"rank {rank}: {line}"
        for rank, (_, line) in sorted(read_failures(output_dir).items())
        if line != own_line
    ]


@contextmanager
def reported_rank_failures(record: RunRecord) -> Iterator[None]:
    """Around a run's work, inside its record: rank 0 reports another rank's failure in that
    rank's words; the other ranks leave theirs for it (see the module doc)."""
    from lab.run_dir.endings import interrupting_signal

    output_dir = record.output_dir
    rank = global_rank()
    if rank == 0:
        clear_failures(output_dir)
    try:
        yield
    except BaseException as error:
        if interrupting_signal(error) is not None or isinstance(error, SystemExit):
            raise
        if rank != 0:
            if peer_gone(error):  # rank 0 (or another) is gone: its error is its to say
                raise SystemExit(_EXIT_BUG) from None
            write_failure(output_dir, rank, error)
            raise
        _report_on_rank_zero(record, error)
        raise
    finally:
        if rank == 0:
            _stop_watching()


def _report_on_rank_zero(record: RunRecord, error: BaseException) -> None:
    """Raise the failure of another rank that `error` stands for; after an error of rank 0's
    own, say the other ranks' different lines. Returns where there is nothing to add."""
    from lab.run_dir.held_log import write_to_run_log
    from lab.run_dir.run_failure import resumable_data_error

    output_dir = record.output_dir
    for watch in _WATCHES:
        watch.handled.set()  # rank 0 takes it in hand: no kill from the watch
    if _other_ranks() < 1:
        return
    overrides = [str(o) for o in record.data.get("overrides") or []]
    if peer_gone(error):
        failure = reported_failure(output_dir, overrides)
        if failure is None:
            return
        clear_failures(output_dir)
        if resumable_data_error(output_dir, record.data, failure) is None:
            write_to_run_log(output_dir, f"the run failed: {failure}", logging.ERROR)
        raise failure from None  # gloo's traceback is not the story
    if lab_error_in(error) is None:
        return
    for line in _others_said(output_dir, error):
        _SAID_AFTER.append(line)
        write_to_run_log(output_dir, line, logging.ERROR)
    clear_failures(output_dir)


def other_ranks_lines() -> list[str]:
    """The other ranks' lines that differ from rank 0's own error (`rank N: <line>`), to be
    said after it; each is returned once."""
    lines = list(_SAID_AFTER)
    _SAID_AFTER.clear()
    return lines
