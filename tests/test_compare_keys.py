"""`lab.compare` groups runs by every setting they differ in: a key named `name` is a setting
(`scheduler.name`), only the labels a logger gives each run are left out; reruns of a seed
count as one seed. Hand-written run folders (config.yaml, record.json, metrics.json)."""

from __future__ import annotations

import csv
import json
import statistics
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


def test_reruns_of_a_seed_that_agree_get_no_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for folder in ("a", "b"):
        write_run(tmp_path / folder, _config(tmp_path / folder, "cosine", 7), {"val/acc": 0.5})
    assert compare_runs(find_runs([str(tmp_path)]))[1][0]["disagreeing"] == []
    assert main([str(tmp_path)]) == 0
    assert "differ:" not in capsys.readouterr().out


def test_seeds_of_one_schedule_stay_one_configuration(tmp_path: Path) -> None:
    for folder, seed in (("a", 1), ("b", 2)):
        write_run(tmp_path / folder, _config(tmp_path / folder, "cosine", seed), {"val/acc": 0.5})
    differing, rows = compare_runs(find_runs([str(tmp_path)]))
    assert differing == []
    assert [sorted(row["seeds"]) for row in rows] == [[1, 2]]


def test_reruns_of_a_seed_are_one_seed_and_make_no_spread(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two runs of seed 7 are one seed: `1 (2 runs)`, the mean alone (no ± 0.0000), and a
    line says what ± is over; with a seed 8 beside them, seed 7's runs are averaged first."""
    for folder, seed, acc in (("a", 7, 0.5), ("b", 7, 0.7)):
        write_run(tmp_path / folder, _config(tmp_path / folder, "cosine", seed), {"val/acc": acc})
    rows = compare_runs(find_runs([str(tmp_path)]))[1]
    assert [(row["seeds"], row["n_seeds"]) for row in rows] == [([7, 7], 1)]
    assert rows[0]["metrics"]["val/acc"] == {"mean": pytest.approx(0.6), "std": 0.0, "n": 1}
    assert main([str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    table_row = next(line for line in printed.splitlines() if "1 (2 runs)" in line)
    assert table_row.split("│")[1:3] == [" 1 (2 runs) ", "  0.6000 "]  # no ± 0.0000
    assert printed.splitlines()[-2:] == [
        "1 configuration(s) repeat a seed: a seed's runs are averaged into one value, and ± is "
        "the sample standard deviation over distinct seeds only",
        # s31d L1: lab's reruns of a seed agree to the bit on CPU; these two do not
        "runs of one configuration and seed differ: seed 7: a, b (val/acc 0.5 vs 0.7); lab's "
        "reruns are bit-identical on CPU (on a GPU, within its kernels' nondeterminism), so "
        "one of them is not what its config gives: `python -m lab.reproduce <run>` checks a "
        "run",
    ]
    assert rows[0]["disagreeing"] == [
        (7, [str(tmp_path / "a"), str(tmp_path / "b")], "val/acc", [0.5, 0.7])
    ]

    write_run(tmp_path / "c", _config(tmp_path / "c", "cosine", 8), {"val/acc": 0.9})
    rows = compare_runs(find_runs([str(tmp_path)]))[1]
    assert rows[0]["n_seeds"] == 2
    # seed 7: (0.5 + 0.7) / 2 = 0.6; seed 8: 0.9 -> over the two seeds, not the three runs
    assert rows[0]["metrics"]["val/acc"] == {
        "mean": pytest.approx(0.75),
        "std": pytest.approx(statistics.stdev([0.6, 0.9])),
        "n": 2,
    }
    output = tmp_path / "compare.csv"
    assert main([str(tmp_path), "--output", str(output)]) == 0
    assert "2 (3 runs)" in capsys.readouterr().out
    with output.open() as handle:
        line = next(csv.DictReader(handle))
    assert (line["n_runs"], line["n_seeds"], line["seeds"]) == ("3", "2", "7 7 8")
    assert float(line["val/acc_std"]) == pytest.approx(statistics.stdev([0.6, 0.9]))


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
