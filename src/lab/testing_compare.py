"""The numbers of `lab.testing` and `lab.reproduce`: when a metric reproduces, how far it moved,
and which logged names a missing one may have meant."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from typing import Any

# A failure lists this many keys (or logged names), then says how many more there are.
SHOWN = 20


def within_tolerance(got: float, want: float, *, rtol: float, atol: float) -> bool:
    """|got - want| <= atol + rtol*|want|; an infinity only matches itself, and two NaNs
    match: a diverged run that diverges again reproduces (s27e H1). The one rule of
    `compare_metrics`, `lab.reproduce` and `assert_golden`."""
    got, want = float(got), float(want)
    if math.isnan(got) or math.isnan(want):
        return math.isnan(got) and math.isnan(want)
    if math.isinf(got) or math.isinf(want):  # no tolerance reaches or leaves an infinity
        return got == want
    return abs(got - want) <= atol + rtol * abs(want)


def compare_metrics(
    actual: Mapping[str, float],
    expected: Mapping[str, float],
    *,
    rtol: float = 0.0,
    atol: float = 0.0,
) -> list[tuple[str, float, float | None, bool]]:
    """Rows `(name, expected, actual, ok)`; ok by `within_tolerance`, not ok where missing."""
    rows = []
    for name, want in expected.items():
        got = actual.get(name)
        ok = got is not None and within_tolerance(got, want, rtol=rtol, atol=atol)
        rows.append((name, float(want), None if got is None else float(got), ok))
    return rows


def off_by(want: Any, got: Any) -> str:
    """` (off by +0.0131, +4.3%)`: how far a number moved from the one it was compared with
    (the relative part where `want` is not 0, to 3 significant digits, so that a small real
    change reads `+0.00423%`, never `+0.00%`); "" for what is no number (a missing metric,
    a NaN)."""
    numbers = (int, float)
    if not isinstance(want, numbers) or not isinstance(got, numbers) or isinstance(got, bool):
        return ""
    if math.isnan(float(got)) or math.isnan(float(want)):
        return ""
    delta = float(got) - float(want)
    relative = f", {100 * delta / abs(float(want)):+.3g}%" if want else ""
    return f" (off by {delta:+.3g}{relative})"


def logged_names(missing: str, logged: Iterable[str]) -> str:
    """`logged: test/acc, test/f1, ... (and 3 more)`: the names there are, the closest to the
    missing one first (a typo's intended name leads)."""
    names = sorted(logged, key=lambda n: (-difflib.SequenceMatcher(None, missing, n).ratio(), n))
    if not names:
        return "nothing was logged"
    more = f" (and {len(names) - SHOWN} more)" if len(names) > SHOWN else ""
    return f"logged: {', '.join(names[:SHOWN])}{more}"


def and_more(lines: list[str]) -> list[str]:
    """The first SHOWN lines, and `... and N more` where there are more."""
    if len(lines) <= SHOWN:
        return lines
    return [*lines[:SHOWN], f"... and {len(lines) - SHOWN} more"]
