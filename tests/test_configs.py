"""Every config file composes, resolves, and every `_target_` imports and binds its arguments.

Discovered from the file system: a new YAML in any group, in experiments/ or in sweeps/ is
tested without touching this file. Nothing here builds weights or loads data.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
from hydra.utils import get_class, get_object
from omegaconf import DictConfig, ListConfig, OmegaConf

from lab.config.paths import conf_dir, config_root

from conftest import lab_cli

ROOT = config_root()
# Groups whose options are selected on the command line; `hydra` is Hydra's own node and
# `base/` folders hold shared fragments included by options, not options themselves.
SKIP_GROUPS = {"hydra"}


def _options() -> list[str]:
    found = []
    for path in sorted(conf_dir().rglob("*.yaml")):
        relative = path.relative_to(conf_dir())
        if len(relative.parts) < 2 or relative.parts[0] in SKIP_GROUPS or "base" in relative.parts:
            continue
        group, option = relative.parts[0], "/".join(relative.with_suffix("").parts[1:])
        found.append(f"{group}={option}")
    for folder, group in (("experiments", "experiment"), ("sweeps", "sweep")):
        found += [f"{group}={p.stem}" for p in sorted((ROOT / folder).glob("*.yaml"))]
    return found


OPTIONS = _options()
META_KEYS = {"_target_", "_partial_", "_convert_", "_recursive_", "_args_"}


def _targets(node: Any, path: str = "") -> list[tuple[str, DictConfig]]:
    found = []
    if isinstance(node, DictConfig):
        if "_target_" in node:
            found.append((path, node))
        for key in node:
            found += _targets(node._get_node(key), f"{path}.{key}" if path else str(key))
    elif isinstance(node, ListConfig):
        for i, item in enumerate(node):
            found += _targets(item, f"{path}[{i}]")
    return found


def _check_binds(path: str, node: DictConfig) -> None:
    target = get_object(node._target_)
    kwargs = {k: None for k in node if k not in META_KEYS}
    # from_pretrained-style factories accept **kwargs; their signatures still bind names.
    signature = inspect.signature(target)
    try:
        signature.bind_partial(**kwargs)
    except TypeError as err:
        raise AssertionError(
            f"{path}: {node._target_} does not accept {sorted(kwargs)}: {err}"
        ) from err


def test_options_were_discovered() -> None:
    groups = {o.split("=")[0] for o in OPTIONS}
    assert {
        "model",
        "data",
        "trainer",
        "strategy",
        "precision",
        "optimizer",
        "scheduler",
        "callbacks",
        "logger",
        "paths",
        "debug",
        "task",
        "experiment",
    } <= groups
    assert "model=tiny_bert" in OPTIONS and "data=demo" in OPTIONS


@pytest.mark.parametrize("option", ["<defaults>", *OPTIONS])
def test_option_composes_and_targets_bind(option: str, composed_option: Any) -> None:
    cfg = composed_option(option)
    # Every interpolation resolves (catches typos in ${...}), except values left to the user.
    OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)
    targets = _targets(cfg)
    assert targets, "a composed config always has targets"
    for path, node in targets:
        _check_binds(path, node)
    assert get_class(cfg.task.head).__name__.startswith("AutoModelFor")
    assert cfg.optimized_metric.startswith("val/")


def test_experiment_composes_from_another_directory(tmp_path: Path, monkeypatch: Any) -> None:
    result = lab_cli("train", "--cfg", "job", "experiment=roberta_imdb", cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    cfg = OmegaConf.create(result.stdout)
    assert cfg.model.pretrained == "FacebookAI/roberta-base"
    assert cfg.data.hub_id == "stanfordnlp/imdb"
    assert cfg.optimizer.lr == 2e-5


def test_data_option_implies_task_and_task_can_be_overridden(compose_cfg: Any) -> None:
    cfg = compose_cfg("data=imdb")
    assert cfg.task.head == "transformers.AutoModelForSequenceClassification"
    cfg = compose_cfg("data=imdb", "task=text_classification")
    assert cfg.task.module._target_.endswith("TextClassificationModule")


def _init_parameters(cls: type) -> set[str]:
    """Keyword parameters of `cls.__init__`, following `**kwargs` up the class's bases."""
    found: set[str] = set()
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        parameters = inspect.signature(klass.__init__).parameters.values()  # type: ignore[misc]
        found |= {
            p.name
            for p in parameters
            if p.kind is p.KEYWORD_ONLY or p.kind is p.POSITIONAL_OR_KEYWORD
        }
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            break
    return found - {"self", "tokenizer"}


@pytest.mark.parametrize("option", [o for o in OPTIONS if o.startswith("data=")])
def test_every_data_module_option_has_a_default_in_its_yaml(option: str, compose_cfg: Any) -> None:
    """So a key appended with `+data.<key>=` is one no data module reads: `lab.validate`
    refuses it without importing the data module (`check_appended_data_keys`)."""
    cfg = compose_cfg("model=tiny_bert", option)
    own = set(cfg.task.get("data_module") or {})
    keys = {str(k) for k in cfg.data} - META_KEYS
    assert _init_parameters(get_class(cfg.data._target_)) - own == keys


def test_train_log_is_written_as_utf8_whatever_the_locale(tmp_path: Path) -> None:
    """s22b M5: under a non-UTF-8 locale (Python's UTF-8 mode off) train.log's handler took
    the locale's encoding, and the final table's box characters failed to log. The handler
    Hydra builds from lab's job_logging writes UTF-8."""
    import logging

    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from lab.config.resolvers import register_resolvers

    register_resolvers()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            cfg = compose("train", return_hydra_config=True)
    finally:
        GlobalHydra.instance().clear()
    file = OmegaConf.to_container(cfg.hydra.job_logging.handlers.file, resolve=False)
    assert isinstance(file, dict) and file["encoding"] == "utf-8"
    log = tmp_path / "train.log"
    handler = logging.FileHandler(log, encoding=file["encoding"])
    handler.emit(logging.makeLogRecord({"msg": "┏━━━┓ négatif 中性"}))
    handler.close()
    assert log.read_bytes() == "┏━━━┓ négatif 中性\n".encode()
