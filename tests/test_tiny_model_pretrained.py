"""`model=<tiny config> model.pretrained=<dir>` loads the weights and tokenizer from the
directory (a run's export: README "Starting from an SFT run"); it built random weights from
the config node before, while the model line said every weight was loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

HEAD = "transformers.AutoModelForCausalLM"
OWN_TEMPLATE = "{% for m in messages %}<<{{ m['content'] }}>>{% endfor %}"


@pytest.fixture(scope="module")
def saved_llama(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """A tiny Llama saved with save_pretrained (as lab exports a run), with its tokenizer and
    a chat template of its own (to tell it from the asset tokenizer's)."""
    from hydra.utils import instantiate
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lab.config import compose_train_config

    cfg = compose_train_config(["model=tiny_llama"], output_dir="unused")
    torch.manual_seed(123)
    model = AutoModelForCausalLM.from_config(instantiate(cfg.model.network.config))
    tokenizer = AutoTokenizer.from_pretrained(cfg.model.tokenizer.pretrained_model_name_or_path)
    tokenizer.chat_template = OWN_TEMPLATE
    directory = tmp_path_factory.mktemp("export") / "model"
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory, model


def _network(cfg: Any) -> Any:
    from hydra.utils import instantiate

    return instantiate(cfg.model.network)(head=HEAD)


def test_the_weights_and_tokenizer_come_from_the_directory(
    compose_cfg: Any, saved_llama: tuple[Path, Any]
) -> None:
    from lab.training.tokenizers import build_tokenizer

    directory, saved = saved_llama
    cfg = compose_cfg("model=tiny_llama", f"model.pretrained={directory}")
    loaded = _network(cfg)
    assert loaded.name_or_path == str(directory)  # what the DPO reference compares
    for (name, ours), theirs in zip(
        loaded.state_dict().items(), saved.state_dict().values(), strict=True
    ):
        assert torch.equal(ours, theirs), name
    assert build_tokenizer(cfg).chat_template == OWN_TEMPLATE

    # Without model.pretrained: random weights from the config node, the repo's tokenizer.
    plain = compose_cfg("model=tiny_llama")
    built = _network(plain)
    assert built.name_or_path == ""
    assert not torch.equal(built.lm_head.weight, saved.lm_head.weight)
    assert build_tokenizer(plain).chat_template != OWN_TEMPLATE


def test_the_dpo_reference_is_the_directorys_model(
    compose_cfg: Any, saved_llama: tuple[Path, Any]
) -> None:
    from lab.tasks.dpo.reference import StartModel

    directory, saved = saved_llama
    cfg = compose_cfg("model=tiny_llama", f"model.pretrained={directory}")
    start = StartModel(cfg.model, HEAD, seed=0)
    reference = start.build()
    assert start.built(reference)
    assert torch.equal(reference.lm_head.weight, saved.lm_head.weight)


@pytest.mark.parametrize("model", ["tiny_bert", "tiny_gpt2", "tiny_bart", "tiny_llama"])
def test_every_tiny_config_reads_model_pretrained(compose_cfg: Any, model: str) -> None:
    """The four from-config models take `model.pretrained` for weights and tokenizer."""
    cfg = compose_cfg(f"model={model}", "model.pretrained=/some/export")
    assert cfg.model.network.pretrained == "/some/export"
    assert cfg.model.tokenizer.pretrained_model_name_or_path == "/some/export"
    default = compose_cfg(f"model={model}")
    assert default.model.network.pretrained is None
    assert default.model.tokenizer.pretrained_model_name_or_path.endswith(f"assets/{model}")
