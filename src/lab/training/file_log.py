"""The format of `<run dir>/train.log`: Hydra's, as plain text.

Libraries colour some of their log messages for a terminal (transformers' LOAD REPORT title is
bold: `\\x1b[1m...\\x1b[0m`). The console shows the colour; in a file the escape sequences are
noise (`^[[1m` in `less`, in a batch job's log, in a grep). `PlainFileFormatter`, the file
handler's formatter (`conf/hydra/default.yaml`), writes each record without them.
"""

from __future__ import annotations

import logging
import re

#: Hydra's own format of a job's log file (hydra/job_logging/default.yaml's `simple`)
HYDRA_FILE_FORMAT = "[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"

# CSI sequences (colours, cursor moves: ESC [ ... final byte), OSC sequences (a terminal
# hyperlink or title: ESC ] ... BEL or ESC \), and the other two-byte escapes.
ANSI_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


def strip_ansi(text: str) -> str:
    """`text` without terminal escape sequences."""
    return ANSI_ESCAPE.sub("", text)


class PlainFileFormatter(logging.Formatter):
    """Hydra's log-file format (`fmt`, by default `HYDRA_FILE_FORMAT`) without terminal
    escape sequences, in the message or in a traceback."""

    def __init__(self, fmt: str = HYDRA_FILE_FORMAT, datefmt: str | None = None) -> None:
        super().__init__(fmt, datefmt)

    def format(self, record: logging.LogRecord) -> str:
        """The record as Hydra's formatter writes it, escape sequences removed."""
        return strip_ansi(super().format(record))
