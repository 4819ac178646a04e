"""The line for a config key that does not exist, and the guess it offers.

`'data.treshold' is not a config key. Did you mean data.threshold? Valid keys of data: ...`.
The guess, best first: the key one level down that a top-level name means (`output_root=` ->
`paths.output_root`, `nested_key`), the one key of exactly that name in another section
(`data.threshold` -> `task.module.threshold`, where the multi-label threshold lives: s30b F4;
`data.max_epochs` -> `trainer.max_epochs`, not the look-alike `data.max_length`: s30c N2;
`same_leaf_key`), else the closest key of the same section (`data.max_lenght`).
"""

from __future__ import annotations

import difflib
from typing import Any

from omegaconf import DictConfig, OmegaConf


def not_a_key(
    parent_key: str,
    leaf: str,
    valid: list[str],
    nested: str | None = None,
    elsewhere: str | None = None,
) -> str:
    """`'<parent>.<leaf>' is not a config key. Did you mean ...? Valid keys of <parent>: ...`;
    `nested`: the key one level down that `leaf` names (`paths.output_root`), the best guess;
    `elsewhere`: a key of the same name in another section, the next (an exact name beats a
    look-alike of `parent`'s)."""
    valid = sorted(valid)
    close = difflib.get_close_matches(leaf, valid, n=1)
    prefix = f"{parent_key}." if parent_key else ""  # "": a top-level key
    guess = nested or elsewhere or (prefix + close[0] if close else None)
    maybe = f" Did you mean {guess}?" if guess else ""
    where = f"Valid keys of {parent_key}" if parent_key else "Valid top-level keys and groups"
    return f"'{prefix}{leaf}' is not a config key.{maybe} {where}: {', '.join(valid)}"


def nested_key(root: DictConfig, leaf: str) -> str | None:
    """The one `<top>.<leaf>` key of `root` (`output_root` -> `paths.output_root`), or None."""
    found = [
        f"{top!s}.{leaf}"
        for top, node in root.items()
        if str(top) != "hydra" and isinstance(node, DictConfig) and leaf in node
    ]
    return found[0] if len(found) == 1 else None


def same_leaf_key(root: DictConfig, parent_key: str, leaf: str) -> str | None:
    """The one key of `root` outside `parent_key` (and Hydra's own) whose last name is `leaf`
    (`threshold` -> `task.module.threshold`), or None where there is none or several."""
    tree = OmegaConf.to_container(root, resolve=False)
    found: list[str] = []
    _collect(tree, "", leaf, found)
    found = [k for k in found if not k.startswith(("hydra.", f"{parent_key}."))]
    return found[0] if len(found) == 1 else None


def _collect(node: Any, where: str, leaf: str, found: list[str]) -> None:
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        name = f"{where}.{key}" if where else str(key)
        if key == leaf:
            found.append(name)
        _collect(value, name, leaf, found)
