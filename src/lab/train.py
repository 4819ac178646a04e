"""`python -m lab.train`: compose a config with Hydra, train, test, export.

    python -m lab.train                                   # offline quickstart (MiniLM on demo)
    python -m lab.train model=roberta data=imdb           # the canonical run
    python -m lab.train experiment=roberta_imdb seed=3    # a pinned experiment

`run(cfg)` is the whole pipeline, one named step each, and knows nothing about any particular
head: the config names the classes (data module, task module, model head) and the steps wire
them together. The same `run` serves the CLI, the tests, sweeps and reproduction.

    record     lab.run_dir.records    record.json says how the run ended, whatever happens
    validate   lab.config.rules       every rule of `lab.validate`, before data or weights
    build      lab.build              tokenizer -> data module -> model -> task module
    fit        lab.training.fit       the Trainer; fit; the best checkpoint validated, tested
    finalize   lab.run_dir.finalize   export, test report, record, model card, plots, summary

On the command line, a signal at any step ends the run in words: SIGTERM, SIGUSR1 (SLURM's
warning before a time limit: `lab.tool_interrupts.STOP_SIGNALS`) or Ctrl-C leaves
`record.json` saying `interrupted (...)` and prints what to run next (`resume=<run dir>` when
a checkpoint exists), exiting 128 + the signal's number (143, 138, 130). While a model
trains, SIGTERM and SIGUSR1 let Lightning finish the batch and save `last.ckpt` first
(`lab.training.checkpointing.PreemptionCheckpoint`); elsewhere (start-up, data, the final
validation and test, export) they stop at once, as nothing is lost by that.
"""

from __future__ import annotations

import atexit
import gc
import os
import shlex
import signal
import sys

# signal and threading only: imported before the handlers below, in no time to speak of.
from lab.tool_interrupts import STOP_SIGNALS, deferred_while_importing


def _collect_again_after_imports() -> None:
    """Freeze what the imports made and switch the collector back on (see the module top);
    nothing to do where it was never switched off (in-process `run`, tests, sweeps)."""
    if not gc.isenabled():
        import transformers  # noqa: F401  (the last big import: freeze it too)

        gc.freeze()
        gc.enable()


def _command() -> str:
    return shlex.join(["python", "-m", "lab.train", *sys.argv[1:]])


def _stopped_before_start(signum: int, frame: object) -> None:
    """SIGTERM or SIGUSR1 while `python -m lab.train` is still importing: no run exists yet,
    so there is nothing to record; say so and how to start again, instead of dying without a
    word."""
    name = signal.Signals(signum).name
    sys.stderr.write(f"interrupted by {name} before the run started; start it again: ")
    sys.stderr.write(f"{_command()}\n")
    os._exit(128 + signum)


def _stopped_after_the_end(signum: int, frame: object) -> None:
    """SIGTERM or SIGUSR1 once every job has ended, while the process exits (its threads and
    exit callbacks: a `trainer.compile=true` run was seen to wait there): the runs' files are
    written; "before the run started" (the handler above, back in place once the jobs'
    handlers were taken down) was false of a finished run (s26a M8)."""
    name = signal.Signals(signum).name
    sys.stderr.write(
        f"stopped by {name} while exiting, after the run ended (its files are written)\n"
    )
    os._exit(128 + signum)


if __name__ == "__main__":
    # Installed before the imports below (about a second): from here on, `main()` takes over.
    for _signum in STOP_SIGNALS:
        signal.signal(_signum, _stopped_before_start)
    # Start-up speed: importing torch, Lightning and transformers makes ~10^6 long-lived
    # objects, and the cyclic collector scans them again and again while they load (and once
    # more at exit). Collection stays off until `build` has imported them, then they are
    # frozen (never scanned again) and it is switched back on. Measured on a tiny run: 10.9,
    # 10.6, 11.9 s -> 7.5, 7.6, 9.0 s for the whole command; metrics are unchanged.
    gc.disable()
    atexit.register(gc.freeze)

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import hydra
from omegaconf import DictConfig

from lab.config.cli import run_hydra_app
from lab.config.paths import conf_dir
from lab.config.resolvers import register_resolvers
from lab.errors import EXIT_USER_ERROR, lab_error_in
from lab.run_dir.endings import remove_unstarted_run
from lab.run_dir.held_log import write_to_run_log
from lab.run_dir.records import (
    RunInterrupted,
    hydra_overrides,
    interrupted_message,
    interrupting_signal,
    is_global_rank_zero,
)
from lab.training.rank_failures import other_ranks_lines

if TYPE_CHECKING:
    import lightning as L

    from lab.build import Parts
    from lab.data.datamodule import DataModule
    from lab.run_dir.records import RunRecord

# Named, not `__name__` ("__main__" under `python -m lab.train`): the data and model lines of a
# run's train.log and of its `lab.reproduce` reproduction's then differ only where the runs do.
log = logging.getLogger("lab.train")


def run(cfg: DictConfig, *, callbacks: Sequence[L.Callback] = ()) -> dict[str, float]:
    """Train, validate and test the configured model; export it; return the final metrics.

    Returns `{"val/acc": ..., "test/acc": ..., ...}` for the best checkpoint (on
    `cfg.optimized_metric`). Raises `LabError` for bad config or data, before any model
    weights are loaded. `callbacks` adds built Lightning callbacks to the configured ones
    (for programmatic use: notebooks, benchmarks).
    """
    from lab.training.wandb_import import import_wandb_early

    import_wandb_early(cfg)  # first: before torch is imported (see the module)
    from lab.config.rules import validate_config
    from lab.run_dir.records import RunRecord
    from lab.training.console import hydra_verbose, quiet_console
    from lab.training.distributed import job_scope

    # The config rules need neither Lightning nor the data libraries (torch only to ask
    # about a GPU): a refused config is said before those load, ~2.5 s sooner on 2 cores, and
    # still inside a run record, so it leaves `failed: <why>` behind (the rules change no
    # value of the config the record writes).
    refused: Exception | None = None
    with quiet_console(hydra_verbose()):
        try:
            validate_config(cfg)
        except Exception as err:  # recorded below, then raised as it was
            refused = err
    if refused is not None:  # no DDP rank was started: no job_scope (and its torch.distributed)
        from lab.config.task_contract import resolvable

        if not resolvable(cfg):  # a task YAML lacking a key others read: nothing to record
            raise refused
        with quiet_console(hydra_verbose()), RunRecord(cfg):
            raise refused
    from lab.run_dir.finalize import finalize
    from lab.training.fit import fit, instantiate_loggers, start_loggers_in_background
    from lab.training.loggers import wandb_run_ends
    from lab.training.rank_failures import reported_rank_failures

    # job_scope: DDP ranks of this job only, one run directory per job (lab.training.distributed).
    with (
        job_scope(),
        quiet_console(hydra_verbose()),
        RunRecord(cfg) as record,
        reported_rank_failures(record),  # another DDP rank's error, in its words
        wandb_run_ends(),
    ):
        loggers = instantiate_loggers(cfg, record)
        # The loggers' runs start (W&B: ~0.5 s) while the model is built; only once the
        # data is known good, so a data error starts no experiment-tracker run.
        parts = build(cfg, record, on_data=lambda: start_loggers_in_background(loggers))
        trainer, metrics = fit(cfg, parts, record, callbacks, loggers)
        finalize(cfg, parts, trainer, metrics, record)
        # Checkpoints are published off the training thread; the run is done when they are.
        from lab.training.checkpoint_writer import wait_for_checkpoints

        wait_for_checkpoints()
    return metrics


def build(cfg: DictConfig, record: RunRecord, on_data: Callable[[], None] | None = None) -> Parts:
    """Seed, then build the run's parts; one console line on the data, one on the model.
    `on_data` is called once the data is ready, before the model is built."""
    import lightning as L

    from lab.build import build_parts
    from lab.data.split_notes import SplitsAsRead
    from lab.run_dir.records import is_global_rank_zero
    from lab.training.adapters import parameter_counts
    from lab.training.resume_fit import check_resume_fits
    from lab.training.run_lines import data_line, model_line, weight_loading_report

    _collect_again_after_imports()
    L.seed_everything(cfg.seed, workers=True, verbose=False)

    # The splits as read, for the warnings on them (few rows, leaked rows, missing classes):
    # said when the run starts, not on each resume (the same data, checked by `note_data`:
    # the same lines, appended again to the same train.log).
    splits = SplitsAsRead()
    starts = record.resume_point is None

    def data_ready(datamodule: DataModule) -> None:
        record.note_data(datamodule)
        if is_global_rank_zero():
            log.info(data_line(datamodule))
            for warning in splits.warnings(cfg, datamodule, record.output_dir) if starts else ():
                log.warning(warning)
        splits.release(datamodule)
        if on_data is not None:
            on_data()

    with weight_loading_report() as report:
        parts = build_parts(cfg, on_data=data_ready, before_setup=splits.keep if starts else None)
    # A resume's checkpoint must fit the model before the model line says its weights are
    # the checkpoint's (s33d F4: said, then refused), and before the resume writes anything.
    check_resume_fits(parts.module, record)
    counts = parameter_counts(parts.model)
    record.note_parameters(counts)
    if is_global_rank_zero():
        log.info(model_line(cfg, parts.model, counts, report, record.resume_point))
    return parts


@contextmanager
def signals_stop_the_run() -> Iterator[None]:
    """While the block runs, SIGTERM and SIGUSR1 (`STOP_SIGNALS`) raise `RunInterrupted` (the
    run record then says `interrupted (SIGTERM)`, or `(SIGUSR1)`), except while a model trains
    with a `PreemptionCheckpoint`: then Lightning's own handler, which calls this one after
    it, stops after the batch and the callback saves `last.ckpt`. Python's default action
    would end the process with no word and leave the record `running`. Main thread only
    (where signals are delivered)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        # Looked up, not imported: until the fit step imports it, nothing trains.
        checkpointing = sys.modules.get("lab.training.checkpointing")
        if checkpointing is not None and checkpointing.stops_gracefully():
            return
        if not deferred_while_importing(signum, frame):  # not inside torch's import (s25a H1)
            raise RunInterrupted(signal.Signals(signum).name)

    previous = {signum: signal.signal(signum, stop) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _config_path() -> str:
    """conf/ for `@hydra.main`, read when this module is imported. An install without lab's
    config tree (`ConfigTreeMissing`) says so in lab's one line under `python -m lab.train` /
    `lab-train`, not in an import traceback; imported from Python, it raises."""
    from lab.config.paths import ConfigTreeMissing

    try:
        return str(conf_dir())
    except ConfigTreeMissing as err:
        if __name__ != "__main__" and not sys.argv[0].endswith("lab-train"):
            raise
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(EXIT_USER_ERROR) from None


@hydra.main(version_base="1.3", config_path=_config_path(), config_name="train")
def _hydra_main(cfg: DictConfig) -> dict[str, float]:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    multirun = HydraConfig.get().mode == RunMode.MULTIRUN
    try:
        # A sweep's trial too: SIGTERM or SIGUSR1 (SLURM preemption or time limit, or the
        # sweep's parent stopping its workers) saves last.ckpt after the batch; the sweep
        # continues the trial from it.
        with signals_stop_the_run():
            return run(cfg)
    except BaseException as err:
        signal_name = interrupting_signal(err)
        if signal_name is not None:
            output_dir = Path(cfg.paths.output_dir).resolve()
            if is_global_rank_zero() and not multirun and remove_unstarted_run(output_dir):
                # stopped before its record was written: a folder of Hydra's files only (s25a M2)
                said = f"interrupted by {signal_name} before the run started; start it again"
                print(f"{said}: {_command()}", file=sys.stderr)
            elif is_global_rank_zero():  # once, not once per DDP process
                # An Optuna study continues its trial; a plain multirun job (-m a=1,2) is
                # resumed as a run of its own.
                message = (
                    sweep_interrupted_message(signal_name, cfg, output_dir)
                    if multirun and cfg.get("optuna_trial")
                    else interrupted_message(signal_name, output_dir, _command(), hydra_overrides())
                )
                print(message, file=sys.stderr)
                write_to_run_log(output_dir, message)
            # Out of the sweep too (SystemExit passes Hydra's launcher): the study keeps the
            # trial RUNNING, and the same command continues it once its heartbeat is stale.
            sys.exit(128 + signal.Signals[signal_name].value)
        # A LabError may come wrapped: Hydra's `instantiate` wraps what a data module raises.
        user_error = lab_error_in(err)
        if user_error is not None and not multirun:
            # One readable line, no traceback: the user's input (or disk) is wrong, not the
            # code. In a sweep one bad job must not end it: the sweeper records it as failed.
            # Once, by rank 0: another rank leaves its line to it (`lab.training.rank_failures`).
            if is_global_rank_zero():
                print(f"error: {user_error}", file=sys.stderr)
                for line in other_ranks_lines():
                    print(f"error: {line}", file=sys.stderr)
            sys.exit(getattr(user_error, "exit_code", EXIT_USER_ERROR))
        raise


def sweep_interrupted_message(signal_name: str, cfg: DictConfig, output_dir: Path) -> str:
    """What an Optuna sweep says when a signal stopped it during a trial: the same command
    continues the study, and the trial from its last checkpoint."""
    from lab.run_dir.records import last_checkpoint

    trial = cfg.optuna_trial.number
    checkpoint = last_checkpoint(output_dir)
    saved = f"its last checkpoint is {checkpoint}" if checkpoint else "it wrote no checkpoint"
    return (
        f"sweep interrupted by {signal_name} during trial {trial} ({saved}); continue the "
        f"sweep with the same command: {_command()}"
    )


def interrupted_line(signal_name: str, sweep: bool) -> str:
    """What a signal that stopped the command outside a run says: before the run started;
    for a sweep, between its trials, or during a trial launched before its run began (its
    study still holds it running: the same command runs it again)."""
    if not sweep:
        return f"interrupted by {signal_name} before the run started; start it again: {_command()}"
    from lab.sweeps.liveness import trial_in_flight

    trial = trial_in_flight()
    when = (
        "between its trials"
        if trial is None
        else (f"during trial {trial}, before it started training (the same command runs it again)")
    )
    return f"sweep interrupted by {signal_name} {when}; continue it: {_command()}"


def main() -> None:
    """Console entry point (`python -m lab.train`, `lab-train`); ends the process."""
    from lab.exiting import exit_now

    register_resolvers()
    sweep = any(arg in ("-m", "--multirun") for arg in sys.argv[1:])
    try:
        # From the first moment: a signal while Hydra composes (or a sweep waits between its
        # trials) still ends in words, with the sweeper's clean-up run.
        with signals_stop_the_run():
            run_hydra_app(_hydra_main, str(conf_dir()), "train")
    except (RunInterrupted, KeyboardInterrupt) as err:
        signal_name = interrupting_signal(err) or "SIGINT"
        print(interrupted_line(signal_name, sweep), file=sys.stderr)
        sys.exit(128 + signal.Signals[signal_name].value)
    for signum in STOP_SIGNALS:
        signal.signal(signum, _stopped_after_the_end)
    exit_now(0)  # done and written: skip the interpreter's teardown (see lab.exiting)


if __name__ == "__main__":
    main()
