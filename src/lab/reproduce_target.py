"""The folder a reproduction writes to: one per reproduction, whatever its DDP ranks; and what
happens to it when the reproduction fails before training.

**DDP.** `lab.train` is a Hydra app, and its rank 0 starts the other ranks with its run
directory as `hydra.run.dir` (`lab.training.distributed.rank_command`). `lab.reproduce` calls
`lab.train.run` outside Hydra, so Lightning's launcher starts the other ranks with the command
line again (`python -m lab.reproduce <run>`), each of which named a new
`reproductions/<time>/` of its own and then read a `record.json` only rank 0 writes. The
launcher hands its own environment to the ranks it starts (a copy of `os.environ`, with
`LOCAL_RANK` added), so rank 0 puts its folder in `TARGET_VARIABLE` for the length of the
reproduction (`shared_with_ranks`) and the other ranks take it from there
(`reproduction_target`); as under `lab.train`, they log to `train_ddp_process_<rank>.log`
in it (`log_file_name`) and leave the records and the comparison to rank 0. Ranks started by
torchrun or SLURM each run the whole command from the start and share nothing this way.

**A failed start.** A reproduction refused before it trained (its data unreadable, say) left
a `reproductions/<time>/` with a config, a record and a log, like a reproduction that ran:
`remove_untrained` takes it away again (and `reproductions/` when it was the only one);
`FitStarted` says whether training began. One that trained keeps its folder, its record
saying `failed: <why>` as any failed run's does.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import lightning as L

from lab.run_dir.records import is_global_rank_zero

# Rank 0's reproduction folder, for the DDP ranks Lightning starts from it.
TARGET_VARIABLE = "LAB_REPRODUCTION_DIR"


def reproduction_name() -> str:
    """The name of a reproduction folder started now: `<date>_<time>`."""
    return datetime.now().strftime("%Y-%m-%d_%H-%M-%S")


def reproduction_target(run_dir: Path, name: str | None = None) -> Path:
    """Where this process writes the reproduction of `run_dir`: a new
    `<run dir>/reproductions/<name>/` in rank 0 (`name`: the time now, or the one every run of
    a folder reproduced together shares, `lab.reproduce_many`); rank 0's in the ranks it
    started."""
    if not is_global_rank_zero():
        shared = os.environ.get(TARGET_VARIABLE)
        if shared:
            return Path(shared)
    return run_dir / "reproductions" / (name or reproduction_name())


@contextmanager
def shared_with_ranks(target: Path) -> Iterator[None]:
    """Inside the block, the DDP ranks this process starts reproduce into `target` too; the
    environment is as it was after it."""
    before = os.environ.get(TARGET_VARIABLE)
    os.environ[TARGET_VARIABLE] = str(target)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(TARGET_VARIABLE, None)
        else:
            os.environ[TARGET_VARIABLE] = before


def log_file_name() -> str:
    """This process's log file in the reproduction folder: `train.log`, as a run's; another
    DDP rank's is `train_ddp_process_<rank>.log`, as under `lab.train`."""
    if is_global_rank_zero():
        return "train.log"
    return f"train_ddp_process_{os.environ.get('LOCAL_RANK', '1')}.log"


class FitStarted(L.Callback):
    """Notes whether training started (`started`): until then the run made nothing worth
    keeping."""

    def __init__(self) -> None:
        self.started = False

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.started = True


def remove_untrained(target: Path, reproductions_existed: bool) -> None:
    """Remove a reproduction folder that trained nothing, and `reproductions/` when this
    call made it (`reproductions_existed` false) and it is empty now. Rank 0 only."""
    if not is_global_rank_zero():
        return
    shutil.rmtree(target, ignore_errors=True)
    if not reproductions_existed:
        with contextlib.suppress(OSError):
            target.parent.rmdir()  # only when empty
