"""`lab.compare`'s printed table stays readable at any console width: one row per
configuration where that fits, else transposed and folded, no value cut short; the CSV is the
same either way. Hand-written run folders (config.yaml, record.json, metrics.json)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from lab.compare import compare_runs, find_runs, main, print_table

# Keys a sweep over many choices varies (long names, as the real config has them).
KEYS = {
    "data.max_length": [128, 256, 512],
    "optimizer.lr": [1e-5, 3e-5, 1e-4],
    "optimizer.weight_decay": [0.0, 0.01, 0.1],
    "scheduler.num_warmup_steps": [0, 100, 500],
    "model.network.dropout": [0.1, 0.2, 0.3],
}


def _write_run(folder: Path, choice: int, seed: int) -> None:
    """A finished run: its resolved config, record and final metrics."""
    config: dict[str, object] = {"seed": seed, "paths": {"output_dir": str(folder)}}
    for key, values in KEYS.items():
        node = config
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})  # type: ignore[assignment]
        node[leaf] = values[choice]  # type: ignore[index]
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(json.dumps(config))  # JSON is YAML
    (folder / "record.json").write_text(json.dumps({"seed": seed}))
    metrics = {
        "val/acc": 0.81234 + choice / 10 + seed / 1000,
        "val/loss": 0.45678 - choice / 10,
        "test/acc": 0.79876 + choice / 10,
        "test/f1": 0.7654 + seed / 1000,
        "train/loss": 0.3,
    }
    (folder / "metrics.json").write_text(json.dumps(metrics))


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    """A multirun folder: three configurations, the first with two seeds."""
    root = tmp_path / "multiruns" / "2026-12-03" / "10-00-00_123-ab"
    for number, (choice, seed) in enumerate([(0, 1), (0, 2), (1, 1), (2, 1)]):
        _write_run(root / str(number), choice, seed)
    return root


def _printed(sweep: Path, width: int) -> str:
    buffer = io.StringIO()
    differing, rows = compare_runs(find_runs([str(sweep)]))
    print_table(differing, rows, Console(file=buffer, width=width))
    return buffer.getvalue()


def test_a_table_wider_than_the_console_is_transposed_and_nothing_is_cut(sweep: Path) -> None:
    out = _printed(sweep, 80)
    lines = out.splitlines()
    assert lines[-1] == f"Columns: run folders under {sweep}"  # one line, however long: to copy
    assert max(len(line) for line in lines[:-1]) <= 80
    assert "…" not in out
    # one row per key and metric, whole, beside each configuration's value
    for key in [*KEYS, "seeds", "val/acc", "val/loss", "test/acc", "test/f1"]:
        assert any(line.startswith(f"│ {key} ") for line in lines), key
    assert "train/loss" not in out  # val/test metrics only, as before
    by_key = {line.split("│")[1].strip(): line for line in lines if line.startswith("│ ")}
    cells = {key: [cell.strip() for cell in line.split("│")[2:5]] for key, line in by_key.items()}
    assert cells["val/acc"] == ["0.8138 ± 0.0007", "0.9133", "1.0133"]
    assert cells["optimizer.weight_decay"] == ["0.0", "0.01", "0.1"]
    assert cells["seeds"] == ["2", "1", "1"]
    # configurations named by their run folders below the sweep folder (0,1: two seeds)
    header = next(line for line in lines if "key / metric" in line)
    assert [cell.strip() for cell in header.split("┃")[2:5]] == ["0,1", "2", "3"]


def test_a_narrow_console_folds_the_configurations_into_parts(sweep: Path) -> None:
    out = _printed(sweep, 50)
    assert max(len(line) for line in out.splitlines()[:-1]) <= 50
    assert "…" not in out
    assert "(1/2)" in out and "(2/2)" in out
    assert out.count("│ val/acc ") == 2  # every part keeps the key column


def test_a_table_that_fits_keeps_one_row_per_configuration(sweep: Path) -> None:
    out = _printed(sweep, 250)
    header = next(line for line in out.splitlines() if "val/acc" in line)
    assert all(key in header for key in KEYS)
    assert "key / metric" not in out
    assert sum("0.8138 ± 0.0007" in line for line in out.splitlines()) == 1


def test_the_cli_in_a_pipe_prints_80_columns_and_the_csv_is_unchanged(
    sweep: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    output = tmp_path / "compare.csv"
    assert main([str(sweep), "--output", str(output)]) == 0
    printed = capsys.readouterr().out
    lines = [line for line in printed.splitlines() if not line.startswith(("Columns:", "Written"))]
    assert max(len(line) for line in lines) <= 80
    assert "…" not in printed and "key / metric" in printed
    with output.open() as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert reader.fieldnames == [
        *sorted(KEYS),
        "n_runs",
        "n_seeds",
        "n_diverged",  # s27a M1: a configuration's diverged runs, counted
        "seeds",
        "runs",
        *(
            f"{m}_{s}"
            for m in ("test/acc", "test/f1", "train/loss", "val/acc", "val/loss")
            for s in ("mean", "std")
        ),
    ]
    assert [(r["n_runs"], r["n_seeds"], r["seeds"]) for r in rows] == [
        ("2", "2", "1 2"),
        ("1", "1", "1"),
        ("1", "1", "1"),
    ]
    # each configuration's run folders, as found, `;`-separated
    assert [r["runs"] for r in rows] == [
        f"{sweep / '0'};{sweep / '1'}",
        str(sweep / "2"),
        str(sweep / "3"),
    ]
    monkeypatch.setenv("COLUMNS", "300")  # a wide terminal's (or the user's) width is used
    assert main([str(sweep)]) == 0
    assert "key / metric" not in capsys.readouterr().out


def _write(folder: Path, config: dict[str, object], metrics: dict[str, float]) -> None:
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(json.dumps(config))
    (folder / "record.json").write_text(json.dumps({"seed": config["seed"]}))
    (folder / "metrics.json").write_text(json.dumps(metrics))


LONG_KEY = "model.network.config.intermediate_size"  # 38 characters
LONG_VALUE = "lab.tasks.text_classification.TextClassificationDataModule"


@pytest.fixture
def two_heads(tmp_path: Path) -> Path:
    """Runs whose configs differ in long keys and a value wider than an 80-column console,
    one configuration with two seeds whose run folders are long (the date-stamped names)."""
    root = tmp_path / "runs" / "2026-12-03"
    runs = [
        ("11-42-58_23972-917d", 64, LONG_VALUE, 100258, 1),
        ("11-43-23_24048-d914", 64, LONG_VALUE, 100258, 2),
        ("11-43-58_24160-9385", 128, "lab.tasks.causal_lm.CausalLMDataModule", 9666, 1),
    ]
    for name, size, target, trainable, seed in runs:
        config = {
            "seed": seed,
            "data": {"_target_": target},
            "model": {"network": {"config": {"intermediate_size": size}}},
        }
        metrics = {
            "val/acc": 0.5 + seed / 100,
            "model/params_trainable": float(trainable),
            "model/params_total": 100258.0,
        }
        _write(root / name, config, metrics)
    return root


def _by_key(out: str) -> dict[str, list[str]]:
    """Each key's cells over every part of a transposed table, a folded cell's pieces joined."""
    cells: dict[str, list[str]] = {}
    key = ""
    for line in out.splitlines():
        if line.startswith("┏"):  # a new part: its first row is a key's
            key = ""
        if not line.startswith("│ "):
            continue
        first, *values = (cell.strip() for cell in line.split("│")[1:-1])
        if first:  # a key's row; a blank key cell continues the folded values above
            key = first
            cells.setdefault(key, []).extend(values)
        else:
            row = cells[key]
            tail = zip(row[-len(values) :], values, strict=True)
            row[len(row) - len(values) :] = [a + b for a, b in tail]
    return cells


@pytest.mark.parametrize("width", [80, 40])
def test_a_key_breaks_only_after_a_dot_and_a_long_value_folds(two_heads: Path, width: int) -> None:
    out = _printed(two_heads, width)
    lines = out.splitlines()
    keys = {line.split("│")[1].strip() for line in lines if line.startswith("│ ")}
    # at 80 columns every key is whole on its line; a column narrower than a key folds it
    # after a dot, never inside a name
    whole = {"data._target_", "seeds", "val/acc", "model/params_trainable", ""}
    assert keys == whole | (
        {LONG_KEY} if width == 80 else {"model.network.config.", "intermediate_size"}
    )
    if width == 80:  # a console wide enough for the keys: the table keeps within it
        assert max(len(line) for line in lines if not line.startswith(("Columns:", "  "))) <= 80
    # the long value, folded over its column's lines, reads whole again
    assert _by_key(out)["data._target_"] == [LONG_VALUE, "lab.tasks.causal_lm.CausalLMDataModule"]
    assert "…" not in out


def test_model_counts_that_differ_are_shown_and_a_shortened_name_is_spelled_out(
    two_heads: Path,
) -> None:
    out = _printed(two_heads, 80)
    # the trainable count differs (a frozen or LoRA run): shown, as a whole number
    assert _by_key(out)["model/params_trainable"] == ["100258", "9666"]
    assert "model/params_total" not in out  # the same for every configuration
    # two seeds' folders are too long for a column name: a line below names both
    assert "11-42-58_23972-917d +1" in out
    assert out.splitlines()[-1] == (
        "  11-42-58_23972-917d +1: 11-42-58_23972-917d, 11-43-23_24048-d914"
    )
