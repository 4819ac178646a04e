"""The keys of `peft.config`, checked against the fields of the peft config class its
`_target_` names (`peft.LoraConfig`, `peft.IA3Config`), before anything loads.

`+peft.config.rr=8` reached `LoraConfig(..., rr=8)` once the data and the model were loaded: a
Hydra InstantiationException traceback, exit 1. peft's configs are dataclasses, so their keys
are the annotated fields of the class and of its dataclass bases. They are read from peft's
source files with `ast`, following the package's re-exports (`peft.LoraConfig` is defined in
`peft/tuners/lora/config.py`): importing peft imports torch and transformers, seconds that
`lab.validate` does not have. A class that cannot be read so (another package, a layout peft
may adopt) is not checked; `tests/test_config_refusals.py` checks the reading against
`inspect.signature` for every config class peft exports.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from lab.config.builder_arguments import unknown_key_error


def check_peft_config(cfg: DictConfig) -> None:
    """Refuse a `peft.config` key that the config class does not take, naming the valid ones
    and the closest."""
    node = OmegaConf.select(cfg, "peft.config", default=None)
    if not isinstance(node, DictConfig):
        return
    target = node.get("_target_")
    if not isinstance(target, str):
        return
    fields = dataclass_fields(target)
    if fields is None:
        return
    for key in (str(k) for k in node):
        if key.startswith("_") or key in fields:
            continue
        raise unknown_key_error("peft.config", key, f"a field of {target}", fields)


@functools.lru_cache(maxsize=16)
def dataclass_fields(target: str) -> tuple[str, ...] | None:
    """The sorted init fields of the dataclass `target` names (`package.module.Class`), read
    from source; None when they cannot be read without importing it."""
    module, _, name = target.rpartition(".")
    package = module.split(".")[0]
    root = _package_root(package)
    if root is None:
        return None
    found = _find_class(root, module, name, depth=0)
    if found is None:
        return None
    fields = _fields(root, *found, depth=0)
    return tuple(sorted(fields)) if fields else None


def _package_root(package: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(package)  # a top-level name: nothing is imported
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _module_file(root: Path, module: str) -> Path | None:
    """The source file of `module`, only inside the package `root` is the folder of (a class of
    another package, such as transformers' PushToHubMixin, is not read)."""
    if module.split(".")[0] != root.name:
        return None
    base = root.parent.joinpath(*module.split("."))
    for file in (base / "__init__.py", base.with_suffix(".py")):
        if file.is_file():
            return file
    return None


@functools.lru_cache(maxsize=64)
def _parse(file: Path) -> ast.Module:
    return ast.parse(file.read_text(encoding="utf-8"))


def _find_class(root: Path, module: str, name: str, depth: int) -> tuple[str, ast.ClassDef] | None:
    """(the defining module, the class) of `module.name`, following `from x import name`."""
    file = _module_file(root, module)
    if file is None or depth > 8:
        return None
    tree = _parse(file)
    for statement in tree.body:
        if isinstance(statement, ast.ClassDef) and statement.name == name:
            return module, statement
    for node in ast.walk(tree):  # re-exports, also under `if TYPE_CHECKING` / try blocks
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    source = _absolute(module, file, node)
                    if source is not None:
                        return _find_class(root, source, alias.name, depth + 1)
    return None


def _absolute(module: str, file: Path, node: ast.ImportFrom) -> str | None:
    if not node.level:
        return node.module
    parts = module.split(".")
    package = parts if file.name == "__init__.py" else parts[:-1]
    if node.level > 1:
        package = package[: len(package) - (node.level - 1)]
    return ".".join([*package, *([node.module] if node.module else [])]) or None


def _fields(root: Path, module: str, node: ast.ClassDef, depth: int) -> set[str]:
    """The init fields of a dataclass and its dataclass bases in the same package."""
    fields: set[str] = set()
    for base in node.bases:
        name = base.id if isinstance(base, ast.Name) else None
        found = _find_class(root, module, name, 0) if name and depth < 8 else None
        if found is not None:  # a base from another package (a mixin) adds no field here
            fields |= _fields(root, *found, depth=depth + 1)
    if not any(_is_dataclass(d) for d in node.decorator_list):
        return fields
    for item in node.body:
        if not (isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)):
            continue
        if "ClassVar" in ast.unparse(item.annotation) or _init_false(item.value):
            continue
        fields.add(item.target.id)
    return fields


def _is_dataclass(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return ast.unparse(target).rsplit(".", 1)[-1] == "dataclass"


def _init_false(value: ast.expr | None) -> bool:
    """`field(init=False, ...)`: not an argument of `__init__`."""
    if not isinstance(value, ast.Call) or ast.unparse(value.func).rsplit(".", 1)[-1] != "field":
        return False
    return any(
        k.arg == "init" and isinstance(k.value, ast.Constant) and k.value.value is False
        for k in value.keywords
    )
