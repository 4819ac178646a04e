"""The valid range of every config value that has one, in one table: one line per rule.

`RANGES` maps a key pattern to what the key accepts. A pattern is a dotted key where `*`
stands for any run of characters (dots included) and `[]` for any item of a list
(`optimizer.betas[]`); the first pattern that matches a key is its rule, so specific
patterns come before general ones. A rule is one or more alternatives joined by ` or `
(`null`, `bool`, `text`, `'warn'`, `-1`, `> 0`, `in [0, 1)`, `int >= 1`), then ` ; ` and a
note shown with the refusal: the grammar and the words are `lab.config.range_rules`'.
Numbers are finite in every rule. Every key whose value in lab's configs is a boolean has a
`bool` rule (`train_on_prompt=no`, a string, so truthy, trained on the prompt: s27c H4).
`lab.config.head_option_rules.HEAD_RANGES` narrows a rule for one head (DPO's
label_smoothing).

`FORMS` holds the keys whose valid values are more than a range (a function names the problem
with a value); they are checked first, so their words win. `RELATIONS` holds the rules between
two keys. `FREE` lists the numeric keys that have no range, each with the reason.
`tests/test_config_ranges.py` composes every option of every config group and fails on a
numeric key that is in neither table, and on a boolean key with no rule.

`check_ranges(cfg)` applies the tables to a composed config: the first value out of range
raises a `ConfigError` naming the key, the value, the valid range (and the key a transformers
user means: `lab.config.step_rules.range_hint`). It resolves only the values it checks
(`${lab.no_cuda:}` may import torch): cheap enough for `lab.validate`."""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Iterable
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from lab.config.class_weights import class_weights_problem
from lab.config.flatten import flatten
from lab.config.head_option_rules import head_rules
from lab.config.range_rules import Alternative, Rule, is_number, parse_rule
from lab.config.step_rules import range_hint
from lab.data.padding import multiple_problem
from lab.data.pinning import pin_memory_problem
from lab.errors import ConfigError

__all__ = ["FORMS", "FREE", "RANGES", "Alternative", "Rule", "check_keys", "check_ranges"]
__all__ += ["free_reason", "parse_rule", "rule_for"]

_SEED_MAX = 2**32 - 1  # numpy's seed range, which Lightning's seed_everything enforces

# fmt: off
RANGES: dict[str, str] = {
    "seed":                                  f"int in [0, {_SEED_MAX}]",
    "plots":                                 "bool",
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
    "task.module.label_smoothing":           "in [0, 1) ; the share of the target spread over "
                                             "the other classes",
    "task.module.simpo_gamma":               ">= 0 ; SimPO's target reward margin",
    "task.predictor.top_k":                  "int >= 1",
    "task.module.sample_prompt":             "null or text ; null: no samples; a number as text "
                                             "is quoted: task.module.sample_prompt='\"123\"'",
    # ---- switches: every boolean of lab's configs (tests/test_config_ranges.py holds them)
    "task.module.train_on_prompt":           "bool",
    "task.module.precompute_reference":      "bool",
    "task.pin_label_names":                  "bool",
    "data.train_on_prompt":                  "bool",
    "data.packing":                          "bool",
    "data.group_by_length":                  "bool",
    "data.stratify":                         "bool",
    "data.streaming":                        "bool",
    "data.label_all_tokens":                 "bool",
    "data.version_2_with_negative":          "bool",
    "data.whole_word_mask":                  "bool",
    "model.gradient_checkpointing":          "bool",
    "model.network.config.tie_word_embeddings": "bool",
    "optimizer.nesterov":                    "bool",
    "optimizer.relative_step":               "bool",
    "optimizer.scale_parameter":             "bool",
    "optimizer.warmup_init":                 "bool",
    "peft.quantization.load_in_4bit":        "bool",
    "peft.quantization.bnb_4bit_use_double_quant": "bool",
    "trainer.compile":                       "bool",
    "trainer.deterministic":                 "null or bool or 'warn'",
    "trainer.strategy.cpu_offload":          "bool",
    "trainer.strategy.offload_*":            "bool",
    "trainer.strategy.limit_all_gathers":    "bool",
    "trainer.strategy.find_unused_parameters": "bool",
    "trainer.strategy.gradient_as_bucket_view": "bool",
    "callbacks.*.save_last":                 "null or bool or 'link'",
    "callbacks.*.auto_insert_metric_name":   "bool",
    "logger.*.default_hp_metric":            "bool",
    "*._partial_":                           "bool",
    "*._recursive_":                         "bool",
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
    "callbacks.*.patience":                  "int >= 1 ; Lightning stops at 0 as at 1",
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
# Interpolations lab's configs use whose type is known: resolving `${lab.no_cuda:}` imports
# torch, which `lab.validate` does not (trainer.deterministic is true or false either way).
_KNOWN_TYPE = ("${lab.no_cuda:}",)
_REFERENCE = re.compile(r"^\$\{(?P<key>[\w.]+)\}$")


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
    narrowed = head_rules(cfg)  # this head's own rule of a key, where it has one
    for key, value in raw.items():
        rule = narrowed.get(key) or rule_for(key)
        if rule is None:
            name = key.rsplit("[", 1)[0]
            if key.endswith("]") and (scalar := rule_for(name)) is not None:
                raise ConfigError(f"{name} is a list; valid: {scalar.valid()}")
            continue
        if _checked_elsewhere(value, rule):
            continue
        value = _resolved(cfg, key, value)
        # "???": a mandatory value left unset, which the step that needs it names
        if value != "???" and (refusal := _refusal(key, value, rule)):
            raise ConfigError(refusal)
    for key, relation, other, why in RELATIONS:
        value, bound = OmegaConf.select(cfg, key), OmegaConf.select(cfg, other)
        if is_number(value) and is_number(bound) and not _COMPARE[relation](value, bound):
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
            if rule is not None and item is not None and (refusal := _refusal(name, item, rule)):
                raise ConfigError(refusal)


def _refusal(key: str, value: Any, rule: Rule) -> str | None:
    """The one line refusing `value` at `key`, or None when `rule` accepts it. A switch's
    value is shown as typed (`train_on_prompt=no is not true or false`)."""
    if (problem := rule.problem(value)) is None:
        return None
    if rule.switch() and value is not None:
        return f"{key}={value} is {problem}"
    return f"{key}={_show(value)} is {problem}; valid: {rule.valid()}{range_hint(key, value)}"


def _checked_elsewhere(value: Any, rule: Rule) -> bool:
    """Whether `value` is an interpolation checked at another key: a reference to a key held
    to the same rule (`data.train_on_prompt: ${task.module.train_on_prompt}`: the refusal
    names the key the user set), or one of `_KNOWN_TYPE`."""
    if not isinstance(value, str):
        return False
    if value in _KNOWN_TYPE:
        return True
    target = rule_for(match["key"]) if (match := _REFERENCE.match(value)) else None
    return target is not None and target.spec == rule.spec


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
