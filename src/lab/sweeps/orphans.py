"""A RUNNING trial whose sweep process died, but whose training may not have.

Under a submitit launcher (`hydra/launcher=local|slurm`) a trial is a job of its own, while
the study's liveness stamp (`lab.sweeps.liveness`) is the sweep process's. When the sweep
process dies, its trial job goes on. A rerun of the command sees the trial abandoned (its
stamp's process is gone) and, before this module, claimed it at once: the resume was refused
(the job still trained the run directory), the trial was recorded FAIL for good and the job's
work lost; or, once the job had finished, the trial was trained again from scratch.

So before an abandoned trial is claimed, its run directory is asked:

* held by a live process (the run lock `lab.train` holds while it trains the directory, see
  `lab.run_dir.run_lock`): busy. The trial is left RUNNING and the sweep goes on with other
  trials, or waits; it is looked at again later.
* `record.json` says `finished`: its result is adopted from `metrics.json` (the values the
  job would have returned), not trained again. `pruned`: recorded PRUNED.
* anything else (no record, failed, interrupted): claimed and run again, resumed from its
  `last.ckpt` where there is one, as before. Run again from scratch (no `last.ckpt`: a
  `kill -9` before the first one), the dead attempt's checkpoints are moved aside first
  (`set_aside_checkpoints`): left in place, its `best-...ckpt` sat beside the new attempt's
  `best-...-v1.ckpt`, and the file without the suffix was not the one tested (s29b F2).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lab.sweeps.worker import TrialOutcome


def run_dir_busy(run_dir: Path) -> bool:
    """Whether another process holds `run_dir`'s run lock now (it trains that directory).

    Takes the same `flock` as `lab.run_dir.run_lock.hold_run_lock`, without blocking, and
    lets go of it at once. False where nothing can be locked (no directory, no `fcntl`, a
    file system without locks): then the trial is judged by its record alone."""
    try:
        import fcntl
    except ImportError:  # Windows: lab.train locks nothing there either
        return False
    if not run_dir.is_dir():
        return False
    descriptor = os.open(run_dir, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(descriptor)  # closing releases a lock taken here
    return False


def ended_outcome(run_dir: Path) -> TrialOutcome | None:
    """The outcome of a trial job that ended on its own, from its run directory: its metrics
    when `record.json` says `finished`, `TrialPruned` when `pruned`; None when it must run
    (again): no record, failed, interrupted, or finished without a readable metrics.json."""
    from lab.sweeps.worker import TrialOutcome  # here: the worker imports this module

    try:
        status = str(json.loads((run_dir / "record.json").read_text()).get("status", ""))
    except (OSError, ValueError, AttributeError):
        return None
    if status == "finished":
        try:
            metrics = json.loads((run_dir / "metrics.json").read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(metrics, dict):
            return None
        return TrialOutcome(metrics={str(k): v for k, v in metrics.items()})
    if status.startswith("pruned"):
        import optuna

        reason = status.removeprefix("pruned").lstrip(": ").removeprefix("TrialPruned: ")
        return TrialOutcome(error=optuna.TrialPruned(reason or "pruned"))
    return None


def set_aside_checkpoints(run_dir: Path) -> Path | None:
    """Move the `checkpoints` folder an abandoned attempt left in `run_dir` to
    `checkpoints-abandoned-<n>` (the first free n), kept, not deleted; None where it had none.
    For a trial trained again from scratch in the same directory (module doc)."""
    folder = run_dir / "checkpoints"
    if not folder.is_dir() or not any(folder.iterdir()):
        return None
    number = 1
    while (target := run_dir / f"checkpoints-abandoned-{number}").exists():
        number += 1
    folder.rename(target)
    _note_in_train_log(
        run_dir,
        "the sweep runs this trial again from scratch (its process died before it wrote a "
        f"last.ckpt); the dead attempt's checkpoints are in {target}",
    )
    return target


def _note_in_train_log(run_dir: Path, message: str) -> None:
    """Append `message` to the trial's `train.log` as a log line of its own, between the dead
    attempt's lines and the new one's: the restart stays explained once the console is gone
    (s29c F1). A log that cannot be written costs the line, not the trial."""
    import time

    now = time.time()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)) + f",{int(now % 1 * 1000):03d}"
    try:
        with (run_dir / "train.log").open("a", encoding="utf-8") as log_file:
            log_file.write(f"[{stamp}][lab.sweeps.worker][WARNING] - {message}\n")
    except OSError:
        pass
