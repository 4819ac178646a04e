"""An NER predictor on tiny BERT whose model gives every subword one tag (classifier weights
zero, a bias of 5 on that tag): what lab.predict / lab.serve do with rows, without training."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from lab.inference.predictors import Predictor

CONLL = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
TINY_BERT = Path(__file__).resolve().parents[2] / "src/lab/assets/tiny_bert"


def fixed_tag_tagger(
    tag: str,
    max_length: int = 64,
    tokens_column: str = "tokens",
    names: Sequence[str] = CONLL,
) -> Predictor:
    """The predictor whose model tags every subword `tag` (one of the tag set `names`,
    CoNLL's by default); the run's words column is `tokens_column`, its cut `max_length`."""
    from omegaconf import OmegaConf
    from transformers import AutoTokenizer, BertConfig, BertForTokenClassification

    from lab.tasks.token_predictor import TokenClassificationPredictor

    tokenizer = AutoTokenizer.from_pretrained(TINY_BERT)
    config = BertConfig(
        vocab_size=2048, hidden_size=8, num_hidden_layers=1, num_attention_heads=1,
        intermediate_size=8, id2label=dict(enumerate(names)),
    )  # fmt: skip
    model = BertForTokenClassification(config).eval()
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor([5.0 if n == tag else 0.0 for n in names]))
    data = {"max_length": max_length, "tokens_column": tokens_column}
    return TokenClassificationPredictor(model, tokenizer, OmegaConf.create({"data": data}))
