"""Hold back the log lines bound for a run directory's files until the run may write there.

A resume is checked in steps, some of which need the data and the model built (the data's
fingerprints, the checkpoint's weights against the model), and building logs: the data and
model lines, the libraries' load reports. Hydra's file handler would append them to the
run's `train.log` even when the resume is then refused, and a refused resume leaves the run
directory as it was. So while a resume is being checked, the lines bound for a file inside
the run directory are kept in memory (the console shows them at once): written, with their
own times, once the resume is accepted (`release`), dropped when it is refused (`drop`).
"""

from __future__ import annotations

import logging
from pathlib import Path


class _Hold(logging.Filter):
    """On one handler: keep each record instead of letting the handler write it."""

    def __init__(self, handler: logging.Handler) -> None:
        super().__init__()
        self.handler = handler
        self.records: list[logging.LogRecord] = []

    def filter(self, record: logging.LogRecord) -> bool:
        self.records.append(record)
        return False


class HeldFileLog:
    """Holds the root logger's file handlers that write inside `directory` (Hydra's
    `train.log`) from now until `release()` or `drop()`."""

    def __init__(self, directory: Path) -> None:
        self._holds = [_Hold(handler) for handler in run_file_handlers(directory)]
        for hold in self._holds:
            hold.handler.addFilter(hold)

    def release(self) -> None:
        """Write the held lines (in order, with the times they were logged) and stop holding."""
        for hold in self._stop():
            for record in hold.records:
                hold.handler.handle(record)

    def drop(self) -> None:
        """Forget the held lines and stop holding: the files are as they were."""
        self._stop()

    def _stop(self) -> list[_Hold]:
        holds, self._holds = self._holds, []
        for hold in holds:
            hold.handler.removeFilter(hold)
        return holds


def write_to_run_log(directory: Path, message: str, level: int = logging.WARNING) -> None:
    """`message` into the root logger's files inside `directory` (the run's `train.log`)
    only: for a line the console has already shown in its own words (an interruption's
    advice), which the run's log would otherwise lack."""
    record = logging.LogRecord("lab.train", level, __file__, 0, message, None, None)
    for handler in run_file_handlers(directory):
        handler.handle(record)


def run_file_handlers(directory: Path) -> list[logging.FileHandler]:
    """The root logger's file handlers that write inside `directory` (Hydra's `train.log`)."""
    inside = directory.resolve()
    return [
        handler
        for handler in logging.getLogger().handlers
        if isinstance(handler, logging.FileHandler)
        and Path(handler.baseFilename).resolve().is_relative_to(inside)
    ]
