"""Checkpoints that survive kills, and everything exact resume needs.

* `AtomicCheckpointIO` (in `lab.training.checkpoint_writer`) writes each checkpoint to a
  temporary file, fsyncs it and renames it over the target, the fsync off the training thread.
* `ResumeStateCallback` stores the Python, NumPy and torch (CPU and CUDA) RNG states and the
  position in the training data in every checkpoint, and restores them on resume, so the
  resumed run sees the same batches and draws the same dropout masks as an uninterrupted run.
  On resume it also moves the checkpoint callbacks' recorded paths into the run directory
  as it is now, so a run directory that was moved or copied resumes like one that was not.
  A checkpoint saved inside a gradient-accumulation group (SIGTERM lands on any micro-batch)
  also carries that group's gradients and state, put back on resume before the group's next
  micro-batch (`lab.training.partial_group`).
* `PreemptionCheckpoint` saves `last.ckpt` when Lightning stops on SIGTERM (SLURM preemption,
  `kill`) or SIGUSR1 (SLURM's warning before the time limit, `--signal=USR1@90`), so a
  requeued job resumes from the last finished batch. `stops_gracefully()` says whether it is
  training now (`lab.train` lets Lightning finish the batch only then). Lightning's own
  SLURM auto-requeue is off (`lab.training.trainer.cluster_plugins`): SIGUSR1 is lab's.
* `load_resume_meta` reads the checkpoint a resume continues from (mapped, not loaded) and
  refuses one that is missing, corrupt, or lacks the optimizer or scheduler state.
"""

from __future__ import annotations

import logging
import os
import random
import re
import signal
import threading
from pathlib import Path
from types import FrameType, MethodType
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.utilities.exceptions import SIGTERMException

from lab.errors import LabError
from lab.tool_interrupts import STOP_SIGNALS
from lab.training import partial_group
from lab.training.checkpoint_writer import wait_for_checkpoints

log = logging.getLogger(__name__)

LAST_CHECKPOINT = "last.ckpt"
DATA_POSITION_KEY = "lab_data_position"
RANK_RNG_KEY = "lab_rng_states_by_rank"


class ResumeStateCallback(L.Callback):
    """Carries what Lightning's checkpoints lack for an exact resume (see module docstring).

    The global RNG states (Python, NumPy, torch CPU and CUDA), so dropout after a resume draws
    the same masks; and the position in the training data (epoch, batches done), which the
    data module's sampler uses to continue the epoch at the next unseen batch.

    Under DDP each rank draws its own masks from its own states, and a checkpoint is written
    by rank zero: every rank's states are gathered into it (`RANK_RNG_KEY`, by global rank;
    every rank takes part in a save, as Lightning's own barrier needs), and each rank
    restores its own. A checkpoint without them, or resumed on another number of ranks,
    gives every rank the writer's states (as before: the curve then differs by ~1e-4).
    """

    def __init__(self) -> None:
        self._own_state: dict[str, Any] | None = None  # this rank's, from the checkpoint
        # The unfinished accumulation group of the checkpoint resumed from, until training
        # starts (`lab.training.partial_group`).
        self._partial_group: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        # Plain lists and tensors only: checkpoints must load with `weights_only=True`.
        kind, keys, position, has_gauss, cached = np.random.get_state()
        state: dict[str, Any] = {
            "python": random.getstate(),
            "numpy": [kind, keys.tolist(), position, has_gauss, cached],  # type: ignore[attr-defined]
            "torch": torch.get_rng_state(),
        }
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if self._own_state is not None:
            state_dict, self._own_state = self._own_state, None
        random.setstate(state_dict["python"])
        kind, keys, position, has_gauss, cached = state_dict["numpy"]
        np.random.set_state((kind, np.array(keys, dtype=np.uint32), position, has_gauss, cached))
        torch.set_rng_state(state_dict["torch"])
        if "cuda" in state_dict and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state_dict["cuda"])

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        # `processed` counts the batch whose end hooks are saving this checkpoint. Once the
        # fit loop has counted the epoch complete (a SIGTERM landing on an epoch's last batch
        # is raised there), `current_epoch` is already the next one while the batch count is
        # still the finished epoch's: the next epoch starts at its first batch (it resumed
        # one epoch ahead, skipping a whole epoch's batches).
        progress = trainer.fit_loop.epoch_loop.batch_progress.current
        epochs = trainer.fit_loop.epoch_progress.current
        between_epochs = epochs.completed == epochs.ready  # type: ignore[attr-defined]
        checkpoint[DATA_POSITION_KEY] = {
            "epoch": trainer.current_epoch,
            "batches_done": 0 if between_epochs else progress.processed,  # type: ignore[attr-defined]
        }
        if trainer.world_size > 1 and torch.distributed.is_initialized():
            states: list[Any] = [None] * trainer.world_size
            torch.distributed.all_gather_object(states, self.state_dict())
            checkpoint[RANK_RNG_KEY] = states
        # Saved inside an accumulation group: its micro-batches so far exist only in memory.
        group = partial_group.capture(trainer, pl_module)
        if group is not None:
            checkpoint[partial_group.PARTIAL_GROUP_KEY] = group

    def on_load_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        # Lightning calls every callback's `on_load_checkpoint` before any `load_state_dict`.
        relocate_callback_states(trainer, checkpoint)
        by_rank = checkpoint.get(RANK_RNG_KEY)
        if isinstance(by_rank, list) and len(by_rank) == trainer.world_size > 1:
            self._own_state = by_rank[trainer.global_rank]
        position = checkpoint.get(DATA_POSITION_KEY)
        resume_from_position = getattr(
            getattr(trainer, "datamodule", None), "resume_from_position", None
        )
        if position and resume_from_position is not None:
            resume_from_position(position["epoch"], position["batches_done"])
        self._partial_group = checkpoint.get(partial_group.PARTIAL_GROUP_KEY)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Here, not on load: the module is on its device and wrapped (DDP) by now, and the
        # next thing to touch the gradients is the group's next micro-batch.
        if self._partial_group is not None:
            state, self._partial_group = self._partial_group, None
            partial_group.restore(trainer, pl_module, state)


def relocate_callback_states(trainer: L.Trainer, checkpoint: dict[str, Any]) -> None:
    """Point the saved states of `trainer`'s checkpoint callbacks at their directories now.

    `ModelCheckpoint` saves its directory and the paths of the best and last checkpoints;
    when the run directory has moved, Lightning drops that state (the best score too), and
    a resumed run would forget which checkpoint was best. The saved paths under the old
    directory are rewritten under the new one, so the state loads as if nothing moved.
    """
    states = checkpoint.get("callbacks")
    if not isinstance(states, dict):
        return
    for callback in trainer.callbacks:  # type: ignore[attr-defined]
        state = states.get(getattr(callback, "state_key", None))
        now = getattr(callback, "dirpath", None)
        if not isinstance(state, dict) or not now or not isinstance(state.get("dirpath"), str):
            continue
        then = state["dirpath"]
        if then != now:
            states[callback.state_key] = _relocated(state, then, str(now))


def _relocated(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str) and (value == old or value.startswith(old + os.sep)):
        return new + value[len(old) :]
    if isinstance(value, dict):
        return {_relocated(k, old, new): _relocated(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_relocated(v, old, new) for v in value]
    return value


class PreemptionCheckpoint(L.Callback):
    """On SIGTERM or SIGUSR1, write `<dirpath>/last.ckpt` before Lightning exits.

    The signal lands on any training batch: with gradient accumulation, often inside a group,
    whose micro-batches so far the checkpoint then carries (`lab.training.partial_group`).

    SIGUSR1 is SLURM's warning before a job's time limit (`#SBATCH --signal=USR1@90`), and
    lab stops on it exactly as on SIGTERM (`lab.tool_interrupts`): while training, both go to
    the handler Lightning registered for SIGTERM, which stops the fit after the batch
    (Lightning itself listens to SIGUSR1 only for its SLURM auto-requeue, which lab turns
    off: `lab.training.trainer.cluster_plugins`). The first of them names the stop: the log
    line, the run record's `interrupted (SIGUSR1)` and the exit code (138) read it from the
    `signal_name` this callback gives Lightning's `SIGTERMException`
    (`lab.run_dir.endings.interrupting_signal`). Both signals' handlers are put back when
    training ends.

    Under DDP the ranks must stop at the same batch: saving is collective (the checkpoint
    gathers every rank's RNG state), so a rank that stops alone waits in a collective its
    peers never reach while they wait in the next gradient all-reduce, for ever. A `kill`
    reaches only the process it names (rank 0, the one the user started), and Lightning's own
    SIGTERM handler makes that worse: it broadcasts from inside the handler (a collective the
    other ranks did not start) and stops its own rank at that batch's end. So with several
    ranks the handler only notes the signal (`_note_sigterm`; the same for SIGUSR1, which
    reaches that handler too: no collective in a signal handler either), and at each training
    batch's end the ranks agree whether any of them got one (an all-reduce of the signal's
    number, 0 for none; the largest names the stop); if so every rank tells Lightning then,
    and all stop at the end of that same batch and save together.
    """

    # How many fits with this callback are training now (one per process in practice):
    # `lab.train`'s SIGTERM handler lets Lightning stop after the batch only while one is.
    _training = 0

    def __init__(self, dirpath: str) -> None:
        self.dirpath = Path(dirpath)
        self._armed = False
        self._signal = 0  # the number of the first stop signal of this fit; 0: none yet
        self._replaced: dict[int, Any] = {}  # the handlers `_take_stop_signals` replaced
        self._saving_on_stop = False

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        # Before Lightning registers its handler (`Trainer._run`, after the setup hooks).
        if trainer.world_size > 1:
            connector = trainer._signal_connector
            connector._sigterm_notifier_fn = MethodType(_note_sigterm, connector)  # type: ignore[method-assign]

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._signal = 0
        self._take_stop_signals()
        self._arm(True)

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        if trainer.world_size <= 1:
            return  # Lightning's own handler stops this process after the batch
        connector = trainer._signal_connector
        noted = bool(getattr(connector, "lab_sigterm_noted", False))
        mine = (self._signal or signal.SIGTERM) if noted else 0
        number = torch.tensor(int(mine), device=trainer.strategy.root_device)
        agreed = int(trainer.strategy.reduce(number, reduce_op="max"))
        if agreed:
            self._signal = agreed  # every rank names the same signal
            connector.received_sigterm = True  # every rank: all stop after this batch

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._arm(False)

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        # Lightning stops on SIGTERM after a batch's validation and after counting the batch's
        # optimizer step for its loggers. A resume from within that epoch takes the batch's
        # validation as done and skips it, counting the step again on the way: every later
        # logged row would be one step high. Its own checkpoints at a validation's end are
        # written before that count; this one is saved as if it were too.
        # Stopped inside that validation (Lightning stops at a validation batch's end too), the
        # batch's step is not counted yet, and the resume must run the validation, not skip it
        # (s31d H1: its metrics and best checkpoint were lost, every later row one step low).
        from lab.compat.lightning import accumulating, restart_validation, uncount_logged_step
        from lab.training.periodic_checkpoint import validation_follows

        if not self._saving_on_stop:
            return
        if trainer.validating and not trainer.sanity_checking:
            restart_validation(checkpoint)
            return
        epochs = trainer.fit_loop.epoch_progress.current
        within_epoch = epochs.completed != epochs.ready  # type: ignore[attr-defined]
        stepped = not accumulating(trainer)
        if within_epoch and stepped and validation_follows(trainer):
            uncount_logged_step(checkpoint)

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        try:
            if isinstance(exception, SIGTERMException):
                name = self.stop_signal_name
                exception.signal_name = name  # type: ignore[attr-defined]
                if trainer.state.fn == "fit":
                    path = self.dirpath / LAST_CHECKPOINT
                    self._saving_on_stop = True
                    try:
                        trainer.save_checkpoint(path)
                    finally:
                        self._saving_on_stop = False
                    wait_for_checkpoints()  # durable before the process exits
                    log.warning("%s: saved %s at step %d", name, path, trainer.global_step)
        finally:
            self._arm(False)  # after the save: a second signal must not cut it short

    @property
    def stop_signal_name(self) -> str:
        """The name of the signal that stopped this fit: the first this process got (under
        DDP, the one the ranks agreed on); `SIGTERM` where none was noted here."""
        return signal.Signals(self._signal).name if self._signal else "SIGTERM"

    def _take_stop_signals(self) -> None:
        """Route SIGTERM and SIGUSR1 to the handler Lightning registered for SIGTERM (before
        `on_train_start`), noting which came first. Main thread only, as signals are."""
        handler = signal.getsignal(signal.SIGTERM)
        if threading.current_thread() is not threading.main_thread() or not callable(handler):
            return

        def stop(signum: int, frame: FrameType | None) -> None:
            self._signal = self._signal or signum
            handler(signum, frame)

        stop.lab_stop = True  # type: ignore[attr-defined]
        for signum in STOP_SIGNALS:
            self._replaced[signum] = signal.signal(signum, stop)

    def _arm(self, training: bool) -> None:
        if training != self._armed:
            PreemptionCheckpoint._training += 1 if training else -1
            self._armed = training
        if not training:
            for signum, previous in self._replaced.items():
                if getattr(signal.getsignal(signum), "lab_stop", False):  # not replaced since
                    signal.signal(signum, previous)
            self._replaced = {}


def _note_sigterm(connector: Any, signum: int, frame: FrameType | None) -> None:
    """Lightning's SIGTERM notifier under DDP (SIGUSR1 too): only note the signal, in its logger's
    words (train.log only); the ranks act on it together at the next batch end (s32b F5)."""
    name, rank = signal.Signals(signum).name, connector.trainer.global_rank
    logging.getLogger(connector.__module__).info("[rank: %d] Received %s: %d", rank, name, signum)
    connector.lab_sigterm_noted = True


def stops_gracefully() -> bool:
    """True while a `PreemptionCheckpoint` is training: on SIGTERM or SIGUSR1, Lightning
    finishes the current batch and the callback saves `last.ckpt` (see `lab.train`'s signal
    handling)."""
    return PreemptionCheckpoint._training > 0


def load_resume_meta(path: Path) -> dict[str, Any]:
    """The step and epoch of the checkpoint at `path`, which a resume continues from;
    `LabError` if it is missing, corrupt, or lacks state an exact resume restores
    (`RESUME_STATE`). Its tensors are mapped, not read: checking it costs no memory."""
    checkpoint = read_checkpoint(path, mmap=True)
    missing = missing_resume_state(checkpoint)
    if missing:
        raise LabError(
            f"checkpoint {path} lacks {' and '.join(missing)}, which an exact resume restores"
        )
    return {
        "global_step": int(checkpoint.get("global_step", 0)),
        "epoch": int(checkpoint.get("epoch", 0)),
    }


# What Lightning restores besides the weights and the loops' position (which
# `read_checkpoint` requires) when `trainer.fit(ckpt_path=...)` resumes
# (`_CheckpointConnector.restore_training_state`): without it, Lightning raises in its start,
# after the run directory has been written to.
RESUME_STATE = {
    "optimizer_states": "the optimizer's state (a weights-only save?)",
    "lr_schedulers": "the learning-rate schedulers' state",
}


def missing_resume_state(checkpoint: dict[str, Any]) -> list[str]:
    """What of `RESUME_STATE` the Lightning checkpoint `checkpoint` lacks (in words); [] when
    it holds everything an exact resume needs besides the weights."""
    missing = []
    if not checkpoint.get("optimizer_states"):  # absent, or saved empty: nothing to restore
        missing.append(RESUME_STATE["optimizer_states"])
    if "lr_schedulers" not in checkpoint:  # saved, empty, by a run without a scheduler
        missing.append(RESUME_STATE["lr_schedulers"])
    return missing


def read_checkpoint(path: Path, mmap: bool = False) -> dict[str, Any]:
    """The whole Lightning checkpoint at `path`; `LabError` if missing, corrupt or foreign.

    `mmap=True` maps the tensors instead of reading them (the metadata of a checkpoint of
    many GB in a moment, its weights read as used); a file that cannot be mapped is read
    whole, so a damaged one is named by the error of a plain load."""
    if path.is_dir():
        raise LabError(f"checkpoint {path} is a folder, not a checkpoint file")
    if not path.is_file():
        raise LabError(f"checkpoint {path} does not exist")
    try:
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=False, mmap=mmap)
        except Exception:
            if not mmap:
                raise
            checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # truncated zip, pickle errors, ...
        raise LabError(f"checkpoint {path} is corrupt or unreadable ({load_error(err)})") from err
    if (
        not isinstance(checkpoint, dict)
        or "state_dict" not in checkpoint
        or "loops" not in checkpoint
    ):
        raise LabError(f"checkpoint {path} is not a Lightning training checkpoint")
    return checkpoint


def load_error(error: BaseException) -> str:
    """`<type>: <first sentence>` of an error loading a checkpoint, on one line: a pickle error
    of torch's holds a newline, and its zip reader follows the reason with a paragraph of
    advice (`This is an internal miniz error. If you are seeing this error, ...`)."""
    text = " ".join(str(error).split())
    first = re.split(r"(?<=[.!?])\s+(?=[A-Z])", text, maxsplit=1)[0]
    return f"{type(error).__name__}: {first}" if first else type(error).__name__
