"""Nested configs and results as one level of dotted keys: `{"a": {"b": 1}}` -> `{"a.b": 1}`.

One helper for every place lab compares or logs configs: the hyperparameters sent to the
loggers (`lab.train`), the keys that differ between runs (`lab.compare`), the differences that
stop a resume (`lab.run_dir.resume`) and golden values (`lab.testing`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from omegaconf import DictConfig, ListConfig, OmegaConf

ListMode = Literal["keep", "index", "json"]


def flatten(node: Any, *, lists: ListMode = "keep", prefix: str = "") -> dict[str, Any]:
    """Flatten nested mappings into `{"a.b.c": leaf}`; an empty mapping adds no key.

    `lists` says what a list becomes: `keep` one value (the list itself), `index` one key per
    item (`a[0]`, `a[1]`; items flattened in turn), `json` one value, the list's JSON text
    (comparable and hashable). An OmegaConf config is resolved first.
    """
    if isinstance(node, (DictConfig, ListConfig)):
        node = OmegaConf.to_container(node, resolve=True)
    flat: dict[str, Any] = {}
    _walk(node, prefix, lists, flat)
    return flat


def _walk(node: Any, prefix: str, lists: ListMode, flat: dict[str, Any]) -> None:
    if isinstance(node, Mapping):
        for key, value in node.items():
            _walk(value, f"{prefix}.{key}" if prefix else str(key), lists, flat)
    elif lists == "index" and isinstance(node, Sequence) and not isinstance(node, (str, bytes)):
        for index, value in enumerate(node):
            _walk(value, f"{prefix}[{index}]", lists, flat)
    elif lists == "json" and isinstance(node, (list, tuple)):
        flat[prefix] = json.dumps(node)
    else:
        flat[prefix] = node
