"""Head options whose valid values depend on the head (`lab.config.head_option_rules`):
`task.module.label_smoothing` is [0, 1) for the classification heads (HF's
`label_smoothing_factor`) and [0, 0.5) for DPO; a DPO loss name lab lacks is one line before
anything loads, not a Hydra traceback from the module's constructor (s26c L1)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from lab.config.head_option_rules import DPO_LOSSES
from lab.config.rules import validate_config
from lab.errors import ConfigError
from lab.tasks.dpo.losses import LOSSES

from conftest import FIXTURES, lab_cli

DPO = ("model=tiny_llama", "data=preferences", f"data.path={FIXTURES / 'preferences'}")


def test_the_rule_names_every_dpo_loss_the_module_has() -> None:
    assert set(DPO_LOSSES) == set(LOSSES)


@pytest.mark.parametrize("value", [0.5, 0.9])
def test_classification_takes_label_smoothing_up_to_one(
    compose_cfg: Callable[..., object], value: float
) -> None:
    validate_config(compose_cfg(f"task.module.label_smoothing={value}"))  # data=demo: text


def test_classification_refuses_label_smoothing_of_one(compose_cfg: Callable[..., object]) -> None:
    with pytest.raises(ConfigError) as refused:
        validate_config(compose_cfg("task.module.label_smoothing=1.0"))
    assert str(refused.value) == (
        "task.module.label_smoothing=1.0 is out of range; valid: a number in [0, 1) "
        "(share of the target spread (DPO: < 0.5))"
    )


def test_dpo_refuses_label_smoothing_of_a_half(compose_cfg: Callable[..., object]) -> None:
    validate_config(compose_cfg(*DPO, "task.module.label_smoothing=0.49"))
    with pytest.raises(ConfigError, match=r"label_smoothing=0.5 is out of range for DPO; valid"):
        validate_config(compose_cfg(*DPO, "task.module.label_smoothing=0.5"))


def test_an_unknown_dpo_loss_is_one_line_before_anything_loads(tmp_path: Path) -> None:
    done = lab_cli("train", *DPO, "task.module.loss=foo", f"paths.output_root={tmp_path}")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "error: task.module.loss=foo is not valid; valid: sigmoid (DPO), ipo (IPO), "
        "simpo (SimPO, reference-free)"
    )
    assert "Traceback" not in done.stderr
    (record,) = tmp_path.glob("runs/*/*/record.json")
    assert json.loads(record.read_text())["status"].startswith("failed: task.module.loss=foo")
    assert not list(record.parent.glob("checkpoints/*"))


def test_an_unknown_history_cut_is_refused_before_any_data_loads(
    compose_cfg: Callable[..., object],
) -> None:
    chat = ("model=tiny_llama", "data=chat", f"data.path={FIXTURES / 'sft'}")
    validate_config(compose_cfg(*chat, "data.history_cut=oldest_turns"))
    with pytest.raises(ConfigError) as refused:
        validate_config(compose_cfg(*chat, "data.history_cut=newest"))
    assert str(refused.value).startswith("data.history_cut=newest: use none (a row too long")
