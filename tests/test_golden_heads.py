"""Golden loss curves of every head beyond sentence classification (which is pinned in
test_reproducibility.py): a tiny model, seed 42, a few steps on its fixture, on CPU, must give
the recorded training losses at rtol 1e-5. Re-record deliberately: `pytest --record-golden`."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from lab.testing import assert_golden
from lab.train import run

from conftest import FIXTURES

pytestmark = pytest.mark.slow  # each test trains a head for its golden loss curve

GOLDEN = Path(__file__).resolve().parent / "golden"

HEADS = {
    "token_classification_tiny_bert": [
        "model=tiny_bert", "data=conll2003", f"data.path={FIXTURES / 'ner'}",
    ],
    "multi_label_tiny_bert": [
        "model=tiny_bert", "data=go_emotions", f"data.path={FIXTURES / 'aspects'}",
        "data.label_names=null",
    ],
    "regression_tiny_bert": [
        "model=tiny_bert", "data=json", f"data.path={FIXTURES / 'ratings'}",
        "data.problem_type=regression", "task=text_regression", "data.label_column=score",
    ],
    "causal_lm_tiny_gpt2": [
        "model=tiny_gpt2", "data=text", f"data.path={FIXTURES / 'lm'}", "data.block_size=32",
        "task.module.sample_prompt=null",
    ],
    "question_answering_tiny_bert": [
        "model=tiny_bert", "data=squad", f"data.path={FIXTURES / 'squad'}",
        "data.splits.validation=validation", "data.splits.test=test",
        "data.max_length=64", "data.doc_stride=16",
    ],
    "multiple_choice_tiny_bert": [
        "model=tiny_bert", "data=swag", f"data.path={FIXTURES / 'multiple_choice' / 'swag'}",
        "data.splits.validation=validation", "data.splits.test=test",
    ],
    "seq2seq_tiny_bart": [
        "model=tiny_bart", "data=xsum", f"data.path={FIXTURES / 'summaries'}",
        "data.max_target_length=16",
    ],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(HEADS))
def test_golden_loss_curve(name: str, tmp_path: Path) -> None:
    from lab.config import compose_train_config

    overrides = [
        *HEADS[name],
        "seed=42",
        "logger=csv",
        "callbacks=none",
        "trainer.max_epochs=2",
        "trainer.log_every_n_steps=1",
        "data.batch_size=16",
        "optimizer.lr=1e-3",
    ]
    run(compose_train_config(overrides, output_dir=tmp_path))
    with (tmp_path / "csv" / "metrics.csv").open() as handle:
        losses = [float(r["train/loss"]) for r in csv.DictReader(handle) if r.get("train/loss")]
    assert len(losses) >= 6
    assert_golden(name, losses, directory=GOLDEN, rtol=1e-5)
