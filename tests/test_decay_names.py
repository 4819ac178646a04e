"""lab's weight-decay groups decay exactly the parameters HF Trainer decays
(`Trainer.get_decay_parameter_names`), on tiny models from config of the families a ported
recipe meets: T5's `relative_attention_bias.weight` among the excluded, as in HF."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
import transformers as T
from transformers import Trainer

from lab.training.decay_names import decayed_parameter_names
from lab.training.optim import param_groups

_BERTISH: dict[str, Any] = {
    "vocab_size": 100,
    "hidden_size": 16,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 32,
}
_DECODER: dict[str, Any] = {**_BERTISH, "num_key_value_heads": 2}
_BART: dict[str, Any] = {
    "vocab_size": 100,
    "d_model": 16,
    "encoder_layers": 2,
    "decoder_layers": 2,
    "encoder_attention_heads": 2,
    "decoder_attention_heads": 2,
    "encoder_ffn_dim": 32,
    "decoder_ffn_dim": 32,
}
_DEBERTA: dict[str, Any] = {
    **_BERTISH,
    "relative_attention": True,
    "position_buckets": 8,
    "norm_rel_ebd": "layer_norm",
}
_T5: dict[str, Any] = {
    "vocab_size": 100,
    "d_model": 16,
    "d_ff": 32,
    "num_layers": 2,
    "num_heads": 2,
    "d_kv": 8,
}

FAMILIES: dict[str, Callable[[], torch.nn.Module]] = {
    "bert": lambda: T.AutoModelForSequenceClassification.from_config(T.BertConfig(**_BERTISH)),
    "roberta": lambda: T.AutoModelForSequenceClassification.from_config(
        T.RobertaConfig(**_BERTISH)
    ),
    "gpt2": lambda: T.AutoModelForCausalLM.from_config(
        T.GPT2Config(vocab_size=100, n_embd=16, n_layer=2, n_head=2)
    ),
    "llama": lambda: T.AutoModelForCausalLM.from_config(T.LlamaConfig(**_DECODER)),
    "qwen2": lambda: T.AutoModelForCausalLM.from_config(T.Qwen2Config(**_DECODER)),
    "bart": lambda: T.AutoModelForSeq2SeqLM.from_config(T.BartConfig(**_BART)),
    "deberta_v2": lambda: T.AutoModelForSequenceClassification.from_config(
        T.DebertaV2Config(**_DEBERTA)
    ),
    "t5": lambda: T.AutoModelForSeq2SeqLM.from_config(T.T5Config(**_T5)),
}


def _hf_decayed(model: torch.nn.Module) -> set[str]:
    # The method reads nothing of the Trainer, so no Trainer (and no TrainingArguments) is built.
    names = set(Trainer.get_decay_parameter_names(None, model))  # type: ignore[arg-type]
    return names & {name for name, _ in model.named_parameters()}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_lab_decays_what_hf_trainer_decays(family: str) -> None:
    model = FAMILIES[family]()
    names = {id(p): name for name, p in model.named_parameters()}
    decay, no_decay = param_groups(model, lr=1e-3, weight_decay=0.1)
    assert (decay["name"], no_decay["name"]) == ("decay", "no_decay")
    lab_decayed = {names[id(p)] for p in decay["params"]}
    assert lab_decayed == _hf_decayed(model)
    assert lab_decayed | {names[id(p)] for p in no_decay["params"]} == set(names.values())


def test_t5_relative_attention_bias_is_not_decayed() -> None:
    model = FAMILIES["t5"]()
    decayed = decayed_parameter_names(model)
    relative = [n for n, _ in model.named_parameters() if "relative_attention_bias" in n]
    assert relative == [
        "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
        "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
    ]
    assert not decayed & set(relative)
    assert "encoder.block.0.layer.0.SelfAttention.q.weight" in decayed
    assert "encoder.final_layer_norm.weight" not in decayed


def test_a_layer_norm_module_is_excluded_whatever_its_name() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(2, 2, bias=False), torch.nn.LayerNorm(2))
    assert decayed_parameter_names(model) == {"0.weight"}
