"""One process trains a run directory at a time.

A resume started while the run's own process still trains (a SLURM requeue that starts
before the first job is gone, a second terminal) would have two processes writing the same
`last.ckpt`, `metrics.csv` and `train.log`, each taking the other's checkpoints for its own.
So the process that owns a run (global rank 0) holds an exclusive `flock` on the run
directory itself while the run record is open, and a second one is refused before it reads
or writes anything there. The lock is the kernel's: it goes with the process, however it
ends (SIGKILL, a crash), so a dead run is never locked out. No lock file is written.
On systems without `fcntl` (Windows) nothing is locked.

A new run (or a resume) takes the lock before Hydra writes its record (`.hydra/`) into the
directory, not only once the run starts: two commands started at once into one
`hydra.run.dir` both found it free, both wrote `.hydra/`, and the one refused later had put
its record over the winner's (s26 H4). So `lab.run_dir.claim`, in the resolver Hydra calls
just before it writes `.hydra/`, *claims* the lock (`claim_run_lock`) and keeps it; the
run's `RunRecord` then takes that same descriptor over (`hold_run_lock`). A second descriptor
would not do: `flock` locks of two descriptors of one process exclude each other. A process
starts one job at a time, so it holds at most one claim; a claim no run took over (the job
failed before its record) goes with the next claim, or with the process.
"""

from __future__ import annotations

import os
from pathlib import Path

from lab.errors import LabError

# The run directory this process claimed for the job it is starting (its real path), and
# the descriptor holding its lock, until `hold_run_lock` hands it to the run.
_claim: tuple[str, int] | None = None


def hold_run_lock(run_dir: Path, resuming: bool) -> int | None:
    """Lock `run_dir` for this process; return the descriptor to pass to `release_run_lock`,
    or None where nothing can be locked (no such directory yet, no `fcntl`). `LabError` when
    another process holds it (`resuming`: the refusal says why a resume cannot start now).
    Where this process claimed `run_dir` (`claim_run_lock`), the claim's descriptor is handed
    over: the caller holds the lock from then on."""
    global _claim
    if _claim is not None and _claim[0] == _key(run_dir):
        descriptor, _claim = _claim[1], None
        return descriptor
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


def claim_run_lock(run_dir: Path, resuming: bool) -> None:
    """Lock `run_dir` for the job this process is starting, before anything is written there,
    and keep the lock until the run takes it (`hold_run_lock`) or `release_claim`. Nothing to
    do where this process claimed it already (Hydra reads its settings more than once);
    `LabError` (as `hold_run_lock`'s) when another process holds it."""
    global _claim
    if _claim is not None and _claim[0] == _key(run_dir):
        return
    release_claim()  # one job at a time: an earlier job's claim no run took over
    descriptor = hold_run_lock(run_dir, resuming)
    if descriptor is not None:
        _claim = (_key(run_dir), descriptor)


def release_claim() -> None:
    """Let go of this process's claim (`claim_run_lock`) no run took over; a refused job's."""
    global _claim
    if _claim is not None:
        descriptor, _claim = _claim[1], None
        release_run_lock(descriptor)


def claimed_here(run_dir: Path) -> bool:
    """Whether this process holds `run_dir`'s claim (`claim_run_lock`) now."""
    return _claim is not None and _claim[0] == _key(run_dir)


def check_run_lock(run_dir: Path, resuming: bool) -> None:
    """`LabError` (as `hold_run_lock`'s) where another process holds `run_dir`'s lock now;
    nothing is kept, and this process's own claim is no refusal."""
    if not claimed_here(run_dir):
        release_run_lock(hold_run_lock(run_dir, resuming))


def held_elsewhere(run_dir: Path) -> bool:
    """Whether another process holds `run_dir`'s lock now (trains it)."""
    if claimed_here(run_dir):
        return False
    try:
        release_run_lock(hold_run_lock(run_dir, resuming=False))
    except LabError:
        return True
    return False


def _key(run_dir: Path) -> str:
    """One name for a directory however it is written (relative, through a link)."""
    return os.path.realpath(run_dir)


def being_trained_advice(run_dir: Path, checkpoint: str = "last", form: str = "merged") -> str:
    """What lab says of a run another process trains now, to one who wants its model (one
    place for the words: `TrainedRun.export_advice`, `lab.export`'s refusal): `being trained
    now, and exports its model when it ends: wait for that; its latest weights now, outside
    the run: python -m lab.export run=<run_dir> checkpoint=<checkpoint> output=<folder>`.
    An export into the run would be replaced by the run's own, and read as the run's model
    meanwhile (s26 M2). `form`: named in the command where it is not the default."""
    chosen = f" form={form}" if form != "merged" else ""
    return (
        "being trained now, and exports its model when it ends: wait for that; its latest "
        f"weights now, outside the run: python -m lab.export run={run_dir}{chosen} "
        f"checkpoint={checkpoint} output=<folder>"
    )
