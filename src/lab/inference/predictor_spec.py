"""A run's `task.predictor` as the partial that builds its predictor, or one line saying why not.

Two causes, told apart because their ways out differ:

* no `task.predictor` in the run's config.yaml. A run of lab's own head: the run is from a lab
  whose heads did not yet declare one (every task YAML of this lab does), so the way out is that
  lab's code (`TrainedRun.refusal`). A run of a head of your own (its task YAML comes from your
  `--config-dir`, or its module is not lab's): the task YAML declares none, and the way out is
  to add one, named with the file where the run's `.hydra/hydra.yaml` finds it.
* a `_target_` of your own code that does not import (a typo, or your project not on
  `PYTHONPATH` / not `pip install -e`'d for this command): said as lab.validate says it
  (`lab.config.target_imports`), since neither Hydra's `HYDRA_FULL_ERROR` advice nor
  retraining helps. lab's own targets keep the words of `TrainedRun.refusal`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from lab.errors import LabError

# What a task YAML adds to declare its predictor (README: "Writing your own head").
PREDICTOR_LINE = (
    "predictor: {_target_: <your lab.inference.predictors.Predictor subclass>, _partial_: true}"
)


def predictor_partial(run: Any) -> Any:
    """`run.config.task.predictor` instantiated (a partial taking `model=`, `tokenizer=`,
    `cfg=`), or a `LabError` saying why it cannot be and what to do."""
    from hydra.utils import instantiate

    spec = run.config.task.get("predictor")
    if spec is None:
        raise LabError(missing_predictor(run))
    try:
        return instantiate(spec)
    except Exception as err:  # a moved or misspelt _target_, or a project not importable
        refusal = own_code_refusal(str(spec.get("_target_")))
        if refusal:
            raise LabError(f"{run.directory}: {refusal}") from err
        what = " ".join(str(err).split())
        raise LabError(run.refusal(f"its task.predictor cannot be built: {what}")) from err


def own_code_refusal(target: str) -> str | None:
    """`task.predictor._target_=<target> cannot be imported: <why> (is your project on
    PYTHONPATH, ...)` where `target` is code of yours that does not import, worded as
    lab.validate words it (`lab.config.target_imports`); None for lab's or an installed
    package's code, or code that imports."""
    from lab.config.target_imports import import_refusal, is_own_code, locate

    if not is_own_code(target):
        return None
    _found, problem = locate(target)
    return import_refusal("task.predictor", target, problem) if problem else None


def missing_predictor(run: Any) -> str:
    """The refusal of a run whose config.yaml has no `task.predictor` (see the module)."""
    choice, task_file, labs_own = _task_source(run.directory)
    module = str(OmegaConf.select(run.config, "task.module._target_", default=""))
    if labs_own or (task_file is None and module.startswith("lab.")):
        return run.refusal("a run of an older lab, its config.yaml has no task.predictor")
    task = f"task={choice}" if choice else "its task"
    where = str(task_file) if task_file else "your task YAML"
    return (
        f"{run.directory}: {task} declares no predictor, which lab.predict, lab.serve and "
        f"lab.demo run: add '{PREDICTOR_LINE}' to {where} (README: \"Writing your own head\"), "
        f"and, for this run, the same task.predictor to {run.directory}/config.yaml (or "
        "train it again)"
    )


def _task_source(run_dir: Path) -> tuple[str | None, Path | None, bool]:
    """(the run's `task=` choice, the task YAML it was read from, whether that is lab's own
    `conf/task/`), from the run's `.hydra/hydra.yaml` (Hydra's search path in its order);
    Nones where the run has no readable one (made from Python without Hydra's record)."""
    try:
        runtime = OmegaConf.load(run_dir / ".hydra" / "hydra.yaml").hydra.runtime
        choice = runtime.choices.get("task")
        sources = list(runtime.config_sources)
    except Exception:  # no file, or not Hydra's: the module's target decides
        return None, None, False
    if choice is None:
        return None, None, False
    for source in sources:
        if source.get("schema") != "file":
            continue
        path = Path(str(source.path)) / "task" / f"{choice}.yaml"
        if path.is_file():
            return str(choice), path, source.get("provider") == "main"
    return str(choice), None, False
