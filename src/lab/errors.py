"""User-facing errors.

A `LabError` means the user's input is wrong (config, data, files), not that the code is. The
entry points print its message alone, without a traceback, and exit with `EXIT_USER_ERROR`.
"""

from __future__ import annotations

EXIT_USER_ERROR = 2
# 128 + SIGTERM, the shell's convention: stopped by a signal (after saving a checkpoint).
EXIT_INTERRUPTED = 143


class LabError(Exception):
    """An error in the user's config or data, reported as one readable message."""


class ConfigError(LabError):
    """The composed config asks for something impossible or inconsistent."""


class DataError(LabError):
    """A data file or dataset is missing, unreadable, or does not have the expected shape."""
