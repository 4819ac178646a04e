"""Misspelt settings of a transformers model config, refused before anything loads.

A transformers config takes any key: `BertConfig(hidden_sizee=64)` keeps `hidden_sizee` as an
attribute and builds the default 768-wide model, so `+model.network.config.hidden_sizee=64`
trained the wrong model without a word. A key given to a pretrained model's loader
(`+model.network.hidden_dropout_probb=0.2`, which `from_pretrained` hands to the config and
then to the model class) crashed with a TypeError traceback after the data had loaded.

Only a key that is not the config's and reads like one of its keys (`difflib`, 0.8) is refused
here: a key far from all of them may be an attribute a model's own code reads (remote code, a
user's subclass), which transformers keeps on purpose. A pretrained model's loader refuses any
other key it cannot place (`unexpected_argument_error`), with the same advice.
"""

from __future__ import annotations

import ast
import difflib
import functools
import inspect
import json
import re
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from lab.errors import ConfigError

# What `model.network` holds for lab's own builders (`lab.training.models`), not for the model.
BUILDER_KEYS = frozenset({"name_or_path", "pretrained", "config", "head"})
# Keys transformers still reads though its configs no longer declare them (rotary settings
# before `rope_parameters`, the old name of `dtype`), and `from_pretrained`'s own options.
LEGACY_KEYS = frozenset({"rope_theta", "rope_scaling", "torch_dtype", "num_labels"})
LOADER_KEYS = frozenset(
    {
        "attn_implementation", "revision", "trust_remote_code", "device_map", "subfolder",
        "low_cpu_mem_usage", "cache_dir", "token", "local_files_only", "use_safetensors",
        "variant", "quantization_config", "ignore_mismatched_sizes", "max_memory",
        "offload_folder", "key_mapping", "tp_plan", "output_loading_info", "dtype",
    }
)  # fmt: skip


BASE_CLASSES = ("PreTrainedConfig", "PretrainedConfig")


def config_keys(config_class: str, source: Path | None = None) -> frozenset[str] | None:
    """Every key transformers' config class `config_class` (e.g. "BertConfig") declares: its
    fields and `__init__` parameters, the aliases of its `attribute_map` (GPT-2's
    `hidden_size` for `n_embd`), what its bases declare (`PreTrainedConfig`: `num_labels`,
    `output_attentions`, ...). Read from transformers' source with `ast`, without importing
    it (torch would load with it: `lab.validate` stays light); `source` is the file to read
    it from, else found by the class's name. None where the source is not found or read."""
    return _config_keys(config_class, str(source) if source else None)


@functools.lru_cache(maxsize=32)
def _config_keys(config_class: str, source: str | None) -> frozenset[str] | None:
    root = _transformers_root()
    if root is None:
        return None
    file = Path(source) if source else _config_file(root, config_class)
    names = _class_names(file, config_class, root) if file is not None else None
    base = _class_names(root / "configuration_utils.py", BASE_CLASSES[0], root)
    if names is None or base is None:
        return None
    return frozenset(names | base | LEGACY_KEYS)


def _transformers_root() -> Path | None:
    """transformers' package folder, found without importing the package."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("transformers")
    except (ImportError, ValueError):
        return None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    return Path(locations[0]) if locations else None


def _config_file(root: Path, config_class: str) -> Path | None:
    """The `configuration_*.py` that defines `config_class`: first where its name says
    (`LlamaConfig` -> models/llama), else the first file that defines it."""
    guess = config_class.removesuffix("Config").lower()
    candidates = [root / "models" / guess / f"configuration_{guess}.py"]
    candidates += sorted(root.glob("models/*/configuration_*.py"))
    marker = f"class {config_class}("
    for file in candidates:
        try:
            if marker in file.read_text(encoding="utf-8"):
                return file
        except OSError:
            continue
    return None


def model_type_file(root: Path, model_type: str) -> Path:
    """The config source of a `config.json`'s `model_type` ("deberta-v2" -> deberta_v2)."""
    module = model_type.replace("-", "_")
    return root / "models" / module / f"configuration_{module}.py"


def _class_names(file: Path, name: str, root: Path, depth: int = 0) -> set[str] | None:
    """The public names class `name` of `file` declares (assignments, annotations, methods,
    `__init__` parameters, `attribute_map` keys), with those of its bases in transformers;
    None where the class or a base is not found."""
    try:
        tree = ast.parse(file.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None
    found = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name), None)
    if found is None or depth > 4:
        return None
    names: set[str] = set()
    for item in found.body:
        if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            names.add(item.target.id)
        elif isinstance(item, ast.Assign):
            names |= {t.id for t in item.targets if isinstance(t, ast.Name)}
            if any(isinstance(t, ast.Name) and t.id == "attribute_map" for t in item.targets):
                names |= _dict_keys(item.value)
        elif isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(item.name)
            if item.name == "__init__":
                names |= {a.arg for a in item.args.args + item.args.kwonlyargs}
        if isinstance(item, ast.AnnAssign) and getattr(item.target, "id", "") == "attribute_map":
            names |= _dict_keys(item.value)
    for base in (b.id for b in found.bases if isinstance(b, ast.Name)):
        if base in BASE_CLASSES or base.endswith("Mixin"):
            continue  # the base config is read once by the caller; mixins hold methods
        base_file = _imported_from(tree, base, file, root) or file
        inherited = _class_names(base_file, base, root, depth + 1)
        if inherited is None:
            return None
        names |= inherited
    return {n for n in names if not n.startswith("_")}


def _dict_keys(node: ast.expr | None) -> set[str]:
    if not isinstance(node, ast.Dict):
        return set()
    return {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}


def _imported_from(tree: ast.Module, name: str, file: Path, root: Path) -> Path | None:
    """The transformers file a relative `from ..x.y import name` of `file` points at."""
    for node in tree.body:
        if not (isinstance(node, ast.ImportFrom) and node.level and node.module):
            continue
        if any(alias.name == name for alias in node.names):
            folder = file.parent
            for _ in range(node.level - 1):
                folder = folder.parent
            return folder.joinpath(*node.module.split(".")).with_suffix(".py")
    return None


def misspelt_key(
    keys: list[str], known: frozenset[str], class_name: str, where: str, outcome: str
) -> ConfigError | None:
    """A refusal for the first of `keys` not among `known` (the keys of `class_name`) that
    nearly spells one of them (named with `where`, e.g. `model.network.config`; `outcome`
    says what would happen with it); None if none."""
    known = known | LOADER_KEYS
    for key in keys:
        if key in known:
            continue
        close = [
            c for c in difflib.get_close_matches(key, sorted(known), cutoff=0.8) if kin(key, c)
        ]
        if close:
            return ConfigError(
                f"{where}.{key}: {class_name} has no setting '{key}'; did you mean "
                f"'{close[0]}'? ({outcome})"
            )
    return None


def kin(key: str, known: str) -> bool:
    """Whether `key` may be a misspelling of `known`: not when both name one of a family of
    settings (`sep_token_id` and `pad_token_id` are different tokens, each spelt right)."""
    family = ("_token_id", "_token_ids")
    return not any(key.endswith(f) and known.endswith(f) for f in family)


def check_model_config_keys(cfg: DictConfig) -> None:
    """Refuse a misspelt key of `model.network.config` (a model built from config) or of
    `model.network` (options of a pretrained model whose `config.json` is at hand locally)."""
    network = cfg.model.get("network")
    if not isinstance(network, DictConfig):
        return
    pretrained = cfg.model.get("pretrained")
    if isinstance(pretrained, str) and pretrained:
        class_name, source = local_config_source(Path(pretrained).expanduser())
        keys = [str(k) for k in network if not str(k).startswith("_")]
        keys = [k for k in keys if k not in BUILDER_KEYS]
        where, outcome = "model.network", "the model's class would fail on it once the data loads"
    else:
        node = network.get("config")
        target = node.get("_target_") if isinstance(node, DictConfig) else None
        if not isinstance(target, str) or not target.startswith("transformers."):
            return
        class_name, source = target.rsplit(".", 1)[-1], None
        keys = [str(k) for k in node if not str(k).startswith("_")]
        where = "model.network.config"
        outcome = "transformers would keep it unused and build the model without it"
    known = config_keys(class_name, source) if class_name else None
    if known is not None and (refusal := misspelt_key(keys, known, class_name, where, outcome)):
        raise refusal


def local_config_source(folder: Path) -> tuple[str, Path | None]:
    """(config class name, its source file) of a local model folder's `config.json`, found
    by its `model_type` without loading anything; ("", None) where that is not known."""
    try:
        model_type = json.loads((folder / "config.json").read_text()).get("model_type")
    except Exception:  # no folder, no file, no JSON: the loader's error to word
        return "", None
    root = _transformers_root()
    if not isinstance(model_type, str) or root is None:
        return "", None
    file = model_type_file(root, model_type)
    try:
        tree = ast.parse(file.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return "", None
    for node in tree.body:  # the class whose `model_type = "..."` is this one
        if isinstance(node, ast.ClassDef) and any(
            isinstance(item, ast.Assign)
            and any(getattr(t, "id", "") == "model_type" for t in item.targets)
            and getattr(item.value, "value", None) == model_type
            for item in node.body
        ):
            return node.name, file
    return "", None


def unexpected_argument_error(error: TypeError, config: Any) -> ConfigError | None:
    """transformers' "__init__() got an unexpected keyword argument 'x'" (a `model.network`
    key neither `from_pretrained` nor the model's config takes) as one line naming the key and
    the closest config key; None for any other TypeError."""
    found = re.search(r"got an unexpected keyword argument '(\w+)'", str(error))
    if found is None:
        return None
    key, known = found[1], _runtime_keys(config)
    close = [c for c in difflib.get_close_matches(key, sorted(known), cutoff=0.6) if kin(key, c)]
    advice = f"did you mean '{close[0]}'?" if close else "see the model's config.json for its keys"
    return ConfigError(
        f"model.network.{key}: neither an option of from_pretrained nor a setting of the "
        f"model's config; {advice}"
    )


def _runtime_keys(config: Any) -> frozenset[str]:
    """The keys of a loaded config, read from its class's source file."""
    if config is None:
        return frozenset()

    try:
        source = inspect.getsourcefile(type(config))
    except TypeError:
        return frozenset()
    keys = config_keys(type(config).__name__, Path(source) if source else None)
    return keys or frozenset()
