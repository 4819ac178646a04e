"""The valid range of every numeric config value, in one table: one line per rule.

`RANGES` maps a key pattern to what the key accepts. A pattern is a dotted key where `*`
stands for any run of characters (dots included) and `[]` for any item of a list
(`optimizer.betas[]`); the first pattern that matches a key is its rule, so specific
patterns come before general ones. A rule is one or more alternatives joined by ` or `:

    null            the value may be null
    bool            true or false
    text            any string (e.g. `trainer.devices=0,1`, which Lightning parses)
    -1              exactly that number
    > 0, >= 1       a number (int or float) compared with a bound
    in [0, 1)       a number in an interval; `[`/`]` include the bound, `(`/`)` exclude it
    int >= 1        `int` before a comparison or interval: an integer only (not 8.0, not true)

After ` ; ` comes a note shown with the refusal (what the special values mean).
`FORMS` holds the keys whose valid values are more than a range (a function names the problem
with a value); they are checked first, so their words win. `RELATIONS` holds the rules between
two keys. `FREE` lists the numeric keys that have no range, each with the reason.
`tests/test_config_ranges.py` composes every option of every config group and fails on a
numeric key that is in neither table.

`check_ranges(cfg)` applies the tables to a composed config: the first value out of range
raises a `ConfigError` naming the key, the value, the valid range (and the key a transformers
user means: `lab.config.step_rules.range_hint`). It resolves only the values it checks
(`${lab.no_cuda:}` may import torch): cheap enough for `lab.validate`."""

from __future__ import annotations

import functools
import math
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from lab.config.class_weights import class_weights_problem
from lab.config.flatten import flatten
from lab.config.step_rules import range_hint
from lab.data.padding import multiple_problem
from lab.data.pinning import pin_memory_problem
from lab.errors import ConfigError

_SEED_MAX = 2**32 - 1  # numpy's seed range, which Lightning's seed_everything enforces

# fmt: off
RANGES: dict[str, str] = {
    "seed":                                  f"int in [0, {_SEED_MAX}]",
    "expected.atol":                         ">= 0",
    "expected.rtol":                         ">= 0",
    # ---- optimizer and scheduler
    "optimizer.lr":                          "> 0",
    "optimizer.weight_decay":                ">= 0",
    "optimizer.eps":                         "> 0",
    "optimizer.betas[]":                     "in [0, 1)",
    "optimizer.momentum":                    "in [0, 1)",
    "scheduler.warmup_steps":                "int >= 0",
    "scheduler.warmup_ratio":                "in [0, 1]",
    "optimizer.layer_decay":                 "in (0, 1] ; 1: off (every layer at optimizer.lr)",
    "optimizer.eps[]":                       "> 0",
    "optimizer.clip_threshold":              "> 0",
    "optimizer.decay_rate":                  "in [-1, 0) ; Adafactor: beta2 = 1 - step^decay_rate",
    "optimizer.beta1":                       "null or in [0, 1) ; null: no first moment",
    "scheduler.num_cycles":                  "> 0",
    "scheduler.power":                       "> 0",
    "scheduler.lr_end":                      ">= 0",
    "scheduler.timescale":                   "null or int >= 1 ; null: the warmup steps",
    # ---- data
    # null: data.seed, as runs recorded before split_seed (config_upgrade.ADDED_SETTINGS)
    "data.split_seed":                       f"null or int in [0, {_SEED_MAX}] ; null: data.seed",
    "data.*seed":                            f"int in [0, {_SEED_MAX}]",
    "data.batch_size":                       "int >= 1",
    "data.eval_batch_size":                  "null or int >= 1 ; null: batch_size (CPU), 4x (GPU)",
    "data.max_length":                       "int >= 1",
    "data.max_source_length":                "int >= 1",
    "data.max_target_length":                "int >= 1",
    "data.block_size":                       "int >= 2 ; an input token and the next",
    "data.doc_stride":                       "int >= 0",
    "data.val_fraction":                     "in (0, 1)",
    "data.test_fraction":                    "in (0, 1)",
    "data.max_*_samples":                    "null or int >= 1 ; null: every row",
    "data.num_labels":                       "null or int >= 1 ; null: from the label names",
    "data.num_choices":                      "null or int >= 2 ; null: from the first row",
    "data.num_workers":                      "int >= 0",
    "data.num_proc":                         "null or int >= 1",
    "data.length_group_size":                "int >= 1",
    "data.pad_to_multiple_of":               "null or int >= 1 or text ; auto (64 on CUDA)",
    "data.shuffle_buffer":                   "int >= 0 ; 0: the stream's own order",
    "data.stream_sample_rows":               "int >= 1",
    "data.interleave[].probability":         "in (0, 1]",
    "data.mlm_probability":                  "in (0, 1) ; share of tokens masked (task=masked_lm)",
    # ---- task (head) options
    "task.module.threshold":                 "in [0, 1]",
    "task.module.threshold[]":               "in [0, 1]",
    "task.module.num_beams":                 "int >= 1 ; 1: greedy decoding",
    "task.module.*max_new_tokens":           "int >= 1",
    "task.module.max_answer_length":         "int >= 1",
    "task.module.n_best_size":               "int >= 1",
    "task.module.null_score_diff_threshold": "in [-1e6, 1e6] ; a difference of logits, finite",
    "task.module.report_examples":           "int >= 0",
    "task.module.class_weights":             "null or text ; balanced, by FORMS",
    "task.module.class_weights[]":           "> 0",
    "task.module.num_report_samples":        "int >= 0",
    "task.module.max_generation_rows":       "null or int >= 0 ; null: every evaluation row",
    "task.module.beta":                      "> 0 ; DPO/SimPO inverse temperature, IPO's tau",
    "task.module.label_smoothing":           "in [0, 1) ; share of the target spread (DPO: < 0.5)",
    "task.module.simpo_gamma":               ">= 0 ; SimPO's target reward margin",
    "task.predictor.top_k":                  "int >= 1",
    # ---- trainer (lightning.pytorch.Trainer arguments)
    "trainer.max_epochs":                    "null or int >= -1 ; -1: no limit",
    "trainer.min_epochs":                    "null or int >= 0",
    "trainer.max_steps":                     "int >= -1 ; -1: no limit, max_epochs decides",
    "trainer.min_steps":                     "null or int >= 0",
    "trainer.limit_*_batches":               "null or int >= 0 or in [0, 1] ; a float: a share",
    "trainer.overfit_batches":               "int >= 0 or in [0, 1] ; a float: a share",
    "trainer.val_check_interval":            "null or int >= 1 or in (0, 1] ; a float: epoch share",
    "trainer.check_val_every_n_epoch":       "null or int >= 1",
    "trainer.val_every_n_steps":             "null or int >= 1 ; optimizer steps; null: off",
    "trainer.accumulate_grad_batches":       "int >= 1",
    "trainer.gradient_clip_val":             "null or >= 0 ; null or 0: no clipping",
    "trainer.log_every_n_steps":             "int >= 0",
    "trainer.num_sanity_val_steps":          "int >= -1 ; -1: the whole validation set",
    "trainer.reload_dataloaders_every_n_epochs": "int >= 0",
    "trainer.fast_dev_run":                  "bool or int >= 0",
    "trainer.num_nodes":                     "int >= 1",
    "trainer.devices":                       "-1 or int >= 1 or text ; -1: all; text: auto, 0,1",
    "trainer.devices[]":                     "int >= 0 ; device indices",
    "trainer.precision":                     "16 or 32 or 64 or text",
    "trainer.strategy.stage":                "int in [0, 3] ; the ZeRO stage",
    "trainer.strategy.*bucket_size":         "int >= 1",
    # ---- callbacks and loggers (any name under the group)
    "callbacks.*.save_top_k":                "int >= -1 ; -1: every checkpoint",
    "callbacks.*.every_n_train_steps":       "null or int >= 0 ; null or 0: off",
    "callbacks.*.every_n_epochs":            "null or int >= 0 ; null or 0: off",
    "callbacks.*.patience":                  "int >= 0",
    "callbacks.*.min_delta":                 ">= 0",
    "callbacks.*.max_depth":                 "int >= -1 ; -1: every layer",
    "callbacks.*.refresh_rate":              "int >= 0 ; 0: no progress bar",
    "logger.*.flush_logs_every_n_steps":     "int >= 1",
    # ---- model architecture (models built from their config) and adapters
    "model.network.config.*_token_id":       "null or int >= 0",
    "model.network.config.*_eps":            "> 0",
    "model.network.config.initializer_range": "> 0",
    "model.network.config.*_size":           "int >= 1",
    "model.network.config.*_layers":         "int >= 1",
    "model.network.config.*_heads":          "int >= 1",
    "model.network.config.*_dim":            "int >= 1",
    "model.network.config.d_model":          "int >= 1",
    "model.network.config.n_*":              "null or int >= 1",
    "model.network.config.max_position_embeddings": "int >= 1",
    "model.freeze_layers":                   "int >= 0 ; embeddings + the bottom N blocks",
    "peft.config.r":                         "int >= 1",
    "peft.config.lora_alpha":                "> 0",
    # ---- probabilities anywhere (model config, adapters)
    "*dropout*":                             "in [0, 1)",
    "*_pdrop":                               "in [0, 1)",
}

# Keys whose form a range cannot say: key -> the problem with a value (None: valid).
FORMS: dict[str, Callable[[Any], str | None]] = {
    "task.module.class_weights": class_weights_problem,
    "data.truncation_side": lambda side: (
        None
        if side in (None, "right", "left")
        else f"data.truncation_side={side}: use right (keep the first tokens) or left (keep "
        "the last)"
    ),
    "data.pad_to_multiple_of": multiple_problem,
    "data.pin_memory": pin_memory_problem,
    "optimizer.fused": lambda fused: (
        None
        if fused is None or isinstance(fused, bool)
        else f"optimizer.fused={fused!r}: use true, false or null (the fused kernel where it "
        "can run)"
    ),
}

# (key, relation, other key, why): checked when both keys are set.
RELATIONS: tuple[tuple[str, str, str, str], ...] = (
    ("data.doc_stride", "<", "data.max_length", "it is the overlap of consecutive windows"),
)

# Numeric keys with no range, and why.
FREE: dict[str, str] = {
    "expected.metrics.*":                    "recorded results of an experiment: any number",
    "task.module.start_model.seed":          "${seed} interpolated (task=dpo): ranged as seed",
}
# fmt: on

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
_NUMBER = r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:e-?\d+)?"
_BOUND = re.compile(rf"^(?P<int>int )?(?P<op>>=|<=|>|<) ?(?P<x>{_NUMBER})$")
_INTERVAL = re.compile(
    rf"^(?P<int>int )?in (?P<lo>[\[(])(?P<a>{_NUMBER}), ?(?P<b>{_NUMBER})(?P<hi>[\])])$"
)
_LITERAL_NUMBER = re.compile(rf"^{_NUMBER}$")


@dataclass(frozen=True)
class Alternative:
    """One way a value may be valid: a kind (`null`, `bool`, `text`, `number`), and for
    numbers, bounds and whether only integers count."""

    kind: str
    integer: bool = False
    low: float = -math.inf
    low_inclusive: bool = True
    high: float = math.inf
    high_inclusive: bool = True
    literal: float | None = None  # an exact number (-1)

    def accepts(self, value: Any) -> bool:
        """Whether `value` is valid by this alternative."""
        if self.kind == "null":
            return value is None
        if self.kind == "bool":
            return isinstance(value, bool)
        if self.kind == "text":
            return isinstance(value, str)
        if not _is_number(value) or (self.integer and not isinstance(value, int)):
            return False
        if self.literal is not None:
            return bool(value == self.literal)
        above = value >= self.low if self.low_inclusive else value > self.low
        below = value <= self.high if self.high_inclusive else value < self.high
        return above and below


@dataclass(frozen=True)
class Rule:
    """A key pattern's valid values: the alternatives, their text, and a note."""

    pattern: str
    spec: str
    alternatives: tuple[Alternative, ...]
    note: str

    def problem(self, value: Any) -> str | None:
        """None when `value` is valid; otherwise what is wrong with it, in words."""
        if any(alternative.accepts(value) for alternative in self.alternatives):
            return None
        numeric = [a for a in self.alternatives if a.kind == "number"]
        if _is_number(value) and numeric and all(a.integer for a in numeric):
            return "out of range" if isinstance(value, int) else "not an integer"
        if _is_number(value) and numeric:
            return "out of range"
        return "not allowed" if value is None else "not a number" if numeric else "not valid"

    def valid(self) -> str:
        """The valid values in words: `an integer >= 1`, `null or a number in [0, 1)`."""
        words = " or ".join(_describe(part.strip()) for part in self.spec.split(" or "))
        return f"{words} ({self.note})" if self.note else words


def parse_rule(pattern: str, text: str) -> Rule:
    """Parse one table entry; a malformed entry is a bug in the table (ValueError)."""
    spec, _, note = (part.strip() for part in text.partition(";"))
    return Rule(pattern, spec, tuple(_alternative(p.strip()) for p in spec.split(" or ")), note)


def _alternative(text: str) -> Alternative:
    if text in ("null", "bool", "text"):
        return Alternative(text)
    if _LITERAL_NUMBER.match(text):
        return Alternative("number", literal=_number(text))
    if match := _BOUND.match(text):
        bound, op = _number(match["x"]), match["op"]
        if op in (">", ">="):
            return Alternative("number", bool(match["int"]), low=bound, low_inclusive=op == ">=")
        return Alternative("number", bool(match["int"]), high=bound, high_inclusive=op == "<=")
    if match := _INTERVAL.match(text):
        return Alternative(
            "number",
            bool(match["int"]),
            low=_number(match["a"]),
            low_inclusive=match["lo"] == "[",
            high=_number(match["b"]),
            high_inclusive=match["hi"] == "]",
        )
    raise ValueError(f"cannot parse range alternative {text!r}")


def _describe(text: str) -> str:
    if text in ("null", "bool", "text"):
        return {"null": "null", "bool": "true or false", "text": "a string"}[text]
    if text.startswith("int "):
        return f"an integer {text.removeprefix('int ')}"
    return text if _LITERAL_NUMBER.match(text) else f"a number {text}"


def _number(text: str) -> float:
    value = float(text)
    return int(value) if value.is_integer() else value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _matcher(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(pattern).replace(r"\*", ".*") + "$")


@functools.lru_cache(maxsize=1)
def _compiled() -> tuple[tuple[re.Pattern[str], Rule], ...]:
    return tuple((_matcher(p), parse_rule(p, text)) for p, text in RANGES.items())


def rule_for(key: str) -> Rule | None:
    """The first rule whose pattern matches `key` (list items as `key[]`), or None."""
    key = re.sub(r"\[\d+\]", "[]", key)
    return next((rule for matcher, rule in _compiled() if matcher.match(key)), None)


def free_reason(key: str) -> str | None:
    """Why `key` has no range, when it is listed in `FREE`; None otherwise."""
    key = re.sub(r"\[\d+\]", "[]", key)
    return next((why for pattern, why in FREE.items() if _matcher(pattern).match(key)), None)


def check_ranges(cfg: DictConfig) -> None:
    """Raise a `ConfigError` for the first value of `cfg` of the wrong form (`FORMS`) or
    outside its rule's range."""
    for key, problem_of in FORMS.items():
        if problem := problem_of(_plain(cfg, key)):
            raise ConfigError(problem)
    # Unresolved: each value is resolved only when a rule applies to it.
    raw = flatten(OmegaConf.to_container(cfg, resolve=False), lists="index")
    for key, value in raw.items():
        rule = rule_for(key)
        if rule is None:
            name = key.rsplit("[", 1)[0]
            if key.endswith("]") and (scalar := rule_for(name)) is not None:
                raise ConfigError(f"{name} is a list; valid: {scalar.valid()}")
            continue
        value = _resolved(cfg, key, value)
        # "???": a mandatory value left unset, which the step that needs it names
        if value != "???" and (problem := rule.problem(value)):
            hint = range_hint(key, value)
            raise ConfigError(f"{key}={_show(value)} is {problem}; valid: {rule.valid()}{hint}")
    for key, relation, other, why in RELATIONS:
        value, bound = OmegaConf.select(cfg, key), OmegaConf.select(cfg, other)
        if _is_number(value) and _is_number(bound) and not _COMPARE[relation](value, bound):
            raise ConfigError(f"{key}={value} must be {relation} {other}={bound} ({why})")


def check_keys(cfg: DictConfig, keys: Iterable[str]) -> None:
    """`check_ranges` for the values at `keys` only: what a tool changes in a config already
    checked (`lab.eval`'s overrides of a recorded run), without holding the rest of that
    config to rules written after it was recorded."""
    for key in keys:
        value = _plain(cfg, key)
        if (problem_of := FORMS.get(key)) and (problem := problem_of(value)):
            raise ConfigError(problem)
        # a list is held item by item to its `key[]` rule (a per-class threshold), as
        # check_ranges holds a composed config's lists
        items = (
            [(f"{key}[{i}]", item) for i, item in enumerate(value)]
            if isinstance(value, list) and rule_for(f"{key}[]") is not None
            else [(key, value)]
        )
        for name, item in items:
            rule = rule_for(name)
            if rule is not None and item is not None and (problem := rule.problem(item)):
                hint = range_hint(name, item)
                raise ConfigError(f"{name}={_show(item)} is {problem}; valid: {rule.valid()}{hint}")


def _plain(cfg: DictConfig, key: str) -> Any:
    """The value at `key` resolved, lists and mappings as plain Python (None when unset)."""
    try:
        value = OmegaConf.select(cfg, key, default=None, throw_on_resolution_failure=True)
        if isinstance(value, (DictConfig, ListConfig)):
            return OmegaConf.to_container(value, resolve=True)
    except Exception as err:  # OmegaConf raises several types for a bad interpolation
        raise ConfigError(f"{key} cannot be resolved: {err}".splitlines()[0]) from err
    return value


def _resolved(cfg: DictConfig, key: str, value: Any) -> Any:
    if not (isinstance(value, str) and "${" in value):
        return value
    try:
        return OmegaConf.select(cfg, key, throw_on_resolution_failure=True)
    except Exception as err:  # OmegaConf raises several types for a bad interpolation
        raise ConfigError(f"{key}={value} cannot be resolved: {err}".splitlines()[0]) from err


def _show(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return "null" if value is None else str(value).lower()
    return repr(value) if isinstance(value, str) else str(value)
