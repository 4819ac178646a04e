"""Ctrl-C (SIGINT), SIGTERM and SIGUSR1 in the tools `run_tool` runs (`lab.eval`,
`lab.predict`, `lab.export`, ...): exit 128 + the signal's number (130, 143, 138) with one line
saying what was interrupted and what is left, as `lab.train` does, never a traceback.

* A tool wraps its work in `on_interrupt(left)`: `left` (a text, or a function giving it once
  the interruption is known) says what the interruption leaves, e.g. `nothing was written`.
  Code that cleans up after itself (a staged export folder removed, predicted rows kept in a
  partial file) raises `ToolInterrupted` with its own words, which outer wrappers keep.
* `signal_of(error)` tells an interruption from other errors: Python's `KeyboardInterrupt`,
  ours, and Lightning's `sys.exit(1)` after a Ctrl-C inside a Trainer's loop (it catches the
  interrupt, shuts down, and exits 1: the interrupt is that exit's context).
* `sigterm_interrupts()` makes SIGTERM and SIGUSR1 (`STOP_SIGNALS`) interrupt a tool the same
  way (their default action kills the process before any clean-up, leaving temporary files and
  half-written folders).

SIGUSR1 is what SLURM sends ahead of a job's time limit when asked to (`#SBATCH
--signal=USR1@90`), and what Lightning's own SLURM auto-requeue listens for. lab treats it as
it treats SIGTERM, everywhere: a tool stops in words, and `lab.train` saves `last.ckpt` and
exits 138 (`lab.training.checkpointing.PreemptionCheckpoint`); the job script requeues, and
`resume=auto` continues. One signal, one meaning, whether or not SLURM is there: Lightning's
auto-requeue (an `hpc_ckpt_<n>.ckpt` beside the run, which lab's resume would not read, and
an `scontrol requeue` of its own) is switched off (`lab.training.trainer.cluster_plugins`).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

# The signals that stop lab's commands in words, as Ctrl-C does: SIGTERM (`kill`, a scheduler's
# preemption or cancel) and SIGUSR1 (SLURM's warning before the time limit: see above).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


class ToolInterrupted(KeyboardInterrupt):
    """A tool stopped by `signal_name`; `left` says what it leaves (its message's end). A
    `KeyboardInterrupt`, so a library's Ctrl-C handling (Lightning's shutdown) applies to it."""

    def __init__(self, signal_name: str = "SIGINT", left: str = "") -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name
        self.left = left


def signal_of(error: BaseException) -> str | None:
    """The signal that interrupted a tool, if `error` reports one (`SIGINT`, `SIGTERM`,
    `SIGUSR1`)."""
    if isinstance(error, ToolInterrupted):
        return error.signal_name
    if isinstance(error, KeyboardInterrupt):
        return "SIGINT"
    if isinstance(error, SystemExit) and error.code not in (0, None) and error.__context__:
        return signal_of(error.__context__)  # Lightning: Ctrl-C in a loop becomes sys.exit(1)
    return None


def exit_code(signal_name: str) -> int:
    """The shell's code for a process stopped by `signal_name`: 130 for SIGINT, 143 SIGTERM,
    138 SIGUSR1."""
    return 128 + signal.Signals[signal_name].value


def interrupted_line(error: BaseException) -> str | None:
    """`interrupted by <signal>; <what is left>` for an interruption, else None."""
    name = signal_of(error)
    if name is None:
        return None
    left = error.left if isinstance(error, ToolInterrupted) else ""
    return f"interrupted by {name}; {left or 'stopped'}"


@contextmanager
def on_interrupt(left: str | Callable[[], str]) -> Iterator[None]:
    """Inside the block, an interruption becomes a `ToolInterrupted` saying `left` (called
    after the clean-up of the code inside, when a function); one that already says what it
    left passes unchanged."""
    try:
        yield
    except BaseException as err:
        name = signal_of(err)
        if name is None or (isinstance(err, ToolInterrupted) and err.left):
            raise
        raise ToolInterrupted(name, left() if callable(left) else left) from None


def _stop(signum: int, frame: FrameType | None) -> None:
    if not deferred_while_importing(signum, frame):
        raise ToolInterrupted(signal.Signals(signum).name)


# How long a signal that arrived inside an import waits before it is delivered again.
IMPORT_RETRY_S = 0.05


def deferred_while_importing(signum: int, frame: FrameType | None) -> bool:
    """Whether the handler of `signum` should not raise now, because `frame` (the code the
    signal interrupted) runs inside Python's import machinery: the signal is then sent to this
    process again `IMPORT_RETRY_S` later, until it lands outside an import.

    Why (s25a H1): an exception raised inside an import leaves half-initialised modules
    (torch, Lightning) in `sys.modules`, and what runs next (the interruption's own message)
    fails on them with a traceback; one raised inside importlib's module-lock callback is
    printed as "Exception ignored" and lost, and the run trained on to the end, its SIGTERM
    (a scheduler's preemption) ignored. Deferred, it stops the run a few milliseconds after
    the import it interrupted finishes."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            import os

            retry = threading.Timer(IMPORT_RETRY_S, os.kill, (os.getpid(), signum))
            retry.daemon = True
            retry.start()
            return True
        frame = frame.f_back
    return False


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Inside the block, SIGTERM and SIGUSR1 (`STOP_SIGNALS`) raise `ToolInterrupted` (its
    clean-up runs, its line is said) instead of killing the process. A signal that has a
    handler already (a server's own) keeps it; off the main thread nothing changes (signals
    are delivered to the main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {
        signum: signal.signal(signum, _stop)
        for signum in STOP_SIGNALS
        if signal.getsignal(signum) is signal.SIG_DFL
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
