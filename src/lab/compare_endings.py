"""How each run that `lab.compare` leaves out for want of `metrics.json` ended, in words.

The line on them said "failed, interrupted or pruned" of every such run (s32e F4): a run
SIGKILLed (out of memory, a machine gone) keeps `status: running` in its record forever, and a
seed study compared while it still trains read as failed. Each is now told by its record's
status and its lock (`lab.run_dir.run_lock`: a process that trains a run holds it, and the
kernel frees it however the process ends, as `resume=auto` tells them apart): `failed`,
`interrupted (SIGTERM)`, `pruned`, `being trained now` (the lock is held: still running), or
`process gone: killed?` (the record says running and no process holds the lock). The line
counts them by kind: `2 failed, 1 interrupted, 1 still running, 1 whose process is gone
(killed?)`.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

# The kinds, in the order the count names them (any other status follows, as recorded).
FAILED, INTERRUPTED, PRUNED = "failed", "interrupted", "pruned"
RUNNING, GONE = "still running", "whose process is gone (killed?)"
KINDS = (FAILED, INTERRUPTED, PRUNED, RUNNING, GONE)


def ending(run: Path) -> tuple[str, str]:
    """`(kind, what to say after the run's folder)` of a run without metrics.json: `(failed,
    failed)`, `(interrupted, interrupted (SIGTERM))`, `(still running, being trained now)`,
    `(whose process is gone (killed?), process gone: killed?)`, ... A status lab does not
    write for an unfinished run (`finished` with its metrics.json deleted) is said as
    recorded; a record that cannot be read, as such."""
    from lab.run_dir.run_lock import held_elsewhere

    if held_elsewhere(run):
        return RUNNING, "being trained now"
    status = _status(run)
    if status is None:
        return "with no readable status", "no readable status"
    for kind in (FAILED, INTERRUPTED, PRUNED):
        if status.startswith(kind):
            # An interruption's status names the signal: `interrupted (SIGTERM); continue ...`
            return kind, status.split(";")[0] if kind == INTERRUPTED else kind
    if status == "running":
        return GONE, "process gone: killed?"
    word = status.split(";")[0].split(":")[0]
    return f"with status {word!r}", f"status {word!r}"


def count_phrase(kinds: list[str]) -> str:
    """`2 failed, 1 interrupted, 1 still running`: how many runs of each kind, lab's kinds
    in a fixed order, then any other as first met."""
    counts = Counter(kinds)
    order = [*(k for k in KINDS if k in counts), *(k for k in counts if k not in KINDS)]
    return ", ".join(f"{counts[kind]} {kind}" for kind in order)


def _status(run: Path) -> str | None:
    """The run's recorded status, or None where its record or its status cannot be read."""
    try:
        record = json.loads((run / "record.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    status = record.get("status") if isinstance(record, dict) else None
    return status if isinstance(status, str) and status else None
