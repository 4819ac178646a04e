"""Lightning internals lab depends on.

- `hydra_rank_command`: when Hydra is running, Lightning's DDP launcher builds the command of
  ranks 1..N-1 in the module function `subprocess_script._hydra_subprocess_cmd`. No launcher
  argument, strategy option or hook chooses that command, and the one Lightning builds is
  wrong under a Hydra multirun (see `lab.training.distributed`), so lab swaps the function
  for the length of one job and puts Lightning's back afterwards.
- `rank_process_watch`: the same launcher starts Lightning's child-process observer through
  the module function `_launch_process_observer(procs)`; it SIGKILLs every process, rank 0
  too, up to 5 s after a rank exits non-zero, which could cut rank 0 off while it records
  that rank's error (`lab.training.rank_failures`). Swapped for lab's watch for one job, as
  above; it is also the only way to the ranks' `subprocess.Popen` objects (their exit codes).
- `HookedExperimentWriter`, `HookedCSVLogger`: the CSV logger deletes an existing
  `metrics.csv` (in the writer's private `_check_log_dir_exists`, which its `__init__` calls)
  and builds its writer inline in `experiment`; no option keeps the file or picks the writer.
  These subclasses turn both into public-named hooks, so a resume can keep the rows it needs.
- `wandb_init_arguments`, `start_wandb_experiment`, `forget_experiment`: `WandbLogger` keeps
  the arguments of its `wandb.init` call in a private dict and its run in `_experiment`; lab
  edits the arguments after construction (resume the recorded W&B run, fall back to offline)
  and retries a failed start, which no public method allows.
- `accumulating`, `steps_taken`: whether the micro-batch under way steps the optimizer
  (the fit loop's private `_should_accumulate`, which knows that an epoch's last batch steps
  whatever the count) and the optimizer steps taken so far as Lightning's loggers count them
  (`_batches_that_stepped`, the step train metrics are logged under); no public property
  says either. Read by the accumulation-aware logging and the mid-group checkpoint.
- `replace_validation_rule`, `restore_validation_rule`, `can_stop_early`: after each training
  batch the epoch loop asks its private `_should_check_val_fx(data_fetcher)` whether a
  validation follows (also on resume, to tell whether the checkpoint's batch was validated).
  Its rule counts micro-batches (`val_check_interval`) and adds every epoch's end; no option
  counts optimizer steps across the run, as HF's `eval_steps` does (`trainer.val_every_n_steps`,
  `lab.training.validation_steps`). An instance attribute of that name shadows the class's
  method for one fit, for the loop's own calls and `periodic_checkpoint.validation_follows`
  alike; removing it puts Lightning's rule back. `can_stop_early` is the fit loop's private
  `_can_stop_early` (min_epochs/min_steps met), which Lightning's rule consults.
- `uncount_logged_step`: the loggers' step count (`_batches_that_stepped`) as a checkpoint
  saves it, in the fit loop's state under `checkpoint["loops"]`; a checkpoint written after
  the loop counted a batch whose validation a resume skips would be counted twice (see
  `lab.training.checkpointing.PreemptionCheckpoint`).
- `restart_validation`: the validation loop's batch progress as a checkpoint saves it. Lightning
  reruns on resume a validation whose progress shows a batch started and none processed
  (`RestartStage.RESTARTED_MID_EVALUATION`, from the first batch: the data fetcher starts
  over); a checkpoint written when SIGTERM stops a fit inside a validation shows batches
  completed, which a resume reads as a validation that ran (`restarted_on_last`) and skips:
  its metrics, its best checkpoint and one logged step were lost (s31d H1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from lightning.pytorch.loggers import CSVLogger, WandbLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import Logger, rank_zero_experiment

RankCommand = Callable[[int], tuple[Sequence[str], str]]


@contextmanager
def hydra_rank_command(command: RankCommand) -> Iterator[None]:
    """Inside the block, Lightning starts extra DDP ranks under Hydra with `command`.

    `command(local_rank)` returns `(argv, cwd)`, like Lightning's `_hydra_subprocess_cmd`.
    Lightning's own function is back in place when the block ends, however it ends.
    """
    with _launcher_function("_hydra_subprocess_cmd", command):
        yield


@contextmanager
def rank_process_watch(watch: Callable[[list[Any]], None]) -> Iterator[None]:
    """Inside the block, Lightning's DDP launcher calls `watch(procs)` (the ranks it started,
    `subprocess.Popen`s) where it would start its own child-process observer; Lightning's
    function is back in place when the block ends, however it ends."""
    with _launcher_function("_launch_process_observer", watch):
        yield


@contextmanager
def _launcher_function(name: str, replacement: Callable[..., Any]) -> Iterator[None]:
    """Lightning's DDP launcher module's function `name` is `replacement` inside the block,
    its own again when the block ends, however it ends."""
    from lightning.pytorch.strategies.launchers import subprocess_script

    original = getattr(subprocess_script, name)
    setattr(subprocess_script, name, replacement)
    try:
        yield
    finally:
        setattr(subprocess_script, name, original)


class HookedExperimentWriter(ExperimentWriter):
    """Lightning's CSV `ExperimentWriter`, with `prepare_log_dir` as the hook for an existing
    log directory (Lightning's default: warn, then delete `metrics.csv`)."""

    def _check_log_dir_exists(self) -> None:
        self.prepare_log_dir()

    def prepare_log_dir(self) -> None:
        """Called by `__init__` before the log directory is created; override to keep files."""
        super()._check_log_dir_exists()


class HookedCSVLogger(CSVLogger):
    """Lightning's `CSVLogger`, whose writer is made by `make_writer` (override to replace it)."""

    @property  # type: ignore[misc]
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = self.make_writer(self.log_dir)
        return self._experiment  # type: ignore[return-value]

    def make_writer(self, log_dir: str) -> ExperimentWriter:
        """The writer for `log_dir`, made once, on the first use (Lightning's by default)."""
        return ExperimentWriter(log_dir=log_dir)


def wandb_init_arguments(logger: WandbLogger) -> dict[str, Any]:
    """The keyword arguments `logger` passes to `wandb.init`: the live dict, so edits made
    before its run starts (or after `forget_experiment`) are what the next start uses."""
    return logger._wandb_init


def start_wandb_experiment(logger: WandbLogger) -> Any:
    """`WandbLogger.experiment` without its rank-zero wrapper: for a subclass's own
    `experiment` property, which applies the wrapper once itself."""
    return WandbLogger.experiment.fget.__wrapped__(logger)  # type: ignore[attr-defined]


def forget_experiment(logger: Logger) -> None:
    """Drop `logger`'s started (or failed) experiment, so the next use starts a new one."""
    logger._experiment = None  # type: ignore[attr-defined]


def accumulating(trainer: Any) -> bool:
    """Whether the training micro-batch under way leaves the optimizer step for a later one
    (an accumulation group goes on); False on the stepping micro-batch (see the module)."""
    return bool(trainer.fit_loop.epoch_loop._should_accumulate())


def steps_taken(trainer: Any) -> int:
    """The optimizer steps taken so far, as Lightning's loggers count them (see the module)."""
    return int(trainer.fit_loop.epoch_loop._batches_that_stepped)


def replace_validation_rule(trainer: Any, rule: Callable[[], bool]) -> None:
    """From now on, `trainer`'s fit validates after a training batch where `rule()` is true,
    instead of where Lightning's own rule says (see the module)."""
    trainer.fit_loop.epoch_loop._should_check_val_fx = lambda data_fetcher: rule()


def restore_validation_rule(trainer: Any) -> None:
    """Lightning's own rule again, after `replace_validation_rule` (a no-op otherwise)."""
    vars(trainer.fit_loop.epoch_loop).pop("_should_check_val_fx", None)


def can_stop_early(trainer: Any) -> bool:
    """Whether a requested stop (`trainer.should_stop`) may end the fit now: `min_epochs` and
    `min_steps` are met (see the module)."""
    return bool(trainer.fit_loop._can_stop_early)


def uncount_logged_step(checkpoint: dict[str, Any]) -> None:
    """Take one off the loggers' step count `checkpoint` holds (see the module)."""
    state = checkpoint["loops"]["fit_loop"]["epoch_loop.state_dict"]
    state["_batches_that_stepped"] -= 1


def restart_validation(checkpoint: dict[str, Any]) -> None:
    """Make `checkpoint`, saved inside a fit's validation, resume into that validation from its
    first batch (see the module): its batch progress set to one batch started, none
    processed, the counts of the validations before it kept."""
    progress = checkpoint["loops"]["fit_loop"]["epoch_loop.val_loop.batch_progress"]
    current, total = progress["current"], progress["total"]
    # The batches completed by the validations before this one. Anchored on `completed`:
    # Lightning's restart resets `current` only, so a validation resumed into and stopped again
    # carries the first stop's started batch in `total` (s31e N1: a second stop skipped it).
    before = total["completed"] - current["completed"]
    for counts, done in ((current, 0), (total, before)):
        counts.update(ready=done + 1, started=done + 1, processed=done, completed=done)
    progress["is_last_batch"] = False
