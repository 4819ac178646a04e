"""`model.add_tokens` / `model.add_special_tokens` (lab.training.vocabulary): the tokenizer
gains the tokens (a known one is skipped with a warning), the embeddings grow with new rows at
the mean of the old ones (also an untied output layer), the export's tokenizer has them, and a
LoRA run trains the new rows while every old row stays as it was."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import torch
import transformers as T
from omegaconf import OmegaConf

from lab.training.freezing import prepare_model
from lab.training.vocabulary import add_vocabulary, new_token_rows, resize_embeddings

from conftest import SENTIMENT

ASSETS = Path(__file__).resolve().parents[1] / "src" / "lab" / "assets"


def _tokenizer(name: str) -> Any:
    return T.AutoTokenizer.from_pretrained(ASSETS / name)


def _model_cfg(**options: Any) -> Any:
    return OmegaConf.create({"add_tokens": [], "add_special_tokens": {}, **options})


def test_added_tokens_are_single_tokens_and_a_known_one_is_skipped_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tokenizer = _tokenizer("tiny_bert")
    assert len(tokenizer) == 775 and "film" in tokenizer.get_vocab()
    assert len(tokenizer.tokenize("zorblax")) > 1
    with caplog.at_level(logging.WARNING, logger="lab.training.vocabulary"):
        added = add_vocabulary(
            tokenizer, _model_cfg(add_tokens=["zorblax", "film", "qwyx", "zorblax"])
        )
    assert added.old_size == 775
    assert added.ids == (775, 776)
    assert len(tokenizer) == 777
    assert tokenizer.tokenize("a zorblax film qwyx") == ["a", "zorblax", "film", "qwyx"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"model.add_tokens: 'film' is already in the tokenizer's vocabulary "
        f"(id {tokenizer.get_vocab()['film']}); it keeps its id and embedding row"
    ]


def test_special_tokens_take_their_role() -> None:
    tokenizer = _tokenizer("tiny_gpt2")
    assert tokenizer.pad_token is None
    added = add_vocabulary(
        tokenizer,
        _model_cfg(add_special_tokens={"pad_token": "<pad>", "additional_special_tokens": ["<x>"]}),
    )
    assert added.ids == (1000, 1001)
    assert tokenizer.pad_token == "<pad>" and tokenizer.pad_token_id == 1000
    assert tokenizer.convert_tokens_to_ids("<x>") == 1001
    assert tokenizer.decode([1001, 1000], skip_special_tokens=True) == ""


def test_unknown_special_role_is_refused() -> None:
    from lab.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown role\\(s\\) title_token; valid: "):
        add_vocabulary(
            _tokenizer("tiny_bert"), _model_cfg(add_special_tokens={"title_token": "<t>"})
        )


def test_new_rows_start_at_the_mean_embedding_and_old_rows_stay() -> None:
    tokenizer = _tokenizer("tiny_bert")
    add_vocabulary(tokenizer, _model_cfg(add_tokens=["zorblax", "qwyx"]))
    torch.manual_seed(0)
    config = T.BertConfig(
        vocab_size=775, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32,
    )  # fmt: skip
    model = T.AutoModelForSequenceClassification.from_config(config)
    old = model.get_input_embeddings().weight.detach().clone()
    prepare_model(model, tokenizer, _model_cfg(freeze=[], freeze_layers=0))
    weight = model.get_input_embeddings().weight
    assert weight.shape == (777, 16)
    assert torch.equal(weight[:775], old)
    assert torch.allclose(weight[775], old.mean(dim=0)) and torch.equal(weight[775], weight[776])
    assert new_token_rows(model) == (775, 776)


def test_a_table_with_spare_rows_is_not_resized_but_the_rows_are_set() -> None:
    tokenizer = _tokenizer("tiny_bert")
    add_vocabulary(tokenizer, _model_cfg(add_tokens=["zorblax"]))
    torch.manual_seed(0)
    config = T.BertConfig(
        vocab_size=2048, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32,
    )  # fmt: skip
    model = T.AutoModelForSequenceClassification.from_config(config)
    old = model.get_input_embeddings().weight.detach().clone()
    assert resize_embeddings(model, tokenizer) == (775,)
    weight = model.get_input_embeddings().weight
    assert weight.shape == (2048, 16)
    assert torch.allclose(weight[775], old[:775].mean(dim=0))
    assert torch.equal(weight[776:], old[776:]) and torch.equal(weight[:775], old[:775])


@pytest.mark.parametrize("tied", [False, True])
def test_an_output_layer_gets_mean_rows_too(tied: bool) -> None:
    tokenizer = _tokenizer("tiny_gpt2")
    add_vocabulary(tokenizer, _model_cfg(add_tokens=["zorblax", "qwyx", "blorp"]))
    torch.manual_seed(0)
    config = T.LlamaConfig(
        vocab_size=1000, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=2, intermediate_size=32, tie_word_embeddings=tied,
    )  # fmt: skip
    model = T.AutoModelForCausalLM.from_config(config)
    old_in = model.get_input_embeddings().weight.detach().clone()
    old_out = model.get_output_embeddings().weight.detach().clone()
    resize_embeddings(model, tokenizer)
    new_in = model.get_input_embeddings().weight
    new_out = model.get_output_embeddings().weight
    assert new_in.shape == new_out.shape == (1003, 16)
    assert (new_in is new_out) == tied
    for row in (1000, 1001, 1002):
        assert torch.allclose(new_in[row], old_in.mean(dim=0))
        assert torch.allclose(new_out[row], old_out.mean(dim=0))
    assert torch.equal(new_out[:1000], old_out)
    # A model that gained rows predicts with them: the output layer covers the new ids.
    logits = model(input_ids=torch.tensor([[1000, 5, 1002]])).logits
    assert logits.shape == (1, 3, 1003)


def _parts(compose_cfg: Any, tmp_path: Path, *overrides: str) -> Any:
    from lab.build import build_parts

    cfg = compose_cfg(
        "model=tiny_bert",
        "model.add_tokens=[zorblax,qwyx]",
        "data=csv",
        f"data.path={SENTIMENT}",
        "data.text_column=review",
        "data.label_column=sentiment",
        *overrides,
        output_dir=tmp_path / "run",
    )
    torch.manual_seed(0)
    return build_parts(cfg)  # the tokens are added by lab.training.tokenizers.build_tokenizer


def test_the_export_has_the_added_tokens(compose_cfg: Any, tmp_path: Path) -> None:
    parts = _parts(compose_cfg, tmp_path, "model.network.config.vocab_size=775")
    assert parts.model.get_input_embeddings().num_embeddings == 777
    exported = parts.module.export(tmp_path / "model", parts.tokenizer)
    tokenizer = T.AutoTokenizer.from_pretrained(exported)
    assert len(tokenizer) == 777
    assert tokenizer.tokenize("zorblax qwyx") == ["zorblax", "qwyx"]
    model = T.AutoModelForSequenceClassification.from_pretrained(exported)
    assert model.get_input_embeddings().num_embeddings == 777
    assert torch.equal(
        model.get_input_embeddings().weight, parts.model.get_input_embeddings().weight
    )


def test_lora_trains_the_new_rows_and_keeps_the_old_ones(compose_cfg: Any, tmp_path: Path) -> None:
    parts = _parts(compose_cfg, tmp_path, "model.network.config.vocab_size=775", "peft=lora")
    model = parts.model
    base = model.get_base_model().get_input_embeddings()
    before = base.weight.detach().clone()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    for _ in range(3):
        batch = {
            "input_ids": torch.tensor([[2, 775, 40, 776, 3], [2, 50, 775, 60, 3]]),
            "labels": torch.tensor([0, 1]),
        }
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    exported = parts.module.export(tmp_path / "model", parts.tokenizer)
    merged = T.AutoModelForSequenceClassification.from_pretrained(exported)
    weight = merged.get_input_embeddings().weight
    assert torch.equal(weight[:775], before[:775])
    assert not torch.allclose(weight[775], before[775])
    assert not torch.allclose(weight[776], before[776])


def test_a_model_built_without_the_tokenizer_step_says_so() -> None:
    model = T.AutoModelForSequenceClassification.from_config(
        T.BertConfig(vocab_size=775, hidden_size=8, num_hidden_layers=1, num_attention_heads=2)
    )
    with pytest.raises(RuntimeError, match=r"zorblax not in the tokenizer; lab\.training\.vocab"):
        prepare_model(model, _tokenizer("tiny_bert"), _model_cfg(add_tokens=["zorblax"]))


@pytest.mark.parametrize(
    ("freeze", "freeze_layers", "warned"),
    [([], 1, True), (["bert.embeddings"], 0, True), (["bert.encoder.layer.0"], 0, False),
     ([], 0, False)],
)  # fmt: skip
def test_frozen_embeddings_under_new_tokens_warn(
    freeze: list[str], freeze_layers: int, warned: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """Frozen input embeddings would hold the new tokens' rows at their mean start all run."""
    from lab.training.vocabulary import warn_if_new_rows_frozen

    tokenizer = _tokenizer("tiny_bert")
    add_vocabulary(tokenizer, _model_cfg(add_tokens=["zorblax", "qwyx"]))
    model = T.AutoModelForSequenceClassification.from_config(
        T.BertConfig(vocab_size=775, hidden_size=8, num_hidden_layers=2, num_attention_heads=2)
    )
    prepare_model(model, tokenizer, _model_cfg(freeze=freeze, freeze_layers=freeze_layers))
    with caplog.at_level(logging.WARNING, logger="lab.training.vocabulary"):
        warn_if_new_rows_frozen(model)
    expected = (
        "model.add_tokens: the input embeddings are frozen (model.freeze_layers freezes them "
        "with the bottom blocks; or a model.freeze pattern), so the 2 added tokens keep their "
        "starting (mean) embedding rows all run"
    )
    assert (expected in caplog.text) == warned
