"""One process trains a run directory at a time.

A resume started while the run's own process still trains (a SLURM requeue that starts
before the first job is gone, a second terminal) would have two processes writing the same
`last.ckpt`, `metrics.csv` and `train.log`, each taking the other's checkpoints for its own.
So the process that owns a run (global rank 0) holds an exclusive `flock` on the run
directory itself while the run record is open, and a second one is refused before it reads
or writes anything there. The lock is the kernel's: it goes with the process, however it
ends (SIGKILL, a crash), so a dead run is never locked out. No lock file is written.
On systems without `fcntl` (Windows) nothing is locked.
"""

from __future__ import annotations

import os
from pathlib import Path

from lab.errors import LabError


def hold_run_lock(run_dir: Path, resuming: bool) -> int | None:
    """Lock `run_dir` for this process; return the descriptor to pass to `release_run_lock`,
    or None where nothing can be locked (no such directory yet, no `fcntl`). `LabError` when
    another process holds it (`resuming`: the refusal says why a resume cannot start now)."""
    try:
        import fcntl
    except ImportError:  # Windows
        return None
    if not run_dir.is_dir():  # a resume of no directory is refused next; a new run's is new
        return None
    descriptor = os.open(run_dir, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        what = "resumed" if resuming else "used"
        # a new run is sent elsewhere; a resume waits (s25c M3: "then resume" told a new run
        # of another seed to resume a run it never was)
        then = (
            "wait for it to end (or stop it), then resume it"
            if resuming
            else "choose another hydra.run.dir (or leave it out: each run gets a folder of its own)"
        )
        raise LabError(
            f"{run_dir} is being trained by another process now, so it cannot be {what} here: "
            f"two processes would overwrite each other's checkpoints and logs; {then}"
        ) from None
    except OSError:  # a file system without locks (some network mounts): go on unlocked
        os.close(descriptor)
        return None
    return descriptor


def release_run_lock(descriptor: int | None) -> None:
    """Release a lock taken by `hold_run_lock` (closing the descriptor releases it)."""
    if descriptor is not None:
        os.close(descriptor)


def held_elsewhere(run_dir: Path) -> bool:
    """Whether another process holds `run_dir`'s lock now (trains it)."""
    try:
        release_run_lock(hold_run_lock(run_dir, resuming=False))
    except LabError:
        return True
    return False
