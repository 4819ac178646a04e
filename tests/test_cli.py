"""The real command line, in subprocesses: a run, a multirun, --help and --cfg."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from conftest import TINY_FIXTURE_RUN, lab_cli


def test_help_lists_groups_and_options(tmp_path: Path) -> None:
    result = lab_cli("train", "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert re.search(r"^model: .*minilm.*tiny_bert", result.stdout, re.M)
    assert re.search(r"^experiment: .*roberta_imdb", result.stdout, re.M)
    # s30e F7: lab's internal groups (what its own options build on) are no options to pick
    assert not re.search(r"^\S*/base\S*: ", result.stdout, re.M)
    assert re.search(r"^data: .*imdb", result.stdout, re.M)


def test_internal_groups_are_left_out_of_the_help() -> None:
    from lab.config.help_groups import hide_internal_groups

    text = "logger: csv, none\ndata/base: causal_lm\ndata/base/inspect: dpo\nmodel/base: hub\n"
    assert hide_internal_groups(text) == "logger: csv, none\n"


def test_the_record_names_a_lab_tool_as_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    """record.json's `command`: a run lab.reproduce trains is `python -m lab.reproduce <run>`,
    not the path of reproduce.py (s24a L3); another program's command is kept as given."""
    import sys

    from lab.run_dir.endings import typed_command

    monkeypatch.setattr(sys, "executable", "/venv/bin/python")
    assert typed_command(["/clone/src/lab/reproduce.py", "outputs/runs/a b"]) == (
        "python -m lab.reproduce 'outputs/runs/a b'"
    )
    assert typed_command(["/clone/src/lab/train.py", "seed=3"]) == "python -m lab.train seed=3"
    assert typed_command(["/venv/bin/lab-train", "seed=3"]) == "python -m lab.train seed=3"
    assert typed_command(["/home/me/my_train.py", "x=1"]) == "/home/me/my_train.py x=1"


@pytest.mark.slow
@pytest.mark.smoke  # the end-to-end run `make test-fast` keeps
def test_train_run_prints_summary_and_run_directory(tmp_path: Path) -> None:
    result = lab_cli(
        "train", *TINY_FIXTURE_RUN, "trainer.max_epochs=1", "paths.output_root=out", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = (tmp_path / "out" / "runs").glob("*/*")
    assert f"Run directory: {run_dir.resolve()}" in result.stdout.replace("\n", "")
    assert "Final metrics" in result.stdout
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert {"val/acc", "test/acc", "test/f1"} <= set(metrics)
    record = json.loads((run_dir / "record.json").read_text())
    assert record["command"].startswith("python -m lab.train model=tiny_bert")
    assert (run_dir / "model" / "config.json").is_file()


@pytest.mark.slow
def test_multirun_gives_one_directory_per_job(tmp_path: Path) -> None:
    result = lab_cli(
        "train",
        "-m",
        *TINY_FIXTURE_RUN,
        "trainer.max_epochs=1",
        "callbacks=none",
        "seed=1,2",
        "paths.output_root=out",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (sweep_dir,) = (tmp_path / "out" / "multiruns").glob("*/*")
    jobs = sorted(p.name for p in sweep_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert jobs == ["0", "1"]
    seeds = [json.loads((sweep_dir / j / "record.json").read_text())["seed"] for j in jobs]
    assert seeds == [1, 2]
    # lab.compare over the 2-seed multirun: one configuration, mean and std of its seeds.
    import statistics

    from lab.compare import compare_runs, find_runs

    differing, rows = compare_runs(find_runs([str(sweep_dir)]))
    assert differing == []  # the seed is not a hyperparameter
    (row,) = rows
    assert sorted(row["seeds"]) == [1, 2]
    accs = [json.loads((sweep_dir / j / "metrics.json").read_text())["test/acc"] for j in jobs]
    assert row["metrics"]["test/acc"]["mean"] == pytest.approx(statistics.fmean(accs))
    assert row["metrics"]["test/acc"]["std"] == pytest.approx(statistics.stdev(accs))


@pytest.mark.parametrize("spelling", ["scheduler=null", "scheduler=none", "scheduler=None"])
def test_scheduler_null_drops_the_scheduler(compose_cfg: Any, spelling: str) -> None:
    """README: `scheduler=null` for none. Hydra refuses a null group choice with a traceback;
    lab reads it as the group's `none` option (conf/scheduler/none.yaml): the run's scheduler
    node is empty, so the module gets no scheduler (a constant rate)."""
    from lab.config.cli import normalize_argv
    from lab.config.rules import validate_config

    assert normalize_argv([spelling, "precision=bf16", "data.path=null", "peft=null"]) == [
        "scheduler=none",
        "precision=bf16-mixed",
        "data.path=null",  # a key, not a group: null is a value there
        "peft=none",
    ]
    assert normalize_argv(["model=null"]) == ["model=null"]  # no `none` option: Hydra says so
    cfg = compose_cfg(*normalize_argv([spelling]))
    assert not cfg.scheduler and cfg.optimizer.lr > 0
    validate_config(cfg)


def test_a_tools_quoted_value_is_read_as_hydra_reads_one() -> None:
    """s22b L2: `lab.eval 'run="run 1"'`, quoted as lab.train's overrides quote a value with
    spaces, looked for a folder named `"run 1"` with its quotes."""
    from lab.config.cli import parse_options

    options = {"run": "a run", "output": "a file"}
    values, _ = parse_options(['run="run 1"', "output='out put.json'"], options)
    assert values == {"run": "run 1", "output": "out put.json"}
    assert parse_options(['run=a"b"'], options)[0] == {"run": 'a"b"'}  # not quoted whole
