"""Every `_target_` of your own code, imported before anything loads, and its keys checked.

A head, callback or logger of your own is a `_target_` naming your code
(`task.module._target_: mylab.similarity.PairSimilarityModule`). A typo in it, or your
project missing from PYTHONPATH, passed `lab.validate` ("config ok") and stopped every tool in
Hydra's "Error locating target" traceback; a key your class does not take
(`+task.module.huber_delt=0.3`, `+callbacks.mine={_target_: ..., prefx: x}`) in a TypeError
traceback once the data and the model were loaded.

`check_target_imports` (a rule of `lab.config.rules.validate_config`: lab.validate, lab.train,
lab.reproduce) imports the module of each `_target_` outside lab and looks the name up, as
Hydra will, and checks the node's keys against the parameters of what it names. What is
imported and what is not, and why:

* your code (a module outside the environment's site-packages: on PYTHONPATH, or
  `pip install -e`'d): imported; the rule costs what importing it costs, which training pays
  anyway;
* lab's own targets (`lab.`): not imported here (their keys are checked without importing
  them by `lab.config.builder_arguments`), so lab.validate stays quick on lab's configs;
* installed packages (transformers, Lightning, peft, ...): only found, not imported: importing
  Lightning alone takes seconds, and their names are lab's, tested.

`target_refusal(error)` says the same line for Hydra's error, for the tools that rebuild a
recorded run (`lab.run_dir.runs.building`, the predictor of lab.predict and lab.serve).
"""

from __future__ import annotations

import ast
import difflib
import importlib
import importlib.util
import inspect
import re
import sysconfig
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lab.errors import ConfigError

ON_PATH_HINT = "is your project on PYTHONPATH, or pip install -e'd?"
# What lab passes a task module itself (not settable from its config node).
PASSED_BY_LAB = frozenset({"model", "optimizer", "scheduler"})
# ... by node: a predictor is completed with the model, its tokenizer and the run's config
# (its refusal listed them as keys to set: s27e M2).
PASSED_TO = {
    "task.module": PASSED_BY_LAB,
    "task.predictor": frozenset({"model", "tokenizer", "cfg"}),
}


def check_target_imports(cfg: DictConfig) -> None:
    """Refuse a `_target_` outside lab and the installed packages that cannot be imported, or
    a key of its node that what it names does not take."""
    for path, node in target_nodes(OmegaConf.to_container(cfg, resolve=False)):
        target = node["_target_"]
        if not is_own_code(target):
            continue
        keys = [str(k) for k in node if not str(k).startswith("_")]
        if in_source(path, target, keys):
            continue  # decided from the source file, nothing imported
        found, problem = locate(target)
        if problem is not None:
            raise ConfigError(import_refusal(path, target, problem))
        check_keys(path, target, found, keys)


def in_source(path: str, target: str, keys: Sequence[str]) -> bool:
    """Whether the source file of `target`'s module, read without importing that module (its
    package's `__init__` runs), defines `target`'s name at its top level and shows which
    arguments it takes; raises the refusal of a key it does not take. False where the source
    does not tell (a name made at import time, an inherited `__init__`, `**kwargs`): the
    module is then imported. A head of yours imports torch and Lightning (seconds):
    lab.validate pays that only where the source leaves it open."""
    from lab.config.builder_arguments import builder_parameters, parsed_module

    module_name, _, name = target.rpartition(".")
    try:
        tree = parsed_module(module_name)
    except Exception:  # its package's __init__ raised: importing says what
        return False
    if tree is None or name not in top_level_names(tree.body):
        return False
    if not keys:
        return True
    known = builder_parameters(target)
    if known is None:
        return False
    valid = sorted(known[0])
    for key in keys:
        if key not in valid:
            raise unexpected_argument_error(path, target, key, valid)
    return True


def top_level_names(body: Sequence[ast.stmt]) -> set[str]:
    """The names a module's top-level statements bind (also inside a top-level `if`/`try`)."""
    names: set[str] = set()
    for node in body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.If, ast.Try)):
            handlers = [h.body for h in getattr(node, "handlers", [])]
            for block in (node.body, node.orelse, *handlers):
                names |= top_level_names(block)
    return names


def target_nodes(tree: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(dotted path, node) of each node of `tree` (a plain container) with a literal
    `_target_` string (an interpolated one is left to Hydra)."""
    if isinstance(tree, dict):
        target = tree.get("_target_")
        if isinstance(target, str) and target and "${" not in target:
            yield path, tree
        for key, value in tree.items():
            yield from target_nodes(value, f"{path}.{key}" if path else str(key))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            yield from target_nodes(value, f"{path}[{index}]")


def top_level_spec(name: str) -> Any:
    """The import spec of top-level package or module `name`, found without importing it;
    None where it cannot be found."""
    try:
        return importlib.util.find_spec(name)  # a top-level name: nothing is imported
    except (ImportError, ValueError):
        return None


def is_own_code(target: str) -> bool:
    """Whether `target` names code that is neither lab's nor an installed package's: a
    top-level package that cannot be found at all counts as yours (it is refused)."""
    top = target.split(".", 1)[0]
    if top == "lab" or "." not in target:
        return False
    spec = top_level_spec(top)
    if spec is None:
        return True
    origin = spec.origin or next(iter(spec.submodule_search_locations or []), None)
    if origin in (None, "built-in", "frozen"):
        return False
    return not _installed(Path(origin))


def _installed(origin: Path) -> bool:
    """Whether `origin` lies in the environment's site-packages (or the standard library)."""
    roots = {sysconfig.get_paths()[name] for name in ("purelib", "platlib", "stdlib")}
    return any(origin.resolve().is_relative_to(Path(root).resolve()) for root in roots)


def locate(target: str) -> tuple[Any, str | None]:
    """(the object `target` names, None), or (None, why it cannot be found), found as
    Hydra's `_locate` finds it: import the first part, then each next part as an attribute,
    or else as a submodule."""
    parts = target.split(".")
    found = _import(parts[0])
    if isinstance(found, str):
        return None, found
    for index in range(1, len(parts)):
        if hasattr(found, parts[index]):
            found = getattr(found, parts[index])
            continue
        module = ".".join(parts[: index + 1])
        imported = _import(module)
        if not isinstance(imported, str):
            found = imported
            continue
        if imported != f"no module named {module}":
            return None, imported  # the module exists and raised
        owner = ".".join(parts[:index])
        kind = "module" if inspect.ismodule(found) else "object"
        public = [name for name in dir(found) if not name.startswith("_")]
        close = difflib.get_close_matches(parts[index], public, n=1)
        maybe = f"; did you mean {owner}.{close[0]}?" if close else f" ({ON_PATH_HINT})"
        return None, f"{kind} {owner} has no {parts[index]}{maybe}"
    return found, None


def _import(module: str) -> Any:
    """The imported module, or a string saying why it cannot be imported."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name == module:
            return f"no module named {module}"
        return f"importing {module} raises ModuleNotFoundError: {err}"
    except Exception as err:  # the module itself fails: say what it raised
        return f"importing {module} raises {type(err).__name__}: {err}".splitlines()[0]


def import_refusal(path: str, target: str, problem: str) -> str:
    """`<path>._target_=<target> cannot be imported: <problem>`, with the PYTHONPATH hint
    where the module is not found at all."""
    hint = f" ({ON_PATH_HINT})" if problem.startswith("no module named") else ""
    return f"{path}._target_={target} cannot be imported: {problem}{hint}"


def argument_names(found: Any) -> list[str] | None:
    """The keyword arguments `found` (a class or a function) takes, sorted; None where it
    takes any (`**kwargs`) or its signature is not known."""
    try:
        signature = inspect.signature(found)
    except (TypeError, ValueError):
        return None
    parameters = signature.parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    settable = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return sorted(p.name for p in parameters if p.kind in settable)


def forwarded_argument_names(found: Any) -> list[str] | None:
    """For a class whose `__init__` takes `**kwargs` and passes them on to its base's (the
    usual subclass of a head: `def __init__(self, model, *, gamma=2.0, **kwargs)`): its own
    named arguments and its bases', up the MRO to the first `__init__` without `**kwargs`;
    None where no such base ends the chain (anything may be taken) or `found` is no class.
    For a refusal's list of valid keys only (s31f F6: it listed the node's other keys and
    left out the subclass's own `gamma`): a TypeError has shown the key is not taken."""
    if not inspect.isclass(found):
        return None
    settable = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    names: set[str] = set()
    for cls in found.__mro__:
        if "__init__" not in vars(cls):
            continue
        try:
            parameters = inspect.signature(vars(cls)["__init__"]).parameters.values()
        except (TypeError, ValueError):
            return None
        names |= {p.name for p in parameters if p.kind in settable and p.name != "self"}
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
            return sorted(names)
    return None


def unexpected_argument_error(
    path: str, target: str, key: str, valid: Sequence[str]
) -> ConfigError:
    """The refusal of `<path>.<key>`, a key `target` does not take (lab's wording:
    `lab.config.builder_arguments.unknown_key_error`), naming the keys it does take."""
    from lab.config.builder_arguments import unknown_key_error

    passed = PASSED_TO.get(path, frozenset())  # lab's to pass: no key of the config's
    shown = [name for name in valid if name not in passed]
    return unknown_key_error(path, key, f"an argument of {target}", shown)


def check_keys(path: str, target: str, found: Any, keys: Sequence[str]) -> None:
    """Refuse a key of the node at `path` that `found` (what its `_target_` names) does not
    take."""
    valid = argument_names(found)
    if valid is None:
        return
    for key in keys:
        if not key.startswith("_") and key not in valid:
            raise unexpected_argument_error(path, target, key, valid)


def target_refusal(error: BaseException) -> str | None:
    """For Hydra's "Error locating target 'x'" (an InstantiationException) where `x` is code
    of yours: the one line `check_target_imports` says; None for any other error."""
    text = str(error)
    located = re.search(r"Error locating target '([^']+)'", text)
    if located is None or not is_own_code(located[1]):
        return None
    key = re.search(r"full_key: (\S+)", text)
    _found, problem = locate(located[1])
    if problem is None:
        return None  # it imports now: not the error this explains
    return import_refusal(key[1] if key else "a node", located[1], problem)
