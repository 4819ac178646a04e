"""absl's logging handler (imported with ROUGE's `rouge_score`) must not close a stream it
does not own.

absl creates its handler at import, on the `sys.stderr` of that moment, and Python keeps every
handler in `logging._handlerList`. Any later `logging.config.dictConfig` (Hydra's job logging,
`lab.reproduce.run_log`) shuts all of them down, and absl's `close()` closes its stream unless
it is the `sys.stderr` / `sys.stdout` of *that* moment. In a process that swaps the streams
(pytest's capture, a notebook's kernel) the stream from import time is someone else's: closing
it broke every later test of a pytest worker ("I/O operation on closed file", "lost
sys.stderr"). Pointed at `sys.__stderr__`, which absl never closes, the handler writes where it
would in a plain process.
"""

from __future__ import annotations

import sys


def keep_absl_off_borrowed_streams() -> None:
    """If absl's logging is imported, point its handler at the process's own stderr."""
    absl_logging = sys.modules.get("absl.logging")
    if absl_logging is None or sys.__stderr__ is None:
        return
    handler = absl_logging.get_absl_handler().python_handler
    if handler.stream is not sys.__stderr__:
        handler.setStream(sys.__stderr__)
