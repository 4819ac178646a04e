"""`model.freeze` / `model.freeze_layers` (lab.training.freezing): which parameters freeze in
every model family, that frozen parameters get no optimizer state and stay bit-identical
through training, and the errors for a pattern that matches nothing or too many layers."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import transformers as T
from omegaconf import OmegaConf

from lab.errors import ConfigError
from lab.training.freezing import find_blocks, freeze, parameter_layers, prepare_model
from lab.training.optim import adamw


def _tiny(family: str) -> Any:
    """A tiny 3-block sequence classifier of `family`, random weights."""
    configs = {
        "bert": T.BertConfig(
            vocab_size=100,
            hidden_size=16,
            num_hidden_layers=3,
            num_attention_heads=2,
            intermediate_size=32,
        ),
        "roberta": T.RobertaConfig(
            vocab_size=100,
            hidden_size=16,
            num_hidden_layers=3,
            num_attention_heads=2,
            intermediate_size=32,
        ),
        "distilbert": T.DistilBertConfig(
            vocab_size=100, dim=16, n_layers=3, n_heads=2, hidden_dim=32
        ),
        "gpt2": T.GPT2Config(
            vocab_size=100, n_embd=16, n_layer=3, n_head=2, bos_token_id=0, eos_token_id=0
        ),
        "llama": T.LlamaConfig(
            vocab_size=100,
            hidden_size=16,
            num_hidden_layers=3,
            num_attention_heads=2,
            num_key_value_heads=2,
            intermediate_size=32,
        ),
        "t5": T.T5Config(vocab_size=100, d_model=16, d_kv=8, d_ff=32, num_layers=3, num_heads=2),
        "bart": T.BartConfig(
            vocab_size=100,
            d_model=16,
            encoder_layers=3,
            decoder_layers=3,
            encoder_attention_heads=2,
            decoder_attention_heads=2,
            encoder_ffn_dim=32,
            decoder_ffn_dim=32,
        ),
    }
    torch.manual_seed(0)
    config = configs[family]
    config.pad_token_id = 0
    return T.AutoModelForSequenceClassification.from_config(config)


# (family, the block list, a parameter of the embeddings, of block 1, of block 2, of the head)
FAMILIES = [
    (
        "bert",
        "bert.encoder.layer",
        "bert.embeddings.position_embeddings.weight",
        "bert.encoder.layer.1.output.dense.weight",
        "bert.encoder.layer.2.output.dense.weight",
        "classifier.weight",
    ),
    (
        "roberta",
        "roberta.encoder.layer",
        "roberta.embeddings.word_embeddings.weight",
        "roberta.encoder.layer.1.attention.self.query.weight",
        "roberta.encoder.layer.2.attention.self.query.weight",
        "classifier.out_proj.weight",
    ),
    (
        "distilbert",
        "distilbert.transformer.layer",
        "distilbert.embeddings.LayerNorm.weight",
        "distilbert.transformer.layer.1.ffn.lin1.weight",
        "distilbert.transformer.layer.2.ffn.lin1.weight",
        "pre_classifier.weight",
    ),
    (
        "gpt2",
        "transformer.h",
        "transformer.wpe.weight",
        "transformer.h.1.mlp.c_fc.weight",
        "transformer.h.2.mlp.c_fc.weight",
        "score.weight",
    ),
    (
        "llama",
        "model.layers",
        "model.embed_tokens.weight",
        "model.layers.1.mlp.up_proj.weight",
        "model.layers.2.mlp.up_proj.weight",
        "score.weight",
    ),
    (
        "t5",
        "transformer.encoder.block",
        "transformer.shared.weight",
        "transformer.encoder.block.1.layer.1.DenseReluDense.wi.weight",
        "transformer.encoder.block.2.layer.1.DenseReluDense.wi.weight",
        "classification_head.out_proj.weight",
    ),
    (
        "bart",
        "model.encoder.layers",
        "model.encoder.embed_positions.weight",
        "model.encoder.layers.1.fc1.weight",
        "model.encoder.layers.2.fc1.weight",
        "classification_head.out_proj.weight",
    ),
]


@pytest.mark.parametrize(("family", "blocks", "embedding", "block1", "block2", "head"), FAMILIES)
def test_freeze_layers_freezes_embeddings_and_the_bottom_blocks_of_any_family(
    family: str, blocks: str, embedding: str, block1: str, block2: str, head: str
) -> None:
    model = _tiny(family)
    prefix, found = find_blocks(model)
    assert (prefix, len(found)) == (blocks, 3)
    frozen = freeze(model, layers=2)
    params = dict(model.named_parameters())
    assert not params[embedding].requires_grad
    assert not model.get_input_embeddings().weight.requires_grad
    assert not params[block1].requires_grad  # block index 1 is the second block
    assert params[block2].requires_grad
    assert params[head].requires_grad
    assert frozen == sum(p.numel() for p in model.parameters() if not p.requires_grad)


def test_freeze_patterns_match_parameter_and_module_names() -> None:
    model = _tiny("bert")
    freeze(model, ["bert.embeddings", "*.attention.self.query.*"])
    frozen = {name for name, p in model.named_parameters() if not p.requires_grad}
    expected = {
        name
        for name, _ in model.named_parameters()
        if name.startswith("bert.embeddings.") or ".attention.self.query." in name
    }
    assert frozen == expected
    assert len(expected) == 5 + 3 * 2  # 5 embedding tensors, query weight + bias in 3 blocks


def test_a_pattern_matching_nothing_lists_close_names() -> None:
    with pytest.raises(ConfigError) as caught:
        freeze(_tiny("bert"), ["bert.embedings"])
    message = str(caught.value)
    assert "model.freeze pattern 'bert.embedings' matches no parameter" in message
    assert "close names: bert.embeddings" in message
    assert "\n" not in message


def test_freeze_layers_beyond_the_depth_names_the_depth() -> None:
    with pytest.raises(ConfigError, match=r"freeze_layers=4 but .* has 3 blocks .*use 0\.\.3"):
        freeze(_tiny("gpt2"), layers=4)
    model = _tiny("gpt2")
    freeze(model, layers=3)  # every block: only the final norm and the head train
    assert {n for n, p in model.named_parameters() if p.requires_grad} == {
        "transformer.ln_f.weight",
        "transformer.ln_f.bias",
        "score.weight",
    }


def test_layers_of_parameters() -> None:
    model = _tiny("bert")
    layers, top = parameter_layers(model)
    assert top == 4
    assert layers["bert.embeddings.word_embeddings.weight"] == 0
    assert layers["bert.encoder.layer.0.output.dense.bias"] == 1
    assert layers["bert.encoder.layer.2.output.dense.bias"] == 3
    assert layers["bert.pooler.dense.weight"] == layers["classifier.bias"] == 4


def test_frozen_parameters_get_no_optimizer_state_and_stay_bit_identical() -> None:
    model = _tiny("bert").train()
    prepare_model(
        model, None, OmegaConf.create({"freeze": ["classifier.bias"], "freeze_layers": 1})
    )
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    trained = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    assert "classifier.bias" in frozen and "bert.encoder.layer.0.output.dense.weight" in frozen
    optimizer = adamw(model, lr=1e-2, weight_decay=0.1)  # decay would move frozen tensors
    held = {id(p) for group in optimizer.param_groups for p in group["params"]}
    names = {id(p): n for n, p in model.named_parameters()}
    assert {names[i] for i in held} == set(trained)
    torch.manual_seed(0)
    for _ in range(3):
        batch = {
            "input_ids": torch.randint(1, 100, (4, 8)),
            "labels": torch.tensor([0, 1, 0, 1]),
        }
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    assert {names[id(p)] for p in optimizer.state} == set(trained)
    params = dict(model.named_parameters())
    for name, before in frozen.items():
        assert torch.equal(params[name], before), name
    assert all(not torch.equal(params[n], before) for n, before in trained.items())


def test_the_model_line_counts_trainable_parameters() -> None:
    from lab.training.adapters import parameter_counts
    from lab.training.run_lines import LoadReport, model_line

    model = _tiny("bert")
    freeze(model, layers=3)
    counts = parameter_counts(model)
    head = [p for n, p in model.named_parameters() if n.startswith(("classifier", "bert.pooler"))]
    assert counts["trainable"] == sum(p.numel() for p in head) == 16 * 16 + 16 + 2 * 16 + 2
    cfg = OmegaConf.create({"model": {"pretrained": None}})
    line = model_line(cfg, model, counts, LoadReport())
    assert f"({counts['total'] / 1e3:.1f}K parameters, 306 trainable)" in line
