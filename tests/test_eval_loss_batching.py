"""A split's loss is the mean over everything its head's loss averages (NER's scored tokens,
a summary's target tokens, class-weighted rows), whatever the evaluation batching: the same
run evaluated in batches of 1 and of 64 records the same val/test loss (it was the mean of
per-batch means weighted by rows: 0.568 against 0.589 on one NER split)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lab.train import run

from conftest import FIXTURES

pytestmark = pytest.mark.slow  # each case trains a tiny head twice

CASES = {
    "token_classification": [
        "model=tiny_bert", "data=conll2003", f"data.path={FIXTURES / 'ner'}",
    ],
    "seq2seq": [
        "model=tiny_bart", "data=xsum", f"data.path={FIXTURES / 'summaries'}",
        "data.max_target_length=16", "task.module.max_new_tokens=4",
    ],
    "weighted_classes": [
        "model=tiny_bert", "data=csv", f"data.path={FIXTURES / 'sentiment'}",
        "data.text_column=review", "data.label_column=sentiment",
        "task.module.class_weights=[1.0,3.0]",
    ],
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_eval_loss_does_not_depend_on_the_eval_batch_size(
    case: str, compose_cfg: Any, tmp_path: Path
) -> None:
    found = []
    for size in (1, 64):
        cfg = compose_cfg(
            *CASES[case],
            "logger=csv",
            "callbacks=none",
            "trainer.max_steps=2",
            "data.batch_size=8",
            f"data.eval_batch_size={size}",
            output_dir=tmp_path / str(size),
        )
        metrics = run(cfg)
        found.append((metrics["val/loss"], metrics["test/loss"]))
    (val_1, test_1), (val_64, test_64) = found
    assert val_1 == pytest.approx(val_64, rel=1e-5)
    assert test_1 == pytest.approx(test_64, rel=1e-5)
