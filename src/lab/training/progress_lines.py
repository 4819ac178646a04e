"""Plain progress lines: one per validation of a fit, and a warning when `max_epochs` will end
a run before its `max_steps`.

A live progress bar is no record: rich redraws it in place, so a terminal loses epoch 1's bar
(and its `val/acc`) when epoch 2 starts, and a console that is no terminal (a batch job's log,
`nohup ... > out.log`) gets nothing while the model trains, then the last bar once at the
end, wrapped at 80 columns. After every validation of a fit (not the sanity check) lab writes
one line instead, as Keras prints one per epoch:

    epoch 1/3 | step 4/12 | train/loss 0.6921 | val/acc 0.5000 | val/loss 0.6913 | 0:00:37

the epoch (from 1, as the bar counts) and the optimizer step against the run's total, the last
training loss, every `val/*` metric the validation logged (the values of `csv/metrics.csv`,
four decimals as in the final table) and the time since training started. A streamed run (one
endless epoch bounded by `max_steps`) has no epoch to name: `step 300/1000 | ...`.

The line always goes to `<run dir>/train.log`. On the console:

* not an interactive terminal (stdout a file or a pipe, `TERM=dumb`): the line is logged like
  lab's other lines, and the bar is not drawn at all (`lab.training.progress.ProgressBar`):
  rich would render it only once, at the end, cut to 80 columns.
* an interactive terminal (a pty too: `script`, tmux): the line is printed through the bar's
  own rich console, which puts it above the live bar, where it scrolls up with the finished
  epochs. Chosen over Lightning's `leave=True` (a finished bar kept per epoch): the same words
  then read the same in a terminal, a log file and train.log; a kept bar's metrics column
  wraps in a narrow terminal; and rich redraws every kept bar on every refresh, which a
  100-epoch run's live area outgrows (rich crops it to the screen's height).

Lightning stops a fit at whichever of `max_epochs` and `max_steps` comes first (the default
`max_epochs=3` with `max_steps=300` on 50 steps per epoch trains 150 steps). When the steps
per epoch are known and `max_steps` cannot be reached, `limit_warning` says so at the start
(and `unvalidated_tail_warning` that a `val_every_n_steps` run's last steps go unvalidated);
`lab.training.stopping_notes.limit_stop` says which limit ended the fit.
"""

from __future__ import annotations

import logging
import math
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import lightning as L

from lab.log_records import FILE_ONLY_RECORD

if TYPE_CHECKING:
    from rich.console import Console

log = logging.getLogger(__name__)

TRAIN_LOSS = "train/loss"
SEPARATOR = " | "  # ASCII: a batch job's log may be read with any encoding


def interactive_console(console_kwargs: dict[str, Any] | None = None) -> bool:
    """Whether rich would draw a live bar on this console (`console_kwargs` as the bar's):
    a terminal that is not dumb, or a notebook (rich's widgets). Elsewhere rich's live display
    renders once, when it stops."""
    from rich.console import Console

    console = Console(**(console_kwargs or {}))
    return bool(console.is_interactive or console.is_jupyter)


def endless(trainer: L.Trainer) -> bool:
    """A train split without a length (a streamed run): one endless epoch of `max_steps`."""
    return math.isinf(trainer.num_training_batches) and (trainer.max_steps or -1) > 0


def steps_per_epoch(trainer: L.Trainer) -> int | None:
    """Optimizer steps in one epoch, as Lightning counts them (a step every
    `accumulate_grad_batches` batches, and one at an epoch's last batch); None when unknown."""
    batches = trainer.num_training_batches
    if math.isinf(batches) or batches <= 0:
        return None
    return math.ceil(int(batches) / max(int(trainer.accumulate_grad_batches), 1))


def total_steps(trainer: L.Trainer) -> int | None:
    """The optimizer steps the fit will end at (the first limit reached), None when unbounded."""
    if endless(trainer):
        return int(trainer.max_steps)
    per_epoch = steps_per_epoch(trainer)
    limits = []
    if per_epoch is not None and trainer.max_epochs is not None and trainer.max_epochs > 0:
        limits.append(per_epoch * trainer.max_epochs)
    if trainer.max_steps is not None and trainer.max_steps > 0:
        limits.append(int(trainer.max_steps))
    return min(limits) if limits else None


def total_epochs(trainer: L.Trainer) -> int | None:
    """The epochs the fit runs: the first of `max_epochs` and the epochs `max_steps` reaches
    (`max_steps` may end the run epochs before `max_epochs`); None where neither bounds it."""
    epochs, per_epoch, steps = trainer.max_epochs, steps_per_epoch(trainer), total_steps(trainer)
    if per_epoch and steps is not None:
        reached = math.ceil(steps / per_epoch)
        epochs = reached if epochs is None or epochs <= 0 else min(epochs, reached)
    return epochs if epochs is not None and epochs > 0 else None


def limit_warning(trainer: L.Trainer) -> str | None:
    """The warning that `max_epochs` ends the fit before `max_steps` is reached, or None."""
    per_epoch = steps_per_epoch(trainer)
    max_steps, max_epochs = trainer.max_steps or -1, trainer.max_epochs or -1
    if per_epoch is None or max_steps <= 0 or max_epochs <= 0:
        return None
    reached = per_epoch * max_epochs
    if max_steps <= reached:
        return None
    return (
        f"trainer.max_steps={max_steps} will not be reached: trainer.max_epochs={max_epochs} "
        f"stops training first, at step {reached} ({per_epoch} steps per epoch); set "
        "trainer.max_epochs=-1 to train by steps"
    )


def unvalidated_tail_warning(trainer: L.Trainer) -> str | None:
    """Under `trainer.val_every_n_steps`, the warning that the run's last steps will never be
    validated (`lab.config.validation_tail`), or None."""
    from lab.config.validation_tail import tail_warning
    from lab.training.validation_steps import ValidateEveryNSteps

    rule = next((c for c in trainer.callbacks if isinstance(c, ValidateEveryNSteps)), None)  # type: ignore[attr-defined]
    last = total_steps(trainer)
    if rule is None or last is None:
        return None
    ends = (
        f"trainer.max_steps={last}"
        if trainer.max_steps == last
        else f"step {last}, where trainer.max_epochs={trainer.max_epochs} ends training,"
    )
    return tail_warning(rule.every, last, ends)


def elapsed(seconds: float) -> str:
    """`0:00:37`: hours, minutes, seconds (as rich's bar shows time)."""
    return str(timedelta(seconds=int(max(seconds, 0))))


def validation_line(trainer: L.Trainer, seconds: float, resumed_loss: float | None = None) -> str:
    """The line of the validation that just ended: position, training loss, `val/*` metrics,
    and `seconds` since training started. `resumed_loss`: the training loss the checkpoint a
    run resumed into this validation kept (`ProgressLines.state`), said where no step has run
    since (s31e N10)."""
    parts = []
    if not endless(trainer):
        epochs = total_epochs(trainer)
        total = f"/{epochs}" if epochs is not None else ""
        parts.append(f"epoch {trainer.current_epoch + 1}{total}")
    steps = total_steps(trainer)
    parts.append(f"step {trainer.global_step}" + (f"/{steps}" if steps is not None else ""))
    loss = trainer.callback_metrics.get(TRAIN_LOSS)
    if loss is not None and loss.numel() == 1:  # one host read per validation, not per step
        parts.append(f"{TRAIN_LOSS} {float(loss):.4f}")
    elif resumed_loss is not None:
        parts.append(f"{TRAIN_LOSS} {resumed_loss:.4f}")
    # What the loggers got from this validation (`ValidationHistory` reads the same).
    logged = trainer.logged_metrics
    for name in sorted(k for k in logged if k.startswith("val/")):
        parts.append(f"{name} {float(logged[name]):.4f}")
    parts.append(elapsed(seconds))
    return SEPARATOR.join(parts)


def say(line: str, *, warning: bool = False, live: Console | None = None) -> None:
    """Log `line` (a warning or not) for the console and train.log; with `live` (the rich
    console of a live bar in a terminal) print it there, above the bar, and log it to
    train.log only: a logging handler's write would land inside the bar's redrawn lines."""
    emit = log.warning if warning else log.info
    if live is None:
        emit(line)
        return
    # soft_wrap: one line in the scrollback, wrapped by the terminal (copied, grepped whole).
    live.print(
        f"warning: {line}" if warning else line, markup=False, highlight=False, soft_wrap=True
    )
    emit(line, extra=FILE_ONLY_RECORD)


class ProgressLines:
    """The lines of one fit: the limit warning when training starts, a line after each
    validation; rank zero only. `live` is the rich console of the live bar, if one is drawn."""

    def __init__(self) -> None:
        self._started: float | None = None
        self._resumed_loss: float | None = None

    def state(self, trainer: L.Trainer) -> dict[str, float]:
        """What a checkpoint keeps for the lines (s31e N10): the last training loss. A run
        resumed inside a validation reruns it before any training step, so its
        `callback_metrics` hold no `train/loss` for the line the uninterrupted run wrote."""
        loss = trainer.callback_metrics.get(TRAIN_LOSS)
        return {TRAIN_LOSS: float(loss)} if loss is not None and loss.numel() == 1 else {}

    def restore(self, state: dict[str, Any]) -> None:
        """Take a checkpoint's `state`: its loss stands in for the first line's, if needed."""
        loss = state.get(TRAIN_LOSS)
        self._resumed_loss = float(loss) if loss is not None else None

    def on_train_start(self, trainer: L.Trainer, live: Console | None = None) -> None:
        """Start the clock; warn when `max_steps` cannot be reached before `max_epochs`."""
        self._started = time.monotonic()
        if trainer.is_global_zero and (warning := limit_warning(trainer)):
            say(warning, warning=True, live=live)
        if trainer.is_global_zero and (warning := unvalidated_tail_warning(trainer)):
            say(warning, warning=True, live=live)

    def on_validation_end(self, trainer: L.Trainer, live: Console | None = None) -> None:
        """The validation's line, for a validation during the fit (not the sanity check)."""
        if trainer.sanity_checking or trainer.state.fn != "fit" or not trainer.is_global_zero:
            return
        started = self._started if self._started is not None else time.monotonic()
        line = validation_line(trainer, time.monotonic() - started, self._resumed_loss)
        self._resumed_loss = None  # the first validation after a resume only
        say(line, live=live)
