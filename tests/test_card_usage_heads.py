"""A model card's usage code is the head's own: reached through its task YAML, never chosen by
a table of heads in the card's module (principle 7).

Each task YAML declares `card_usage` (and a classifier `card_onnx_usage`), a partial of a
function in the head's code; `lab.run_dir.card_usage` calls what the run's config names.
A config without the key (a user's own task YAML, or the recorded config of a run from before
heads declared it, which `lab.export` reads) gets a card without the section. The text of each
head's section is checked in tests/test_model_card_usage.py and tests/test_model_card_exports.py.
"""

from __future__ import annotations

import ast
import logging
from pathlib import Path
from typing import Any

import pytest
from omegaconf import DictConfig, OmegaConf, open_dict

from lab.run_dir import card_usage
from lab.run_dir.model_card import model_card, write_model_card

from conftest import TINY_FIXTURE_RUN

RECORD = {"command": "python -m lab.train"}
METRICS = {"test/acc": 0.5}
SENTIMENT_RUN = [o for o in TINY_FIXTURE_RUN if not o.startswith(("logger", "trainer"))]
ONNX_REPORT = {
    "form": "onnx",
    "main_metric": "test/acc",
    "export": {"file": "model.onnx", "precision": "fp32", "opset": 17, "outputs": ["logits"]},
}


def _recorded_without(cfg: DictConfig, *keys: str) -> DictConfig:
    """`cfg` as a run's `config.yaml` holds it (resolved YAML, read back), without `task.<keys>`:
    the config of a run recorded before its task YAML declared them."""
    plain = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(plain, dict)
    for key in keys:
        del plain["task"][key]
    loaded = OmegaConf.create(OmegaConf.to_yaml(plain))
    assert isinstance(loaded, DictConfig)
    return loaded


def test_a_config_without_card_usage_gets_a_card_without_the_section(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """An old run's recorded config (no `task.card_usage`), as lab.export writes its card:
    the card is whole, with no "How to use" section; the same run's current config has one."""
    cfg = compose_cfg(*SENTIMENT_RUN, "data.max_length=64")
    assert "## How to use" in model_card(cfg, RECORD, METRICS)
    old = _recorded_without(cfg, "card_usage", "card_onnx_usage")
    path = write_model_card(tmp_path, old, RECORD, METRICS)
    card = path.read_text()
    assert "## How to use" not in card and "pipeline(" not in card
    # The rest of the card is there, in its order, the front matter's tag included.
    assert "\npipeline_tag: text-classification\n" in card
    assert "- **Optimized metric**: `val/acc` (max)\n\n## Command\n" in card
    assert card.index("## Command") < card.index("## Hyperparameters") < card.index("## Results")


def test_the_card_follows_the_declared_function_not_the_pipeline_tag(compose_cfg: Any) -> None:
    """A classifier's config whose `card_usage` names the token head's function gets the
    token head's code: the section is what the YAML declares, whatever `pipeline_tag` says."""
    cfg = compose_cfg(*SENTIMENT_RUN)
    with open_dict(cfg):
        cfg.task.card_usage._target_ = "lab.tasks.token_card.usage"
    assert cfg.task.pipeline_tag == "text-classification"
    section = card_usage.usage_section(cfg)
    assert 'entities = tag_texts(model, tokenizer, ["<your text>"]' in section
    assert "text-classification" not in section


def test_a_card_function_lab_no_longer_has_leaves_the_section_out(
    compose_cfg: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A recorded config naming a function since moved: the card is still written, without
    the section, and the log says which key was skipped."""
    cfg = compose_cfg(*SENTIMENT_RUN)
    with open_dict(cfg):
        cfg.task.card_usage._target_ = "lab.tasks.no_such_head.card.usage"
    with caplog.at_level(logging.INFO, logger="lab.run_dir.card_usage"):
        card = model_card(cfg, RECORD, METRICS)
    assert "## How to use" not in card and "## Command" in card
    assert "task.card_usage skipped" in caplog.text


def test_the_onnx_cards_runtime_code_is_the_heads_declaration(compose_cfg: Any) -> None:
    """The onnxruntime code comes with `task.card_onnx_usage`: a classifier recorded without
    it gets the generic lines only; a question-answering config given the classifier's gets
    that code (the declaration decides, not the tag)."""
    cfg = compose_cfg(*SENTIMENT_RUN, "data.max_length=32")
    generic = (
        "`python -m lab.predict run=<run dir> model=onnx input=... output=...` or\n"
        "`python -m lab.serve run=<run dir> model=onnx`.\n"
        "Both read the run's settings and decode the outputs as with the PyTorch model. The "
        "graph takes\nthe tokenizer's inputs, as the transformers model does, and returns "
        "`logits`."
    )
    assert "ort.InferenceSession" in card_usage.onnx_usage(cfg, ONNX_REPORT)
    assert card_usage.onnx_usage(_recorded_without(cfg, "card_onnx_usage"), ONNX_REPORT) == generic
    assert card_usage.onnx_usage(None, ONNX_REPORT) == generic
    squad = compose_cfg("model=tiny_bert", "data=squad", "data.max_length=32")
    assert "card_onnx_usage" not in squad.task
    assert card_usage.onnx_usage(squad, ONNX_REPORT) == generic
    with open_dict(squad):
        squad.task.card_onnx_usage = cfg.task.card_onnx_usage
    given = " ".join(card_usage.onnx_usage(squad, ONNX_REPORT).split())  # prose is folded
    assert "With onnxruntime alone (the graph returns `logits`):" in given
    assert 'session = ort.InferenceSession("<this directory>/model.onnx")' in given
    assert "truncation=True, max_length=32" in given  # the squad run's cut


def test_the_cards_module_names_no_head() -> None:
    """`lab.run_dir.card_usage` imports nothing from the heads and holds no Hub task tag: it
    cannot pick a head's code by its name or tag."""
    path = Path(card_usage.__file__)
    tree = ast.parse(path.read_text())
    imported = [
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    ]
    assert not [name for name in imported if name and name.startswith("lab.tasks")], imported
    tags = {"text-classification", "token-classification", "question-answering", "fill-mask"}
    tags |= {"multiple-choice", "text2text-generation", "text-generation"}
    literals = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]
    assert not [text for text in literals if text in tags]
