"""Is a RUNNING trial still being worked on? Heartbeats and process checks.

A sweep process that is killed (SIGKILL, a node lost, Ctrl-C) leaves its trial RUNNING in the
storage. Each worker stamps its running trial with its host, pid and a heartbeat every
`interval` seconds. A RUNNING trial is *abandoned* when its process is gone (same host, pid not
alive: known at once) or its heartbeat is older than `stale_after` seconds (another host).
A worker claims an abandoned trial and runs it again under the same number, so a resumed
sweep has no gaps and no duplicates. Each attempt also records when it started (`STARTED`):
a re-run trial's duration is its last attempt's, not the time since the first one began
(which would count the hours the sweep was down).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

HOST = "lab:host"
PID = "lab:pid"
HEARTBEAT = "lab:heartbeat"
STARTED = "lab:started"  # when this attempt at the trial began (time.time())


def stamp(storage: Any, trial_id: int) -> None:
    """Mark `trial_id` as run by this process, from now (the start of this attempt)."""
    now = time.time()
    storage.set_trial_system_attr(trial_id, HOST, socket.gethostname())
    storage.set_trial_system_attr(trial_id, PID, os.getpid())
    storage.set_trial_system_attr(trial_id, STARTED, now)
    storage.set_trial_system_attr(trial_id, HEARTBEAT, now)


def is_abandoned(trial: Any, stale_after: float, now: float | None = None) -> bool:
    """True when the RUNNING `trial` (a FrozenTrial) has no live process behind it."""
    attrs = trial.system_attrs
    now = time.time() if now is None else now
    if attrs.get(HOST) == socket.gethostname() and PID in attrs:
        return not _pid_alive(int(attrs[PID]))
    if HEARTBEAT in attrs:
        return now - float(attrs[HEARTBEAT]) > stale_after
    started = trial.datetime_start.timestamp() if trial.datetime_start else now
    return now - started > stale_after  # asked, then died before its first stamp


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """Whether `pid` has exited and waits to be reaped: a sweep worker killed (SIGKILL, the
    OOM killer) stays a zombie child of the sweep process that waits on its other workers,
    and `os.kill(pid, 0)` still succeeds for it; taken for alive, its trial was waited for
    forever (s25c H3). Linux's /proc says; without one, `os.kill`'s answer stands."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    fields = stat.rsplit(")", 1)[-1].split()  # after the command name, which may hold spaces
    return bool(fields) and fields[0] == "Z"


class Heartbeat:
    """A daemon thread that re-stamps a trial every `interval` seconds while it runs."""

    def __init__(self, storage: Any, trial_id: int, interval: float) -> None:
        self._storage = storage
        self._trial_id = trial_id
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="lab-sweep-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        stamp(self._storage, self._trial_id)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._storage.set_trial_system_attr(self._trial_id, HEARTBEAT, time.time())
            except Exception:  # the trial finished between two beats, or the DB is busy
                if self._stop.is_set():
                    return


# The trial this process's worker has launched and not yet told the study of: set when its job
# starts, cleared when it returns, and left set when a signal ends the job, so the words for
# the interruption (`lab.train.interrupted_line`) can name it (s29b F4).
_in_flight: list[int] = []


def launched(number: int | None) -> None:
    """Note trial `number` as launched by this process (None: no trial in flight)."""
    _in_flight[:] = [] if number is None else [number]


def trial_in_flight() -> int | None:
    """The trial this process launched and has not finished, or None."""
    return _in_flight[0] if _in_flight else None
