"""How much of the machine other processes used while lab timed its models.

The export report times PyTorch against onnxruntime side by side. A busy machine skews that
far: with another process on one of 2 cores, PyTorch's two threads wait for each other at
every operation (434 ms a row against 6.6 ms idle, measured), while onnxruntime's sessions,
built without spinning threads, barely notice, and a "65x" would go into the model card.
`OtherLoad` measures, from the kernel's counters (Linux `/proc/stat`), the CPU time every
process spent during the timing less this process's own: the cores others kept busy.
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path
from types import TracebackType

# Others' load (in cores) from which the timings are said to be unreliable.
BUSY_CORES = 0.25


def _busy_seconds() -> float | None:
    """CPU seconds the whole machine has spent busy (user, nice, system, irq, softirq) since
    boot; None where `/proc/stat` cannot be read."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq = fields[:7]
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class OtherLoad:
    """`with OtherLoad() as load: ...`, then `load.cores`: how many cores other processes kept
    busy on average meanwhile (None where the machine does not say)."""

    cores: float | None = None

    def __enter__(self) -> OtherLoad:
        self._start = (_busy_seconds(), _own_seconds(), time.monotonic())
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        busy, own, wall = _busy_seconds(), _own_seconds(), time.monotonic()
        if busy is None or self._start[0] is None or wall <= self._start[2]:
            return
        others = (busy - self._start[0]) - (own - self._start[1])
        self.cores = max(others, 0.0) / (wall - self._start[2])


def contention_note(others: float | None, threads: int) -> str | None:
    """What to say of timings taken while other processes kept `others` cores busy; None
    when the machine was (nearly) free for them."""
    if others is None or others < BUSY_CORES:
        return None
    return (
        f"other processes kept {others:.1f} of this machine's {os.cpu_count()} cores busy while "
        f"the models were timed with {threads} thread(s): the timings, PyTorch's most (its "
        "threads wait for each other), may be far from the idle machine's; export again on an "
        f"idle machine{' or with fewer threads (threads=1)' if threads > 1 else ''}"
    )
