"""The loop one sweep process runs against a shared study.

    repeat:
        under the study lock:
            stop if more than max_failure_rate * n_trials trials failed (an error)
            stop if n_trials trials have finished (an error if none completed)
            take the result of an abandoned RUNNING trial whose job finished on its own,
            skip one whose run directory another process still trains (lab.sweeps.orphans),
            claim another abandoned RUNNING trial (re-run under its own number), or
            ask a new trial if fewer than n_trials have started, or
            wait for other workers' running trials (they may finish or be abandoned)
        launch the trial (outside the lock: trials run in parallel), tell Optuna the outcome

Every worker pointed at the same storage runs this loop; that is all `n_jobs` and multi-GPU
or multi-machine sweeps are. A trial is the unit of work: it is COMPLETE with its value(s),
PRUNED (its pruner stopped it), or FAIL with its error (an exception, including out of memory,
or a NaN objective) and the sweep goes on.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.compat.optuna import study_storage, tell, trial_id
from lab.errors import ConfigError, LabError, MetricNotLogged
from lab.run_dir.code_version import other_code_trials
from lab.sweeps.liveness import Heartbeat, is_abandoned, launched, stamp
from lab.sweeps.orphans import ended_outcome, run_dir_busy, set_aside_checkpoints
from lab.sweeps.results import ERROR, RUN_DIR, write_results
from lab.sweeps.search_space import SearchSpace, format_value, suggest, trial_overrides
from lab.sweeps.storage import missing_study_error, redact, study_lock
from lab.sweeps.study_setup import check_same_setup, record_setup, removal

log = logging.getLogger(__name__)


class SweepStopped(LabError):
    """The sweep ended early: too many failed trials."""


@dataclass
class TrialOutcome:
    """What a launched trial returned: its metrics, or the exception it raised."""

    metrics: dict[str, float] | None = None
    error: BaseException | None = None


# (trial number, overrides) -> outcome; the Hydra sweeper launches through its launcher.
Launch = Callable[[int, list[str]], TrialOutcome]


@dataclass
class SweepPlan:
    """Everything a worker needs to know about the study it works on."""

    study_name: str
    storage_url: str
    sweep_dir: Path
    metrics: list[str]
    directions: list[str]
    n_trials: int
    space: SearchSpace
    max_failure_rate: float = 0.25
    enqueue: list[dict[str, Any]] = field(default_factory=list)
    heartbeat_interval: float = 10.0
    stale_after: float = 60.0
    resume_required: bool = False
    # The pruner as a `_target_` config: the trial builds it, since the trial decides.
    pruner: dict[str, Any] | None = None
    # A trial's config as the files give it (`lab.sweeps.study_setup.trial_setup`).
    trial_setup: dict[str, Any] | None = None
    # The files composing it, for a refusal of a changed setup (`lab.sweeps.setup_files`).
    setup_files: dict[str, str] | None = None

    @property
    def prunes(self) -> bool:
        """Pruning needs one objective (Optuna cannot prune multi-objective studies)."""
        return len(self.metrics) == 1

    def trial_dir(self, number: int) -> Path:
        """The run directory of trial `number` (stable: resuming never collides)."""
        return self.sweep_dir / "trials" / str(number)


def open_study(plan: SweepPlan, storage: Any, sampler: Any, pruner: Any) -> Any:
    """Load the study, or create it; refuse to mix a study with a different setup."""
    import optuna

    with study_lock(plan.storage_url, plan.study_name):
        try:
            study = optuna.load_study(
                study_name=plan.study_name, storage=storage, sampler=sampler, pruner=pruner
            )
        except KeyError:
            if plan.resume_required:
                raise missing_study_error(
                    plan.study_name, plan.storage_url, plan.sweep_dir
                ) from None
            _refuse_foreign_trials(plan)
            # Optuna's "[I <time>] A new study created in RDB" line, in its own format: lab
            # says "Created study ..." below (s29b F5).
            verbosity = optuna.logging.get_verbosity()
            optuna.logging.set_verbosity(optuna.logging.WARNING)
            try:
                study = optuna.create_study(
                    study_name=plan.study_name,
                    storage=storage,
                    sampler=sampler,
                    pruner=pruner,
                    directions=plan.directions,  # type: ignore[arg-type]
                )
            finally:
                optuna.logging.set_verbosity(verbosity)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "experimental" since Optuna 3.2, still there
                study.set_metric_names(plan.metrics)
            record_setup(study, plan)  # held to every later run of the study
            for params in plan.enqueue:
                study.enqueue_trial(params, skip_if_exists=True)
            trials = f"{plan.n_trials} trial{'' if plan.n_trials == 1 else 's'}"
            log.info("Created study %s (%s)", plan.study_name, trials)
            return study
        _check_same_study(study, plan)
        log.info(_continuing(study, plan))
        # Its setup is checked; its code is not the study's to hold, but said: trials of
        # another lab may score or train otherwise than the ones this lab adds.
        other_code = other_code_trials(plan.trial_dir(0).parent)
        if other_code:
            log.warning(other_code)
        return study


def _refuse_foreign_trials(plan: SweepPlan) -> None:
    """A new study whose sweep directory already holds trials: another study of the same
    name (in another storage, or one whose database was removed) ran there, and this one
    would write its trials over those runs and rewrite trials.csv and best.json."""
    trials = plan.sweep_dir / "trials"
    if trials.is_dir() and any(trials.iterdir()):
        raise ConfigError(
            f"{trials} holds the trials of another study named {plan.study_name!r}, which "
            f"the storage {redact(plan.storage_url)} does not have; a new study there would "
            "overwrite them. Set hydra.sweeper.study_name=<new name>, give the storage that "
            f"study is in, or remove {plan.sweep_dir} to start over"
        )


def _check_same_study(study: Any, plan: SweepPlan) -> None:
    directions = [d.name.lower() for d in study.directions]
    if directions != plan.directions or list(study.metric_names or []) != plan.metrics:
        # A misspelt metric made the study (its first trial failed on it): the corrected
        # command must say how to get rid of it, not only how to name another one.
        raise ConfigError(
            f"study {plan.study_name!r} optimizes {study.metric_names} ({directions}), this "
            f"sweep {plan.metrics} ({plan.directions}); set hydra.sweeper.study_name=<new "
            f"name> to start a separate study, or remove this one ({removal(plan, study)}) to "
            "start it again under its name"
        )
    check_same_setup(study, plan)  # its fixed overrides and search space


def _continuing(study: Any, plan: SweepPlan) -> str:
    """`Continuing study s: 3 of 4 trials finished (1 pruned, 1 failed)`: a FAIL or PRUNED
    trial is finished (it counts against n_trials) but is no result, so it is named."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    finished = sum(t.state.is_finished() for t in trials)
    ended = {"pruned": TrialState.PRUNED, "failed": TrialState.FAIL}
    parts = [
        f"{n} {word}"
        for word, state in ended.items()
        if (n := sum(t.state == state for t in trials))
    ]
    note = f" ({', '.join(parts)})" if parts else ""
    done = f"{finished} of {plan.n_trials} trials finished{note}"
    if finished > plan.n_trials:  # a rerun asking for fewer trials than the study holds
        done = f"{finished} trials finished{note}, n_trials={plan.n_trials}: none left to run"
    return f"Continuing study {plan.study_name}: {done}"


def run_worker(study: Any, plan: SweepPlan, launch: Launch) -> int:
    """Run trials until the study has `n_trials` finished ones; return how many ran here."""
    storage = study_storage(study)
    ran = 0
    busy: set[int] = set()  # trials whose run directory another process trains: said once
    while True:
        with study_lock(plan.storage_url, plan.study_name):
            trials = study.get_trials(deepcopy=False)
            # Before the end: a study whose last trial took it over the budget (or in which
            # no trial completed) ends in the same error as one stopped midway, not exit 0.
            check_failure_budget(trials, plan)
            if sum(t.state.is_finished() for t in trials) >= plan.n_trials:
                return ran
            trial, resumed = _claim_or_ask(study, trials, plan, busy)
            values: dict[str, Any] | None = None
            if trial is not None:
                stamp(storage, trial_id(trial))
                values = _suggest_or_fail(study, trial, plan)
        if trial is None:
            time.sleep(plan.heartbeat_interval)  # others' trials are running: wait and look
            continue
        if values is not None:
            _run_trial(study, trial, values, resumed, plan, launch)
            ran += 1
        write_results(study, plan.sweep_dir)


def _suggest_or_fail(study: Any, trial: Any, plan: SweepPlan) -> dict[str, Any] | None:
    """The trial's values; None, with the trial recorded FAIL, when a value was fixed for it
    that its distribution cannot take. lab checks `enqueue_trials` before it creates a study,
    but a study created by an older lab may hold such a trial (enqueued `optimizer.lr: -0.1`
    on a log scale): raised here, the error left it RUNNING, and every later run of the
    command claimed it again and crashed on it again. FAIL counts against max_failure_rate."""
    try:
        return suggest(trial, plan.space)
    except (ValueError, TypeError) as err:  # what Optuna raises for a value it cannot hold
        fixed = study_storage(study).get_trial_system_attrs(trial_id(trial)).get("fixed_params")
        given = f"its enqueued parameters {fixed}" if fixed else "its parameters"
        # Optuna's sentence ends in a period; the error is quoted inside lab's sentences.
        reason = f"{type(err).__name__}: {str(err).rstrip('.')}"
        _fail(study, trial, f"{given} do not fit the search space: {reason}")
        return None


def _claim_or_ask(
    study: Any, trials: list[Any], plan: SweepPlan, busy: set[int]
) -> tuple[Any, bool]:
    import optuna
    from optuna.trial import TrialState

    for frozen in trials:
        if frozen.state != TrialState.RUNNING or not is_abandoned(frozen, plan.stale_after):
            continue
        run_dir = plan.trial_dir(frozen.number)
        # Its sweep process is gone, but under a submitit launcher its job may live on.
        if run_dir_busy(run_dir):
            if frozen.number not in busy:
                busy.add(frozen.number)
                log.info(
                    "Trial %d: %s is still being trained by another process (its job from an "
                    "earlier run of the sweep); leaving it to finish, its result is taken then",
                    frozen.number,
                    run_dir,
                )
            continue
        trial = optuna.trial.Trial(study, trial_id(frozen))
        ended = ended_outcome(run_dir)
        if ended is not None:
            log.info(
                "Trial %d ended in a job its sweep process no longer watched: taking its "
                "result from %s",
                frozen.number,
                run_dir,
            )
            _record_outcome(study, trial, ended, plan)
            continue
        log.info("Trial %d was abandoned by its process; running it again", frozen.number)
        return trial, True
    started = sum(t.state != TrialState.WAITING for t in trials)
    if started < plan.n_trials:
        return study.ask(), False
    return None, False


def _run_trial(
    study: Any, trial: Any, values: dict[str, Any], resumed: bool, plan: SweepPlan, launch: Launch
) -> None:
    run_dir = plan.trial_dir(trial.number)
    overrides = [*plan.space.fixed, *trial_overrides(values), _trial_identity(plan, trial.number)]
    if resumed and _resumable(run_dir):
        overrides.append(f"resume={format_value(str(run_dir))}")
    elif resumed and (aside := set_aside_checkpoints(run_dir)) is not None:
        log.info("Trial %d starts over; its dead attempt's checkpoints: %s", trial.number, aside)
    trial.set_user_attr(RUN_DIR, str(run_dir))
    log.info("Trial %d: %s", trial.number, " ".join(trial_overrides(values)))
    launched(trial.number)  # stays set if a signal ends the job: its words name the trial
    with Heartbeat(study_storage(study), trial_id(trial), plan.heartbeat_interval):
        outcome = launch(trial.number, overrides)
    launched(None)
    _record_outcome(study, trial, outcome, plan)


def _record_outcome(study: Any, trial: Any, outcome: TrialOutcome, plan: SweepPlan) -> None:
    """Tell the study how the trial ended: PRUNED, FAIL with its error, or its value(s)."""
    import optuna
    from optuna.trial import TrialState

    if isinstance(outcome.error, optuna.TrialPruned):
        tell(study, trial, state=TrialState.PRUNED)
        log.info("Trial %d pruned: %s", trial.number, outcome.error)
        return
    if isinstance(outcome.error, MetricNotLogged):  # every trial would fail the same way
        _fail(study, trial, f"{type(outcome.error).__name__}: {outcome.error}")
        raise ConfigError(str(outcome.error)) from outcome.error
    if outcome.error is not None:
        _fail(study, trial, f"{type(outcome.error).__name__}: {outcome.error}")
        return
    metrics = outcome.metrics or {}
    missing = [m for m in plan.metrics if m not in metrics]
    if missing:
        _fail(study, trial, f"the run returned no {missing}")
        raise ConfigError(
            f"the sweep optimizes {missing}, which trial {trial.number} did not return; its "
            f"metrics are: {', '.join(sorted(metrics)) or 'none'}. Set "
            "hydra.sweeper.metric (or optimized_metric) to one of them"
        )
    objective = [float(metrics[m]) for m in plan.metrics]
    if any(math.isnan(v) for v in objective):
        _fail(study, trial, f"objective is NaN: {dict(zip(plan.metrics, objective, strict=True))}")
        return
    from lab.training.stopping_notes import divergence

    # Diverged weights keep a finite accuracy (the argmax of NaN logits) and could tie for
    # best: a trial whose tested losses are not finite failed, whatever its objective says.
    if diverged := divergence(metrics, None):
        _fail(study, trial, f"training diverged: {diverged}")
        return
    tell(study, trial, objective)
    log.info("Trial %d: %s", trial.number, dict(zip(plan.metrics, objective, strict=True)))


def _fail(study: Any, trial: Any, error: str) -> None:
    from optuna.trial import TrialState

    trial.set_user_attr(ERROR, error)
    tell(study, trial, state=TrialState.FAIL)
    log.warning("Trial %d failed: %s", trial.number, error)


def check_failure_budget(trials: list[Any], plan: SweepPlan) -> None:
    """Raise `SweepStopped` once more than `max_failure_rate * n_trials` trials failed."""
    from optuna.trial import TrialState

    failed = [t for t in trials if t.state == TrialState.FAIL]
    allowed = plan.max_failure_rate * plan.n_trials
    finished = sum(t.state.is_finished() for t in trials) >= plan.n_trials
    if failed and finished and not any(t.state == TrialState.COMPLETE for t in trials):
        last = max(failed, key=lambda t: t.number)
        raise SweepStopped(
            f"sweep {plan.study_name!r} ended with no completed trial: {len(failed)} of "
            f"{plan.n_trials} failed. Last failure, trial {last.number}: "
            f"{last.user_attrs.get(ERROR, 'unknown error')}. Results: {plan.sweep_dir}"
        )
    if len(failed) > allowed:
        last = max(failed, key=lambda t: t.number)
        raise SweepStopped(
            f"sweep {plan.study_name!r} stopped: {len(failed)} of {plan.n_trials} trials "
            f"failed, more than max_failure_rate={plan.max_failure_rate} allows "
            f"({allowed:g}). Last failure, trial {last.number}: "
            f"{last.user_attrs.get(ERROR, 'unknown error')}. Results so far: {plan.sweep_dir}"
        )


def _trial_identity(plan: SweepPlan, number: int) -> str:
    # The trial's config learns who it is: the pruning callback reports to this trial, and
    # W&B names and groups the run after it.
    fields = {
        "study_name": plan.study_name,
        "number": number,
        "storage": plan.storage_url,
        "monitor": plan.metrics[0] if plan.prunes else None,
        "metrics": list(plan.metrics),  # checked against the first validation's metrics
        "pruner": plan.pruner if plan.prunes else None,
        "run_name": f"{plan.study_name}-trial{number}",
    }
    body = ",".join(f"{key}:{format_value(value)}" for key, value in fields.items())
    return "+optuna_trial={" + body + "}"


def _resumable(run_dir: Path) -> bool:
    import json

    record = run_dir / "record.json"
    last = run_dir / "checkpoints" / "last.ckpt"
    try:
        return last.is_file() and json.loads(record.read_text()).get("status") != "finished"
    except (OSError, ValueError):
        return False
