"""Keep the console readable: one copy of each log line, no advertising, no library noise.

Called by `lab.train.run` after Lightning is imported; Hydra has already sent log records to
the console and to `<run dir>/train.log` by then.
"""

from __future__ import annotations

import logging
import warnings


class _DropTips(logging.Filter):
    """Drops Lightning's product tips (e.g. 'try installing litlogger')."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Tip:" not in record.getMessage()


def tame_library_output() -> None:
    """Remove duplicate console handlers and known-harmless warnings of our dependencies."""
    # `import lightning` attaches its own console handler; Hydra's root handlers already print
    # (and file) every record, so without this each Lightning line appears twice.
    lightning_logger = logging.getLogger("lightning")
    for handler in list(lightning_logger.handlers):
        lightning_logger.removeHandler(handler)
    rank_zero = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if not any(isinstance(f, _DropTips) for f in rank_zero.filters):
        rank_zero.addFilter(_DropTips())
    # Lightning 2.6 on torch 2.13 warns about its own use of a deprecated torch API.
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
