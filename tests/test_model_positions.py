"""RoBERTa-style position tables take `max_position_embeddings - (padding_idx + 1)` tokens
(`lab.model_positions`): token positions start after the padding index. Every limit lab
derives from the table counts them alike: the refusal before training (and `lab.inspect`'s
warning), `lab.inspect`'s model limit, the context `lab.predict` / `lab.serve` / the chat API
leave for an answer. Was: a 66-row RoBERTa told to use `data.max_length=66`, which then failed
in training with "index 66 is out of bounds for dimension 1 with size 66".

Tiny models from config: a RobertaConfig with 20 rows and pad_token_id=1 takes 18 tokens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import pytest
import torch
from omegaconf import OmegaConf
from transformers import (
    AutoModel,
    BartConfig,
    BertConfig,
    GPT2Config,
    MPNetConfig,
    RobertaConfig,
    XLMRobertaConfig,
)

from lab.config.model_rules import check_positions, positions_problem
from lab.errors import ConfigError
from lab.inference.predictors import model_positions
from lab.model_positions import position_offset, usable_positions

TINY = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2}
TINY = {**TINY, "intermediate_size": 37, "vocab_size": 1024}
ROBERTA_REFUSAL = (
    "data.max_length=19 is over the model's 18 usable positions (max_position_embeddings=20; "
    "RoBERTa-style positions start after the padding index); set data.max_length=18 or less"
)
TINY_BART_TOKENIZER = Path(__file__).resolve().parents[1] / "src/lab/assets/tiny_bart"
# tiny_bert with a 20-row RoBERTa in place of its BERT, and a RoBERTa-layout tokenizer
# (byte-level BPE: <s>=0, <pad>=1, </s>=2).
ROBERTA_RUN = [
    "model=tiny_bert",
    "model.network.config._target_=transformers.RobertaConfig",
    "model.network.config.max_position_embeddings=20",
    "+model.network.config.pad_token_id=1",
    "+model.network.config.bos_token_id=0",
    "+model.network.config.eos_token_id=2",
    f"model.tokenizer.pretrained_model_name_or_path={TINY_BART_TOKENIZER}",
]


def test_roberta_style_tables_take_their_rows_less_the_padding_offset() -> None:
    """Config alone (a meta-device skeleton) and built model agree; the offset follows the
    padding index, other RoBERTa-style families are recognised by their table, and BERT,
    GPT-2 and BART (whose offset lies in extra rows) take every row as before."""
    roberta = RobertaConfig(max_position_embeddings=20, pad_token_id=1, **TINY)
    assert usable_positions(roberta) == 18
    built = AutoModel.from_config(roberta)
    assert (position_offset(built), usable_positions(built), model_positions(built)) == (2, 18, 18)
    assert usable_positions(RobertaConfig(max_position_embeddings=20, pad_token_id=5, **TINY)) == 14
    assert usable_positions(XLMRobertaConfig(max_position_embeddings=20, **TINY)) == 18
    assert usable_positions(MPNetConfig(max_position_embeddings=20, **TINY)) == 18
    bert = BertConfig(max_position_embeddings=20, **TINY)
    assert (usable_positions(bert), position_offset(AutoModel.from_config(bert))) == (20, 0)
    assert usable_positions(GPT2Config(n_positions=20, n_embd=32, n_layer=1, n_head=2)) == 20
    bart = BartConfig(max_position_embeddings=20, d_model=32, encoder_layers=1, decoder_layers=1)
    assert usable_positions(bart) == 20
    assert usable_positions(object()) is None and model_positions(None) is None


def test_the_count_is_the_models_own_limit() -> None:
    """The boundary is the model's: 18 tokens run, 19 index past the table (the crash the
    check prevents), so a change in transformers' numbering fails here loudly."""
    model = AutoModel.from_config(RobertaConfig(max_position_embeddings=20, pad_token_id=1, **TINY))
    model(input_ids=torch.full((1, 18), 5))
    with pytest.raises((IndexError, RuntimeError)):
        model(input_ids=torch.full((1, 19), 5))


def test_the_refusal_names_the_usable_positions_and_why() -> None:
    """A RoBERTa-style length over 18 is refused with the number that fits and the reason,
    from the config (before the data is read) and from the built model; BERT keeps its 20
    and its words."""
    roberta = RobertaConfig(max_position_embeddings=20, pad_token_id=1, **TINY)
    fits, over = OmegaConf.create({"max_length": 18}), OmegaConf.create({"max_length": 19})
    check_positions(roberta, fits)
    for model in (roberta, AutoModel.from_config(roberta)):
        with pytest.raises(ConfigError) as caught:
            check_positions(model, over)
        assert str(caught.value) == ROBERTA_REFUSAL
    bert = BertConfig(max_position_embeddings=20, **TINY)
    check_positions(bert, OmegaConf.create({"max_length": 20}))
    with pytest.raises(ConfigError) as caught:
        check_positions(bert, OmegaConf.create({"block_size": 21}))
    assert str(caught.value) == (
        "data.block_size=21 is over the model's 20 positions (max_position_embeddings); "
        "set data.block_size=20 or less"
    )


class _HighestPosition(L.Callback):
    """Records the highest row of the position table any training batch reads."""

    def __init__(self) -> None:
        self.highest = -1

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        table = next(m for n, m in pl_module.named_modules() if n.endswith("position_embeddings"))

        def seen(_module: Any, args: tuple[torch.Tensor, ...]) -> None:
            self.highest = max(self.highest, int(args[0].max()))

        table.register_forward_pre_hook(seen)


@pytest.mark.slow
def test_a_run_at_the_usable_limit_trains_and_one_over_is_refused(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """lab's advice is followed without a crash: at data.max_length=18 a step trains and
    reads the table's last row (19); at 19 the run is refused before any weight loads, and
    lab.inspect's model limit (tokenizer says 512) is 18."""
    from lab.data.inspection import model_limit
    from lab.train import run
    from lab.training.tokenizers import build_tokenizer

    data = tmp_path / "data"
    data.mkdir()
    for split in ("train", "validation", "test"):
        rows = [f'"{"the film was " * 12}{label}",{label}' for label in ("good", "bad") * 2]
        (data / f"{split}.csv").write_text("text,label\n" + "\n".join(rows) + "\n")
    overrides = [*ROBERTA_RUN, "data=csv", f"data.path={data}", "logger=none"]
    overrides += ["trainer.max_steps=1", "data.batch_size=4"]
    over = compose_cfg(*overrides, "data.max_length=19", output_dir=tmp_path / "over")
    assert positions_problem(over.model, over.data) == ROBERTA_REFUSAL
    with pytest.raises(ConfigError, match="18 usable positions"):
        run(over)
    assert model_limit(build_tokenizer(over), over.model) == 18

    cfg = compose_cfg(*overrides, "data.max_length=18", output_dir=tmp_path / "fits")
    highest = _HighestPosition()
    metrics = run(cfg, callbacks=[highest])
    assert highest.highest == 19, "the longest rows used every usable position"
    assert all(value == value for value in metrics.values()), metrics  # no NaN
