"""A grid sweep runs at most its grid's points.

Optuna's grid sampler, asked for more trials than the grid has, starts over and runs points
again (with only a warning of its own): `n_trials` is a budget, and a 2x2x2 grid under the
sweep file's `n_trials: 12` would train 4 duplicates. The sweep's budget is cut to the grid's
size instead, with one info line saying so.
"""

from __future__ import annotations

import logging
import math
from typing import Any

log = logging.getLogger(__name__)


def grid_trials(grid: dict[str, list[Any]], n_trials: int) -> int:
    """The trials a grid sweep runs: `n_trials`, or the grid's size when that is smaller."""
    size = math.prod(len(values) for values in grid.values())
    if n_trials <= size:
        return n_trials
    log.info("the grid has %d points: %d trials, not %d", size, size, n_trials)
    return size
