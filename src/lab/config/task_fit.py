"""Whether the task (the head) fits the data, checked before anything loads.

A data config picks its task (`data=squad` picks `task=question_answering`), and `task=...`
overrides that choice. A head given data of another kind failed deep inside training
(`data=demo task=token_classification`: a batch-size mismatch in the loss), and a
classification head given regression labels (`data.problem_type=regression` without
`task=text_regression`) failed building its metrics; `lab.validate` said "config ok".

Each task YAML declares the data it trains on (`trains_on`: the class names of the data
modules it reads, and the `data.problem_type` it reads where that matters); a task that brings
its own data module for any data (`data_module`: masked LM) declares none. The refusal names
both sides and what to set: the data options made for the task (each data YAML's defaults say
which task it picks) and the task the given data is made for. Read from the YAML files with
PyYAML (no Hydra composition): cheap, and only on the refusal path.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lab.config.paths import conf_dir
from lab.errors import ConfigError

_TASK_PICK = "/task@_global_.task"


def check_task_fits_data(cfg: DictConfig) -> None:
    """Refuse a task whose `trains_on` does not list the data's module or problem type."""
    task = cfg.task
    wants = task.get("trains_on")
    if task.get("data_module") or not isinstance(wants, DictConfig):
        return  # any data (the head's own data module), or a task YAML without the declaration
    target = cfg.data.get("_target_")
    if not isinstance(target, str) or not target.startswith("lab."):
        return  # a data module of the user's own: what it yields is not known here
    module = target.rsplit(".", 1)[-1]
    problem = cfg.data.get("problem_type")
    choices = group_choices()
    task_name = choices.get("task") or str(task.module.get("_target_", "")).rsplit(".", 1)[-1]
    data_name = choices.get("data")
    picked = declared(conf_dir() / "data" / f"{data_name}.yaml")[1] if data_name else None
    fitting = fitting_tasks(module, problem)
    kind = picked if picked in fitting else fitting[0] if fitting else None
    data = f"data={data_name}" if data_name else f"the data config ({module})"
    if module not in list(wants.get("data_modules") or ()):
        # The problem type is named where it, not the data option, makes the data's kind.
        shown = f"{data} (data.problem_type={problem})" if kind != picked else data
        options = data_options(_plain(wants))
        made = f"data={', '.join(options)}" if options else ", ".join(wants.data_modules)
        fix = f"set task={kind}" if kind else "drop the task override"
        raise ConfigError(
            f"{shown} is {_words(kind or module)} data, and task={task_name} needs "
            f"{_words(task_name)} data ({made}): pick one of those, or {fix}"
        )
    wanted = wants.get("problem_type")
    if wanted is not None and problem != wanted:
        made = f" (data for task={kind})" if kind else ""
        fix = f"set task={kind}, or " if kind else "set "
        raise ConfigError(
            f"task={task_name} reads data.problem_type={wanted}, and {data} has "
            f"data.problem_type={problem}{made}: {fix}data.problem_type={wanted}"
        )


def _words(name: str) -> str:
    return name.replace("_", " ")


def fitting_tasks(module: str, problem: Any) -> list[str]:
    """The task options whose `trains_on` takes data of `module` with `problem` (sorted)."""
    fits = []
    for name, wants in sorted(task_declarations().items()):
        modules = wants.get("data_modules") or []
        if module in modules and wants.get("problem_type") in (None, problem):
            fits.append(name)
    return fits


def data_options(wants: dict[str, Any]) -> list[str]:
    """The data options that pick a task whose `trains_on` is `wants` (sorted)."""
    tasks = task_declarations()
    options = []
    for file in sorted((conf_dir() / "data").glob("*.yaml")):
        picked = declared(file)[1]
        if picked is not None and tasks.get(picked) == wants:
            options.append(file.stem)
    return options


@functools.lru_cache(maxsize=1)
def task_declarations() -> dict[str, dict[str, Any]]:
    """`{task option: its trains_on}` for every task YAML that declares one."""
    found = {}
    for file in sorted((conf_dir() / "task").glob("*.yaml")):
        wants = declared(file)[0].get("trains_on")
        if isinstance(wants, dict):
            found[file.stem] = wants
    return found


@functools.lru_cache(maxsize=128)
def declared(file: Path) -> tuple[dict[str, Any], str | None]:
    """A config file's keys merged over those of the files it includes `@_here_`, and the task
    its defaults pick (`/task@_global_.task: x`, or an override of it), if any."""
    import yaml

    if not file.is_file():
        return {}, None
    raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    merged: dict[str, Any] = {}
    picked = None
    for entry in raw.get("defaults") or []:
        if isinstance(entry, str) and entry.endswith("@_here_"):
            name = entry.removesuffix("@_here_")
            folder = conf_dir() if name.startswith("/") else file.parent
            keys, pick = declared(folder / f"{name.lstrip('/')}.yaml")
            merged, picked = {**merged, **keys}, pick or picked
        elif isinstance(entry, dict):
            for key, value in entry.items():
                if str(key).removeprefix("override ").strip() == _TASK_PICK:
                    picked = str(value)
    return {**merged, **{k: v for k, v in raw.items() if k != "defaults"}}, picked


def _plain(node: DictConfig) -> dict[str, Any]:
    return OmegaConf.to_container(node, resolve=True)  # type: ignore[return-value]


def group_choices() -> dict[str, str]:
    """The group options this config was composed with (`data`: `demo`), where Hydra knows
    them (lab.train, lab.validate, compose_train_config); empty otherwise."""
    try:
        from hydra.core.hydra_config import HydraConfig

        choices = HydraConfig.get().runtime.choices
    except Exception:  # not composed by Hydra in this process
        return {}
    return {str(k): str(v) for k, v in choices.items() if v is not None}
