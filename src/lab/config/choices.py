"""Config values that name one of a fixed set of options, checked before anything loads.

`optimized_mode=maximum` reached Lightning's ModelCheckpoint once the data and the model were
loaded (`mode can be min, max but got maximum`, a traceback); `attn_implementation=flash_attn`
reached transformers (a traceback for some models, silently ignored by others). Each key here
is refused with the valid names and the closest one.

`CHOICES` maps a key pattern (`*` stands for one config name: any callback; a callback's
`mode` only where it has a `monitor`, as Lightning's checkpoint and early stopping do) to its
valid names; `ATTENTION` holds transformers' attention implementations, which may also be a Hub
kernel (`kernels-community/flash-attn`). `tests/test_config_refusals.py` checks both lists
against Lightning and transformers.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lab.data.csv_quotes import QUOTINGS, QUOTINGS_MEANING
from lab.errors import ConfigError

# key pattern -> (valid names, what they mean)
CHOICES: dict[str, tuple[tuple[str, ...], str]] = {
    "optimized_mode": (("min", "max"), "the direction in which optimized_metric improves"),
    "final_weights": (("best", "last"), "the weights the run tests, exports and reports"),
    "callbacks.*.mode": (("min", "max"), "the direction in which the monitored metric improves"),
    "trainer.gradient_clip_algorithm": (("norm", "value"), "clip the gradients' norm or values"),
    "data.csv_quoting": (QUOTINGS, QUOTINGS_MEANING),
}
# Keys whose names Lightning reads in any case (it lowers them first).
ANY_CASE = ("trainer.gradient_clip_algorithm",)
# Keys that may be null (Lightning's default: norm); any other key set to null is refused
# (`final_weights=null` acted as best, and the card left its row out: s27c L2).
NULLABLE = ("trainer.gradient_clip_algorithm",)

# `["eager"] + ALL_ATTENTION_FUNCTIONS.valid_keys()` of transformers, which refuses any other
# name (`Specified attn_implementation="..." is not supported`).
ATTENTION = (
    "eager",
    "sdpa",
    "flex_attention",
    "flash_attention_2",
    "flash_attention_3",
    "flash_attention_4",
    "paged|eager",
)
ATTENTION_KEYS = ("model.network.attn_implementation", "model.network.config.attn_implementation")
# transformers' `is_kernel`: a Hub repository of attention kernels, `org/repo[@rev][:fn]`.
_HUB_KERNEL = re.compile(r"^[^/:]+/[^/:]+(?:@[^/:]+)?(?::[^/:]+)?$")


def check_choices(cfg: DictConfig) -> None:
    """Refuse the first value of a `CHOICES` key or an attention key that is not a valid name."""
    for pattern, (names, meaning) in CHOICES.items():
        for key, value in _values(cfg, pattern):
            if value is None and pattern in NULLABLE:
                continue
            name = value.lower() if pattern in ANY_CASE and isinstance(value, str) else value
            if name not in names:
                raise ConfigError(_refusal(key, value, names, meaning))
    for key in ATTENTION_KEYS:
        value = _select(cfg, key)
        if value is not None and not attention_known(value):
            hub = "or a Hub kernel: org/repo, e.g. kernels-community/flash-attn"
            raise ConfigError(_refusal(key, value, ATTENTION, hub))


def attention_known(value: Any) -> bool:
    """Whether transformers takes `value` as `attn_implementation` (its `paged|` prefix is
    deprecated but still read)."""
    if not isinstance(value, str):
        return False
    name = value.removeprefix("paged|")
    return value in ATTENTION or name in ATTENTION or bool(_HUB_KERNEL.match(value))


def _refusal(key: str, value: Any, names: tuple[str, ...], meaning: str) -> str:
    # The first of equally close names (flash_attention_2, not _4, for flash_attn).
    close = difflib.get_close_matches(str(value), names, n=len(names)) if value is not None else []
    best = [n for n in names if n in close and _ratio(value, n) == _ratio(value, close[0])]
    maybe = f"; did you mean {key}={best[0]}?" if best else ""
    shown = "null" if value is None else value
    return f"{key}={shown} is not valid; valid: {', '.join(names)} ({meaning}){maybe}"


def _ratio(value: Any, name: str) -> float:
    return difflib.SequenceMatcher(None, str(value), name).ratio()


def _values(cfg: DictConfig, pattern: str) -> list[tuple[str, Any]]:
    """(key, resolved value) of every key `pattern` names that the config has, null values
    included (an absent key is left out)."""
    if "*" not in pattern:
        return [(pattern, _select(cfg, pattern))] if _present(cfg, pattern) else []
    group, _, leaf = pattern.partition(".*.")
    node = cfg.get(group)
    if not isinstance(node, DictConfig):
        return []
    names = [str(name) for name in node if isinstance(node.get(name), DictConfig)]
    if leaf == "mode":  # a monitored metric's direction: a callback of yours may mean another
        names = [name for name in names if "monitor" in node[name]]  # `mode` (s33b F4)
    keys = [f"{group}.{name}.{leaf}" for name in names]
    return [(key, _select(cfg, key)) for key in keys if _present(cfg, key)]


def _present(cfg: DictConfig, key: str) -> bool:
    """Whether the config has `key` (set, null included)."""
    parent, _, leaf = key.rpartition(".")
    node = cfg if not parent else OmegaConf.select(cfg, parent, default=None)
    return isinstance(node, DictConfig) and leaf in node


def _select(cfg: DictConfig, key: str) -> Any:
    try:
        return OmegaConf.select(cfg, key, default=None, throw_on_resolution_failure=True)
    except Exception as err:  # OmegaConf raises several types for a bad interpolation
        raise ConfigError(f"{key} cannot be resolved: {err}".splitlines()[0]) from err
