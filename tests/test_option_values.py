"""Option values of the wrong kind are refused in one line before anything loads (s27c).

H4: a boolean option took any string, and `task.module.train_on_prompt=no` (the string 'no',
truthy) trained on the prompt tokens; every key whose value in lab's configs is a boolean now
takes true or false only (`tests/test_config_ranges.py` holds the table to the configs). H2: a
number as the causal LM's sample prompt reached the tokenizer as a traceback. M6: `beta=inf`
passed "> 0" and the run diverged. L2: `final_weights=null` acted as best.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from lab.config.rules import validate_config
from lab.errors import ConfigError

from conftest import FIXTURES, lab_cli

SFT = ("model=tiny_llama", "data=chat", f"data.path={FIXTURES / 'sft' / 'messages.jsonl'}")
DPO = ("model=tiny_llama", "data=preferences", f"data.path={FIXTURES / 'preferences'}")
CLM = ("model=tiny_gpt2", "data=text", f"data.path={FIXTURES / 'lm'}")


def _refusal(compose_cfg: Callable[..., object], *overrides: str) -> str:
    with pytest.raises(ConfigError) as refused:
        validate_config(compose_cfg(*overrides))
    return str(refused.value)


@pytest.mark.parametrize(
    ("setup", "key"),
    [
        (SFT, "task.module.train_on_prompt"),
        (SFT, "data.packing"),
        (DPO, "task.module.precompute_reference"),
        ((), "data.stratify"),
        ((), "trainer.compile"),
    ],
)
@pytest.mark.parametrize("value", ["no", "abc", "2"])
def test_a_switch_takes_true_or_false_only(
    compose_cfg: Callable[..., object], setup: tuple[str, ...], key: str, value: str
) -> None:
    assert _refusal(compose_cfg, *setup, f"{key}={value}") == f"{key}={value} is not true or false"
    validate_config(compose_cfg(*setup, f"{key}=true"))


def test_the_refusal_names_the_key_set_not_the_key_that_copies_it(
    compose_cfg: Callable[..., object],
) -> None:
    """`data.train_on_prompt` is `${task.module.train_on_prompt}`: the key the user set is
    named, whichever the config lists first."""
    message = _refusal(compose_cfg, *SFT, "task.module.train_on_prompt=no")
    assert message == "task.module.train_on_prompt=no is not true or false"


def test_lightnings_warn_is_a_valid_deterministic(compose_cfg: Callable[..., object]) -> None:
    validate_config(compose_cfg("trainer.deterministic=warn"))
    assert _refusal(compose_cfg, "trainer.deterministic=no") == (
        "trainer.deterministic='no' is not valid; valid: null or true or false or warn"
    )


@pytest.mark.parametrize("value", ["123", "true", "1.5"])
def test_a_sample_prompt_is_text(compose_cfg: Callable[..., object], value: str) -> None:
    """A number or a boolean is refused with how to give it as text (a quoted value)."""
    shown = {"true": "true"}.get(value, value)
    assert _refusal(compose_cfg, *CLM, f"task.module.sample_prompt={value}") == (
        f"task.module.sample_prompt={shown} is not a string; valid: null or a string (null: no "
        "samples; a number as text is quoted: task.module.sample_prompt='\"123\"')"
    )
    cfg = compose_cfg(*CLM, "task.module.sample_prompt='123'")
    validate_config(cfg)
    assert cfg.task.module.sample_prompt == "123"  # type: ignore[attr-defined]
    validate_config(compose_cfg(*CLM, "task.module.sample_prompt=null"))


@pytest.mark.parametrize("value", ["inf", "-inf", "nan"])
def test_a_number_must_be_finite(compose_cfg: Callable[..., object], value: str) -> None:
    assert _refusal(compose_cfg, *DPO, f"task.module.beta={value}") == (
        f"task.module.beta={float(value)} is not finite; valid: a number > 0 (DPO/SimPO "
        "inverse temperature, IPO's tau)"
    )
    assert _refusal(compose_cfg, f"optimizer.lr={value}").startswith(
        f"optimizer.lr={float(value)} is not finite; valid: a number > 0"
    )


def test_final_weights_is_not_null(compose_cfg: Callable[..., object]) -> None:
    assert _refusal(compose_cfg, "final_weights=null") == (
        "final_weights=null is not valid; valid: best, last (the weights the run tests, "
        "exports and reports)"
    )
    validate_config(compose_cfg("trainer.gradient_clip_algorithm=null"))  # Lightning: norm


def test_lab_validate_and_lab_train_refuse_a_string_switch(tmp_path: Path) -> None:
    """Through the commands: exit 2, one line, and a training run refused before its data or
    model loads."""
    message = "task.module.train_on_prompt=no is not true or false"
    checked = lab_cli("validate", *SFT, "task.module.train_on_prompt=no", cwd=tmp_path)
    assert checked.returncode == 2
    assert checked.stderr.splitlines() == [f"error: {message}"]
    done = lab_cli("train", *SFT, "task.module.train_on_prompt=no", f"paths.output_root={tmp_path}")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == f"error: {message}"
    assert "Traceback" not in done.stderr
    (record,) = tmp_path.glob("runs/*/*/record.json")
    assert json.loads(record.read_text())["status"] == f"failed: {message}"
    assert "data" not in json.loads(record.read_text())
