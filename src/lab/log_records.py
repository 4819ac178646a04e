"""Marks on lab's own log records that say where a record is shown (no imports of lab's).

`FILE_ONLY_RECORD`: `log.info(..., extra=FILE_ONLY_RECORD)` marks a lab record as a report for
the run's log file only (`<run dir>/train.log`), not a line for the screen: a note that needs
no action, such as a split carved from train. The console filter of `lab.training.console`
(`QuietConsole`) honours it: it drops a marked record from the console (`hydra.verbose` shows
it again); the log file's handler writes it like any other.

A module of its own so that code of every layer (data, training, tools) can mark a record
without importing the console set-up.
"""

from __future__ import annotations

import logging

FILE_ONLY_ATTRIBUTE = "lab_file_only"  # the LogRecord attribute `extra=FILE_ONLY_RECORD` sets
FILE_ONLY_RECORD = {FILE_ONLY_ATTRIBUTE: True}


def is_file_only(record: logging.LogRecord) -> bool:
    """Whether `record` was logged with `extra=FILE_ONLY_RECORD` (the log file only)."""
    return bool(getattr(record, FILE_ONLY_ATTRIBUTE, False))
