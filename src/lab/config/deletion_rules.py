"""Refuse a `~key` deletion that would make training fall back on a default kept only in code.

`key=null` is held to the key's valid range (`lab.config.ranges`), but Hydra's `~key` removes
the key: `~optimizer.lr` trained at `lab.training.optim.adamw`'s own `lr=5e-5` and
`~data.max_length` at the data module's `max_length=128`. Those values were recorded nowhere:
`config.yaml` ("the config that ran") lacked them, the model card listed no learning rate, and
its usage code no longer truncated as training did. `lab.validate` said "config ok".

The mechanism: Hydra records the command line's overrides (`HydraConfig.overrides.task`, in
`lab.train`, `lab.validate` and `compose_train_config` alike), and a deletion is the only way a
key lab's YAML sets goes missing (every other key of lab's config has its default in one YAML,
design principle 11). So each `~key` there whose key is now absent from the config is judged:

* under `READ_NODES` (model, data, task, trainer, optimizer, scheduler, peft, paths) and
  `RUN_KEYS` (`train.yaml`'s seed, resume, optimized_metric, optimized_mode), it is refused when
  the code that reads that node takes the key: the builder its `_target_` names (a lab function
  or class, read from its source with `ast`, following `**kwargs` into the base class:
  `TextClassificationDataModule` -> `DataModule`), Lightning's `Trainer` for `trainer`,
  peft's config class for `peft.config`; a node without a `_target_` (`model`, `task`,
  `data.splits`), or whose builder's arguments cannot be read (transformers' tokenizer and
  model config), is read by lab or a library with defaults of their own, so any deletion there
  is refused. A key the builder does not take may be deleted: that is how one drops a key an
  experiment set for another option (`optimizer=sgd` under an experiment's `optimizer.betas`);
  `_target_`-style keys are Hydra's and are never deletable;
* deleting a whole group that every run needs (`REQUIRED_GROUPS`: `~trainer` would leave
  Lightning's defaults, `~optimizer` a failure after the data loaded) is refused, naming the
  group's options; `~scheduler` and `~peft` mean what `scheduler=none` and `peft=none` mean,
  and pass;
* everything else passes: entries of `callbacks` and `logger` (`~callbacks.model_checkpoint`
  leaves out that part, and each part's settings are its library's), an experiment's
  `~expected` block (the metrics `lab.reproduce` checks), Hydra's own `hydra.*` keys
  (`~hydra.sweeper.pruner.n_startup_trials`, which the README advises), and a user's own
  top-level keys.

A recorded config (`lab.reproduce`) carries no deletion overrides, so it is not judged here.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
from typing import TypeGuard

from omegaconf import DictConfig, OmegaConf

from lab.config.builder_arguments import parsed_module
from lab.errors import ConfigError

# group -> the key whose absence shows the group's option is gone (strategy and precision
# write into the trainer node: `# @package trainer`).
REQUIRED_GROUPS: dict[str, str] = {
    "model": "model",
    "data": "data",
    "task": "task",
    "trainer": "trainer._target_",
    "strategy": "trainer.strategy",
    "precision": "trainer.precision",
    "optimizer": "optimizer",
    "paths": "paths",
}
# The nodes whose keys training reads.
READ_NODES = ("model", "data", "task", "trainer", "optimizer", "scheduler", "peft", "paths")
# The top-level keys of `conf/train.yaml`.
RUN_KEYS = ("seed", "resume", "optimized_metric", "optimized_mode")
LIGHTNING_TRAINER = "lightning.pytorch.Trainer"


def check_deletions(cfg: DictConfig) -> None:
    """Refuse the first command-line `~key` that removed a key or group training needs."""
    choices = _choices()
    for key in deleted_keys(task_overrides()):
        head = key.split(".", 1)[0]
        if key in REQUIRED_GROUPS:
            if key not in choices and _absent(cfg, REQUIRED_GROUPS[key]):
                raise ConfigError(deleted_group_message(key))
        elif ((head in READ_NODES and "." in key) or key in RUN_KEYS) and _absent(cfg, key):
            reader = key_reader(cfg, key)
            if reader is not None:
                raise ConfigError(deleted_key_message(key, reader))


def deleted_keys(overrides: list[str]) -> list[str]:
    """The keys (or groups) the `~key` and `~key=value` overrides of `overrides` delete;
    nested groups (`~hydra/launcher`) are left out: none of them is lab's."""
    keys = []
    for override in overrides:
        if not override.startswith("~"):
            continue
        key = override[1:].partition("=")[0].partition("@")[0].strip()
        if key and "/" not in key:
            keys.append(key)
    return keys


def key_reader(cfg: DictConfig, key: str) -> str | None:
    """Who reads `key` (a dotted path) and would use its own default for it: a builder's
    name, `Hydra's instantiate` or `lab`; None where nothing does (its node's builder does not
    take it)."""
    parent_path, _, leaf = key.rpartition(".")
    if leaf.startswith("_"):
        return "Hydra's instantiate"
    if not parent_path:
        return "lab"  # a top-level run key
    target = _target(cfg, parent_path)
    if target is None:
        return "lab"
    taken = _taken(parent_path, target)
    if taken is None:
        return target
    if leaf not in taken:
        return None
    return LIGHTNING_TRAINER if parent_path == "trainer" and _is_lab_trainer(target) else target


def deleted_key_message(key: str, reader: str) -> str:
    """The refusal of `~key`, whose value `reader` would replace with its own default."""
    from lab.config.ranges import rule_for

    rule = rule_for(key)
    valid = f" (valid: {rule.valid()})" if rule is not None else ""
    return (
        f"~{key} deleted a key that {reader} reads: training would fall back on a default in "
        "code that config.yaml and the model card do not record; set the value instead: "
        f"{key}=<value>{valid}"
    )


def deleted_group_message(group: str) -> str:
    """The refusal of `~group`, a group every run needs."""
    from lab.config.paths import conf_dir

    options = sorted(path.stem for path in (conf_dir() / group).glob("*.yaml"))
    listed = f": {group}={', '.join(options)}" if options else f" ({group}=<option>)"
    return (
        f"~{group} deleted the {group} group, which every run needs (the defaults in code "
        "that would stand in are recorded nowhere); pick one of its options "
        f"instead{listed}"
    )


def task_overrides() -> list[str]:
    """The command line's overrides of the config Hydra composed last in this process."""
    try:
        from hydra.core.hydra_config import HydraConfig

        return [str(o) for o in HydraConfig.get().overrides.task]
    except Exception:  # not composed by Hydra in this process: no overrides to judge
        return []


def _choices() -> set[str]:
    try:
        from hydra.core.hydra_config import HydraConfig

        return {str(group) for group in HydraConfig.get().runtime.choices}
    except Exception:  # not composed by Hydra in this process
        return set()


def _absent(cfg: DictConfig, key: str) -> bool:
    """Whether `key` is missing from `cfg` (its parent is there, or it is top-level); a key
    whose parent is gone too is another deletion's to report."""
    parent_path, _, leaf = key.rpartition(".")
    parent = OmegaConf.select(cfg, parent_path, default=None) if parent_path else cfg
    # Iterated, not `in`: `in` calls a key whose value is `???` (mandatory) missing.
    return isinstance(parent, DictConfig) and leaf not in {str(k) for k in parent}


def _target(cfg: DictConfig, path: str) -> str | None:
    """The `_target_` that builds the node at `path`; for `data`, a task's own data module
    (`task.data_module`, task=masked_lm) wins, as `lab.build` instantiates it."""
    node = OmegaConf.select(cfg, path, default=None)
    own = OmegaConf.select(cfg, "task.data_module._target_", default=None)
    if path == "data" and isinstance(own, str):
        return own
    target = node.get("_target_") if isinstance(node, DictConfig) else None
    return target if isinstance(target, str) else None


def _is_lab_trainer(target: str) -> bool:
    from lab.config.rules import LAB_TRAINER_TARGET

    return target == LAB_TRAINER_TARGET


def _taken(path: str, target: str) -> frozenset[str] | None:
    """The keyword arguments the builder `target` of the node at `path` takes; None when not
    known without importing it."""
    if path == "trainer" and _is_lab_trainer(target):
        from lab.config.rules import LAB_TRAINER_OPTIONS, trainer_argument_names

        return trainer_argument_names() | frozenset(LAB_TRAINER_OPTIONS)
    if path == "peft.config":
        from lab.config.peft_rules import dataclass_fields

        fields = dataclass_fields(target)
        return frozenset(fields) if fields is not None else None
    return builder_keywords(target) if target.startswith("lab.") else None


@functools.lru_cache(maxsize=64)
def builder_keywords(target: str, depth: int = 0) -> frozenset[str] | None:
    """Every argument of lab's function or class `target` (`__init__`), with those of its
    first base class where it passes `**kwargs` on (`super().__init__(**kwargs)`), read from
    source; None where that is not known (a function's `**kwargs`, a base outside lab)."""
    module_name, _, name = target.rpartition(".")
    tree = parsed_module(module_name)
    node = next(
        (
            n
            for n in (tree.body if tree else [])
            if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == name
        ),
        None,
    )
    if node is None or depth > 8:
        return None
    bases = node.bases[:1] if isinstance(node, ast.ClassDef) else []
    base = _qualified(tree, module_name, bases[0]) if bases and tree else None
    if isinstance(node, ast.ClassDef):
        init = next((i for i in node.body if _is_init(i)), None)
        if init is None:  # an inherited __init__
            return builder_keywords(base, depth + 1) if base else None
        arguments = init.args
    else:
        arguments = node.args
    names = frozenset(a.arg for a in [*arguments.posonlyargs, *arguments.args]) | frozenset(
        a.arg for a in arguments.kwonlyargs
    )
    names -= {"self"}
    if arguments.kwarg is None:
        return names
    inherited = builder_keywords(base, depth + 1) if base else None
    return names | inherited if inherited is not None else None


def _is_init(node: ast.stmt) -> TypeGuard[ast.FunctionDef]:
    return isinstance(node, ast.FunctionDef) and node.name == "__init__"


def _qualified(tree: ast.Module, module_name: str, base: ast.expr) -> str | None:
    """The dotted name of the base class `base` (a plain name defined in or imported into
    `module_name`) where it is lab's; None otherwise (`L.LightningDataModule`)."""
    if not isinstance(base, ast.Name):
        return None
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == base.id:
            return f"{module_name}.{base.id}"
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if (alias.asname or alias.name) == base.id:
                    origin = _absolute(module_name, node)
                    found = f"{origin}.{alias.name}"
                    return found if found.startswith("lab.") else None
    return None


def _absolute(module_name: str, node: ast.ImportFrom) -> str:
    """The absolute module an `ImportFrom` in `module_name` names (`from .data import X`)."""
    if not node.level:
        return node.module or ""
    spec = importlib.util.find_spec(module_name)
    is_package = spec is not None and spec.submodule_search_locations is not None
    parts = module_name.split(".")
    package = parts if is_package else parts[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])
