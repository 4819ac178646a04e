"""A key under a node without keys (`scheduler=none`, `callbacks=none`) is said in words, never
with an empty "Valid keys of ..." list (s32a F-L1: `scheduler=none scheduler.warmup_ratio=0.1`
printed `Valid keys of scheduler: ` and nothing after it)."""

from __future__ import annotations

from lab.config.cli import unknown_key_hints
from lab.config.key_hints import not_a_key
from lab.config.paths import conf_dir
from lab.config.resolvers import register_resolvers


def _hints(*overrides: str) -> list[str]:
    register_resolvers()
    return unknown_key_hints(list(overrides), str(conf_dir()), "train")


def test_a_warmup_under_scheduler_none_names_scheduler_constant() -> None:
    assert _hints("scheduler=none", "scheduler.warmup_ratio=0.1", "scheduler.warmup_steps=3") == [
        "'scheduler.warmup_ratio' is not a config key: scheduler=none has no warmup; for a "
        "warmup then a constant rate use scheduler=constant (HF's constant_with_warmup)",
        "'scheduler.warmup_steps' is not a config key: scheduler=none has no warmup; for a "
        "warmup then a constant rate use scheduler=constant (HF's constant_with_warmup)",
    ]


def test_any_other_key_of_an_empty_node_says_it_has_none() -> None:
    assert _hints("scheduler=none", "scheduler.power=2") == [
        "'scheduler.power' is not a config key: scheduler has no keys here"
    ]
    assert not_a_key("callbacks", "x", []) == (
        "'callbacks.x' is not a config key: callbacks has no keys here"
    )


def test_an_hf_name_is_not_offered_as_the_key_given() -> None:
    # `scheduler.warmup_ratio` is HF's name and lab's key: under a scheduler that has keys it
    # is valid; where it is not, "Did you mean scheduler.warmup_ratio?" would say nothing.
    line = not_a_key("scheduler", "warmup_ratio", ["_target_", "num_cycles"], value="0.1")
    assert "Did you mean scheduler.warmup_ratio" not in line
    assert line.endswith("Valid keys of scheduler: _target_, num_cycles")
