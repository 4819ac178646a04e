"""The Hydra side of lab's Optuna sweeper: config in, trials launched, results out.

Configured by `conf/hydra/sweeper/lab_optuna.yaml` (samplers and pruners in its `sampler/`
and `pruner/` groups); a sweep file in `sweeps/` selects it and sets the search space. The
study logic lives in `lab.sweeps` (see its docs); this class turns Hydra's config and
command line into a `SweepPlan`, launches each trial through the configured Hydra launcher
(in-process by default, SLURM with `hydra/launcher=slurm`) and reports at the end.

Why not hydra-optuna-sweeper: it pins Optuna < 3 (whose SQLite storage fails on current
SQLAlchemy), cannot prune (jobs never see their trial), renumbers jobs on restart, and one
failed trial ends the sweep. Here each trial gets its identity in its config
(`optuna_trial`), job numbers are trial numbers, and failures are recorded, not raised.
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

from hydra.core.plugins import Plugins
from hydra.plugins.launcher import Launcher
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from hydra_plugins.lab_optuna_sweeper.workers import (
    WORKER_ENV,
    start_workers,
    stop_or_wait,
    study_state,
)
from lab.errors import EXIT_USER_ERROR, ConfigError, LabError

log = logging.getLogger(__name__)

# The sweeper's own numeric settings, in the range-table notation of `lab.config.ranges`
# (the table covers the run's config; these live under hydra.sweeper, which it never sees).
SETTING_RANGES = {
    "n_trials": "int >= 1",
    "n_jobs": "int >= 1",
    "max_failure_rate": "in [0, 1] ; the share of failed trials that ends the sweep",
    "heartbeat_interval": "> 0 ; seconds between a running trial's heartbeats",
    "stale_after": "> 0 ; seconds without a heartbeat before a trial counts as dead",
}


class LabOptunaSweeper(Sweeper):
    """A Hydra sweeper running an Optuna study with pruning, resume and parallel workers."""

    def __init__(
        self,
        sampler: DictConfig,
        pruner: DictConfig,
        study_name: str | None = None,
        storage: str | None = None,
        metric: str | list[str] = "val/acc",
        direction: str | list[str] = "maximize",
        n_trials: int = 20,
        n_jobs: int = 1,
        max_failure_rate: float = 0.25,
        params: DictConfig | None = None,
        enqueue_trials: list[Any] | None = None,
        heartbeat_interval: float = 10.0,
        stale_after: float = 60.0,
    ) -> None:
        self.sampler_cfg = sampler
        self.pruner_cfg = pruner
        self.study_name = study_name
        self.storage = storage
        self.metric = metric
        self.direction = direction
        self.n_trials = n_trials
        self.n_jobs = n_jobs
        self.max_failure_rate = max_failure_rate
        self.params: dict[str, Any] = _flat_params(params)
        # As written: `_plan` checks each entry (a scalar, `[0.1]`, is refused there in words).
        self.enqueue_trials: list[Any] = [
            OmegaConf.to_container(e) if OmegaConf.is_config(e) else e for e in enqueue_trials or []
        ]
        self.heartbeat_interval = heartbeat_interval
        self.stale_after = stale_after

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        """Keep the config and build the launcher (Hydra calls this before `sweep`)."""
        self.config = config
        self.cfg: DictConfig = config  # the same, typed as set (Hydra's attribute is Optional)
        self.hydra_context = hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=hydra_context, task_function=task_function
        )
        self.trial_launcher: Launcher = self.launcher

    def sweep(self, arguments: list[str]) -> Any:
        """Run (or continue) the study; one readable line and exit 2 for a user error."""
        from lab.run_dir.endings import interrupting_signal
        from lab.sweeps.launchers import interrupted_message

        self.launching: int | None = None  # the trial a job of its own runs now (submitit)
        try:
            return self._sweep(arguments)
        except LabError as err:
            print(f"error: {err}", file=sys.stderr)
            sys.exit(EXIT_USER_ERROR)
        except BaseException as err:
            # lab.train's words ("between its trials") are wrong while a trial job runs apart.
            signal_name = interrupting_signal(err)
            if signal_name is None or self.launching is None:
                raise
            choice = self.cfg.hydra.runtime.choices.get("hydra/launcher", "submitit")
            print(interrupted_message(signal_name, choice, self.launching), file=sys.stderr)
            sys.exit(128 + signal.Signals[signal_name].value)

    def _sweep(self, arguments: list[str]) -> Any:
        from hydra.utils import instantiate

        from lab.sweeps.grid_budget import grid_trials
        from lab.sweeps.objectives import note_unused_pruner
        from lab.sweeps.results import write_plots, write_results
        from lab.sweeps.storage import open_storage, redact, remove_lock_files, require_study
        from lab.sweeps.summary import print_sweep_summary
        from lab.sweeps.wandb_summary import log_study_to_wandb
        from lab.sweeps.worker import open_study, run_worker

        # Every check that can refuse the command runs before the sweep directory, the storage
        # or a trial exists: a typo must not leave an empty study behind.
        self._check_settings()
        plan = self._plan(arguments)  # parses the search space: a bad range stops here
        self._check_overrides_compose(plan)
        if self._is_grid():  # refuses a continuous parameter; runs each point once
            plan.n_trials = grid_trials(plan.space.grid(), plan.n_trials)
        if plan.resume_required:  # refused before the directory and the database are made
            require_study(plan.storage_url, plan.study_name, plan.sweep_dir)
        worker_index = int(os.environ.get(WORKER_ENV, "0"))
        storage = open_storage(plan.storage_url)
        sampler = self._sampler(plan, worker_index + _trials_so_far(storage, plan.study_name))
        pruner = instantiate(self.pruner_cfg) if plan.prunes else None
        note_unused_pruner(plan.metrics, self.pruner_cfg)
        study = open_study(plan, storage, sampler, pruner)
        # Only now: a study in a shared storage that refuses this command (another setup)
        # must not leave an empty sweep directory under this command's output root.
        self._use_sweep_dir(plan.sweep_dir)
        if worker_index == 0:
            OmegaConf.save(self.cfg, plan.sweep_dir / "multirun.yaml")
            log.info("Sweep directory: %s (storage %s)", plan.sweep_dir, redact(plan.storage_url))
        workers = (
            start_workers(plan.sweep_dir, self.n_jobs)
            if self.n_jobs > 1 and worker_index == 0
            else []
        )
        finished = False
        failed_workers: list[str] = []
        try:
            run_worker(study, plan, self._launch_function(plan))
            finished = True
        finally:
            failed_workers = stop_or_wait(workers, graceful=finished)
        if finished and worker_index == 0:  # every trial finished: lab's lock files go
            remove_lock_files(plan.storage_url, plan.study_name)
        write_results(study, plan.sweep_dir)
        if worker_index == 0:
            plots = write_plots(study, plan.sweep_dir)
            log_study_to_wandb(study, self.cfg, plan.sweep_dir)
            print_sweep_summary(study, plan.sweep_dir, plots)
        if failed_workers:
            # The study may well be complete (the other workers took its trials), but a worker
            # that crashed is a fault a script must see: exit 1 after the results are written.
            for failure in failed_workers:
                print(f"error: {failure}", file=sys.stderr)
            states = [t.state.name for t in study.get_trials(deepcopy=False)]
            print(study_state(states, plan.n_trials), file=sys.stderr)
            sys.exit(1)
        return study

    def _plan(self, arguments: list[str]) -> Any:
        from lab.sweeps.objectives import objectives
        from lab.sweeps.search_space import parse_search_space
        from lab.sweeps.space_checks import check_enqueued
        from lab.sweeps.storage import storage_url
        from lab.sweeps.worker import SweepPlan

        resume_required = False
        kept = []
        for argument in arguments:
            key, _, value = argument.partition("=")
            if key == "resume":
                if value.lower() not in ("true", "auto", "null", "none", "false"):
                    raise ConfigError(
                        f"{argument}: in a sweep, resume=true continues the study (running "
                        "the same command again does too); resume=<run dir> is for single runs"
                    )
                resume_required = value.lower() in ("true", "auto")
            else:
                kept.append(argument)
        metrics, directions = objectives(self.metric, self.direction)
        choices = self.cfg.hydra.runtime.choices
        study_name = self.study_name or choices.get("sweep") or "lab_sweep"
        sweep_dir = (Path(self.cfg.paths.output_root) / "sweeps" / study_name).resolve()
        space = parse_search_space(self.params, kept)
        return SweepPlan(
            study_name=study_name,
            storage_url=storage_url(self.storage, sweep_dir),
            sweep_dir=sweep_dir,
            metrics=metrics,
            directions=directions,
            n_trials=int(self.n_trials),
            space=space,
            max_failure_rate=float(self.max_failure_rate),
            # Checked with the space: an enqueued value Optuna cannot take raised in the
            # worker after the trial was created, and every later run met that trial again.
            enqueue=check_enqueued(self.enqueue_trials, space.distributions),
            heartbeat_interval=float(self.heartbeat_interval),
            stale_after=float(self.stale_after),
            resume_required=resume_required,
            pruner=OmegaConf.to_container(self.pruner_cfg, resolve=True),  # type: ignore[arg-type]
        )

    def _check_settings(self) -> None:
        """Refuse, in one line, a sweeper setting out of range, a sampler or pruner set like a
        value (`hydra.sweeper.sampler=random`) or an output root where no sweep directory can
        be made (before any directory, storage or trial is created)."""
        from lab.config.ranges import parse_rule
        from lab.run_dir.disk import check_output_root
        from lab.sweeps.sweeper_settings import group_choice_problem, setting_problem

        for group, node in (("sampler", self.sampler_cfg), ("pruner", self.pruner_cfg)):
            if not (OmegaConf.is_dict(node) or isinstance(node, dict)):
                raise ConfigError(group_choice_problem(group, node))
            if (problem := setting_problem(group, node, self.cfg)) is not None:
                raise ConfigError(problem)

        for name, text in SETTING_RANGES.items():
            rule = parse_rule(f"hydra.sweeper.{name}", text)
            value = getattr(self, name)
            if (problem := rule.problem(value)) is not None:
                raise ConfigError(
                    f"hydra.sweeper.{name}={value} is {problem}; valid: {rule.valid()}"
                )
        check_output_root(self.cfg)

    def _use_sweep_dir(self, sweep_dir: Path) -> None:
        # The launcher creates and logs into hydra.sweep.dir: point it at the study's stable
        # directory instead of the time-stamped default (trials get the same as an override).
        given = [
            str(o).split("=", 1)[1]
            for o in OmegaConf.select(self.cfg, "hydra.overrides.hydra", default=None) or []
            if str(o).startswith("hydra.sweep.dir=")
        ]
        if given and Path(given[-1]).expanduser().resolve() != sweep_dir:  # said, not obeyed
            log.warning(
                "hydra.sweep.dir=%s is not read by a lab sweep: its directory is %s "
                "(paths.output_root=<root> and hydra.sweeper.study_name=<name> choose it)",
                given[-1],
                sweep_dir,
            )
        sweep_dir.mkdir(parents=True, exist_ok=True)
        with read_write(self.cfg.hydra), open_dict(self.cfg.hydra):
            self.cfg.hydra.sweep.dir = str(sweep_dir)

    def _is_grid(self) -> bool:
        return str(self.sampler_cfg.get("_target_", "")).endswith("GridSampler")

    def _sampler(self, plan: Any, seed_offset: int) -> Any:
        from hydra.utils import instantiate

        sampler_cfg = OmegaConf.to_container(self.sampler_cfg, resolve=True)
        assert isinstance(sampler_cfg, dict)
        # Not for the grid: its seed shuffles the grid's order, and a trial's grid id (stored
        # in the study, excluded for the other workers) must name the same point in every
        # worker, or two workers run one point and none runs another.
        if sampler_cfg.get("seed") is not None and seed_offset and not self._is_grid():
            # Workers of one study must not draw the same random points: each starts from
            # its own seed (from its index and the trials that existed when it joined). A new
            # single-process study keeps `seed` itself, so it is reproducible.
            # Mixed, not added: seeds 1 and 2 of two workers must not meet at 1 + 1.
            mixed = hashlib.sha256(f"{sampler_cfg['seed']}:{seed_offset}".encode()).digest()
            sampler_cfg["seed"] = int.from_bytes(mixed[:4], "big")
        if self._is_grid():
            sampler_cfg["search_space"] = plan.space.grid()
        return instantiate(sampler_cfg)

    def _check_overrides_compose(self, plan: Any) -> None:
        """Fail before the first trial when an override names a key or option that is not,
        or sets a value its key's range refuses (`optimizer.lr=-1` fixed for every trial:
        each would fail on it, one after the other). Every value of every choice is composed
        (`lab.sweeps.probes`): a bad one is refused here, not in each trial that drew it."""
        from hydra.errors import HydraException

        from lab.config.cli import unknown_key_hints
        from lab.config.paths import conf_dir
        from lab.sweeps.probes import changed, probes
        from lab.sweeps.search_space import trial_overrides
        from lab.sweeps.setup_files import setup_files
        from lab.sweeps.space_checks import check_fixed_overrides
        from lab.sweeps.space_keys import compose_refusal
        from lab.sweeps.study_setup import option_setup, trial_setup

        assert self.config is not None  # set by `setup`, before any sweep
        loader = self.hydra_context.config_loader  # type: ignore[union-attr]
        tried = probes(plan.space.distributions, lambda key: _is_group(loader, key))
        searched = list(plan.space.distributions)
        groups = [name for name in searched if _is_group(loader, name)]
        for probe in tried:
            overrides = [*plan.space.fixed, *trial_overrides(probe)]
            try:
                self.validate_batch_is_legal([overrides])
                composed = loader.load_sweep_config(
                    master_config=self.config, sweep_overrides=overrides
                )
                check_fixed_overrides(composed, plan.space.fixed)
                # The first probe's config, and each searched group's option as it composes
                # (an option's own file edited changes the study's setup too: s29c F2).
                plan.trial_setup = plan.trial_setup or trial_setup(composed, searched)
                plan.setup_files = plan.setup_files or setup_files(loader, composed)
                for group in groups if probe is tried[0] else changed(probe, tried[0]):
                    plan.trial_setup |= option_setup(composed, group, probe[group])
            except HydraException as err:
                # A key that is no key: lab's words (the close match, the valid keys), not
                # Hydra's advice to add it with `+`, which would make every trial fail on it.
                config_name = str(self.cfg.hydra.job.config_name or "train")
                hints = unknown_key_hints(overrides, str(conf_dir()), config_name)
                # Hydra's words, lines joined, without its list of config search paths.
                hydras = " ".join(str(err).split()).split(" Config search path:")[0]
                reason = "; ".join(hints) or hydras
                # A later choice value: named, as the trials that take it are the ones to fail.
                changed_values = trial_overrides(changed(probe, tried[0]))
                raise ConfigError(compose_refusal(changed_values, reason)) from err

    def _launch_function(self, plan: Any) -> Any:
        from hydra.core.utils import JobStatus

        from lab.compat.hydra import job_error
        from lab.sweeps.launchers import runs_jobs_apart
        from lab.sweeps.search_space import format_value
        from lab.sweeps.worker import TrialOutcome

        def launch(number: int, overrides: list[str]) -> TrialOutcome:
            placement = [
                f"hydra.sweep.dir={format_value(str(plan.sweep_dir))}",
                f"hydra.sweep.subdir=trials/{number}",
            ]
            self.launching = number if runs_jobs_apart(self.cfg.hydra.get("launcher")) else None
            (ret,) = self.trial_launcher.launch([[*overrides, *placement]], initial_job_idx=number)
            self.launching = None
            if ret.status == JobStatus.FAILED:
                error = job_error(ret)
                if type(error).__name__ != "TrialPruned":
                    _write_traceback(plan.trial_dir(number), error)
                return TrialOutcome(error=error)
            return TrialOutcome(metrics=dict(ret.return_value or {}))

        return launch


def _flat_params(params: DictConfig | None) -> dict[str, Any]:
    """`{optimizer: {lr: ...}}` (how `hydra.sweeper.params.optimizer.lr=...` nests) as
    `{"optimizer.lr": ...}`; keys written with dots in a sweep file stay as they are."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(f"{prefix}.{key}" if prefix else str(key), value)
        else:
            flat[prefix] = node

    walk("", OmegaConf.to_container(params) if params else {})
    return flat


def _is_group(loader: Any, key: str) -> bool:
    """Whether the override key `key` (`model`, `+model@encoder`) chooses a config group's
    option; True when Hydra cannot say, so the value is composed rather than assumed."""
    try:
        return bool(loader.get_group_options(key.lstrip("+~").split("@", 1)[0]))
    except Exception:
        return True


def _trials_so_far(storage: Any, study_name: str) -> int:
    try:
        return int(storage.get_n_trials(storage.get_study_id_from_name(study_name)))
    except KeyError:
        return 0


def _write_traceback(run_dir: Path, error: BaseException) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    (run_dir / "error.log").write_text(text)
    log.debug("trial failed:\n%s", text)
