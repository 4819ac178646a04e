"""How the sweep process's own lines look: Hydra's format, with a warning's level in front.

The sweep process (Hydra's launcher, the `lab_optuna` sweeper, the W&B summary) logs through
Hydra's `hydra_logging` config, whose format is `[time][HYDRA] message` for every record: a
warning there ("W&B summary of study ... not written") read like any progress line. This keeps
that format, so the sweep's lines stay apart from the trials' (which use the run console's,
`lab.training.console`), and puts the level first in a warning or error as a run's console does:
`[time][HYDRA] warning: ...`, naming the logger when it is not lab's.
"""

from __future__ import annotations

import logging

HYDRA_FORMAT = "[%(asctime)s][HYDRA] %(message)s"  # Hydra's own hydra_logging format


def _is_lab(name: str) -> bool:
    return name.split(".")[0] in ("lab", "__main__") or name.startswith("hydra_plugins.lab_")


class SweepLogFormatter(logging.Formatter):
    """Hydra's `[time][HYDRA] message`, with `warning: ` (or `error: `) before the message of
    a record at that level, and the logger's name after it when the record is not lab's."""

    def __init__(self) -> None:
        super().__init__(HYDRA_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        if record.levelno < logging.WARNING:
            return super().formatMessage(record)
        level = record.levelname.lower()
        who = "" if _is_lab(record.name) else f" ({record.name})"
        # A copy: the record's own text stays as it was for any other handler.
        marked = logging.makeLogRecord(record.__dict__)
        marked.message = f"{level}{who}: {record.message}"
        return super().formatMessage(marked)
