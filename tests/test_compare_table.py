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
    assert lines[-1] == f"Run folders under {sweep}"  # one line, however long: to copy
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
    assert (
        max(len(line) for line in printed.splitlines() if not line.startswith(("Run", "Written")))
        <= 80
    )
    assert "…" not in printed and "key / metric" in printed
    with output.open() as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert reader.fieldnames == [
        *sorted(KEYS),
        "n_runs",
        "seeds",
        *(
            f"{m}_{s}"
            for m in ("test/acc", "test/f1", "train/loss", "val/acc", "val/loss")
            for s in ("mean", "std")
        ),
    ]
    assert [(r["n_runs"], r["seeds"]) for r in rows] == [("2", "1 2"), ("1", "1"), ("1", "1")]
    monkeypatch.setenv("COLUMNS", "300")  # a wide terminal's (or the user's) width is used
    assert main([str(sweep)]) == 0
    assert "key / metric" not in capsys.readouterr().out
