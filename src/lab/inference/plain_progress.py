"""Plain progress lines of a long pass (lab.predict over a file, lab.eval's batches) for a
console where no live bar is drawn (stdout a file or a pipe: `nohup`, a SLURM job's log), as
lab.train's progress lines are for training."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta


class PlainProgress:
    """Plain progress lines of a pass over `total` items (`unit`: rows, batches), for a console
    where no live bar is drawn: rich draws one there only once, at the end, so a batch job's
    log (`nohup`, SLURM) showed nothing for the minutes a large file took. Each line says how
    far the pass is, how long it has taken and about how long is left:

        predicted 4000 of 20000 rows (20%), 0:02:20 elapsed, about 0:09:20 left

    A line is said once a further tenth is done and `TENTH_AFTER` seconds have passed since the
    last line (or the start), and after `EVERY` seconds without one in any case; a pass
    shorter than `TENTH_AFTER` says nothing (its summary says it all), and none is said for
    the end, which the tool's summary says. `say` prints a line (default: on stdout, flushed);
    `clock` is `time.monotonic` (a test's own)."""

    EVERY = 30.0
    TENTH_AFTER = 10.0

    def __init__(
        self,
        verb: str,
        total: int | None,
        unit: str = "rows",
        say: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.verb, self.total, self.unit = verb, total, unit
        self.say = say or _print_line
        self.clock = clock
        self.started = self.last = clock()
        self.done = 0
        self.tenths = 0  # the tenths done when the last line was said

    def advance(self, count: int) -> None:
        """Count `count` more items done; say a line when one is due."""
        self.done += count
        if self.total and self.done >= self.total:
            return
        now = self.clock()
        since = now - self.last
        tenths = 10 * self.done // self.total if self.total else self.tenths
        if since >= self.EVERY or (tenths > self.tenths and since >= self.TENTH_AFTER):
            self.say(self.line(now))
            self.last, self.tenths = now, tenths

    def line(self, now: float) -> str:
        """The line at time `now` (of `clock`)."""
        taken = now - self.started
        if not self.total:
            return f"{self.verb} {self.done} {self.unit}, {_elapsed(taken)} elapsed"
        share = f"{100 * self.done // self.total}%"
        done = f"{self.verb} {self.done} of {self.total} {self.unit} ({share})"
        left = taken * (self.total - self.done) / self.done if self.done else None
        after = f", about {_elapsed(left)} left" if left is not None else ""
        return f"{done}, {_elapsed(taken)} elapsed{after}"


def _elapsed(seconds: float) -> str:
    """`0:02:20`: hours, minutes, seconds (as lab.train's progress lines and rich's bar)."""
    return str(timedelta(seconds=int(max(seconds, 0))))


def _print_line(line: str) -> None:
    from lab.training.console import message_console

    message_console().print(line, highlight=False, markup=False)  # rich flushes each print
