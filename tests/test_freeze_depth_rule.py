"""`model.freeze_layers` beyond the model's depth is a config rule (`lab.config.model_rules`):
refused by lab.validate and lab.train before anything loads, with the count the train-time
freezing uses (`lab.training.freezing.find_blocks`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lab.config.model_rules import check_freeze_depth, model_depth
from lab.errors import ConfigError

from conftest import lab_cli


@pytest.mark.parametrize(
    ("model_config", "depth"),
    [
        ({"num_hidden_layers": 12}, 12),  # BERT, RoBERTa, Llama, Qwen
        ({"n_layer": 6}, 6),  # GPT-2
        ({"n_layers": 6}, 6),  # DistilBERT
        ({"is_encoder_decoder": True, "encoder_layers": 6, "decoder_layers": 12}, 12),  # BART
        ({"is_encoder_decoder": True, "num_layers": 6, "num_decoder_layers": None}, 6),  # T5
        ({"hidden_size": 32}, None),  # says nothing: not checked here
    ],
)
def test_the_depth_a_model_config_gives(model_config: dict[str, Any], depth: int | None) -> None:
    assert model_depth(model_config) == depth


@pytest.mark.parametrize("model", ["tiny_bert", "tiny_bart", "tiny_gpt2", "tiny_llama"])
def test_the_rule_counts_the_blocks_freezing_counts(compose_cfg: Any, model: str) -> None:
    """The rule's depth from the config node is the number of blocks the built model has."""
    from hydra.utils import instantiate
    from transformers import AutoModel

    from lab.config.model_rules import known_model_config
    from lab.training.freezing import find_blocks

    cfg = compose_cfg(f"model={model}")
    built = AutoModel.from_config(instantiate(cfg.model.network.config))
    _, blocks = find_blocks(built)
    known = known_model_config(cfg.model)
    assert known is not None and model_depth(known) == len(blocks) == 2


def test_beyond_the_depth_is_refused_before_anything_loads(compose_cfg: Any) -> None:
    check_freeze_depth(compose_cfg("model=tiny_bert", "model.freeze_layers=2"))  # 0..2 allowed
    with pytest.raises(ConfigError) as refused:
        check_freeze_depth(compose_cfg("model=tiny_bert", "model.freeze_layers=3"))
    assert str(refused.value) == (
        "model.freeze_layers=3 but the model has 2 blocks; use 0..2 (embeddings + the bottom "
        "N blocks)"
    )


def test_a_local_pretrained_directory_is_read_and_a_hub_id_left_to_loading(
    compose_cfg: Any, tmp_path: Path
) -> None:
    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / "config.json").write_text(json.dumps({"model_type": "bert", "num_hidden_layers": 4}))
    local = compose_cfg("model=bert", f"model.pretrained={saved}", "model.freeze_layers=5")
    with pytest.raises(ConfigError, match=r"has 4 blocks; use 0\.\.4"):
        check_freeze_depth(local)
    # A Hub id: nothing is looked up here; freezing checks it when the model is built.
    check_freeze_depth(compose_cfg("model=bert", "model.freeze_layers=99"))


def test_lab_validate_says_it_in_one_line(tmp_path: Path) -> None:
    result = lab_cli("validate", "model=tiny_bert", "model.freeze_layers=9", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: model.freeze_layers=9 but the model has 2 blocks; use 0..2 (embeddings + the "
        "bottom N blocks)"
    ]
