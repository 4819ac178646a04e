"""User-facing errors.

A `LabError` means the user's input is wrong (config, data, files), not that the code is. The
entry points print its message alone, without a traceback, and exit with `EXIT_USER_ERROR`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator

EXIT_USER_ERROR = 2
# 128 + SIGTERM, the shell's convention: stopped by a signal (after saving a checkpoint).
EXIT_INTERRUPTED = 143
# 128 + SIGUSR1: stopped the same way by SLURM's warning before a time limit
# (`#SBATCH --signal=USR1@90`; `lab.tool_interrupts.STOP_SIGNALS`). A job script that
# requeues on this code continues the run with `resume=auto`.
EXIT_INTERRUPTED_SIGUSR1 = 138


class LabError(Exception):
    """An error in the user's config or data, reported as one readable message."""


class ConfigError(LabError):
    """The composed config asks for something impossible or inconsistent."""


class MetricNotLogged(ConfigError):
    """The metric a run optimizes (or a sweep ranks) is not among those its validation logs:
    the same for every run of a sweep, so the sweep stops at the first."""


class DataError(LabError):
    """A data file or dataset is missing, unreadable, or does not have the expected shape.

    `stand_in`: the row it names stands for a cause that may lie in another split read from
    the same file (a column of numbers read as text because of one cell somewhere in the
    file); `lab.data.first_bad_row` then looks for that cell in file order.
    """

    stand_in: bool = False


def exception_chain(error: BaseException) -> Iterator[BaseException]:
    """`error`, then what it was raised from or while handling (`__cause__`, else
    `__context__`), and so on: each exception once, so a chain that loops back ends."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def lab_error_in(error: BaseException) -> LabError | None:
    """The `LabError` that `error` is or was raised from (Hydra's `instantiate` wraps the
    errors of the objects it builds), or None. One that a DataLoader worker raised comes
    back with its own message (`unwrapped`), not torch's worker traceback."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, LabError):
            return unwrapped(seen)
        seen = seen.__cause__
    return None


# torch re-raises an exception from a DataLoader worker process (or its pin-memory thread) in
# the main process as the same type, built from one message that holds the worker's whole
# traceback (`torch._utils.ExceptionWrapper.reraise`):
#     Caught DataError in DataLoader worker process 0.
#     Original Traceback (most recent call last):
#       File ".../torch/utils/data/_utils/worker.py", line 374, in _worker_loop
#       ...
#     lab.errors.DataError: <the message>
# Matched on torch's wording, not imported: lab.errors is imported before torch is.
_WORKER_WRAPPED = re.compile(r"Caught \w+ [^\n]*\.\nOriginal (?P<original>.*)", re.DOTALL)


def worker_message(error: BaseException) -> str | None:
    """The message `error` had where it was raised, when torch re-raised it from a DataLoader
    worker (`_WORKER_WRAPPED`): the text after the last `<module>.<type>: ` line of the
    worker's traceback, every line of it; None for an error not wrapped so.

    The last such line is the error itself: a traceback ends with it, and an error raised
    from another is printed after the one it was raised from."""
    text = str(error)
    matched = _WORKER_WRAPPED.match(text)
    if matched is None:
        return None
    kind = type(error)
    name = kind.__qualname__
    if kind.__module__ not in ("builtins", "__main__"):  # as `traceback` prints the type
        name = f"{kind.__module__}.{name}"
    original = "\n" + matched["original"]
    start = original.rfind(f"\n{name}: ")
    if start >= 0:
        return original[start + len(name) + 3 :].removesuffix("\n")
    if original.endswith(f"\n{name}\n"):  # raised with no message
        return ""
    return None


def unwrapped(error: LabError) -> LabError:
    """`error`, or where torch re-raised it from a DataLoader worker (`worker_message`), a copy
    that says its own message only: the user reads one readable message, as when the same
    row fails with `data.num_workers=0` (s28a H2). The copy is raised from `error`, so a
    traceback printed for a bug report still shows the worker's."""
    message = worker_message(error)
    if message is None:
        return error
    clean = copy.copy(error)  # of the same type, and its attributes (a `DataError.stand_in`)
    clean.args = (message,)
    clean.__cause__ = error
    return clean
