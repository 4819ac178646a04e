"""What the fit's early stopping and best checkpoint did, said after the fit.

Lightning's `EarlyStopping` ends a run silently, and its `ModelCheckpoint` keeps the first
checkpoint that reaches the best value (a later one must strictly improve on it): on a plateau
of the monitored metric the tested and exported weights are the plateau's first, however much
the loss fell after it. Both are right, and both surprise a user who asked for 20 epochs or who
watched `val/loss` fall; lab says them in one line each (console and train.log).

Lightning also ends a fit at the first of `trainer.max_epochs` and `trainer.max_steps` it
reaches (or at `trainer.max_time`), and says which in train.log only. Where both limits are
set (one could stop the run before the other) or the time ran out, `limit_stop` says which
ended training; with one limit, the progress lines (`epoch 3/3`, `step 300/300`) say it.

The validations come from `lab.training.validation_metrics.ValidationHistory` (the fit's one
recorder of validations; its monitored values travel in the checkpoints, so a resumed run
still knows the validations before the resume); `stopping_notes` reads them with the
callbacks' own state after the fit.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.callbacks.early_stopping import EarlyStoppingReason

from lab.training.progress_lines import total_epochs, total_steps
from lab.training.validation_metrics import Validation, checkpoint_step, history_of

# The record.json key of an early stop (absent when early stopping did not stop the run).
RECORD_KEY = "early_stopping"
# ... and of a stop at `trainer.max_time` (its line and step), which begins with TIME_STOP.
TIME_RECORD_KEY = "max_time_stop"
TIME_STOP = "training stopped at trainer.max_time="


def stopping_notes(
    trainer: L.Trainer, record_data: dict[str, Any], final_last: bool = False
) -> list[str]:
    """lab's lines after a fit (none, one or two): that early stopping ended training (what
    it monitored, why, when; also put into `record_data["early_stopping"]`), and that later
    validations tied the best checkpoint's value (the tested weights are the first).
    `final_last` (`final_weights=last`): the tested and exported weights are the last ones,
    so the lines about the best checkpoint's weights give way to what holds for those."""
    history = history_of(trainer)
    notes = []
    stopped = early_stop(trainer, history.validations)
    if stopped is not None:
        line, entry = stopped
        if final_last:  # HF's load_best_model_at_end=False does the same, silently (s27c M2)
            line += (
                f"; final_weights=last: the tested and exported weights are those it stopped "
                f"with (step {trainer.global_step}), not the best it names"
            )
        notes.append(line)
        record_data[RECORD_KEY] = entry
    elif limit := limit_stop(trainer):  # an early stop's line already says why it ended
        notes.append(limit)
        if limit.startswith(TIME_STOP):  # as an early stop is (s24a L2)
            record_data[TIME_RECORD_KEY] = {"step": trainer.global_step, "line": limit}
    if tail := unvalidated_tail_note(trainer, history.validations, final_last):
        notes.append(tail)
    if not final_last and (tie := tied_best_note(trainer, history.validations)):
        notes.append(tie)  # of the best checkpoint's weights, which final_weights=last skips
    return notes


def limit_stop(trainer: L.Trainer) -> str | None:
    """The line saying which limit ended the fit, where that is not plain: `max_steps` or
    `max_epochs` when both are set (Lightning stops at the first reached, in that order of
    checks), `max_time` when it ran out; None otherwise (one limit, a streamed run's endless
    epoch, which only `max_steps` ends)."""
    from lightning.pytorch.callbacks import Timer

    max_steps, max_epochs = trainer.max_steps or -1, trainer.max_epochs or -1
    step, epochs = trainer.global_step, trainer.current_epoch  # epochs run, the last counted
    callbacks: list[L.Callback] = trainer.callbacks  # type: ignore[attr-defined]
    timer = next((c for c in callbacks if isinstance(c, Timer)), None)
    both = max_steps > 0 and max_epochs > 0 and not math.isinf(trainer.num_training_batches)
    if both and step >= max_steps:
        # Both limits at one step: the last step of the last epoch (s27d L3).
        per_epoch = math.ceil(trainer.num_training_batches / trainer.accumulate_grad_batches)
        if epochs >= max_epochs and step == per_epoch * max_epochs:
            return (
                f"training stopped at trainer.max_steps={max_steps}, the last step of epoch "
                f"{epochs}: trainer.max_epochs={max_epochs} was reached at the same step"
            )
        # `epochs` counts the epoch it stopped in from 1, as the progress lines do.
        return (
            f"training stopped at trainer.max_steps={max_steps} in epoch {epochs} "
            f"(trainer.max_epochs={max_epochs} not reached)"
        )
    if both and epochs >= max_epochs:
        return (
            f"training stopped at trainer.max_epochs={max_epochs} (step {step}; "
            f"trainer.max_steps={max_steps} not reached)"
        )
    left = timer.time_remaining("train") if timer is not None else None
    if trainer.should_stop and left is not None and left <= 0:
        limit = str(timedelta(seconds=round(float(timer._duration or 0))))  # type: ignore[union-attr]
        of = f" of {max_epochs}" if max_epochs > 0 else ""
        # The schedule was laid over max_epochs / max_steps: cut short, its rate never decayed
        # to its end (s24a L2).
        try:  # only where a schedule runs (`scheduler=none` has none: s24d M2)
            planned = trainer.estimated_stepping_batches if trainer.lr_scheduler_configs else None
        except Exception:  # no plan to say (a stand-in, a length Lightning cannot tell)
            planned = None
        cut = (
            f"; the learning-rate schedule, planned over {int(planned)} steps, stopped "
            "part-way: fewer trainer.max_epochs / max_steps fit one to the time"
            if isinstance(planned, (int, float)) and not math.isinf(planned) and planned > step
            else ""
        )
        return f"{TIME_STOP}{limit} (epoch {epochs}{of}, step {step}){cut}"
    return None


def early_stop(
    trainer: L.Trainer, validations: list[Validation]
) -> tuple[str, dict[str, Any]] | None:
    """The line and the record entry of an `EarlyStopping` that ended the fit, or None."""
    callbacks: list[L.Callback] = trainer.callbacks  # type: ignore[attr-defined]
    # `should_stop` too: a stop signalled before `trainer.min_epochs` is overruled by Lightning.
    stopper = next(
        (
            c
            for c in callbacks
            if isinstance(c, EarlyStopping) and c.stopping_reason != EarlyStoppingReason.NOT_STOPPED
        ),
        None,
    )
    if stopper is None or not trainer.should_stop:
        return None
    monitor = str(stopper.monitor)
    best = _finite(stopper.best_score)
    # Lightning ends the fit right after the check that stops it: its epoch, the last step.
    last = Validation(stopper.stopped_epoch, trainer.global_step, {})
    by_steps = _by_steps(trainer, validations)
    where = _position(trainer, last, by_steps)
    logged = trainer.callback_metrics.get(monitor)
    current = float(logged.squeeze()) if logged is not None and logged.numel() == 1 else None
    reason = stopper.stopping_reason
    if reason == EarlyStoppingReason.PATIENCE_EXHAUSTED:
        delta = f" by more than min_delta={abs(stopper.min_delta):g}" if stopper.min_delta else ""
        first = _first_reaching(validations, monitor, best)
        at = f" at {_position(trainer, first, by_steps)}" if first is not None else ""
        what = (
            f"{monitor} did not improve{delta} for "
            f"{_count(stopper.wait_count, 'validation')} in a row "
            f"(patience {stopper.patience}; best {_number(best)}{at})"
        )
    elif reason == EarlyStoppingReason.STOPPING_THRESHOLD:
        what = (
            f"{monitor} = {_number(current)} reached "
            f"stopping_threshold={stopper.stopping_threshold}"
        )
    elif reason == EarlyStoppingReason.DIVERGENCE_THRESHOLD:
        what = (
            f"{monitor} = {_number(current)} passed "
            f"divergence_threshold={stopper.divergence_threshold}"
        )
    else:  # NON_FINITE_METRIC (check_finite)
        before = f" (best {_number(best)})" if best is not None else ""
        what = f"{monitor} = {_number(current)} is not finite{before}"
    entry = {
        "monitor": monitor,
        "reason": reason.name.lower(),
        "best": best,
        "patience": int(stopper.patience),
        "min_delta": abs(float(stopper.min_delta)),
        "stopped_after_epoch": last.epoch + 1,  # counted from 1, as the progress bar counts
        "stopped_at_step": last.step,
        "max_epochs": trainer.max_epochs,
        "max_steps": trainer.max_steps,
    }
    return f"early stopping: {what}; training stopped after {where}", entry


EPOCH_VALIDATION_KEYS = "trainer.val_check_interval, trainer.check_val_every_n_epoch"


def unvalidated_tail_note(
    trainer: L.Trainer, validations: list[Validation], final_last: bool = False
) -> str | None:
    """The line saying that training went on after its last validation (a `max_steps` or
    `val_check_interval` that falls between validations): those steps' weights were never
    validated, so no best checkpoint holds them (`final_last`: they are the weights tested
    and exported, validated once after the fit); None when the fit ended on a validation or
    had none (`no_best_checkpoint_note` says that)."""
    from lab.training.validation_steps import ValidateEveryNSteps

    if not validations:
        return None
    last, step = validations[-1].step, int(trainer.global_step)
    if step <= last:
        return None
    # The keys that place validations: trainer.val_every_n_steps refuses the other two.
    by_steps = any(isinstance(c, ValidateEveryNSteps) for c in trainer.callbacks)  # type: ignore[attr-defined]
    keys = "trainer.val_every_n_steps" if by_steps else EPOCH_VALIDATION_KEYS
    ran = f"training ran {step - last} step{'s' * (step - last != 1)} after its last validation"
    if final_last:
        return (
            f"{ran} (step {last} of {step}): with final_weights=last those weights are the ones "
            "tested and exported, validated once after training; to validate them during it, "
            f"let a validation fall on the last step (trainer.max_steps, {keys})"
        )
    return (
        f"{ran} (step {last} of {step}): those weights were never validated, so the tested and "
        "exported weights are the best validated ones; to validate at the end, let a "
        f"validation fall on the last step (trainer.max_steps, {keys})"
    )


def tied_best_note(trainer: L.Trainer, validations: list[Validation]) -> str | None:
    """The line saying that later validations tied the best checkpoint's value, or None."""
    checkpoint = next(
        (
            c
            for c in trainer.checkpoint_callbacks
            if isinstance(c, ModelCheckpoint)
            and c.monitor
            and c.best_model_path
            and c.best_model_score is not None
        ),
        None,
    )
    if checkpoint is None:
        return None
    monitor = str(checkpoint.monitor)
    best = float(checkpoint.best_model_score)  # type: ignore[arg-type]
    ties = [v for v in validations if v.values.get(monitor) == best]
    if len(ties) < 2:
        return None
    # ModelCheckpoint keeps the earliest of equal values (strict improvement); say nothing
    # where the history cannot show that (a resume from a checkpoint without it).
    step = checkpoint_step(checkpoint.best_model_path)
    if step is not None and step != ties[0].step:
        return None
    return (
        f"best {monitor} {_number(best)} first reached at "
        f"{_position(trainer, ties[0], _by_steps(trainer, validations))}; "
        f"{_count(len(ties) - 1, 'later validation')} tied it: the tested weights are the "
        f"first (a checkpoint is kept only when {monitor} strictly improves)"
    )


def _count(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _first_reaching(
    validations: list[Validation], monitor: str, value: float | None
) -> Validation | None:
    return next((v for v in validations if v.values.get(monitor) == value), None)


def _by_steps(trainer: L.Trainer, validations: list[Validation]) -> bool:
    # Under trainer.val_every_n_steps, always: the unit the user chose, and an epoch would say
    # "stopped after epoch 3/8" of a stop at step 12, mid-epoch (s32a F-L2). Else where several
    # validations share an epoch (a streamed run's endless epoch, val_check_interval < 1): an
    # epoch does not tell them apart, the step does.
    from lab.training.validation_steps import ValidateEveryNSteps

    if any(isinstance(c, ValidateEveryNSteps) for c in trainer.callbacks):  # type: ignore[attr-defined]
        return True
    epochs = [v.epoch for v in validations]
    return len(set(epochs)) < len(epochs)


def _position(trainer: L.Trainer, validation: Validation, by_steps: bool) -> str:
    """`epoch 2/20` (counted from 1, as the progress bar) or `step 300/1000`, against the
    totals the progress lines give (`lab.training.progress_lines`): the first limit the fit
    reaches, not `max_steps` where `max_epochs` stops it first (`step 20/150`, not `/200`)."""
    steps = total_steps(trainer)
    if by_steps:
        return f"step {validation.step}" + (f"/{steps}" if steps is not None else "")
    epochs = total_epochs(trainer)
    return f"epoch {validation.epoch + 1}" + (f"/{epochs}" if epochs is not None else "")


def _finite(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def _number(value: float | None) -> str:
    if value is None:
        return "none"
    if value == 0 or 1e-3 <= abs(value) < 1e6:
        return f"{value:.4f}"
    return f"{value:.4g}"


# The losses whose non-finite value means the weights diverged (every head logs these keys).
LOSS_KEYS = ("train/loss", "val/loss", "test/loss")
DIVERGED_KEY = "diverged"  # record.json: the non-finite losses, when there are any


def last_train_loss(trainer: L.Trainer) -> float | None:
    """The fit's last logged `train/loss` (read before a validation or test replaces the
    trainer's `callback_metrics`)."""
    value = trainer.callback_metrics.get("train/loss")
    return float(value) if value is not None else None


def divergence(metrics: dict[str, float], train_loss: float | None) -> dict[str, float]:
    """The run's non-finite losses: the fit's last `train_loss` (`last_train_loss`), and the
    best checkpoint's `val/loss` and `test/loss` in `metrics`. A NaN loss means diverged
    weights, yet argmax metrics stay finite (accuracy 0.5 on two classes), so a run (or a
    sweep's trial, which reads the same keys) would look fine by its optimized metric alone."""
    values = {"train/loss": train_loss} if train_loss is not None else {}
    values.update({k: float(metrics[k]) for k in LOSS_KEYS[1:] if k in metrics})
    return {k: v for k, v in values.items() if not math.isfinite(v)}


def divergence_note(losses: dict[str, float]) -> str:
    """The warning of a run whose `losses` (from `divergence`) are not finite."""
    listed = ", ".join(f"{k}={v}" for k, v in losses.items())
    return (
        f"training diverged ({listed}): the metrics are those of diverged weights; lower "
        "optimizer.lr or lengthen the warmup (scheduler.warmup_ratio)"
    )
