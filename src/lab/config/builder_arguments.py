"""The keys of a config node that builds something (`_target_`), checked against what its
builder takes, before anything loads.

`+optimizer.lrr=1e-3` (Hydra's `+` adds a key the YAML lacks, and a sweep's Hydra error advises
it for a typo) reached `adamw(..., lrr=0.001)` once the data and the model were loaded: a
TypeError traceback, exit 1. Here each key of `optimizer`, `scheduler` and `task.module` is
checked against the parameters of the lab function or class its `_target_` names, read from
the source file with `ast` (nothing is imported: `lab.validate` runs this too, in well under a
second). A builder with `**kwargs`, or one outside lab, is not checked (its arguments are not
known without importing it).
"""

from __future__ import annotations

import ast
import difflib
import functools
import importlib.util
from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from lab.errors import ConfigError

# The nodes lab instantiates with keys from the config (the rest of their arguments, the model
# or the optimizer, are lab's to pass). `task.predictor`: `+task.predictor.foo=1` trained and
# exported, then failed every lab.predict of the run in a TypeError traceback (s27c H3).
CHECKED_NODES = ("optimizer", "scheduler", "task.module", "task.predictor")
# What lab passes them itself: not settable from the config, so not listed as valid keys.
PASSED_BY_LAB = frozenset(
    {"model", "optimizer", "scheduler", "num_training_steps", "tokenizer", "cfg"}
)
# Base classes followed to find an inherited `__init__` (a predictor's is its base's).
MAX_BASES = 5


def check_builder_arguments(cfg: DictConfig) -> None:
    """Refuse a key of a `CHECKED_NODES` node that its builder does not take, naming the
    builder's settable arguments and the closest one."""
    for path in CHECKED_NODES:
        node = OmegaConf.select(cfg, path, default=None)
        if not isinstance(node, DictConfig):
            continue
        target = node.get("_target_")
        if not isinstance(target, str) or not target.startswith("lab."):
            continue
        known = builder_parameters(target)
        if known is None:
            continue
        taken, settable = known
        for key in (str(k) for k in node):
            if key.startswith("_") or key in taken:
                continue
            raise unknown_key_error(path, key, f"an argument of {target}", settable)


@functools.lru_cache(maxsize=64)
def builder_parameters(target: str) -> tuple[frozenset[str], tuple[str, ...]] | None:
    """(every parameter, the sorted ones with a default: settable from the config) of the
    module-level function or class (`__init__`) `target` names; None where that is not known
    without importing it (no source, no such name, `**kwargs`)."""
    module_name, _, name = target.rpartition(".")
    arguments = _inherited_arguments(module_name, name, MAX_BASES)
    if arguments is None or arguments.kwarg is not None:
        return None
    positional = [*arguments.posonlyargs, *arguments.args]
    with_default = positional[len(positional) - len(arguments.defaults) :]
    keyword = [a for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True) if d]
    every = frozenset(a.arg for a in [*positional, *arguments.kwonlyargs]) - {"self"}
    settable = {a.arg for a in [*with_default, *keyword]} - PASSED_BY_LAB
    return every, tuple(sorted(settable))


def parsed_module(module_name: str) -> ast.Module | None:
    """The syntax tree of the Python source of `module_name`, found without importing it;
    None where it has no `.py` source (a compiled module, no such module)."""
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    return ast.parse(Path(spec.origin).read_text(encoding="utf-8"))


def _inherited_arguments(module_name: str, name: str, depth: int) -> ast.arguments | None:
    """The arguments of function `name` of `module_name`, or of class `name`'s `__init__`,
    its own or, where it has none, its first base's (a base defined in the module or imported
    into it by `from <module> import <base>`), up to `depth` classes deep."""
    tree = parsed_module(module_name)
    if tree is None or depth < 1:
        return None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node.args
        if isinstance(node, ast.ClassDef) and node.name == name:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                    return item.args
            if not node.bases or not isinstance(node.bases[0], ast.Name):
                return None  # no base lab can follow without importing
            base = node.bases[0].id
            return _inherited_arguments(_home(tree, module_name, base), base, depth - 1)
    return None


def _home(tree: ast.Module, module_name: str, name: str) -> str:
    """The module `name` comes from in `tree`: the one it is imported from, else its own."""
    imports = [n for n in tree.body if isinstance(n, ast.ImportFrom) and n.level == 0]
    for node in imports:
        if node.module and any((alias.asname or alias.name) == name for alias in node.names):
            return node.module
    return module_name


def unknown_key_error(path: str, key: str, what: str, valid: Sequence[str]) -> ConfigError:
    """`'<path>.<key>' is not <what>. Did you mean <path>.<closest>? Valid keys of <path>:
    ...`: one wording for a key that a config node's builder does not take."""
    from lab.config.lookalike_keys import defining_line

    close = difflib.get_close_matches(key, valid, n=1)
    maybe = f" Did you mean {path}.{close[0]}?" if close else ""
    keys = f"Valid keys of {path}: {', '.join(valid)}" if valid else f"{path} takes no keys"
    # The file of yours that sets it, where one does (s31f F7: an experiment's
    # `optimizer: {learning_rate: ...}` was named by its key alone).
    where = defining_line(path, key)
    at = f"; it is set at {where}" if where else ""
    return ConfigError(f"'{path}.{key}' is not {what}.{maybe} {keys}{at}")
