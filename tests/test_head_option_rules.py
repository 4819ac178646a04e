"""Head options whose valid values depend on the head (`lab.config.head_option_rules`):
`task.module.label_smoothing` is [0, 1) for the classification heads (HF's
`label_smoothing_factor`) and [0, 0.5) for DPO; a DPO loss name lab lacks is one line before
anything loads, not a Hydra traceback from the module's constructor (s26c L1); IPO with label
smoothing, and a seq2seq metric lab lacks, are refused by lab.validate too (s27c M5, M7)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from lab.config.head_option_rules import DPO_LOSSES, SEQ2SEQ_METRICS
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
        "(the share of the target spread over the other classes)"
    )


@pytest.mark.parametrize("value", ["0.5", "1"])
def test_dpo_refuses_label_smoothing_of_a_half_in_its_own_words(
    compose_cfg: Callable[..., object], value: str
) -> None:
    """s27c L1: each head's refusal speaks of its own meaning, 1 included (the wider rule
    of the classification heads is not DPO's)."""
    validate_config(compose_cfg(*DPO, "task.module.label_smoothing=0.49"))
    with pytest.raises(ConfigError) as refused:
        validate_config(compose_cfg(*DPO, f"task.module.label_smoothing={value}"))
    assert str(refused.value) == (
        f"task.module.label_smoothing={value} is out of range; valid: a number in [0, 0.5) "
        "(DPO: the share of preference labels taken as flipped; at 0.5 both orders of a pair "
        "weigh the same)"
    )


def test_ipo_refuses_label_smoothing_it_would_ignore(compose_cfg: Callable[..., object]) -> None:
    """s27c M7: IPO's loss reads no label smoothing; a value was silently ignored."""
    validate_config(compose_cfg(*DPO, "task.module.loss=ipo"))
    validate_config(compose_cfg(*DPO, "task.module.loss=simpo", "task.module.label_smoothing=0.2"))
    with pytest.raises(ConfigError) as refused:
        validate_config(
            compose_cfg(*DPO, "task.module.loss=ipo", "task.module.label_smoothing=0.2")
        )
    assert str(refused.value) == (
        "task.module.label_smoothing=0.2 does nothing with task.module.loss=ipo: ipo takes no "
        "label_smoothing (sigmoid and simpo do); leave it at 0"
    )


def test_a_null_dpo_loss_is_said_as_null(compose_cfg: Callable[..., object]) -> None:
    """s27c L3: the value as an override writes it, not Python's None."""
    with pytest.raises(ConfigError) as refused:
        validate_config(compose_cfg(*DPO, "task.module.loss=null"))
    assert str(refused.value).startswith("task.module.loss=null is not valid; valid: sigmoid")


def test_the_seq2seq_rule_names_every_metric_the_module_has() -> None:
    from lab.tasks.seq2seq import METRICS

    assert set(SEQ2SEQ_METRICS) == set(METRICS)


@pytest.mark.parametrize("value", ["foo", "BLEU", "null"])
def test_lab_validate_refuses_a_seq2seq_metric_lab_train_refuses(
    compose_cfg: Callable[..., object], value: str
) -> None:
    """s27c M5: `task.module.metric=foo` passed lab.validate; lab.train refused it."""
    s2s = ("model=tiny_bart", "data=xsum", f"data.path={FIXTURES / 'summaries'}")
    validate_config(compose_cfg(*s2s, "task.module.metric=bleu"))
    with pytest.raises(ConfigError) as refused:
        validate_config(compose_cfg(*s2s, f"task.module.metric={value}"))
    assert str(refused.value) == (
        f"task.module.metric={value} is not valid; valid: rouge (ROUGE-1/2/L, for "
        "summarization), bleu (corpus BLEU, for translation)"
    )


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


def test_a_key_the_predictor_does_not_take_is_refused_before_training(
    compose_cfg: Callable[..., object],
) -> None:
    """s27c H3: `+task.predictor.foo=1` trained and exported, then failed every lab.predict of
    the run in a TypeError traceback. A predictor's `__init__` is its base's: followed."""
    with pytest.raises(ConfigError) as refused:
        validate_config(compose_cfg("+task.predictor.foo=1"))
    assert str(refused.value) == (
        "'task.predictor.foo' is not an argument of "
        "lab.tasks.text_classification.predictor.SequenceClassificationPredictor. "
        "task.predictor takes no keys"
    )
    masked = ("model=tiny_bert", "task=masked_lm")
    validate_config(compose_cfg(*masked, "task.predictor.top_k=3"))
    with pytest.raises(ConfigError, match=r"Did you mean task.predictor.top_k\? Valid keys"):
        validate_config(compose_cfg(*masked, "+task.predictor.top_kk=3"))
