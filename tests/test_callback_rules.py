"""Settings of a callback the run does not have (s32a F-M2): `callbacks.early_stopping.patience=2`
without `callbacks=early_stopping` names that option, not Hydra's `+`; and the `+` form, a node
without `_target_` that crashed the run after the model loaded (`Missing key on_exception`), is
refused before anything loads, in lab.validate's rules and lab.train's pre-flight alike."""

from __future__ import annotations

from typing import Any

import pytest

from lab.config.callback_rules import callback_option
from lab.config.cli import unknown_key_hints
from lab.config.paths import conf_dir
from lab.config.resolvers import register_resolvers
from lab.config.rules import validate_config
from lab.errors import ConfigError


def _hints(*overrides: str) -> list[str]:
    register_resolvers()
    return unknown_key_hints(list(overrides), str(conf_dir()), "train")


def test_a_setting_of_a_callback_not_added_names_its_option() -> None:
    assert _hints("callbacks.early_stopping.patience=2") == [
        "'callbacks.early_stopping.patience' is not a config key: callbacks.early_stopping is "
        "not among this run's callbacks; add the callback with callbacks=early_stopping (then "
        "callbacks.early_stopping.patience=2)"
    ]
    assert _hints("callbacks=none", "callbacks.model_checkpoint.save_top_k=2") == [
        "'callbacks.model_checkpoint.save_top_k' is not a config key: callbacks.model_checkpoint "
        "is not among this run's callbacks; add the callback with callbacks=default (then "
        "callbacks.model_checkpoint.save_top_k=2)"
    ]


def test_a_callback_node_without_target_is_refused_before_anything_loads(
    compose_cfg: Any,
) -> None:
    cfg = compose_cfg("+callbacks.early_stopping.patience=2")
    with pytest.raises(ConfigError) as refused:
        validate_config(cfg)
    assert str(refused.value) == (
        "callbacks.early_stopping has no _target_: add the callback with "
        "callbacks=early_stopping (then callbacks.early_stopping.patience=2)"
    )


def test_a_node_of_your_own_without_target_says_what_a_callback_needs(compose_cfg: Any) -> None:
    cfg = compose_cfg("+callbacks.mine.every=2")
    with pytest.raises(ConfigError) as refused:
        validate_config(cfg)
    assert str(refused.value) == (
        "callbacks.mine has no _target_: a callback of your own needs its class as "
        "callbacks.mine._target_, or add one of lab's with callbacks=<option> (default, "
        "early_stopping, none) (then callbacks.mine.every=2)"
    )


def test_lab_train_refuses_it_before_any_weights_load(compose_cfg: Any) -> None:
    from lab.train import run

    cfg = compose_cfg("+callbacks.early_stopping.patience=2")
    with pytest.raises(ConfigError, match=r"^callbacks\.early_stopping has no _target_: "):
        run(cfg)


def test_the_added_callback_passes(compose_cfg: Any) -> None:
    validate_config(compose_cfg("callbacks=early_stopping", "callbacks.early_stopping.patience=2"))
    assert callback_option("early_stopping") == "early_stopping"
    assert callback_option("lr_monitor") == "default"
    assert callback_option("mine") is None
