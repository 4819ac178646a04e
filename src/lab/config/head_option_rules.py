"""Head options whose valid values depend on the head, checked before anything loads.

`task.module.label_smoothing` means two things: for the classification heads (text, token,
multiple choice) the share of the target spread over the other classes, any value in [0, 1)
as HF's `label_smoothing_factor`; for DPO (conservative DPO, `sigmoid` and `simpo` losses) the
share of preference labels taken as flipped, which must stay below 0.5 (at 0.5 a pair's two
orders weigh the same and nothing is learned). `ranges.RANGES` holds the classification
heads' rule; `HEAD_RANGES` narrows it for DPO (`head_rules`, which `ranges.check_ranges`
applies in its place), so each head's refusal speaks of its own meaning (s27c L1). IPO has no
label smoothing: a value there is refused, not ignored (s27c M7).

DPO's loss names and seq2seq's metric names are here too (`task.module.loss=foo` reached the
module's constructor: a Hydra traceback; `task.module.metric=foo` passed `lab.validate` and
was refused by `lab.train` only, s27c M5). SFT's `data.history_cut` is refused here too, in the
words of its data module (`lab.tasks.sft.history`, standard library only), before any data
loads.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from lab.config.range_rules import Rule, parse_rule
from lab.errors import ConfigError
from lab.tasks.sft.history import history_cut_problem

# lab.tasks.dpo.losses.LOSSES' names (a test holds them equal; importing it would import torch)
DPO_LOSSES = {
    "sigmoid": "DPO",
    "ipo": "IPO",
    "simpo": "SimPO, reference-free",
}
# The DPO losses that read task.module.label_smoothing (lab.tasks.dpo.losses)
SMOOTHED_LOSSES = ("sigmoid", "simpo")
# lab.tasks.seq2seq.METRICS' names (a test holds them equal), with what they measure
SEQ2SEQ_METRICS = {
    "rouge": "ROUGE-1/2/L, for summarization",
    "bleu": "corpus BLEU, for translation",
}

# the task module's class (the end of its _target_) -> key -> its rule for that head
# fmt: off
HEAD_RANGES: dict[str, dict[str, str]] = {
    ".DPOModule": {
        "task.module.label_smoothing": "in [0, 0.5) ; DPO: the share of preference labels "
                                       "taken as flipped; at 0.5 both orders of a pair weigh "
                                       "the same",
    },
}
# fmt: on


def module_target(cfg: DictConfig) -> str:
    """The composed config's task module `_target_` ('' when it has none)."""
    target = OmegaConf.select(cfg, "task.module._target_", default=None)
    return target if isinstance(target, str) else ""


def is_dpo(cfg: DictConfig) -> bool:
    """Whether the composed config trains with DPO's task module."""
    return module_target(cfg).endswith(".DPOModule")


def head_rules(cfg: DictConfig) -> dict[str, Rule]:
    """The rules of `HEAD_RANGES` for the config's head, by key (empty for most heads)."""
    target = module_target(cfg)
    for suffix, rules in HEAD_RANGES.items():
        if target.endswith(suffix):
            return {key: parse_rule(key, text) for key, text in rules.items()}
    return {}


def check_head_options(cfg: DictConfig) -> None:
    """Refuse an SFT history cut lab does not have, a seq2seq metric or a DPO loss name lab
    does not have, and label smoothing with a DPO loss that does not read it."""
    if problem := history_cut_problem(OmegaConf.select(cfg, "data.history_cut", default=None)):
        raise ConfigError(problem)
    if module_target(cfg).endswith(".Seq2SeqModule"):
        metric = OmegaConf.select(cfg, "task.module.metric", default="rouge")
        if metric not in SEQ2SEQ_METRICS:
            raise ConfigError(_not_valid("task.module.metric", metric, SEQ2SEQ_METRICS))
    if not is_dpo(cfg):
        return
    loss = OmegaConf.select(cfg, "task.module.loss", default="sigmoid")
    if loss not in DPO_LOSSES:
        raise ConfigError(_not_valid("task.module.loss", loss, DPO_LOSSES))
    smoothing = OmegaConf.select(cfg, "task.module.label_smoothing", default=0.0)
    if loss not in SMOOTHED_LOSSES and smoothing not in (None, 0):
        raise ConfigError(
            f"task.module.label_smoothing={smoothing} does nothing with task.module.loss={loss}: "
            f"{loss} takes no label_smoothing ({' and '.join(SMOOTHED_LOSSES)} do); leave it at 0"
        )


def _not_valid(key: str, value: Any, names: dict[str, str]) -> str:
    valid = ", ".join(f"{name} ({meaning})" for name, meaning in names.items())
    return f"{key}={_typed(value)} is not valid; valid: {valid}"


def _typed(value: Any) -> str:
    """`value` as it is written in an override: null, not Python's None (s27c L3)."""
    return (
        "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    )
