"""`lab.compare`'s output where configurations differ in long keys and values: 2-4 of them
side by side within 80 columns (long values and keys fold), a key a run lacks shown apart
from a null, logger choices left out, and the CSV naming each row's run folders."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from lab.compare import compare_runs, find_runs, main, print_table

LONG_KEY = "task.module.start_model.model.network.config.max_position_embeddings"


def _write(folder: Path, config: dict[str, object], acc: float) -> None:
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(json.dumps({"seed": 1, **config}))  # JSON is YAML
    (folder / "record.json").write_text(json.dumps({"seed": 1}))
    (folder / "metrics.json").write_text(json.dumps({"val/acc": acc}))


def _config(number: int) -> dict[str, object]:
    """A long key and a long data path that differ per run; the logger too (not a choice)."""
    network = {"config": {"max_position_embeddings": 128 * (number + 1)}}
    logger = {"csv": {"_target_": "lab.training.loggers.csv_logger"}}
    if number % 2:
        logger = {"wandb": {"_target_": "lab.training.loggers.wandb_logger", "project": "lab"}}
    return {
        "task": {"module": {"start_model": {"model": {"network": network}}}},
        "data": {"path": f"/home/user/datasets/reviews/part_{number}/train.csv"},
        "logger": logger,
    }


def _runs(root: Path, count: int) -> Path:
    for number in range(count):
        _write(root / f"r{number}", _config(number), 0.8 + number / 100)
    return root


def _printed(root: Path, width: int = 80) -> list[str]:
    buffer = io.StringIO()
    print_table(*compare_runs(find_runs([str(root)])), Console(file=buffer, width=width))
    return buffer.getvalue().splitlines()


def test_two_configurations_sit_side_by_side_with_long_values_folded(tmp_path: Path) -> None:
    lines = _printed(_runs(tmp_path, 2))
    assert lines[1:-1] == [
        "┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━┓",
        "┃ key / metric                             ┃              r0 ┃              r1 ┃",
        "┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━┩",
        "│ data.path                                │ /home/user/data │ /home/user/data │",
        "│                                          │ sets/reviews/pa │ sets/reviews/pa │",
        "│                                          │  rt_0/train.csv │  rt_1/train.csv │",
        "│ task.module.start_model.model.network.   │             128 │             256 │",
        "│ config.max_position_embeddings           │                 │                 │",
        "│ seeds                                    │               1 │               1 │",
        "│ val/acc                                  │          0.8000 │          0.8100 │",
        "└──────────────────────────────────────────┴─────────────────┴─────────────────┘",
    ]
    assert lines[0].strip() == "2 runs, 2 configurations"  # one part: no (1/2)
    assert lines[-1] == f"Columns: run folders under {tmp_path}"


@pytest.mark.parametrize("count", [2, 3, 4])
def test_up_to_four_configurations_share_80_columns(tmp_path: Path, count: int) -> None:
    lines = _printed(_runs(tmp_path, count))
    assert max(len(line) for line in lines[:-1]) == 80
    assert "(1/2)" not in "\n".join(lines)
    header = next(line for line in lines if "key / metric" in line)
    assert [cell.strip() for cell in header.split("┃")[2:-1]] == [f"r{n}" for n in range(count)]
    # the logger each run used is how it was recorded, not a setting: not a row
    assert not any("logger" in line for line in lines)


def test_five_configurations_are_split_into_even_parts(tmp_path: Path) -> None:
    lines = _printed(_runs(tmp_path, 5))
    titles = [line.strip() for line in lines if line.strip().startswith("5 runs")]
    assert titles == ["5 runs, 5 configurations (1/2)", "5 runs, 5 configurations (2/2)"]
    headers = [line for line in lines if "key / metric" in line]
    assert [[c.strip() for c in h.split("┃")[2:-1]] for h in headers] == [
        ["r0", "r1", "r2"],
        ["r3", "r4"],
    ]
    assert max(len(line) for line in lines[:-1]) <= 80


def test_a_key_a_run_lacks_prints_a_dash_and_a_null_prints_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(tmp_path / "a", {"data": {"extra": None}}, 0.5)
    _write(tmp_path / "b", {"data": {"other": 1}}, 0.6)
    lines = _printed(tmp_path, 200)
    assert [line for line in lines if line.startswith("│")] == [
        "│ None       │          - │     1 │  0.5000 │",
        "│ -          │          1 │     1 │  0.6000 │",
    ]
    output = tmp_path / "compare.csv"
    assert main([str(tmp_path), "--output", str(output)]) == 0
    capsys.readouterr()
    assert output.read_text().splitlines() == [
        # n_diverged: s27a M1
        "data.extra,data.other,n_runs,n_seeds,n_diverged,seeds,runs,val/acc_mean,val/acc_std",
        f"None,,1,1,0,1,{tmp_path / 'a'},0.5,",
        f",1,1,1,0,1,{tmp_path / 'b'},0.6,",
    ]


def test_the_csv_names_each_configurations_run_folders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("s1", "s2"):  # one configuration, two seeds
        folder = tmp_path / name
        folder.mkdir()
        (folder / "config.yaml").write_text(json.dumps({"seed": int(name[1])}))
        (folder / "record.json").write_text(json.dumps({"seed": int(name[1])}))
        (folder / "metrics.json").write_text(json.dumps({"val/acc": 0.5}))
    output = tmp_path / "out" / "compare.csv"
    assert main([str(tmp_path / "s1"), str(tmp_path / "s2"), "--output", str(output)]) == 0
    capsys.readouterr()
    with output.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["seeds"], r["runs"]) for r in rows] == [
        ("1 2", f"{tmp_path / 's1'};{tmp_path / 's2'}")
    ]


# ------------------------------------------------ s32e F5: what ± is; markdown; other suffixes
def _seeds(root: Path, accs: dict[int, float], lr: float = 0.01) -> Path:
    for seed, acc in accs.items():
        folder = root / f"lr{lr}_s{seed}"
        folder.mkdir(parents=True)
        config = {"seed": seed, "optimizer": {"lr": lr}}
        (folder / "config.yaml").write_text(json.dumps(config))
        (folder / "record.json").write_text(json.dumps({"seed": seed}))
        (folder / "metrics.json").write_text(json.dumps({"val/acc": acc, "test/acc": acc - 0.1}))
    return root


def test_the_table_says_that_plus_minus_is_the_sample_std(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _seeds(tmp_path / "runs", {1: 0.6, 2: 0.7, 3: 0.8})
    assert main([str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out.splitlines()
    row = next(line for line in out if "0.7000 ± 0.1000" in line)  # statistics.stdev: n-1
    assert out[out.index(row) + 1].startswith("└")
    assert out[out.index(row) + 2] == "± = sample standard deviation over seeds (n-1)"
    # one seed shows no ±, and no line says what it is
    _seeds(tmp_path / "one", {1: 0.6})
    assert main([str(tmp_path / "one")]) == 0
    assert "standard deviation" not in capsys.readouterr().out


def test_output_md_writes_the_table_as_markdown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _seeds(tmp_path / "runs", {1: 0.6, 2: 0.7, 3: 0.8})
    _seeds(root, {1: 0.5}, lr=0.1)
    output = tmp_path / "table.md"
    assert main([str(root), "--output", str(output), "--sort", "val/acc"]) == 0
    assert output.read_text().splitlines() == [
        "| optimizer.lr | seeds | test/acc | val/acc |",
        "| --- | --- | --- | --- |",
        "| 0.01 | 3 | 0.6000 ± 0.1000 | 0.7000 ± 0.1000 |",
        "| 0.1 | 1 | 0.4000 | 0.5000 |",
        "",
        "± = sample standard deviation over seeds (n-1)",
    ]
    assert f"Written: {output}" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["table.txt", "table", "table.markdown"])
def test_an_output_neither_csv_nor_md_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    root = _seeds(tmp_path / "runs", {1: 0.6, 2: 0.7})
    output = tmp_path / name
    assert main([str(root), "--output", str(output)]) == 2
    printed = capsys.readouterr()
    assert printed.err.splitlines() == [
        f"error: --output {output}: name a .csv (CSV) or .md (a markdown table) file"
    ]
    assert printed.out == "" and not output.exists()
