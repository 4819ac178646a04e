"""A misspelt setting of a transformers model config is refused before anything loads.

`BertConfig(hidden_sizee=64)` is accepted by transformers (kept as an unused attribute): the
run trained a 768-wide model instead. A misspelt option of a pretrained model's loader
crashed after the data had loaded with a TypeError traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lab.config.rules import validate_config
from lab.errors import ConfigError


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ("model=tiny_bert", "+model.network.config.hidden_sizee=64"),
            "model.network.config.hidden_sizee: BertConfig has no setting 'hidden_sizee'; did "
            "you mean 'hidden_size'? (transformers would keep it unused and build the model "
            "without it)",
        ),
        (
            ("model=tiny_llama", "+model.network.config.num_key_value_head=1"),
            "model.network.config.num_key_value_head: LlamaConfig has no setting "
            "'num_key_value_head'; did you mean 'num_key_value_heads'?",
        ),
        (  # MiniLM loads from a local folder: its config.json says it is a BERT
            ("model=minilm", "+model.network.hidden_dropout_probb=0.2"),
            "model.network.hidden_dropout_probb: BertConfig has no setting "
            "'hidden_dropout_probb'; did you mean 'hidden_dropout_prob'? (the model's class "
            "would fail on it once the data loads)",
        ),
    ],
)
def test_a_misspelt_model_setting_is_refused_naming_the_right_one(
    compose_cfg: Any, overrides: tuple[str, ...], message: str
) -> None:
    cfg = compose_cfg(*overrides)
    with pytest.raises(ConfigError) as refused:
        validate_config(cfg)
    assert str(refused.value).startswith(message)


@pytest.mark.parametrize(
    "overrides",
    [
        ("model=tiny_gpt2", "+model.network.config.hidden_size=16"),  # GPT-2's alias of n_embd
        ("model=tiny_llama", "+model.network.config.rope_theta=10000.0"),  # before rope_parameters
        ("model=tiny_bert", "+model.network.config.output_attentions=true"),  # a class attribute
        ("model=tiny_bert", "+model.network.config.my_own_flag=1"),  # far from every key: kept
        ("model=minilm", "+model.network.hidden_dropout_prob=0.2"),  # the config's own key
        ("model=minilm", "+model.network.attn_implementation=sdpa"),  # a loader option
        # Another token's id, spelt right, is no misspelt pad_token_id (BERT keeps it unused).
        ("model=tiny_bert", "+model.network.config.sep_token_id=1"),
        ("model=tiny_llama", "+model.network.config.cls_token_id=1"),
    ],
)
def test_settings_transformers_reads_are_not_refused(
    compose_cfg: Any, overrides: tuple[str, ...]
) -> None:
    validate_config(compose_cfg(*overrides))


def test_a_key_the_model_class_cannot_take_is_one_line_when_loading(tmp_path: Path) -> None:
    """A key far from every config key passes the config check; the loader's TypeError is
    turned into one line naming it (and the closest key where one is close)."""
    from transformers import BertConfig, BertForSequenceClassification

    from lab.training.models import pretrained_head

    folder = tmp_path / "tiny"
    config = BertConfig(
        vocab_size=64, hidden_size=8, num_hidden_layers=1, num_attention_heads=1,
        intermediate_size=16,
    )  # fmt: skip
    BertForSequenceClassification(config).save_pretrained(folder)
    head = "transformers.AutoModelForSequenceClassification"
    with pytest.raises(ConfigError) as refused:
        pretrained_head(head, str(folder), layer_norm_epss=1e-6, zzz_flag=1)
    assert str(refused.value) == (
        "model.network.layer_norm_epss: neither an option of from_pretrained nor a setting of "
        "the model's config; did you mean 'layer_norm_eps'?"
    )
    with pytest.raises(ConfigError) as refused:  # a real key of other families: no guess
        pretrained_head(head, str(folder), sep_token_id=3)
    assert str(refused.value) == (
        "model.network.sep_token_id: neither an option of from_pretrained nor a setting of "
        "the model's config; see the model's config.json for its keys"
    )
    loaded = pretrained_head(head, str(folder), hidden_dropout_prob=0.3)
    assert loaded.config.hidden_dropout_prob == 0.3
