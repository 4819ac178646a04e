"""User-facing errors.

A `LabError` means the user's input is wrong (config, data, files), not that the code is. The
entry points print its message alone, without a traceback, and exit with `EXIT_USER_ERROR`.
"""

from __future__ import annotations

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
    errors of the objects it builds), or None."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, LabError):
            return seen
        seen = seen.__cause__
    return None
