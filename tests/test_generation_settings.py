"""The exported generation config of a generating head (lab.tasks.generation_settings): a plain
`generate()` on a seq2seq or causal-LM export generates as lab's evaluation and lab.predict did
(s28b L2), a pretrained BART's beam-only flags no longer stop the save, and a config
transformers refuses is left as it was."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from lab.tasks.generation_settings import save_generation_settings

from conftest import FIXTURES

# What facebook/bart-large-cnn's generation_config.json holds (beam search, 4 beams).
BART_CNN = {
    "num_beams": 4,
    "early_stopping": True,
    "length_penalty": 2.0,
    "no_repeat_ngram_size": 3,
    "min_length": 5,
    "max_length": 142,
}


def _tiny_bart(**generation: Any) -> Any:
    import torch
    from transformers import BartConfig, BartForConditionalGeneration, GenerationConfig

    torch.manual_seed(0)
    config = BartConfig(
        vocab_size=64,
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=64,
        bos_token_id=0,
        pad_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=2,
    )
    model = BartForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(
        bos_token_id=0, pad_token_id=1, eos_token_id=2, decoder_start_token_id=2, **generation
    )
    return model


def _inputs() -> dict[str, Any]:
    import torch

    ids = torch.tensor([[0, 5, 9, 13, 17, 21, 2], [0, 7, 11, 2, 1, 1, 1]])
    return {"input_ids": ids, "attention_mask": (ids != 1).long()}


def _generate_from_export(model: Any, folder: Path) -> Any:
    """Save `model` as lab.export does, reload it, generate with nothing but the inputs."""
    from transformers import BartForConditionalGeneration

    model.save_pretrained(folder)
    return BartForConditionalGeneration.from_pretrained(folder).eval().generate(**_inputs())


@pytest.mark.parametrize("num_beams", [1, 3])
def test_a_plain_generate_on_the_export_generates_as_evaluation_did(
    num_beams: int, tmp_path: Path
) -> None:
    import torch
    from transformers import GenerationConfig

    model = _tiny_bart(**BART_CNN)
    with torch.no_grad():  # what Seq2SeqModule.generate produces at test time
        evaluated = model.generate(
            **_inputs(), num_beams=num_beams, max_new_tokens=12, do_sample=False
        )
    save_generation_settings(model, num_beams=num_beams, max_new_tokens=12)
    with torch.no_grad():
        exported = _generate_from_export(model, tmp_path)
    assert torch.equal(exported, evaluated)
    saved = GenerationConfig.from_pretrained(tmp_path)
    assert (saved.num_beams, saved.max_new_tokens, saved.do_sample) == (num_beams, 12, False)
    # The model's own settings that lab's generations used stay.
    assert (saved.no_repeat_ngram_size, saved.min_length) == (3, 5)
    assert saved.max_length is None  # max_new_tokens takes precedence: unset, no warning
    if num_beams == 1:  # beam-only flags, unused by greedy search: transformers' defaults (unset)
        assert (saved.early_stopping, saved.length_penalty) == (None, None)
    else:
        assert (saved.early_stopping, saved.length_penalty) == (True, 2.0)


def test_without_it_the_bart_config_could_not_be_saved_greedy(tmp_path: Path) -> None:
    """Why the beam-only flags are reset: the same change made by hand is refused."""
    model = _tiny_bart(**BART_CNN)
    model.generation_config.num_beams = 1
    model.generation_config.max_new_tokens = 12
    with pytest.raises(ValueError, match="early_stopping"):
        model.generation_config.save_pretrained(tmp_path)


def test_sampling_flags_of_the_pretrained_config_are_reset(tmp_path: Path) -> None:
    """A config that samples (temperature, top_p) is made deterministic, as lab generated."""
    import torch
    from transformers import GenerationConfig

    model = _tiny_bart(do_sample=True, temperature=0.7, top_p=0.9, top_k=20)
    with torch.no_grad():
        evaluated = model.generate(**_inputs(), num_beams=1, max_new_tokens=8, do_sample=False)
    save_generation_settings(model, num_beams=1, max_new_tokens=8)
    with torch.no_grad():
        assert torch.equal(_generate_from_export(model, tmp_path), evaluated)
    saved = GenerationConfig.from_pretrained(tmp_path)
    assert saved.do_sample is False
    assert (saved.temperature, saved.top_p, saved.top_k) == (None, None, None)  # unset


def test_a_config_transformers_refuses_is_left_as_it_was(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Three return sequences need at least three beams: lab's two are refused, so the
    model keeps its own config and the log says what the export holds instead."""
    model = _tiny_bart(num_beams=4, num_return_sequences=3)
    before = model.generation_config
    with caplog.at_level(logging.WARNING, logger="lab.tasks.generation_settings"):
        save_generation_settings(model, num_beams=2, max_new_tokens=8)
    assert model.generation_config is before
    assert (before.num_beams, before.max_new_tokens) == (4, None)
    (record,) = caplog.records
    assert "keeps the model's own settings, not num_beams=2, max_new_tokens=8" in record.message
    assert "num_return_sequences" in record.message


def test_a_peft_model_sets_its_base_models_config() -> None:
    from peft import LoraConfig, get_peft_model

    model = get_peft_model(_tiny_bart(**BART_CNN), LoraConfig(target_modules=["q_proj"], r=2))
    save_generation_settings(model, num_beams=1, max_new_tokens=6)
    config = model.get_base_model().generation_config
    assert (config.num_beams, config.max_new_tokens, config.early_stopping) == (1, 6, None)


def test_a_causal_lm_export_generates_the_runs_new_tokens_greedily(compose_cfg: Any) -> None:
    """lab.predict's causal-LM continuation (greedy, `sample_max_new_tokens`) is what a plain
    `generate()` on the export gives; before, transformers' default length of 20 in all."""
    import torch
    from transformers import AutoModelForCausalLM

    from lab.build import build_parts
    from lab.tasks.causal_lm import GenerationPredictor

    cfg = compose_cfg(
        "model=tiny_gpt2",
        "data=text",
        f"data.path={FIXTURES / 'lm'}",
        "data.block_size=16",
        "logger=csv",
        "task.module.sample_max_new_tokens=7",
    )
    torch.manual_seed(0)
    parts = build_parts(cfg)
    model, tokenizer = parts.model.eval(), parts.tokenizer
    predicted = GenerationPredictor(model, tokenizer, cfg).predict([{"text": "ab"}])
    folder = parts.module.export(Path(cfg.paths.output_dir) / "model", tokenizer)
    exported = AutoModelForCausalLM.from_pretrained(folder).eval()
    inputs = tokenizer("ab", return_tensors="pt")
    with torch.no_grad():
        ids = exported.generate(**inputs, pad_token_id=tokenizer.pad_token_id)
    new = ids[0, inputs["input_ids"].shape[1] :]
    assert len(new) == 7  # the run's number of new tokens (this random model emits no EOS)
    assert "ab" + tokenizer.decode(new, skip_special_tokens=True) == predicted[0]["generated_text"]
