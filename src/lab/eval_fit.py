"""Whether other data (`lab.eval run=<run> data=<name>`) is data the run's head evaluates.

Comparing the `transformers` Auto class alone let SFT, DPO and causal-LM runs (all
`AutoModelForCausalLM`) take each other's data, which then failed deep inside the head's
constructor with a traceback. Each task YAML declares the data it trains on (`trains_on`: the
data modules' class names, and `problem_type` for sequence heads; see
`lab.config.task_fit`); a run is evaluated on data that declaration accepts. A run whose
recorded config predates the declaration is judged by its task's current YAML; a run whose
task is not known there keeps the Auto-class check (`lab.eval`).

A head with its own data module for any data (`task.data_module`: masked LM) reads the text
column of any data config, but chat and preference data hold conversations, not text.

Summarization and translation declare the same data (one seq2seq data module): a run of one
is scored on the other's data with its own `task.module.metric`, and `note_other_task` says
so, naming the setting that scores it as the other task does.
"""

from __future__ import annotations

import logging
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lab.config.paths import conf_dir
from lab.config.task_fit import data_options, declared, fitting_tasks, task_declarations
from lab.config.user_dirs import recorded_dirs_hint
from lab.errors import ConfigError
from lab.eval_settings import set_overrides
from lab.run_dir.resume import EVERY_DATA_CONFIG
from lab.run_dir.runs import TrainedRun

log = logging.getLogger(__name__)

# Data modules whose rows are conversations (messages, preference pairs), not a text column:
# a masked-LM run, which reads any data's text, cannot read them.
CONVERSATIONS = {"SFTDataModule": "chat messages", "PreferenceDataModule": "preference pairs"}
# Data options a masked-LM run reads as they are (a `text` column), named in its refusal.
TEXT_DATA = ("text", "imdb", "wikitext2")


def check_data_fits_run(run: TrainedRun, composed: DictConfig, name: str) -> bool:
    """Refuse data `name` (composed into `composed`, not yet resolved) that the run's head does
    not evaluate, in one line naming the data it does; True when the run's declaration
    decided (False: no declaration known, the caller compares the heads' Auto classes)."""
    target = composed.data.get("_target_")
    if not isinstance(target, str) or not target.startswith("lab."):
        return False  # a data module of the user's own: what it yields is not known here
    module = target.rsplit(".", 1)[-1]
    task = run_task(run)
    shown = f"task={task}" if task else f"task.module={run.config.task.module.get('_target_')}"
    kind = _data_task(name, module, _select(composed, "data.problem_type"))
    if run.config.task.get("data_module"):  # the head's own data module reads any text
        if module not in CONVERSATIONS:
            return True
        raise ConfigError(
            f"data={name} is {CONVERSATIONS[module]} (data for task={kind}), not text; this "
            f"run ({shown}) evaluates the text column (data.text_column) of other data, e.g. "
            f"data={', '.join(TEXT_DATA)}"
        )
    wants = _trains_on(run, task)
    if wants is None:
        return False
    problem = _select(composed, "data.problem_type")
    wanted_problem = wants.get("problem_type")
    if module in (wants.get("data_modules") or ()) and wanted_problem in (None, problem):
        return True
    options = data_options(wants)
    made = f"data={', '.join(options)}" if options else ", ".join(wants.get("data_modules") or ())
    own = f"{task.replace('_', ' ')} data" if task else "data of its own kind"
    fix = "evaluate it on one of those (data.path=<your files>)"
    data = f"data={name}"
    if module in (wants.get("data_modules") or ()):  # the problem type makes the data's kind
        data += f" (data.problem_type={problem})"
        own = f"{own} (problem_type={wanted_problem})"
        if declared(conf_dir() / "data" / f"{name}.yaml")[1] == task:
            fix += f", or set data.problem_type={wanted_problem}"  # data made for this task
    raise ConfigError(
        f"{data} is data for task={kind or module}; this run ({shown}) evaluates {own} "
        f"({made}): {fix}"
    )


def note_other_task(run: TrainedRun, cfg: DictConfig, data_overrides: list[str]) -> None:
    """Say when the data given (`data=<name>`) is made for another task that reads the same
    data (`data=wmt16_ro_en` for a summarization run) and scores it with another metric: the
    run scores it with its own `task.module.metric` (as set now), and which value scores it
    as the other task does."""
    names = [o.split("=", 1)[1] for o in data_overrides if o.split("=", 1)[0] == "data"]
    task = run_task(run)
    if not names or not task:
        return
    picked = declared(conf_dir() / "data" / f"{names[-1]}.yaml")[1]
    if not picked or picked == task:
        return
    theirs = _task_metric(picked)
    ours = cfg.task.get("module", {}).get("metric")
    if theirs is not None and ours is not None and theirs != ours:
        log.warning(
            "data=%s is made for task=%s, scored with %s; this run (task=%s) scores it with "
            "task.module.metric=%s (task.module.metric=%s scores it as task=%s does)",
            names[-1], picked, theirs, task, ours, theirs, picked,
        )  # fmt: skip


def run_task(run: TrainedRun) -> str | None:
    """The task option the run trained with: its `task=` override, else the task its `data=`
    option picks, else the task YAML whose module is the run's (None if none is)."""
    given = _overrides(run)
    tasks = [o.split("=", 1)[1] for o in given if o.startswith("task=")]
    if tasks:
        return tasks[-1]
    data = [o.split("=", 1)[1] for o in given if o.startswith("data=")]
    if data:
        picked = declared(conf_dir() / "data" / f"{data[-1]}.yaml")[1]
        if picked:
            return picked
    target = run.config.task.get("module", {}).get("_target_")
    for file in sorted((conf_dir() / "task").glob("*.yaml")):
        if (declared(file)[0].get("module") or {}).get("_target_") == target:
            return file.stem
    return None


def _overrides(run: TrainedRun) -> list[str]:
    """The run's command-line overrides (`overrides.yaml`, else `record.json`'s)."""
    path = run.directory / "overrides.yaml"
    given: Any = OmegaConf.load(path) if path.is_file() else run.record.get("overrides")
    return [str(o) for o in given or () if isinstance(o, str)]


def _trains_on(run: TrainedRun, task: str | None) -> dict[str, Any] | None:
    """The run's `task.trains_on`, or its task's current declaration for a run recorded
    before there was one."""
    recorded = run.config.task.get("trains_on")
    if isinstance(recorded, DictConfig):
        return OmegaConf.to_container(recorded, resolve=True)  # type: ignore[return-value]
    return task_declarations().get(task) if task else None


def _data_task(name: str, module: str, problem: Any) -> str | None:
    """The task data `name` is made for: the one its YAML picks where that fits its data
    module, else the first task that reads it."""
    picked = declared(conf_dir() / "data" / f"{name}.yaml")[1]
    fitting = fitting_tasks(module, problem)
    return picked if picked in fitting or not fitting else fitting[0]


def _task_metric(task: str) -> Any:
    """`module.metric` of a task YAML, with the YAMLs it builds on (translation on
    summarization's)."""
    file = conf_dir() / "task" / f"{task}.yaml"
    module = declared(file)[0].get("module") or {}
    return module.get("metric")


def _select(cfg: DictConfig, key: str) -> Any:
    """`cfg`'s value at `key`, None where it is missing or cannot be resolved yet."""
    return OmegaConf.select(cfg, key, default=None, throw_on_resolution_failure=False)


def task_choice(run: TrainedRun) -> list[str]:
    """The run's own `task=<name>` override, if it gave one: a head that trains on any data
    (task=masked_lm) is evaluated on other data with the same head, not the data's default."""
    overrides = run.directory / "overrides.yaml"
    if not overrides.is_file():
        return []
    given = OmegaConf.load(overrides)
    return [str(o) for o in given if isinstance(o, str) and o.startswith("task=")][-1:]


def change_data(cfg: DictConfig, data_overrides: list[str], run: TrainedRun) -> None:
    """Change `cfg.data` (a copy of the run's) as `data_overrides` ask: `data=<name>` composes
    that data config (`_compose_data`), `data.<key>=` sets keys the run's data has (or lab
    added since it was recorded); anything else is refused naming the valid keys."""
    group = [o.split("=", 1)[1] for o in data_overrides if o.split("=", 1)[0] == "data"]
    keys = [o for o in data_overrides if o.split("=", 1)[0] != "data"]
    if group:
        cfg.data = _compose_data(group[-1], keys, run)
        return
    added = [key.split(".", 1)[1] for key in EVERY_DATA_CONFIG]  # a run from before them
    valid = sorted({*(str(k) for k in run.config.data), *added})
    for key in keys:
        name = key.split("=", 1)[0].split(".")[1]
        if name not in valid:
            # The one key of that name elsewhere, where lab.eval takes it (`lab.eval ...
            # task.module.threshold=0.3` re-thresholds a multi-label run: s30c N3).
            from lab.config.key_hints import same_leaf_key

            elsewhere = same_leaf_key(run.config, "data", name)
            maybe = f" (did you mean {elsewhere}?)" if elsewhere else ""
            raise ConfigError(f"'data.{name}' is not a data key{maybe}; valid: {', '.join(valid)}")
    set_overrides(cfg, keys)


def _compose_data(name: str, keys: list[str], run: TrainedRun) -> DictConfig:
    """The data config `name` with `keys`, as the run's task and seed would compose it, if its
    data fits the run's head."""
    from lab.config.compose import compose_in_words

    try:
        composed = compose_in_words(
            [f"data={name}", f"seed={run.config.seed}", *task_choice(run), *keys]
        )
    except ConfigError as err:  # data=<yours> without the --config-dir the run was trained with
        raise ConfigError(f"{err}{recorded_dirs_hint(run.record)}") from err
    fits = check_data_fits_run(run, composed, name)  # before resolving: other heads' keys
    if not fits and str(composed.task.head) != str(run.config.task.head):
        raise ConfigError(
            f"data={name} is data for an {composed.task.head.rsplit('.', 1)[-1]} but this run's "
            f"model is an {run.head}; evaluate it on data of its own kind"
        )
    data = OmegaConf.create(OmegaConf.to_container(composed.data, resolve=True))
    assert isinstance(data, DictConfig)
    return data
