"""`python -m lab.train --help` without lab's internal config groups.

Hydra's help lists every config group on the search path, so `data/base`, `data/base/inspect`
and `model/base` (the YAMLs lab's own data and model options build on, and the heads'
inspection declarations) read as options a user composes from (s30e F7). They are left out
of the printed help; the README's table of groups lists the same as what remains.
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, redirect_stdout

# A help line naming a group whose path has a `base` folder: `data/base/inspect: causal_lm, ...`
_INTERNAL_GROUP = re.compile(r"^[\w-]+(?:/[\w-]+)*/base(?:/[\w-]+)*: ")


def hide_internal_groups(text: str) -> str:
    """`text` (Hydra's help) without its lines on lab's internal groups."""
    kept = [line for line in text.splitlines(keepends=True) if not _INTERNAL_GROUP.match(line)]
    return "".join(kept)


@contextmanager
def internal_groups_hidden(argv: Sequence[str]) -> Iterator[None]:
    """Print Hydra's `--help` (asked for in `argv`) without the internal groups; otherwise
    nothing is held back."""
    if not any(arg in ("-h", "--help") for arg in argv):
        yield
        return
    printed = io.StringIO()
    try:
        with redirect_stdout(printed):
            yield
    finally:
        sys.stdout.write(hide_internal_groups(printed.getvalue()))
