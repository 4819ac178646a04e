"""Library warnings that are reports, not calls to action: to `train.log`, not the console.

Python warnings (`warnings.warn`, Lightning's `rank_zero_warn`) print to stderr by themselves,
past the console filter of `lab.training.console`. While `warnings_to_log(...)` is active, a
warning that matches one of its `Report`s becomes an INFO record of the `py.warnings` logger
instead: in `<run dir>/train.log` under `lab.train` (the console shows library records from
WARNING up only), nowhere in a tool without a log file. Every other warning prints as before,
so a user's real problem stays on screen. `hydra.verbose=py.warnings` shows them again.

* `REPORTS` hold in every run and tool (`quiet_console`, `quiet_tool`).
* `RESUME_REPORTS` hold while `lab.train` resumes a run (`lab.training.fit`): lab continues
  from its own checkpoint in its own directory and restores its sampler's position itself.
* `logging_interval_note`: Lightning's "fewer training batches than the logging interval"
  says nothing true of a run that logs every N steps across epochs; lab warns (its own line,
  once a run) only when the whole run makes fewer optimizer steps than
  `trainer.log_every_n_steps`, and also where Lightning says nothing: a streamed run (an
  endless epoch) gets it from its `max_steps` before the fit; a sized run whose epoch has at
  least that many batches but whose `max_steps` (or gradient accumulation) stops it short
  gets it after the fit, from the Trainer's batch count (known only inside the fit).
* `no_best_checkpoint_note`: Lightning's "ModelCheckpoint could not find the monitored key ...
  Did you call log(...)" blames the LightningModule when training simply ended before any
  validation; lab files it and says that instead, once training is over.
"""

from __future__ import annotations

import logging
import math
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from omegaconf import DictConfig

log = logging.getLogger(__name__)
FILED = logging.getLogger("py.warnings")  # the logger `logging.captureWarnings` would use


@dataclass(frozen=True)
class Report:
    """A library warning that lab files instead of printing: its category (or a subclass) and
    a regular expression its text starts with."""

    category: type[Warning]
    pattern: str

    def matches(self, category: type[Warning], text: str) -> bool:
        """Whether a warning of `category` with `text` is this report."""
        return issubclass(category, self.category) and re.match(self.pattern, text) is not None


# Lightning counts the interval over the whole run, not per epoch (see the module doc).
INTERVAL_REPORT = Report(
    UserWarning, r"The number of training batches \(\d+\) is smaller than the logging"
)
REPORTS = (
    # torchmetrics on every SpearmanCorrcoef (regression heads): lab's evaluation splits fit.
    Report(UserWarning, r"Metric `SpearmanCorrcoef` will save all targets and predictions"),
    # Under DDP, for every epoch-level metric: lab's are torchmetrics states already summed
    # over the ranks (`TaskModule.evaluation_metrics`), so `sync_dist` would add nothing.
    Report(UserWarning, r"It is recommended to use `self\.log\(.*sync_dist=True"),
    # DeepSpeed, whenever a LightningModule overrides `configure_gradient_clipping`: lab's
    # (`TaskModule`, for FSDP) leaves clipping to DeepSpeed, which clips by
    # `trainer.gradient_clip_val` as the warning advises.
    Report(UserWarning, r"Since DeepSpeed handles gradient clipping internally"),
    # peft, saving a LoRA adapter of a run that added tokens (`model.add_tokens`): it keeps
    # the resized embedding in the adapter, as it must; the adapter card says how to load it.
    Report(UserWarning, r"Setting `save_embedding_layers` to `True` as the embedding layer"),
    # Lightning's model summary (train.log only) under bf16/fp16: its size column is a guess;
    # lab's `model:` line counts the parameters itself.
    Report(UserWarning, r"Precision .* is not supported by the model summary"),
    # Lightning's CSV logger, where a sweep runs an abandoned trial again from scratch in its
    # own folder (no checkpoint to resume): the killed attempt's rows go, as they must; on the
    # console it read as data loss (s26c M5). A resume keeps its rows (`HookedCSVLogger`).
    Report(UserWarning, r"Experiment logs directory .* exists and is not empty"),
    INTERVAL_REPORT,
)
RESUME_REPORTS = (
    # The directory holds the run's own checkpoints, which the resumed run continues.
    Report(UserWarning, r"Checkpoint directory .* exists and is not empty"),
    # lab's sampler state travels in the checkpoint (lab.training.checkpointing): the resumed
    # epoch continues at the next batch, bit-identical to a run never interrupted.
    Report(UserWarning, r"You're resuming from a checkpoint that ended before the epoch ended"),
)
# Raised only before the first validation (after one, Lightning raises an error instead).
NO_VALIDATION_YET = Report(
    UserWarning, r"`ModelCheckpoint\(monitor=.*\)` could not find the monitored key"
)

Shower = Callable[..., None]


def file_reports(reports: Sequence[Report], note: Shower | None = None) -> Callable[[], None]:
    """From now on, warnings matching `reports` go to the `py.warnings` logger at INFO (or to
    `note(message, category)` when given); returns the function that undoes it."""
    previous = warnings.showwarning

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: Any = None,
        line: str | None = None,
    ) -> None:
        text = str(message)
        if not any(report.matches(category, text) for report in reports):
            previous(message, category, filename, lineno, file, line)
        elif note is not None:
            note(text, category)
        else:
            FILED.info("%s:%s: %s: %s", filename, lineno, category.__name__, text)

    show.lab_reports = tuple(reports)  # type: ignore[attr-defined]
    warnings.showwarning = show

    def undo() -> None:
        warnings.showwarning = previous

    return undo


def filing(reports: Sequence[Report]) -> bool:
    """Whether the warnings hook in place now (the last `file_reports`) files `reports`."""
    return getattr(warnings.showwarning, "lab_reports", None) == tuple(reports)


@contextmanager
def warnings_to_log(reports: Sequence[Report] = REPORTS) -> Iterator[None]:
    """Inside the block, warnings matching `reports` go to the log file only (see the module)."""
    undo = file_reports(reports)
    try:
        yield
    finally:
        undo()


_INTERVAL = re.compile(r"The number of training batches \((\d+)\).*log_every_n_steps=(\d+)")


def logging_interval_note(cfg: DictConfig, batches: int | None, interval: int) -> str | None:
    """lab's warning when the run (`cfg.trainer`, `batches` training batches per epoch; None
    for an endless one, a streamed split) makes fewer optimizer steps than `interval`: then
    train/loss reaches no logger. None otherwise."""
    trainer = cfg.trainer
    accumulate = int(trainer.get("accumulate_grad_batches") or 1)
    epochs = int(trainer.get("max_epochs") if trainer.get("max_epochs") is not None else -1)
    max_steps = int(trainer.get("max_steps") if trainer.get("max_steps") is not None else -1)
    limits = []
    if batches is not None and epochs >= 0:
        limits.append(math.ceil(batches / accumulate) * epochs)
    limits += [max_steps] if max_steps >= 0 else []
    if not limits or min(limits) >= interval:
        return None
    steps = min(limits)
    return (
        f"this run makes {steps} optimizer step{'s' * (steps != 1)} and logs train/loss every "
        f"{interval} (trainer.log_every_n_steps): no training loss reaches the run's loggers; "
        f"set trainer.log_every_n_steps=1 to log it"
    )


@contextmanager
def fit_warnings(cfg: DictConfig, resuming: bool, trainer: Any = None) -> Iterator[None]:
    """Around `lab.train`'s `trainer.fit`: `RESUME_REPORTS` to the log when `resuming`,
    Lightning's logging-interval warning replaced by `logging_interval_note`, given once a run
    (also where Lightning says nothing: see the module; `trainer`, the Trainer that fits, gives
    the batch count after the fit) and `NO_VALIDATION_YET` to the log (`no_best_checkpoint_note`
    says what it means after the fit)."""
    interval_report = INTERVAL_REPORT
    interval = cfg.trainer.get("log_every_n_steps")
    interval = int(interval if interval is not None else 50)  # 50: Lightning's default
    noted = False

    def warn_once(line: str | None) -> None:
        nonlocal noted
        if line and not noted:
            noted = True
            log.warning(line)

    if cfg.get("data") is not None and cfg.data.get("streaming") and _logs_every(cfg, trainer):
        # An endless epoch has no batch count: Lightning does not compare it with the interval.
        warn_once(logging_interval_note(cfg, None, interval))

    def note(text: str, category: type[Warning]) -> None:
        if interval_report.matches(category, text):
            found = _INTERVAL.search(text)
            warn_once(logging_interval_note(cfg, int(found[1]), int(found[2])) if found else None)
        FILED.info("%s: %s", category.__name__, text)

    reports = [interval_report, NO_VALIDATION_YET, *(RESUME_REPORTS if resuming else ())]
    undo = file_reports(reports, note)
    try:
        yield
    finally:
        undo()
    # After a finished fit (not a failed or stopped one) of which Lightning said nothing: an
    # epoch of at least `interval` batches, cut short by max_steps or gradient accumulation.
    if _logs_every(cfg, trainer):
        batches = getattr(trainer, "num_training_batches", None)
        counted = int(batches) if batches is not None and math.isfinite(batches) else None
        warn_once(logging_interval_note(cfg, counted, interval))


def _logs_every(cfg: DictConfig, trainer: Any) -> bool:
    """Whether the run logs train/loss every `log_every_n_steps` steps: it has a logger (when
    `trainer` is given) and is no `fast_dev_run` (which logs every step)."""
    if trainer is not None:
        return bool(trainer.loggers) and not trainer.fast_dev_run
    return not cfg.trainer.get("fast_dev_run")


def no_best_checkpoint_note(cfg: DictConfig, trainer: Any) -> str | None:
    """lab's warning after a fit whose checkpoint callback monitors a metric but holds no best
    checkpoint (no validation ran before training ended): the final metrics are then of the
    last weights. None otherwise."""
    monitored = [c for c in trainer.checkpoint_callbacks if getattr(c, "monitor", None)]
    if not monitored or any(getattr(c, "best_model_path", "") for c in monitored):
        return None
    max_steps = cfg.trainer.get("max_steps")
    limit = f" (trainer.max_steps={max_steps})" if max_steps is not None and max_steps >= 0 else ""
    return (
        f"training ended{limit} before its first validation: no best checkpoint by "
        f"{monitored[0].monitor}; the final metrics are of the last weights"
    )
