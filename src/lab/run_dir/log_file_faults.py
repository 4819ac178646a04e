"""A run's log file that the disk refuses: said in one line, then left alone.

Hydra's file handler writes every log record into `<run dir>/train.log` and flushes it. On
a full disk (a quota, a read-only file system) each flush fails, and Python's logging answers
each failure with `--- Logging error ---`, the write's chained traceback and the call stack
of the log call: 120 lines on stderr for one warning, before lab's one-line error (s26 H3).

`quiet_on_write_faults(directory)` gives each of the root logger's file handlers inside the
run directory a `handleError` of its own: the first `OSError` it meets is said once, as a
warning naming the file and the OS reason, and from then on the handler writes nothing (its
file is closed; the console still shows every line). An error that is not the OS refusing
the file (a log call whose arguments do not fit its message: a bug) is reported as logging
always reports it.

`handleError` is logging's documented hook for a handler's errors ("this method can be
overridden"). Hydra builds the handler from `hydra.job_logging`, so it is set on the
handler objects, which live as long as the Hydra job that made them (a multirun's next job
gets new ones): nothing is left patched after them.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path

from lab.run_dir.disk import describe_os_error
from lab.run_dir.held_log import run_file_handlers

log = logging.getLogger(__name__)


class _WriteNothing(logging.Filter):
    """Refuses every record: on a handler whose file the OS refused."""

    def filter(self, record: logging.LogRecord) -> bool:
        return False


class _StopOnWriteFault:
    """A file handler's `handleError`: an `OSError` stops the handler after one warning;
    anything else goes to logging's own report (`default`)."""

    def __init__(self, handler: logging.FileHandler) -> None:
        self.handler = handler
        self.default = handler.handleError
        self.stopped = False

    def __call__(self, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        if not isinstance(error, OSError):
            self.default(record)
            return
        if self.stopped:
            return
        self.stopped = True
        # First: the warning below must not come back to this handler.
        self.handler.addFilter(_WriteNothing())
        with contextlib.suppress(OSError, ValueError):  # its buffer cannot be flushed either
            self.handler.close()
        log.warning(
            "%s; no more lines go to it in this run (the console still shows them)",
            describe_os_error(error, self.handler.baseFilename),
        )


def quiet_on_write_faults(directory: Path) -> None:
    """Make each root-logger file handler inside `directory` (Hydra's `train.log`) stop
    writing, after one warning, at the first OS refusal to write its file (see the module
    docstring). Handlers already set up are left as they are."""
    for handler in run_file_handlers(directory):
        if not isinstance(handler.handleError, _StopOnWriteFault):
            handler.handleError = _StopOnWriteFault(handler)  # type: ignore[method-assign]
