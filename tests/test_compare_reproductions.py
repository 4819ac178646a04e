"""s24a H1: `lab.compare <folder>` took a run's `reproductions/<time>/` (lab.reproduce's) for a
rerun of its seed and averaged it into the original's metrics, even a failed reproduction on
changed data; `lab.compare <run>` left it out. A run inside another run's folder is left out
of a walk, in a line; named itself, it is compared as a run. Hand-written run folders
(config.yaml, record.json, metrics.json), laid out as lab.train and lab.reproduce lay them."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from lab.compare import compare_runs, find_runs, main

REPRODUCTION = "reproductions/2026-12-06_13-33-51"


def _write(folder: Path, seed: int, metrics: dict[str, float], **record: Any) -> None:
    folder.mkdir(parents=True)
    config = {"seed": seed, "optimizer": {"lr": 5e-5}, "paths": {"output_dir": str(folder)}}
    (folder / "config.yaml").write_text(json.dumps(config))  # JSON is YAML
    (folder / "record.json").write_text(json.dumps({"seed": seed, **record}))
    (folder / "metrics.json").write_text(json.dumps(metrics))


@pytest.fixture
def named(tmp_path: Path) -> Path:
    """`outputs/named/mut` (test/acc 0.4833) with a FAILED reproduction on 50 other rows
    (test/acc 0.52, another data digest) inside it, as in the finding."""
    root = tmp_path / "named"
    original = root / "mut"
    _write(original, 1, {"test/acc": 0.483333, "val/acc": 0.5}, data={"test": {"sha256": "aa"}})
    _write(
        original / REPRODUCTION,
        1,
        {"test/acc": 0.52, "val/acc": 0.6},
        data={"test": {"sha256": "bb"}},
        status="failed",
    )
    return root


def test_a_walked_folder_leaves_the_reproduction_out(
    named: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nested: list[Path] = []
    runs = find_runs([str(named)], nested=nested)
    assert runs == [named / "mut"]
    assert nested == [named / "mut" / REPRODUCTION]
    rows = compare_runs(runs)[1]
    # the original's own values, not mean(0.4833, 0.52) = 0.5017
    assert rows[0]["metrics"]["test/acc"] == {"mean": 0.483333, "std": 0.0, "n": 1}
    assert rows[0]["metrics"]["val/acc"]["mean"] == 0.5
    assert (rows[0]["seeds"], rows[0]["runs"]) == ([1], [str(named / "mut")])

    output = named.parent / "compare.csv"
    assert main([str(named), "--output", str(output)]) == 0
    printed = capsys.readouterr()
    assert printed.err.strip() == (
        "left out 1 reproduction (a run inside another run's folder, as lab.reproduce writes "
        f"<run>/reproductions/<time>/): {named / 'mut' / REPRODUCTION}; name its folder itself "
        "to compare it as a run"
    )
    assert "1 run, 1 configuration" in printed.out
    assert "0.4833" in printed.out and "0.5017" not in printed.out
    assert "repeat a seed" not in printed.out  # no rerun of seed 1 any more
    with output.open() as handle:
        (line,) = csv.DictReader(handle)
    assert (line["n_runs"], line["test/acc_mean"], line["runs"]) == (
        "1",
        "0.483333",
        str(named / "mut"),
    )


def test_the_run_folder_and_its_parent_give_the_same_numbers(named: Path) -> None:
    """The result no longer depends on the folder given."""
    by_parent = compare_runs(find_runs([str(named)]))[1]
    by_run = compare_runs(find_runs([str(named / "mut")]))[1]
    assert by_parent[0]["metrics"] == by_run[0]["metrics"]


def test_a_reproduction_named_itself_is_compared_as_a_run(
    named: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reproduction = named / "mut" / REPRODUCTION
    assert find_runs([str(reproduction)]) == [reproduction]
    # named beside the walked folder: compared (a rerun of seed 1 there), and not said to be
    # left out
    nested: list[Path] = []
    runs = find_runs([str(named), str(reproduction)], nested=nested)
    assert (runs, nested) == ([named / "mut", reproduction], [])
    assert main([str(named), str(reproduction)]) == 0
    printed = capsys.readouterr()
    assert printed.err == ""
    assert "1 (2 runs)" in printed.out
    # its own folder walked (`<run>/reproductions`): its runs are compared, none left out
    assert find_runs([str(named / "mut" / "reproductions")]) == [reproduction]


def test_reproductions_in_a_multirun_are_counted_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sweep = tmp_path / "multiruns" / "2026-12-06" / "13-24-36_5304-e5f0"
    for number, acc in enumerate((0.7, 0.8)):
        _write(sweep / str(number), number, {"val/acc": acc})
        _write(sweep / str(number) / REPRODUCTION, number, {"val/acc": 0.1})
    # an unfinished original still holds its reproduction: neither is compared
    (sweep / "2").mkdir()
    (sweep / "2" / "record.json").write_text(json.dumps({"seed": 2, "status": "running"}))
    _write(sweep / "2" / REPRODUCTION, 2, {"val/acc": 0.1})
    assert main([str(sweep)]) == 0
    printed = capsys.readouterr()
    assert printed.err.splitlines() == [
        "left out 1 run that did not finish (no metrics.json: 1 whose process is gone "
        f"(killed?)): {sweep / '2'} (process gone: killed?, seed 2)",  # its seed: s27a L3
        "left out 3 reproductions (a run inside another run's folder, as lab.reproduce writes "
        f"<run>/reproductions/<time>/): {sweep / '0' / REPRODUCTION}, "
        f"{sweep / '1' / REPRODUCTION}, {sweep / '2' / REPRODUCTION}; name such a folder "
        "itself to compare it as a run",
    ]
    rows = compare_runs(find_runs([str(sweep)]))[1]
    assert rows[0]["metrics"]["val/acc"]["mean"] == pytest.approx(0.75)  # (0.7 + 0.8) / 2


def test_a_run_placed_in_another_runs_folder_is_compared_as_a_run(named: Path) -> None:
    """s24d L: `hydra.run.dir=<run>/lr_small` is a run of its own, not a reproduction: only
    a run below another run's `reproductions/` is left out of a walk."""
    placed = named / "mut" / "lr_small"
    _write(placed, 2, {"test/acc": 0.55, "val/acc": 0.7})
    nested: list[Path] = []
    runs = find_runs([str(named)], nested=nested)
    assert runs == [named / "mut", placed]
    assert nested == [named / "mut" / REPRODUCTION]
    (row,) = compare_runs(runs)[1]  # seeds 1 and 2 of one configuration
    assert row["seeds"] == [1, 2]
    assert row["metrics"]["test/acc"]["mean"] == pytest.approx((0.483333 + 0.55) / 2)
