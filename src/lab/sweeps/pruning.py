"""The running trial's line to its study: report the metric, stop early when told to.

The sweeper adds this callback to every trial of a single-objective study (through the
trial's `optuna_trial` config, which `trial_callbacks` turns into the callback). It reaches
the study through the storage URL, so it works wherever the trial runs: in the sweep process,
in a SLURM job, on another machine. Rank zero talks to the storage and broadcasts the
decision, so under DDP every rank stops together.

Values are reported at milli-epochs (1000 = the end of the first epoch, 1500 = halfway
through the second), not optimizer steps: trials with different batch sizes then compare at
the same point of training, which is what a pruner's "same step" must mean (validations a
fractional `val_check_interval` places are snapped to its grid: `milli_epochs`).
"""

from __future__ import annotations

import logging
import math
import warnings
from typing import Any

import lightning as L
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


def trial_callbacks(cfg: DictConfig) -> list[L.Callback]:
    """The callbacks of a sweep trial (`cfg.optuna_trial`, set by the sweeper): its report to
    the study when the study prunes on a metric; none for a run outside a sweep."""
    trial = cfg.get("optuna_trial")
    if not trial:
        return []
    checks: list[L.Callback] = [SweepMetricCheck([str(m) for m in trial.get("metrics") or []])]
    if not trial.get("monitor"):
        return checks
    pruner = OmegaConf.to_container(trial.pruner) if trial.get("pruner") else None
    return [
        *checks,
        OptunaPruning(
            storage=trial.storage,
            study_name=trial.study_name,
            trial_number=int(trial.number),
            monitor=trial.monitor,
            pruner=pruner,  # type: ignore[arg-type]
        ),
    ]


class SweepMetricCheck(L.Callback):
    """At a trial's first validation, refuse a sweep metric of the validation (`val/...`)
    that it did not log: a misspelt `hydra.sweeper.metric` is found then, not after a whole
    trial (trained, tested, exported). Metrics of the test pass and the parameter counts are
    known only at the end; the sweeper checks those."""

    def __init__(self, metrics: list[str]) -> None:
        self.metrics = [m for m in metrics if m.startswith("val/")]
        self.checked = False

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        import difflib

        from lab.errors import MetricNotLogged

        if trainer.sanity_checking or self.checked:
            return
        self.checked = True
        missing = [m for m in self.metrics if m not in trainer.callback_metrics]
        if not missing:
            return
        logged = sorted(k for k in trainer.callback_metrics if k.startswith("val/"))
        close = difflib.get_close_matches(missing[0], logged, n=1)
        maybe = f" Did you mean hydra.sweeper.metric={close[0]}?" if close else ""
        raise MetricNotLogged(
            f"the sweep optimizes {', '.join(missing)}, which the first validation did not log; "
            f"it logged: {', '.join(logged) or 'none'}.{maybe} Set hydra.sweeper.metric (or "
            "optimized_metric) to one of them"
        )


class OptunaPruning(L.Callback):
    """Report `monitor` to trial `trial_number` after each validation; prune when told,
    except at the validation that ends the fit (`is_final_validation`): the trial has trained
    in full by then, and goes on to its test pass and export.

    A pruned trial raises `optuna.TrialPruned` out of `trainer.fit`; the sweeper records it
    as PRUNED. A NaN metric stops the trial at once with `FloatingPointError` (recorded FAIL).
    """

    def __init__(
        self,
        storage: str,
        study_name: str,
        trial_number: int,
        monitor: str,
        pruner: dict[str, Any] | None = None,
    ) -> None:
        self.storage_url = storage
        self.study_name = study_name
        self.trial_number = trial_number
        self.monitor = monitor
        # The sweep's pruner as a `_target_` config. The study in the storage does not know
        # its pruner (Optuna keeps it in the process), and the decision is taken here.
        self.pruner_config = pruner
        self._trial: Any = None
        self.reports: dict[int, float] = {}

    def _connect(self) -> Any:
        import optuna
        from hydra.utils import instantiate

        from lab.sweeps.storage import open_storage

        storage = open_storage(self.storage_url)
        pruner = instantiate(self.pruner_config) if self.pruner_config else None
        study = optuna.load_study(study_name=self.study_name, storage=storage, pruner=pruner)
        trial_id = storage.get_trial_id_from_study_id_trial_number(
            storage.get_study_id_from_name(self.study_name), self.trial_number
        )
        return optuna.trial.Trial(study, trial_id)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        prune = False
        message = ""
        if trainer.is_global_zero:
            prune, message = self._report(trainer)
        prune = trainer.strategy.broadcast(prune, src=0)
        if prune:
            import optuna

            raise optuna.TrialPruned(message or f"trial {self.trial_number} pruned")

    def _report(self, trainer: L.Trainer) -> tuple[bool, str]:
        logged = trainer.callback_metrics.get(self.monitor)
        if logged is None:
            log.warning("pruning: %s was not logged in this validation", self.monitor)
            return False, ""
        value = float(logged)
        step = milli_epochs(trainer)
        if self._trial is None:
            self._trial = self._connect()
        with warnings.catch_warnings():
            # A resumed trial reports its last step again; Optuna keeps the first value.
            warnings.filterwarnings("ignore", message=".*already reported.*")
            self._trial.report(value, step)
        self.reports[step] = value
        if math.isnan(value):
            # Diverged: no pruner can rank NaN, and the trial failed rather than trailed.
            raise FloatingPointError(
                f"objective is NaN: {self.monitor}=nan at {step / 1000:.2f} epochs"
            )
        if is_final_validation(trainer):
            # The trial has trained in full: pruning now would keep none of it (no test
            # metrics, no export) and save no training. Its value is reported all the same.
            return False, ""
        if self._trial.should_prune():
            return True, (
                f"trial {self.trial_number} pruned at {step / 1000:.2f} epochs: "
                f"{self.monitor}={value:.4f}"
            )
        return False, ""


def milli_epochs(trainer: L.Trainer) -> int:
    """Training progress in thousandths of an epoch (resume-safe: from the global step).

    With a fractional `trainer.val_check_interval` (0.5: twice an epoch) the progress is
    snapped to that grid (500, 1000, 1500, ...): Lightning validates every
    `int(0.5 * batches)` batches, which is 6 of 13 (0.46 epochs) at one batch size and 3 of 7
    (0.43) at another, and a pruner compares only values reported at the same step."""
    batches = trainer.num_training_batches
    if not batches or math.isinf(batches):
        return int(trainer.global_step)
    steps_per_epoch = math.ceil(batches / trainer.accumulate_grad_batches)
    epochs = trainer.global_step / steps_per_epoch
    interval = trainer.val_check_interval
    if isinstance(interval, float) and 0 < interval < 1:
        epochs = round(epochs / interval) * interval
    return round(1000 * epochs)


def is_final_validation(trainer: L.Trainer) -> bool:
    """Whether this validation closes the fit: `trainer.max_steps` reached, or the end of the
    last epoch of `trainer.max_epochs` (from the global step, so a resumed trial knows it too).
    An early stop cannot be foreseen: a validation after which the early-stopping callback
    stops the fit is not known as the last one, and may be pruned."""
    max_steps = trainer.max_steps
    if max_steps is not None and max_steps >= 0 and trainer.global_step >= max_steps:
        return True
    max_epochs = trainer.max_epochs
    batches = trainer.num_training_batches
    if max_epochs is None or max_epochs < 0 or not batches or math.isinf(batches):
        return False  # no epoch limit, or epochs of unknown length (a stream): not known
    # The global step, not the milli-epochs reported: those are snapped to the validation
    # grid, and a validation just before the end could round up to it.
    steps_per_epoch = math.ceil(batches / trainer.accumulate_grad_batches)
    return trainer.global_step >= max_epochs * steps_per_epoch
