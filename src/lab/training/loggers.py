"""Experiment loggers that never take a run down with them, and that continue on resume.

`wandb_logger` picks W&B's mode from the environment: online when credentials exist, offline
otherwise (the run is still recorded locally and can be uploaded later with `wandb sync`).
If W&B cannot start even so (service down, bad key, no disk), the run goes on offline, then
with W&B disabled, with a warning: a logging service is never a reason to lose a training run.
The start, its server check and its fallbacks are `lab.training.wandb_start`'s, shared with a
sweep's summary run. A W&B directory that cannot be created or written disables W&B at once,
with one warning naming it.

`RunLogger` is what `lab.train` asks of a logger beyond Lightning's `Logger`: continue the
interrupted run's log on resume, and name its run in the run record. Other Lightning loggers
(TensorBoard, ...) simply log.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment
from lightning.pytorch.utilities import rank_zero_only

from lab.compat.lightning import (
    HookedCSVLogger,
    HookedExperimentWriter,
    forget_experiment,
    start_wandb_experiment,
    wandb_init_arguments,
)
from lab.training.wandb_start import (
    CONNECT_TIMEOUT,
    INIT_TIMEOUT,
    resolve_wandb_mode,
    start_wandb_run,
    unusable_directory,
    wandb_settings,
)

log = logging.getLogger(__name__)


class RunLogger(ABC):
    """A logger that takes part in lab's run record and resumes (see `lab.training.fit`)."""

    @abstractmethod
    def resume_from(self, step: int, record: dict[str, Any]) -> None:
        """Continue the run recorded in `record` after its checkpoint at `step`.

        Called before the logger starts, on a resumed run only.
        """

    @abstractmethod
    def record_identity(self, record: dict[str, Any]) -> None:
        """Write what identifies this logger's run into the run record (for a later resume)."""

    def start_in_background(self) -> None:
        """Begin starting the logger's run while the caller goes on (`lab.train` calls it
        once the data is ready, so the start overlaps building the model); the first use
        waits for it. Nothing to do for a logger whose start costs nothing."""
        return

    def summarize(self, metrics: dict[str, float]) -> None:
        """Keep `metrics` (the best checkpoint's validation) as the run's summary, where the
        logger has one; nothing for a logger of rows only (CSV, TensorBoard)."""
        return


class ResilientWandbLogger(WandbLogger, RunLogger):
    """A `WandbLogger` that falls back to offline, then disabled, if `wandb.init` fails.

    An online start goes offline at once when the server does not accept a connection
    (`lab.training.wandb_start`); `startup_seconds` says how long the start took.
    `start_in_background` runs that start in a thread (about 0.5 s of `wandb.init` off the
    path to the first training step); `experiment` waits for it, and raises what it raised.
    """

    def __init__(self, connect_timeout: float = CONNECT_TIMEOUT, **kwargs: Any) -> None:
        self._connect_timeout = connect_timeout
        self.startup_seconds: float | None = None
        self._starter: threading.Thread | None = None
        self._start_error: BaseException | None = None
        # Why the run is offline when lab chose it (no credentials, WANDB_MODE): said once.
        self.offline_reason = ""
        super().__init__(**kwargs)
        # Lightning always passes `anonymous`, which current wandb only warns about.
        if wandb_init_arguments(self).get("anonymous") is None:
            wandb_init_arguments(self).pop("anonymous", None)

    def record_identity(self, record: dict[str, Any]) -> None:
        """Store the W&B run id in the run record, so a resume continues the same W&B run;
        an offline run also says so once (where its files are, how to sync them) and puts
        its mode and folder into the record (`wandb`). Only rank zero has a W&B run: on
        the other ranks of a DDP run `experiment` is Lightning's stand-in, whose every
        attribute is a method (a `Path` of it ended the run: s28b H1)."""
        if getattr(rank_zero_only, "rank", 0) != 0:
            return
        run = self.experiment
        run_id = getattr(run, "id", None)
        if run_id:
            record["wandb_run_id"] = run_id
        mode = str(wandb_init_arguments(self).get("mode", "online"))
        files = getattr(run, "dir", None)
        if mode != "offline" or not run_id or not files:
            return
        folder = Path(files).parent  # <save_dir>/wandb/offline-run-<time>-<id>
        # A resumed run writes a folder of its own under the same run id: the steps before
        # the interruption are in the earlier ones, and syncing them all, oldest first,
        # uploads the whole run.
        folders = sorted({*folder.parent.glob(f"offline-run-*-{run_id}"), folder})
        record["wandb"] = {"mode": mode, "run_id": run_id, "dir": str(folder)}
        if len(folders) > 1:
            record["wandb"]["dirs"] = [str(f) for f in folders]
        why = f" ({self.offline_reason})" if self.offline_reason else ""
        paths = " ".join(str(f) for f in folders)
        log.info("W&B offline%s: sync later with `wandb sync %s`", why, paths)

    def summarize(self, metrics: dict[str, float]) -> None:
        """The W&B run's summary (its runs table) shows the best checkpoint's metrics, not
        the last validation's; W&B failing here costs the summary, never the run."""
        try:
            run = self.experiment
            if getattr(run, "summary", None) is not None:
                run.summary.update(dict(metrics))
        except Exception as err:  # W&B down must not end a finished run
            log.warning("W&B summary not updated: %s", err)

    def resume_from(self, step: int, record: dict[str, Any]) -> None:
        """Continue the W&B run recorded at the start of the interrupted run."""
        if record.get("wandb_run_id"):
            wandb_init_arguments(self).update(id=record["wandb_run_id"], resume="allow")

    def start_in_background(self) -> None:
        """Start the W&B run in a thread (rank zero only: other ranks never start one)."""
        started = self._starter is not None or self.startup_seconds is not None
        if started or getattr(rank_zero_only, "rank", 0) != 0:
            return

        def start() -> None:
            try:
                self._start()
            except BaseException as err:  # handed to the first use of `experiment`
                self._start_error = err

        self._starter = threading.Thread(target=start, name="wandb-start", daemon=True)
        self._starter.start()

    @property  # type: ignore[misc]
    @rank_zero_experiment
    def experiment(self) -> Any:
        if self._starter is not None:
            self._starter.join()
            self._starter = None
            error, self._start_error = self._start_error, None
            if error is not None:
                raise error
        return self._start()

    def _start(self) -> Any:
        """The W&B run: started with its fallbacks on first use, afterwards the same run."""
        if self.startup_seconds is not None:
            return start_wandb_experiment(self)  # started: Lightning returns the run
        started = time.monotonic()

        def attempt() -> Any:
            try:
                return start_wandb_experiment(self)
            except Exception:
                forget_experiment(self)  # the next attempt starts a new run
                raise

        experiment = start_wandb_run(attempt, wandb_init_arguments(self), self._connect_timeout)
        self.startup_seconds = time.monotonic() - started
        return experiment


@contextmanager
def wandb_run_ends() -> Iterator[None]:
    """Finish this process's W&B run when the block ends: finished, or failed on an error."""
    try:
        yield
    except BaseException:
        finish_wandb_run(exit_code=1)
        raise
    finish_wandb_run(exit_code=0)


def finish_wandb_run(exit_code: int) -> None:
    """End this process's active W&B run, if any (0: finished, 1: failed).

    Lightning's `WandbLogger` never finishes its run, and a later `WandbLogger` in the same
    process attaches to a run that is still active: without this, every trial of an in-process
    sweep would log into the first trial's run. `lab.train.run` calls it when a run ends,
    however it ends (`wandb_run_ends`).
    """
    wandb = sys.modules.get("wandb")
    run = getattr(wandb, "run", None) if wandb is not None else None
    if run is None:
        return
    try:
        run.finish(exit_code=exit_code)
    except Exception as err:  # a logging service is never a reason to fail a run
        log.warning("W&B run could not be finished cleanly: %s", err)


def wandb_logger(
    project: str,
    save_dir: str,
    name: str | None = None,
    group: str | None = None,
    tags: list[str] | None = None,
    entity: str | None = None,
    mode: str = "auto",
    init_timeout: float = INIT_TIMEOUT,
    connect_timeout: float = CONNECT_TIMEOUT,
    **kwargs: Any,
) -> WandbLogger:
    """Build a W&B logger whose mode is `auto`, `online`, `offline` or `disabled`.

    `connect_timeout`: seconds an online start waits for the server to accept a connection
    before going offline; `init_timeout`: seconds wandb may then take to start the run.
    A `save_dir` that cannot be created or written: one warning, and W&B disabled (what a
    start that fails in every mode ends in), so the run goes on without it.
    """
    resolved = resolve_wandb_mode(mode)
    unusable = unusable_directory(save_dir) if resolved != "disabled" else None
    if unusable:
        log.warning(
            "W&B directory %s cannot be used (%s); continuing with W&B disabled",
            save_dir,
            unusable,
        )
        resolved = "disabled"
    logger = ResilientWandbLogger(
        project=project,
        save_dir=save_dir,
        name=name,
        group=group,
        tags=list(tags or []),
        entity=entity,
        mode=resolved,
        connect_timeout=connect_timeout,
        settings=wandb_settings(init_timeout),
        **kwargs,
    )
    if unusable:
        # Even a disabled wandb.init tries the directory, and warns about it in its own words.
        wandb_init_arguments(logger).pop("dir", None)
    if os.environ.get("WANDB_MODE") == "offline":
        logger.offline_reason = "WANDB_MODE=offline"
    elif mode == "auto" and resolved == "offline":
        logger.offline_reason = "no W&B credentials: WANDB_API_KEY or ~/.netrc"
    return logger


class _ResumingExperimentWriter(HookedExperimentWriter):
    """Keeps the rows of an existing metrics.csv logged before step `keep_until_step` instead
    of deleting it.

    A checkpoint at global step G holds G optimizer steps: Lightning logged their rows at steps
    0..G-1 (a step's learning rate, its training loss, and a validation that followed it). The
    resumed run logs from step G on; rows at G and after were the killed process's (a last.ckpt
    every N steps lets the run go on past it: a SIGKILL then left step G's rows twice)."""

    def __init__(self, log_dir: str, keep_until_step: int | None) -> None:
        self._keep_until_step = keep_until_step
        super().__init__(log_dir)

    def prepare_log_dir(self) -> None:
        import csv

        path = Path(self.metrics_file_path)
        if self._keep_until_step is None:
            super().prepare_log_dir()
            return
        if not path.is_file():
            # Killed before the first rows were flushed: nothing to keep, and nothing to delete
            # (Lightning would warn that "previous log files ... will be deleted").
            return
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            keys = list(reader.fieldnames or [])
            rows = [r for r in reader if r.get("step") and int(r["step"]) < self._keep_until_step]
        # Rows after the checkpoint were logged by the killed process and will be logged again.
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=keys)
            writer.writeheader()
            writer.writerows(rows)
        self.metrics_keys = keys


class CSVLogger(HookedCSVLogger, RunLogger):
    """Lightning's CSV logger that, on resume, appends to the run's metrics.csv."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._keep_until_step: int | None = None

    def resume_from(self, step: int, record: dict[str, Any]) -> None:
        """Keep the rows logged before `step` (the checkpoint's global step: its steps were
        logged at 0..step-1) and append after them."""
        self._keep_until_step = step

    def record_identity(self, record: dict[str, Any]) -> None:
        """Nothing to record: the CSV log lives in the run directory itself."""

    def make_writer(self, log_dir: str) -> ExperimentWriter:
        """A writer that keeps the interrupted run's rows up to the resumed step."""
        return _ResumingExperimentWriter(log_dir, self._keep_until_step)
