"""`lab.compare` groups runs by every setting they differ in: a key named `name` is a setting
(`scheduler.name`), only the labels a logger gives each run are left out. Hand-written run
folders (config.yaml, record.json, metrics.json)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from lab.compare import compare_runs, find_runs, is_run_label, main


def write_run(folder: Path, config: dict[str, Any], metrics: dict[str, float]) -> None:
    """A finished run: its resolved config, record and final metrics."""
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(json.dumps(config))  # JSON is YAML
    (folder / "record.json").write_text(json.dumps({"seed": config["seed"]}))
    (folder / "metrics.json").write_text(json.dumps(metrics))


def _config(folder: Path, scheduler: str, seed: int) -> dict[str, Any]:
    return {
        "seed": seed,
        "paths": {"output_dir": str(folder)},
        "optimizer": {"lr": 5e-5},
        "scheduler": {"name": scheduler, "warmup_ratio": 0.06},
        # the run names a logger is given differ with every run (W&B's holds the seed)
        "logger": {
            "wandb": {"name": f"tiny-csv-seed{seed}-{folder.name}", "save_dir": str(folder)},
            "csv": {"name": "csv", "version": folder.name, "save_dir": str(folder)},
        },
    }


def test_runs_that_differ_only_in_scheduler_name_are_two_configurations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for folder, scheduler in (("a", "cosine"), ("b", "constant_with_warmup")):
        write_run(tmp_path / folder, _config(tmp_path / folder, scheduler, 1), {"val/acc": 0.5})
    differing, rows = compare_runs(find_runs([str(tmp_path)]))
    assert differing == ["scheduler.name"]
    assert [(row["scheduler.name"], row["seeds"]) for row in rows] == [
        ("cosine", [1]),
        ("constant_with_warmup", [1]),
    ]
    output = tmp_path / "compare.csv"
    assert main([str(tmp_path), "--output", str(output)]) == 0
    printed = capsys.readouterr().out
    assert "2 runs, 2 configurations" in printed
    assert "scheduler.name" in printed and "constant_with_warmup" in printed
    with output.open() as handle:
        assert [row["scheduler.name"] for row in csv.DictReader(handle)] == [
            "cosine",
            "constant_with_warmup",
        ]


def test_seeds_of_one_schedule_stay_one_configuration(tmp_path: Path) -> None:
    for folder, seed in (("a", 1), ("b", 2)):
        write_run(tmp_path / folder, _config(tmp_path / folder, "cosine", seed), {"val/acc": 0.5})
    differing, rows = compare_runs(find_runs([str(tmp_path)]))
    assert differing == []
    assert [sorted(row["seeds"]) for row in rows] == [[1, 2]]


@pytest.mark.parametrize(
    ("key", "label"),
    [
        ("scheduler.name", False),
        ("model.name", False),
        ("model.tokenizer.pretrained_model_name_or_path", False),
        ("logger.wandb.name", True),
        ("logger.wandb.group", True),
        ("logger.csv.version", True),
        ("logger.csv.save_dir", True),
        ("seed", True),
        ("data.seed", True),
        ("callbacks.model_checkpoint.dirpath", True),
        ("paths.output_dir", True),
    ],
)
def test_only_paths_seeds_and_logger_run_names_are_left_out(key: str, label: bool) -> None:
    assert is_run_label(key) is label
