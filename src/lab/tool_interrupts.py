"""Ctrl-C (SIGINT) and SIGTERM in the tools `run_tool` runs (`lab.eval`, `lab.predict`,
`lab.export`, ...): exit 128 + the signal's number (130, 143) with one line saying what was
interrupted and what is left, as `lab.train` does, never a traceback.

* A tool wraps its work in `on_interrupt(left)`: `left` (a text, or a function giving it once
  the interruption is known) says what the interruption leaves, e.g. `nothing was written`.
  Code that cleans up after itself (a staged export folder removed, predicted rows kept in a
  partial file) raises `ToolInterrupted` with its own words, which outer wrappers keep.
* `signal_of(error)` tells an interruption from other errors: Python's `KeyboardInterrupt`,
  ours, and Lightning's `sys.exit(1)` after a Ctrl-C inside a Trainer's loop (it catches the
  interrupt, shuts down, and exits 1: the interrupt is that exit's context).
* `sigterm_interrupts()` makes SIGTERM interrupt a tool the same way (its default action kills
  the process before any clean-up, leaving temporary files and half-written folders).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType


class ToolInterrupted(KeyboardInterrupt):
    """A tool stopped by `signal_name`; `left` says what it leaves (its message's end). A
    `KeyboardInterrupt`, so a library's Ctrl-C handling (Lightning's shutdown) applies to it."""

    def __init__(self, signal_name: str = "SIGINT", left: str = "") -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name
        self.left = left


def signal_of(error: BaseException) -> str | None:
    """The signal that interrupted a tool, if `error` reports one (`SIGINT`, `SIGTERM`)."""
    if isinstance(error, ToolInterrupted):
        return error.signal_name
    if isinstance(error, KeyboardInterrupt):
        return "SIGINT"
    if isinstance(error, SystemExit) and error.code not in (0, None) and error.__context__:
        return signal_of(error.__context__)  # Lightning: Ctrl-C in a loop becomes sys.exit(1)
    return None


def exit_code(signal_name: str) -> int:
    """The shell's code for a process stopped by `signal_name`: 130 for SIGINT, 143 SIGTERM."""
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
    raise ToolInterrupted(signal.Signals(signum).name)


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Inside the block, SIGTERM raises `ToolInterrupted` (its clean-up runs, its line is
    said) instead of killing the process. Left alone where a handler is set already (a
    server's own) or off the main thread (signals are delivered there only)."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
