"""A head's module of your own that lacks `evaluation_step` / `evaluation_metrics`, refused
by `lab.validate` as `lab.train` refuses it.

`TaskModule.__init__` refuses such a class when it is built, but that is after the data is
read and the model loaded, so `lab.validate` said "config ok" for a module lab.train then
refused, leaving a failed run folder (s27e M3). `check_module_contract` (a rule of
`lab.config.rules.validate_config`) reads the class from its source file, nothing imported:
the methods it and its bases define, up its chain of first bases to
`lab.tasks.base.TaskModule`. Where the source does not tell (several bases, a base made at
import time or imported in a way not followed), it passes: the check when the class is built
still holds. lab's own modules are not read: each implements both (tests/test_own_head_example.py).
"""

from __future__ import annotations

import ast

from omegaconf import DictConfig, OmegaConf

from lab.errors import ConfigError
from lab.tasks.contract import missing_methods, missing_methods_message

TASK_MODULE = ("lab.tasks.base", "TaskModule")
MAX_DEPTH = 8  # classes followed up the chain of bases


def check_module_contract(cfg: DictConfig) -> None:
    """Refuse `task.module._target_` of your own code whose class, read from its source,
    leaves an evaluation method of lab.tasks.contract to TaskModule."""
    target = OmegaConf.select(cfg, "task.module._target_", default=None)
    if not isinstance(target, str) or "." not in target or target.startswith("lab."):
        return
    module_name, _, name = target.rpartition(".")
    defined = methods_up_to_task_module(module_name, name)
    if defined is None:
        return
    missing = missing_methods(defined.__contains__)
    if missing:
        raise ConfigError(missing_methods_message(target, missing))


def methods_up_to_task_module(module_name: str, name: str) -> set[str] | None:
    """The method names class `name` of `module_name` and its bases below TaskModule define,
    when its chain of bases reaches TaskModule by single, source-readable bases; else None."""
    from lab.config.builder_arguments import parsed_module

    defined: set[str] = set()
    for _ in range(MAX_DEPTH):
        if (module_name, name) == TASK_MODULE:
            return defined
        tree = parsed_module(module_name)
        found = _class(tree, name) if tree is not None else None
        if (
            tree is None
            or found is None
            or len(found.bases) != 1
            or not isinstance(found.bases[0], ast.Name)
        ):
            return None
        defined |= _members(found)
        module_name, name = _imported_from(tree, module_name, found.bases[0].id)
    return None


def _members(found: ast.ClassDef) -> set[str]:
    """The names `found`'s body defines: its methods, and names assigned there
    (`evaluation_step = shared_step` defines the method too)."""
    names: set[str] = set()
    for item in found.body:
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(item.name)
        elif isinstance(item, ast.Assign):
            names |= {t.id for t in item.targets if isinstance(t, ast.Name)}
        elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            names.add(item.target.id)
    return names


def _class(tree: ast.Module, name: str) -> ast.ClassDef | None:
    """The top-level class `name` of `tree`, or None."""
    return next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name), None)


def _imported_from(tree: ast.Module, module_name: str, name: str) -> tuple[str, str]:
    """(module, name in it) of `name` as `tree` sees it: from its `from <module> import <name>
    [as <alias>]`, else a class of the module itself."""
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    return node.module, alias.name
    return module_name, name
