"""`lab.compare`: seeds of one configuration aggregate to mean and std; differing keys found."""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path

import pytest

from lab.compare import compare_runs, find_runs, main
from lab.config import compose_train_config
from lab.train import run

from conftest import SENTIMENT, TINY_FIXTURE_RUN, spy_on

pytestmark = pytest.mark.slow  # every test compares runs a module fixture trains


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    for name, lr, seed in (("a", "1e-3", 1), ("b", "1e-3", 2), ("c", "3e-3", 1)):
        overrides = [
            *TINY_FIXTURE_RUN,
            "trainer.max_epochs=1",
            f"optimizer.lr={lr}",
            f"seed={seed}",
        ]
        run(compose_train_config(overrides, output_dir=root / name))
    return root


def test_seeds_of_one_config_become_mean_and_std(three_runs: Path) -> None:
    differing, rows = compare_runs(find_runs([str(three_runs)]))
    assert differing == ["optimizer.lr"]
    by_lr = {row["optimizer.lr"]: row for row in rows}
    assert set(by_lr) == {0.001, 0.003}
    pair = by_lr[0.001]
    assert sorted(pair["seeds"]) == [1, 2]
    losses = [json.loads((three_runs / n / "metrics.json").read_text())["val/loss"] for n in "ab"]
    assert pair["metrics"]["val/loss"]["mean"] == pytest.approx(statistics.fmean(losses))
    assert pair["metrics"]["val/loss"]["std"] == pytest.approx(statistics.stdev(losses))
    assert by_lr[0.003]["metrics"]["val/loss"]["n"] == 1


def test_a_run_named_twice_counts_once(three_runs: Path, tmp_path: Path) -> None:
    """s22b L3: `lab.compare "run 1" runlink` (a symlink to it) counted one run as two seeds."""
    link = tmp_path / "link"
    link.symlink_to(three_runs / "a")
    given = [str(three_runs / "a"), str(link), str(three_runs), str(three_runs / "a")]
    assert find_runs(given) == [three_runs / "a", three_runs / "b", three_runs / "c"]


def test_cli_writes_the_csv_and_refuses_an_empty_folder(three_runs: Path, tmp_path: Path) -> None:
    out = tmp_path / "compare.csv"
    assert main([str(three_runs), "--output", str(out)]) == 0
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["n_runs"] for r in rows) == ["1", "2"]
    assert {"optimizer.lr", "val/acc_mean", "val/acc_std", "test/acc_mean"} <= set(rows[0])
    # One seed has no spread: an empty cell (it read 0.0); two seeds get theirs.
    by_runs = {r["n_runs"]: r for r in rows}
    assert by_runs["1"]["val/acc_std"] == "" and float(by_runs["2"]["val/acc_std"]) >= 0.0
    assert b"\r\n" not in out.read_bytes()  # Unix line ends (csv's default is \r\n)
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty")]) == 2


def test_cli_without_output_writes_no_file(
    three_runs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    before = set(tmp_path.rglob("*"))
    assert main([str(three_runs)]) == 0
    assert set(tmp_path.rglob("*")) == before


def test_cli_makes_the_outputs_folder_and_names_a_file_in_the_way(
    three_runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--output` into a folder not made yet makes it (as lab.predict does); under a file it
    is one line and exit 2 (both were tracebacks)."""
    out = tmp_path / "new" / "compare.csv"
    assert main([str(three_runs), "--output", str(out)]) == 0
    assert out.is_file()
    (tmp_path / "afile").write_text("x")
    assert main([str(three_runs), "--output", str(tmp_path / "afile" / "c.csv")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: cannot write {tmp_path / 'afile' / 'c.csv'}: {tmp_path / 'afile'} is a file, "
        "not a folder"
    )


def test_runs_that_did_not_finish_are_left_out_in_words(
    three_runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A failed or interrupted run (no metrics.json: a sweep's failed trial) is said to be
    left out, not dropped silently; one run is "1 run"."""
    import shutil

    root = tmp_path / "runs"
    shutil.copytree(three_runs / "a", root / "a")
    shutil.copytree(three_runs / "b", root / "failed")
    (root / "failed" / "metrics.json").unlink()
    record = json.loads((root / "failed" / "record.json").read_text())
    record["status"] = "failed: RuntimeError: CUDA out of memory"
    (root / "failed" / "record.json").write_text(json.dumps(record))
    assert main([str(root)]) == 0
    printed = capsys.readouterr()
    assert printed.err.strip() == (
        "left out 1 run that did not finish (no metrics.json: 1 failed): "
        f"{root / 'failed'} (failed, seed 2, configuration a)"  # its seed and column: s27a L3
    )
    assert "1 run, 1 configuration" in printed.out


def test_eval_data_compares_real_lab_eval_results(
    three_runs: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """s24a M4 end to end: `lab.eval run=<run> data.path=<file>` on two of the three runs,
    then `lab.compare --eval-data <file>` compares those evaluations' metrics (lab.compare
    reads the file again as lab.eval read it: the same rows digest), leaves the third run out
    naming the command, and leaves out every run once the file changes."""
    import shutil

    import lab.compare_evals
    from lab.eval import main as evaluate

    root = tmp_path / "runs"
    for name in "abc":  # copies: the module's runs stay without evaluations
        shutil.copytree(three_runs / name, root / name)
    data = tmp_path / "new.csv"
    lines = (SENTIMENT / "validation.csv").read_text().splitlines()[:8]
    data.write_text("\n".join(lines) + "\n")
    for name in "ac":
        assert evaluate([f"run={root / name}", f"data.path={data}"]) == 0
    written = {
        name: json.loads(next((root / name / "eval").glob("*/metrics.json")).read_text())
        for name in "ac"
    }
    capsys.readouterr()
    reads = spy_on(monkeypatch, lab.compare_evals, "_read_fingerprint")
    output = tmp_path / "compare.csv"
    assert main([str(root), "--eval-data", str(data), "--output", str(output)]) == 0
    # a and c differ in the learning rate alone: the file is read once for both
    assert reads == [written["a"]["data"]["sha256"]]
    printed = capsys.readouterr()
    assert printed.err.strip() == (
        f"left out 1 run with no evaluation of {data} as it is now: {root / 'b'}; make one "
        f"with: python -m lab.eval run={root / 'b'} data.path={data}"
    )
    with output.open() as handle:
        rows = {row["runs"]: row for row in csv.DictReader(handle)}
    for name in "ac":
        metrics = written[name]["metrics"]
        assert float(rows[str(root / name)]["test/acc_mean"]) == metrics["test/acc"]
        assert float(rows[str(root / name)]["test/loss_mean"]) == metrics["test/loss"]
    assert f"{written['a']['data']['rows']} rows, sha256" in printed.out

    data.write_text("\n".join(lines[:-1]) + "\n")  # the file changes: no evaluation is of it
    assert main([str(root), "--eval-data", str(data)]) == 2
    assert f"evaluated {data} before its content changed" in capsys.readouterr().err
