"""The fit step of `lab.train`: build the Trainer, fit, then test the best checkpoint.

The Trainer gets the configured callbacks (plus a sweep trial's, see `lab.sweeps.pruning`),
the configured loggers, lab's atomic checkpoint writer, the resume-state callback, the
validation history (`lab.training.validation_metrics`; after the fit, lab says from it when
early stopping ended training, or later validations tied the best value:
`lab.training.stopping_notes`).
Loggers that take part in the run record (`lab.training.loggers.RunLogger`) continue the
interrupted run's log on resume and write their run's identity into the record before
training starts. On resume, nothing is written (the record, the CSV log cut back to the
checkpoint's step, hparams.yaml, a W&B run started) before the checkpoint is known to fit
the built model (`lab.training.resume_fit`) and the record has noted the resume.

The best checkpoint's `val/*` metrics are those its validation logged during the fit
(`lab.training.validation_metrics`); the checkpoint is validated again only where they
cannot be known (a checkpoint from before a resume, no checkpoint callback). When the model in
memory holds the best checkpoint's weights (its validation was the fit's last), the test pass
runs on it without loading the file (`lab.training.weights_in_memory`).
"""

from __future__ import annotations

import difflib
import logging
import re
import weakref
from collections.abc import Sequence
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig

from lab.config.flatten import flatten
from lab.errors import ConfigError, MetricNotLogged

if TYPE_CHECKING:
    import lightning as L

    from lab.build import Parts
    from lab.run_dir.records import RunRecord

log = logging.getLogger(__name__)


def fit(
    cfg: DictConfig,
    parts: Parts,
    record: RunRecord,
    extra_callbacks: Sequence[L.Callback] = (),
    loggers: list[Any] | None = None,
) -> tuple[L.Trainer, dict[str, float]]:
    """Train `parts.module` (from the resume checkpoint, if any); return the Trainer and the
    metrics of the best checkpoint (`val/*`, `test/*`, `model/params_*`).

    `loggers`: the run's loggers from `instantiate_loggers` (perhaps already starting);
    instantiated here when not given."""
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    from lab.run_dir.endings import note_training_ended
    from lab.training.checkpoint_writer import wait_until_serialized
    from lab.training.library_warnings import fit_warnings, no_best_checkpoint_note
    from lab.training.rank_threads import RankThreads, warn_if_oversubscribed
    from lab.training.stopping_notes import (
        DIVERGED_KEY,
        divergence,
        divergence_note,
        last_train_loss,
        stopping_notes,
    )
    from lab.training.validation_metrics import (
        known_metrics,
        loggers_detached,
        summarize_best_validation,
    )
    from lab.training.weights_in_memory import holds_weights_of

    if loggers is None:
        loggers = instantiate_loggers(cfg, record)
    # A resume is written (record, CSV log, hparams, train.log) only once its checkpoint is
    # known to fit the model (`lab.train.build` checked it): a refusal leaves the run
    # directory as it was.
    record.commit_resume()
    start_loggers(loggers, cfg, record)
    # A new run's record notes the threads its ranks train with (not a resume's: its own).
    threads = [] if record.resume_point else [RankThreads(record)]
    trainer = build_run_trainer(cfg, [*extra_callbacks, *threads], loggers)
    warn_if_oversubscribed(trainer)  # `3 CPU ranks on 2 cores: ...`
    note_training_ended(None)
    with fit_warnings(cfg, record.resume_point is not None, trainer):  # reports to train.log
        try:
            trainer.fit(
                parts.module, datamodule=parts.datamodule, ckpt_path=record.resume_checkpoint
            )
        except ValueError as err:
            if (refusal := validation_interval_error(err)) is not None:
                raise refusal from err
            raise
        except (MisconfigurationException, RuntimeError) as err:  # checkpoint's, early stopping's
            if (refusal := unknown_metric_error(err, cfg, trainer)) is not None:
                raise refusal from err
            raise
    note_training_ended(trainer.global_step)  # a signal from here on: no step is trained again
    train_loss = last_train_loss(trainer)
    if note := no_best_checkpoint_note(cfg, trainer):
        log.warning(note)
    last = cfg.get("final_weights", "best") == "last"
    for note in stopping_notes(trainer, record.data, last):  # an early stop, a tied best value
        if trainer.is_global_zero:  # once, not once per DDP process
            log.info(note)
    # Parameter counts travel with the metrics: a sweep may minimize them (multi-objective).
    counts = record.data["parameters"]
    metrics = {
        "model/params_total": float(counts["total"]),
        "model/params_trainable": float(counts["trainable"]),
    }
    # `final_weights=last`: the weights training ended with are tested and exported (HF's
    # `load_best_model_at_end=False`); the best checkpoint stays on disk all the same.
    best = None if last else best_checkpoint(trainer)
    validated = known_metrics(trainer, best, last=last)
    if validated is not None:
        log.debug("%s: validation metrics from its validation during fit", best or "last weights")
        metrics.update(validated)
    else:
        log.debug("validating %s (its validation metrics are not known)", best or "the model")
    evaluations = (trainer.test,) if validated is not None else (trainer.validate, trainer.test)
    tested = best
    if best and validated is not None and holds_weights_of(trainer, parts.module, best):
        log.debug("best checkpoint %s: its weights are in memory, tested without loading", best)
        tested = None  # Lightning tests the module as it is
    for evaluate in evaluations:
        if tested is not None:
            # Loading the best checkpoint replaces the live weights, which the fit's last
            # checkpoint may still be serialized from in the background: wait for it (the
            # loggers' start of an evaluation used to wait for it by the way).
            wait_until_serialized()
        # The best checkpoint validated again: its row would read as one more validation.
        quiet = loggers_detached(trainer) if evaluate == trainer.validate else nullcontext()
        with quiet:
            results = evaluate(
                parts.module, datamodule=parts.datamodule, ckpt_path=tested, verbose=False
            )
        for result in results:
            metrics.update({k: float(v) for k, v in result.items()})
    summarize_best_validation(trainer, {k: v for k, v in metrics.items() if k.startswith("val/")})
    if diverged := divergence(metrics, train_loss):  # said, recorded; a sweep fails the trial
        record.data[DIVERGED_KEY] = diverged
        if trainer.is_global_zero:
            log.warning(divergence_note(diverged))
    return trainer, metrics


# Lightning's refusal of a whole number of batches between validations longer than an epoch
# (known only once the data is loaded, so no config rule can say it sooner).
LONG_INTERVAL = re.compile(
    r"`val_check_interval` \((\d+)\) must be less than or equal to the number of the "
    r"training batches \((\d+)\)"
)


def validation_interval_error(err: ValueError) -> ConfigError | None:
    """Lightning's `val_check_interval` refusal in lab's words, with the ways out; None for
    any other error."""
    found = LONG_INTERVAL.search(str(err))
    if found is None:
        return None
    interval, batches = found.groups()
    return ConfigError(
        f"trainer.val_check_interval={interval} batches is more than the {batches} training "
        f"batches of an epoch: give at most {batches}, a share of an epoch (e.g. 0.5), or add "
        "+trainer.check_val_every_n_epoch=null to count the batches across epochs"
    )


def unknown_metric_error(err: Exception, cfg: DictConfig, trainer: L.Trainer) -> ConfigError | None:
    """Lightning's "ModelCheckpoint(monitor=...) could not find the monitored key", or
    EarlyStopping's "Early stopping conditioned on metric ... which is not available" (raised
    at the first validation, whichever callback looks first; a head's metric names are known
    only once it computes them) in lab's words: the metrics the validation logged and the
    closest; None for another error."""
    found = _NOT_LOGGED.search(str(err))
    if found is None:
        return None
    metric = found.group(1) or found.group(2)
    key = monitor_key(cfg, metric)  # optimized_metric, or a callback's own monitor (s34k M3)
    if key is None:  # no setting of the run's named it: not lab's to word
        return None
    logged = sorted(k for k in trainer.callback_metrics if k.startswith("val/"))
    close = difflib.get_close_matches(metric, logged, n=1)
    maybe = f" Did you mean {key}={close[0]}?" if close else ""
    # A head may say why one of its metrics is not logged on this data (`metric_notes`:
    # classification's `f1_positive` needs two classes).
    notes = getattr(trainer.lightning_module, "metric_notes", None) or {}
    note = notes.get(metric.partition("/")[2])
    maybe = f" {metric.partition('/')[2]} {note}.{maybe}" if note else maybe
    # A head of one's own whose evaluation_metrics keys its values `spearman`, not
    # `val/spearman`: logged, but under no stage; say so rather than "it logged: none".
    bare = sorted(str(k) for k in trainer.callback_metrics if "/" not in str(k))
    stage, _, name = metric.partition("/")
    if bare and (name in bare or not logged):
        example = name if name in bare else bare[0]
        return MetricNotLogged(
            f"{key}={metric} is no metric this run's validation logs; it logged: "
            f"{', '.join(logged) or 'no val/ metric'}, and without a stage prefix: "
            f"{', '.join(bare)}. A head's evaluation_metrics(stage) must key its values "
            f"<stage>/<name> ({stage or 'val'}/{example}, not {example}; see "
            "lab.tasks.base.TaskModule); fix the head, then start the run again"
        )
    return MetricNotLogged(
        f"{key}={metric} is no metric this run's validation logs; it logged: "
        f"{', '.join(logged) or 'none'}.{maybe} Start the run again with one of them"
        + (" (no best checkpoint could be chosen)" if key == "optimized_metric" else "")
    )


# Lightning's words for a monitored metric the validation did not log: the checkpoint's, early
# stopping's (whichever callback looks first, at the first validation).
_NOT_LOGGED = re.compile(
    r"ModelCheckpoint\(monitor='([^']*)'\)`? could not find the monitored key"
    r"|Early stopping conditioned on metric `([^`]*)` which is not available"
)


def monitor_key(cfg: DictConfig, metric: str) -> str | None:
    """The config key that named `metric`: `optimized_metric`, or the `monitor` of the
    callback that differs from it (`callbacks.early_stopping.monitor`); None for neither."""
    if metric == str(cfg.get("optimized_metric")):
        return "optimized_metric"
    for name, node in (cfg.get("callbacks") or {}).items():
        if isinstance(node, DictConfig) and node.get("monitor") == metric:
            return f"callbacks.{name}.monitor"
    return None


def instantiate_group(group: DictConfig | None) -> list[Any]:
    """Instantiate every non-null node of a config group (`callbacks`, `logger`); a key its
    class does not take (`+callbacks.mine={_target_: ..., prefx: x}`) or a target of yours
    that does not import is one line (`lab.build.instantiate_node`)."""
    from lab.build import instantiate_node

    if not group:
        return []
    name = str(group._key())  # `callbacks` or `logger`: the refusal names the node's full key
    return [
        instantiate_node(node, f"{name}.{key!s}") for key, node in group.items() if node is not None
    ]


# The loggers of a resume: they start in `start_loggers`, once the resume is checked and
# written (`fit`), not while the model is built. A W&B run started then would add its files
# to the run directory, and mark the run it continues failed, were the resume refused.
_STARTED_AFTER_RESUME_CHECKS: weakref.WeakSet[Any] = weakref.WeakSet()


def instantiate_loggers(cfg: DictConfig, record: RunRecord) -> list[Any]:
    """The `logger` group's loggers, not started yet; on a resumed run those that take part
    in the run record continue the interrupted run's log."""
    from lab.training.loggers import RunLogger

    loggers = instantiate_group(cfg.get("logger"))
    for logger in loggers:
        if isinstance(logger, RunLogger) and record.resume_point:
            logger.resume_from(record.resume_point.global_step, record.data)
            _STARTED_AFTER_RESUME_CHECKS.add(logger)
    return loggers


def start_loggers_in_background(loggers: Sequence[Any]) -> None:
    """Let each logger that can begin starting its run now (W&B: in a thread); a resumed
    run's loggers start after its checks instead (`start_loggers`)."""
    from lab.training.loggers import RunLogger

    for logger in loggers:
        if isinstance(logger, RunLogger) and logger not in _STARTED_AFTER_RESUME_CHECKS:
            logger.start_in_background()


def build_run_trainer(
    cfg: DictConfig, extra_callbacks: Sequence[L.Callback], loggers: list[Any]
) -> L.Trainer:
    """`cfg.trainer` with the run's callbacks, its loggers and checkpoint plumbing."""
    import lightning as L
    from hydra.utils import instantiate

    from lab.sweeps.pruning import trial_callbacks
    from lab.training.checkpoint_snapshot import background_serialization_allowed
    from lab.training.checkpoint_writer import AtomicCheckpointIO, SerializedBeforeTraining
    from lab.training.checkpointing import ResumeStateCallback
    from lab.training.sharded import FSDPEvaluationWrapper, ZeroThreeEvaluationDevice
    from lab.training.validation_metrics import ValidationHistory

    callbacks = [*instantiate_group(cfg.get("callbacks")), *trial_callbacks(cfg)]
    if not loggers:
        # Learning rates are logged to the loggers; with `logger=none` there is nowhere to go.
        lr_monitor = L.pytorch.callbacks.LearningRateMonitor
        callbacks = [c for c in callbacks if not isinstance(c, lr_monitor)]
    checkpoint_io = AtomicCheckpointIO()
    trainer: L.Trainer = instantiate(
        cfg.trainer,
        callbacks=[
            SerializedBeforeTraining(),  # first: before any other hook of a training batch
            *callbacks,
            *extra_callbacks,
            ResumeStateCallback(),
            ValidationHistory(),
            ZeroThreeEvaluationDevice(),  # `fit`'s validate/test after the fit, under ZeRO-3
            FSDPEvaluationWrapper(),  # the same, under FSDP: through the fit's FSDP root
        ],
        logger=loggers or False,
        # Checkpoints are the callbacks group's business: none configured, none written.
        enable_checkpointing=any(
            isinstance(c, L.pytorch.callbacks.ModelCheckpoint) for c in callbacks
        ),
        plugins=[checkpoint_io],
        **streaming_validation(cfg),
    )
    # Checkpoints serialize while the run goes on where no callback changes the weights.
    checkpoint_io.serialize_in_background = background_serialization_allowed(trainer)
    return trainer


def streaming_validation(cfg: DictConfig) -> dict[str, int]:
    """A streamed train split is one endless epoch: the default `val_check_interval=1.0`
    (once per epoch) becomes once at the end of training, in batches (`max_steps` x gradient
    accumulation). An integer the user gave is kept (`lab.config.data_rules.check_streaming`),
    and `trainer.val_every_n_steps` counts steps in any epoch (`lab.training.validation_steps`)."""
    interval = cfg.trainer.get("val_check_interval")
    if not cfg.data.get("streaming") or not (isinstance(interval, float) and interval == 1.0):
        return {}
    if cfg.trainer.get("val_every_n_steps") is not None:
        return {}
    accumulate = int(cfg.trainer.get("accumulate_grad_batches") or 1)
    return {"val_check_interval": int(cfg.trainer.max_steps) * accumulate}


def start_loggers(loggers: Sequence[Any], cfg: DictConfig, record: RunRecord) -> None:
    """Start the loggers' runs (waiting for a start in the background), note their
    identities in the record, log the config."""
    from lab.training.loggers import RunLogger

    for logger in loggers:
        if isinstance(logger, RunLogger):
            logger.record_identity(record.data)
        logger.log_hyperparams(flatten(cfg))
    record.write()


def best_checkpoint(trainer: L.Trainer) -> str | None:
    """The best checkpoint's path (None when no callback monitors a metric)."""
    # The checkpoint callback that monitors a metric holds the best model; others (the
    # step-interval `last.ckpt` writer) do not.
    for callback in trainer.checkpoint_callbacks:
        if getattr(callback, "monitor", None) and getattr(callback, "best_model_path", ""):
            return str(callback.best_model_path)  # type: ignore[attr-defined]
    return None
