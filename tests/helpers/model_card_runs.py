"""Tiny exported runs for the model card tests (tests/test_model_card_*.py): an export with
the config.yaml, record.json and card lab.train leaves, random weights (the card and the
input settings do not depend on training), and the card's "How to use" code run on it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

RECORD = {"command": "python -m lab.train", "tested": "best"}
METRICS = {"test/acc": 0.75}
# A review of 100 fixture words, one token each in tiny_bert's vocabulary (102 with [CLS] and
# [SEP]); 7 of them (702 tokens) pass the 512 positions of tiny_bert (and of MiniLM).
WORDS = ["a", "warm", "and", "funny", "film", "with", "a", "great", "cast", "the", "soup"]
MIDDLE = " ".join(WORDS[i % len(WORDS)] for i in range(100))
LONG = " ".join([MIDDLE] * 7)


def card_code(card: str) -> str:
    """The card's "How to use" code block."""
    usage = card.split("## How to use", 1)[1]
    found = re.search(r"```python\n(.*?)```", usage, re.S)
    assert found, usage
    return found[1]


def tiny_export(compose_cfg: Any, run_dir: Path, *overrides: str) -> tuple[Any, str]:
    """A tiny run's export (`run_dir/model`) with config.yaml, record.json and its card, as
    lab.train leaves them; returns (config, the card's "How to use" code)."""
    from lab.build import build_parts
    from lab.run_dir.model_card import write_model_card

    cfg = compose_cfg(*overrides, output_dir=run_dir)
    torch.manual_seed(0)
    parts = build_parts(cfg)
    parts.module.export(run_dir / "model", parts.tokenizer)
    OmegaConf.save(cfg, run_dir / "config.yaml", resolve=True)
    (run_dir / "record.json").write_text(json.dumps({**RECORD, "metrics": METRICS}))
    card = write_model_card(run_dir / "model", cfg, RECORD, METRICS).read_text()
    return cfg, card_code(card)


def run_snippet(code: str, model_dir: Path, text: str) -> dict[str, Any]:
    """Run a classifier card's code on `model_dir` with `text` as its input; its names."""
    scope: dict[str, Any] = {"TEXT": text}
    exec(code.replace("<this directory>", str(model_dir)).replace('"<your text>"', "TEXT"), scope)
    return scope
