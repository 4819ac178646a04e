"""s24a M4: `lab.compare --eval-data PATH` compares each run's newest lab.eval evaluation of
PATH as it is now (`<run>/eval/<time>/metrics.json`, matched by its recorded rows digest),
not its metrics.json; runs without one are left out in a line naming them and the lab.eval
command that makes one. Hand-written run and evaluation folders, in the shape lab.train and
`lab.eval_results.write_results` write them; PATH's digest is the file's own here (lab.eval's
reading of it is tested on real runs in test_compare.py)."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

import lab.compare_evals
from lab.compare import main
from lab.compare_evals import choose, evaluations


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _by_file(run: Path, record: dict[str, Any], path: Path) -> str:
    return _digest(path)


@pytest.fixture(autouse=True)
def file_digests(monkeypatch: pytest.MonkeyPatch) -> None:
    """lab.compare reads PATH by its own digest of the file (no model, no tokenizer)."""
    monkeypatch.setattr(lab.compare_evals, "Fingerprints", lambda: _by_file)


def _run(folder: Path, lr: float, seed: int, val_acc: float) -> Path:
    folder.mkdir(parents=True)
    config = {"seed": seed, "optimizer": {"lr": lr}, "optimized_metric": "val/acc"}
    config["optimized_mode"] = "max"
    (folder / "config.yaml").write_text(json.dumps(config))  # JSON is YAML
    (folder / "record.json").write_text(json.dumps({"seed": seed}))
    (folder / "metrics.json").write_text(json.dumps({"val/acc": val_acc, "test/acc": 0.9}))
    return folder


def _evaluation(
    run: Path, stamp: str, data: Path, digest: str, acc: float, run_split: bool = False
) -> Path:
    """`<run>/eval/<stamp>/metrics.json` as lab.eval writes it for `data.path=<data>`."""
    folder = run / "eval" / stamp
    folder.mkdir(parents=True)
    record = {
        "checkpoint": "model",
        "data": {
            "hub_config": None,
            "hub_id": None,
            "path": str(data),
            "rows": 7,
            "run_split": run_split,
            "sha256": digest,
            "split": "test" if run_split else "train",
            "splits": {"test": "train", "train": "train", "validation": "train"},
        },
        **({} if run_split else {"data_overrides": [f"data.path={data}"]}),
        "metrics": {"test/acc": acc, "test/loss": 1 - acc},
        "plots": "plots",
        "report": "test_report.json",
        "run": str(run),
    }
    (folder / "metrics.json").write_text(json.dumps(record, indent=2))
    return folder


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    """Three runs of two learning rates; `new.csv` evaluated by two of them, at two times."""
    data = tmp_path / "new.csv"
    data.write_text("review,sentiment\ngood,positive\nbad,negative\n")
    root = tmp_path / "runs"
    a, b = _run(root / "a", 1e-3, 1, 0.5), _run(root / "b", 1e-3, 2, 0.6)
    c = _run(root / "c", 3e-3, 1, 0.7)
    _evaluation(a, "2026-12-06_10-00-00", data, _digest(data), 0.70)
    _evaluation(a, "2026-12-06_11-00-00", data, _digest(data), 0.80)  # the newest: chosen
    _evaluation(a, "2026-12-06_12-00-00", data, "0" * 64, 0.10, run_split=True)  # its own split
    _evaluation(c, "2026-12-06_10-00-00", data, _digest(data), 0.60)
    _evaluation(c, "2026-12-06_11-00-00", data, "1" * 64, 0.20)  # an earlier version of the file
    assert b.is_dir()  # b: no evaluation at all
    return root


def test_each_run_takes_its_newest_evaluation_of_the_file_as_it_is(runs: Path) -> None:
    data = runs.parent / "new.csv"
    assert [folder.name for folder, _ in evaluations(runs / "a")] == [
        "2026-12-06_11-00-00",
        "2026-12-06_10-00-00",
    ]  # newest first; the evaluation of the run's own split is none of other data
    chosen, missing, changed = choose([runs / n for n in "abc"], data, _by_file)
    assert {run.name: folder.name for run, (folder, _) in chosen.items()} == {
        "a": "2026-12-06_11-00-00",
        "c": "2026-12-06_10-00-00",  # its newer one read other rows
    }
    assert (missing, changed) == ([runs / "b"], [])


def test_the_table_and_csv_hold_the_evaluations_metrics(
    runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, output = runs.parent / "new.csv", tmp_path / "compare.csv"
    assert main([str(runs), "--eval-data", str(data), "--output", str(output)]) == 0
    printed = capsys.readouterr()
    assert printed.err.strip() == (
        f"left out 1 run with no evaluation of {data} as it is now: {runs / 'b'}; make one "
        f"with: python -m lab.eval run={runs / 'b'} data.path={data}"
    )
    with output.open() as handle:
        lines = {line["runs"]: line for line in csv.DictReader(handle)}
    assert {run: line["test/acc_mean"] for run, line in lines.items()} == {
        str(runs / "a"): "0.8",
        str(runs / "c"): "0.6",
    }
    assert "val/acc_mean" not in next(iter(lines.values()))  # not the runs' metrics.json
    out = printed.out.splitlines()
    assert (
        f"Metrics: each run's newest evaluation of {data}, the file's only split, by its "
        f"exported model as trained (7 rows, sha256 {_digest(data)[:8]}; "
        "<run>/eval/<time>/metrics.json), not its own metrics.json"
    ) in out
    # val/acc, the runs' optimized metric, is not among an evaluation's test/ metrics
    assert not any(line.startswith("best by") for line in out)
    # sorted by the evaluation's metric: c (0.6) before a (0.8) at its smallest first
    assert (
        main(
            [
                str(runs),
                "--eval-data",
                str(data),
                "--sort",
                "test/acc",
                "--sort-mode",
                "min",
                "--output",
                str(output),
            ]
        )
        == 0
    )
    with output.open() as handle:
        assert [line["runs"] for line in csv.DictReader(handle)] == [
            str(runs / "c"),
            str(runs / "a"),
        ]


def test_a_file_changed_since_its_evaluations_leaves_its_runs_out(
    runs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = runs.parent / "new.csv"
    data.write_text("review,sentiment\ngood,positive\n")  # a row less
    assert main([str(runs), "--eval-data", str(data)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"left out 3 runs with no evaluation of {data} as it is now: {runs / 'a'}, "
        f"{runs / 'b'}, {runs / 'c'} ({runs / 'a'}, {runs / 'c'} evaluated {data} before its "
        f"content changed); make one with: python -m lab.eval run=<run> data.path={data}",
        f"error: no run compared has an evaluation of {data} as it is now",
    ]


def test_a_copy_of_the_file_elsewhere_matches_and_a_missing_file_is_refused(
    runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "elsewhere" / "copy.csv"
    copy.parent.mkdir()
    copy.write_bytes((runs.parent / "new.csv").read_bytes())
    chosen, missing, _ = choose([runs / "a", runs / "c"], copy, _by_file)
    assert (sorted(run.name for run in chosen), missing) == (["a", "c"], [])
    assert main([str(runs), "--eval-data", str(tmp_path / "gone.csv")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: --eval-data {tmp_path / 'gone.csv'} does not exist"
    )


def test_an_unreadable_evaluation_is_skipped(runs: Path) -> None:
    (runs / "a" / "eval" / "2026-12-06_13-00-00").mkdir()
    (runs / "a" / "eval" / "2026-12-06_13-00-00" / "metrics.json").write_text("{cut")
    assert [folder.name for folder, _ in evaluations(runs / "a")] == [
        "2026-12-06_11-00-00",
        "2026-12-06_10-00-00",
    ]


def test_only_evaluations_of_the_model_as_trained_and_of_one_split_compare(
    runs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """s24d H1: an evaluation of other weights (`checkpoint=last`) or other inputs
    (`data.max_length=8`) is not taken for the run's; evaluations of different splits of one
    folder are refused, not averaged as one file's numbers."""
    data = runs.parent / "new.csv"
    a, c = runs / "a", runs / "c"
    newer = _evaluation(a, "2026-12-06_13-00-00", data, _digest(data), 0.99)
    record = json.loads((newer / "metrics.json").read_text())
    record["checkpoint"] = "last"
    (newer / "metrics.json").write_text(json.dumps(record))
    cut = _evaluation(c, "2026-12-06_13-00-00", data, _digest(data), 0.98)
    record = json.loads((cut / "metrics.json").read_text())
    record["data_overrides"].append("data.max_length=8")
    record["differs_from_training"] = {"data.max_length": {"evaluation": 8, "training": 64}}
    (cut / "metrics.json").write_text(json.dumps(record))
    batched = _evaluation(c, "2026-12-06_14-00-00", data, _digest(data), 0.66)
    record = json.loads((batched / "metrics.json").read_text())
    record["data_overrides"].append("data.eval_batch_size=4")  # changes no number: taken
    (batched / "metrics.json").write_text(json.dumps(record))
    chosen, _, _ = choose([a, c], data, _by_file)
    assert {run.name: folder.name for run, (folder, _) in chosen.items()} == {
        "a": "2026-12-06_11-00-00",  # not 13-00-00's last.ckpt
        "c": "2026-12-06_14-00-00",  # not 13-00-00's max_length=8
    }
    assert main([str(a), str(c), "--eval-data", str(data)]) == 0
    out = capsys.readouterr().out
    assert f"Metrics: each run's newest evaluation of {data}, the file's only split, by " in out
    # One run's newest evaluation is of another split: refused, naming both.
    other = _evaluation(c, "2026-12-06_15-00-00", data, _digest(data), 0.5)
    record = json.loads((other / "metrics.json").read_text())
    record["data"]["split"] = "validation"
    (other / "metrics.json").write_text(json.dumps(record))
    assert main([str(a), str(c), "--eval-data", str(data)]) == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith(
            f"are of different splits (train: {a}; validation: {c}): their numbers are not "
            f"comparable; evaluate every run on one: python -m lab.eval run=<run> data.path={data} "
            "split=<split>"
        )
    )


def test_a_folders_evaluations_are_named_by_their_split(runs: Path, tmp_path: Path) -> None:
    """s24e M4: a folder of split files is no lone file: the line names the split evaluated."""
    from lab.compare_evals import source_line

    data = runs.parent / "new.csv"
    chosen, _, _ = choose([runs / "a"], data, _by_file)
    folder = tmp_path / "splits"
    folder.mkdir()
    assert f"evaluation of {folder}, its test split, by its exported model" in source_line(
        chosen, str(folder), "test"
    )
    assert "new.csv, the file's only split, by" in source_line(chosen, str(data), "train")
