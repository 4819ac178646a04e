"""The line for a config key that does not exist, and the guess it offers.

`'data.treshold' is not a config key. Did you mean data.threshold? Valid keys of data: ...`.
The guess, best first: the key one level down that a top-level name means (`output_root=` ->
`paths.output_root`, `nested_key`), the one key of exactly that name in another section
(`data.threshold` -> `task.module.threshold`, where the multi-label threshold lives: s30b F4;
`data.max_epochs` -> `trainer.max_epochs`, not the look-alike `data.max_length`: s30c N2;
`same_leaf_key`), or the few keys of that name (`trainer.mode` -> `optimized_mode or
logger.wandb.mode`, a key set by interpolation named by its source: the checkpoint's `mode` is
`${optimized_mode}`), else the closest key of the same section (`data.max_lenght`; a look-alike
only where no key of that name exists: `trainer.mode` once guessed `trainer.num_nodes`).
An HF `TrainingArguments` name beats them all: its lab key from the README's table
(`lab.config.hf_names`; s32a F-M5: `trainer.eval_steps` once guessed `trainer.max_steps`).
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf

if TYPE_CHECKING:
    from lab.config.hf_values import HintContext


def not_a_key(
    parent_key: str,
    leaf: str,
    valid: list[str],
    nested: str | None = None,
    elsewhere: str | None = None,
    value: str | None = None,
    hf: HintContext | None = None,
) -> str:
    """`'<parent>.<leaf>' is not a config key. Did you mean ...? Valid keys of <parent>: ...`;
    an HF `TrainingArguments` name (`eval_steps`) gets its lab key with `value`, the value
    given (`Did you mean trainer.val_every_n_steps=4? (HF's eval_steps)`: `lab.config.hf_names`)
    before any other guess, the value checked against lab's under `hf` (the command's config
    and overrides, which give `value` where it is None: `lab.config.hf_values`); then
    `nested`: the key one level down that `leaf` names (`paths.output_root`); `elsewhere`: a
    key of the same name in another section, the next (an exact name beats a look-alike of
    `parent`'s)."""
    from lab.config.hf_names import hf_key_hint

    valid = sorted(valid)
    close = difflib.get_close_matches(leaf, valid, n=1)
    prefix = f"{parent_key}." if parent_key else ""  # "": a top-level key
    guess = nested or elsewhere or (prefix + close[0] if close else None)
    maybe = f" Did you mean {guess}?" if guess else ""
    if value is None and hf is not None:
        value = hf.given.get(prefix + leaf)
    if said := hf_key_hint(leaf, value, given_key=prefix + leaf, context=hf):
        maybe = f" {said}"
    if not valid:  # never an empty list of valid keys (s32a F-L1)
        return f"'{prefix}{leaf}' is not a config key: {empty_node_words(parent_key, leaf)}"
    where = f"Valid keys of {parent_key}" if parent_key else "Valid top-level keys and groups"
    return f"'{prefix}{leaf}' is not a config key.{maybe} {where}: {', '.join(valid)}"


def empty_node_words(parent_key: str, leaf: str) -> str:
    """What to say of a key under a node without keys (`scheduler=none`, `callbacks=none`):
    for a warmup under `scheduler=none` (HF's `constant`), the option that has one."""
    if parent_key == "scheduler" and "warmup" in leaf:
        return (
            "scheduler=none has no warmup; for a warmup then a constant rate use "
            "scheduler=constant (HF's constant_with_warmup)"
        )
    return f"{parent_key} has no keys here"


def nested_key(root: DictConfig, leaf: str) -> str | None:
    """The one `<top>.<leaf>` key of `root` (`output_root` -> `paths.output_root`), or None."""
    found = [
        f"{top!s}.{leaf}"
        for top, node in root.items()
        if str(top) != "hydra" and isinstance(node, DictConfig) and leaf in node
    ]
    return found[0] if len(found) == 1 else None


def same_leaf_key(root: DictConfig, parent_key: str, leaf: str) -> str | None:
    """The key of `root` outside `parent_key` (and Hydra's own) whose last name is `leaf`
    (`threshold` -> `task.module.threshold`); where several are, the first three joined by
    "or" (`mode` -> `optimized_mode or logger.wandb.mode`); None where there is none. A key
    whose value is a plain interpolation (`${optimized_mode}`) is named by its source, the
    key a user sets."""
    tree = OmegaConf.to_container(root, resolve=False)
    found: list[str] = []
    _collect(tree, "", leaf, found)
    outside = [k for k in found if not k.startswith(("hydra.", f"{parent_key}."))]
    return " or ".join(outside[:3]) if outside else None


def _collect(node: Any, where: str, leaf: str, found: list[str]) -> None:
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        name = f"{where}.{key}" if where else str(key)
        if key == leaf:
            # A nested key set by interpolation is named by its source (the checkpoint's
            # `mode: ${optimized_mode}`); a top-level one is itself the key a user sets
            # (`optimized_mode: ${task.optimized_mode}`, as the README says: s31e N6).
            source = _interpolated_key(value) if where else None
            if (source or name) not in found:
                found.append(source or name)
        _collect(value, name, leaf, found)


def _interpolated_key(value: Any) -> str | None:
    """`optimized_mode` for the value `${optimized_mode}`; None for anything else (a literal,
    a resolver call, a string with more around the interpolation)."""
    if not isinstance(value, str) or not (value.startswith("${") and value.endswith("}")):
        return None
    inner = value[2:-1]
    return inner if inner and all(c.isalnum() or c in "._" for c in inner) else None
