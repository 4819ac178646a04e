"""The keys every task YAML must give, checked before anything else reads them.

A head of your own is a task YAML (`--config-dir conf task=my_head`). Without `head:` the
config composed fine and then `lab.validate`'s own summary, or `lab.train`'s model build, died
in an OmegaConf traceback (`Key 'head' is not in struct`); without `optimized_metric` the
interpolation `optimized_metric: ${task.optimized_metric}` (conf/train.yaml) failed where it
was first read, naming an interpolation rather than the YAML line to add; `peft=lora` read
`${task.peft_task_type}` the same way. `check_task_contract` is the first content rule of
`lab.config.rules.validate_config` (lab.validate, lab.train, lab.reproduce): one line naming
the task option, its file where Hydra found one, each missing key and a value to copy.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from lab.errors import ConfigError

# Each key every head needs -> an example line for the task YAML (and what it is for).
REQUIRED_KEYS = {
    "head": "head: transformers.AutoModelForSequenceClassification (the transformers Auto "
    "class of the head)",
    "module": "module: {_target_: mypackage.MyTaskModule} (your lab.tasks.base.TaskModule "
    "subclass)",
    "optimized_metric": "optimized_metric: val/loss (a val/<name> metric your module logs; it "
    "picks the best checkpoint)",
    "optimized_mode": "optimized_mode: max (or min: whether a higher optimized_metric is better)",
}
# Keys of the top-level config that read a task key unless the command line sets them.
READ_AT_TOP = ("optimized_metric", "optimized_mode")
PEFT_EXAMPLE = (
    "peft_task_type: SEQ_CLS (peft's TaskType for the head: SEQ_CLS, TOKEN_CLS, CAUSAL_LM, "
    "SEQ_2_SEQ_LM, QUESTION_ANS; null for a plain PeftModel)"
)


def check_task_contract(cfg: DictConfig) -> None:
    """Refuse a task node that lacks a key every head needs (`REQUIRED_KEYS`), or
    `peft_task_type` where a peft config reads it; one line for all the keys it lacks."""
    task = cfg.get("task")
    if not isinstance(task, DictConfig):
        raise ConfigError("the config has no task node; choose one, e.g. task=text_classification")
    missing = [key for key in ("head", "module") if key not in task]
    for key in READ_AT_TOP:
        # `optimized_metric=val/f1` on the command line replaces the interpolation: then the
        # task YAML need not name one.
        reads_task = key not in cfg or OmegaConf.is_interpolation(cfg, key)
        if key not in task and reads_task:
            missing.append(key)
    if missing:
        examples = "; ".join(REQUIRED_KEYS[key] for key in missing)
        names = ", ".join(f"'{key}'" for key in missing)
        raise ConfigError(
            f"{task_source()} has no {names} key{'s' if len(missing) > 1 else ''}, which every "
            f"head needs; add to it, e.g. {examples}"
        )
    module = task.get("module")
    if not isinstance(module, DictConfig) or not module.get("_target_"):
        raise ConfigError(
            f"{task_source()}: its module has no _target_; give it, e.g. {REQUIRED_KEYS['module']}"
        )
    peft = OmegaConf.select(cfg, "peft.config", default=None)
    if (
        isinstance(peft, DictConfig)
        and OmegaConf.is_interpolation(peft, "task_type")
        and "peft_task_type" not in task
    ):
        raise ConfigError(
            f"peft={choice('peft') or '...'} reads task.peft_task_type, and {task_source()} "
            f"has no 'peft_task_type' key; add to it, e.g. {PEFT_EXAMPLE}"
        )


def task_source() -> str:
    """`task=<option> (<its file>)` where Hydra composed this config, else `the task config`."""
    option = choice("task")
    if option is None:
        return "the task config"
    found = option_source("task", option)
    return f"task={option}" + (f" ({found})" if found else "")


def choice(group: str) -> str | None:
    """The option of `group` the current Hydra config chose, None where unknown (a config
    not composed by Hydra in this process: a run's config.yaml read back)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    choices = HydraConfig.get().runtime.choices
    value = choices.get(group)
    return str(value) if value is not None else None


def option_source(group: str, option: str) -> Path | None:
    """The file `<group>/<option>.yaml` came from: the first of Hydra's file search-path
    entries that holds it (your `--config-dir`s come before lab's `conf/`), as composed."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    for source in HydraConfig.get().runtime.config_sources:
        if source.schema != "file":
            continue
        path = Path(str(source.path)) / group / f"{option}.yaml"
        if path.is_file():
            return path
    return None


def resolvable(cfg: DictConfig) -> bool:
    """Whether every interpolation of `cfg` resolves: a config refused for a missing task key
    (`${task.optimized_metric}`) cannot be written resolved into a run record."""
    from omegaconf.errors import OmegaConfBaseException

    try:
        OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException:
        return False
    return True
