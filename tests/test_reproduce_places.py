"""Where `lab.reproduce` reads and writes: a run's relative paths from the run's working
directory (started anywhere), none left by a reproduction refused before it trained, and
changed data said before the retrain. One reproduction folder for all DDP ranks:
`tests/test_scale.py` reproduces its DDP run."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from lab.errors import DataError
from lab.reproduce_data import data_differences
from lab.reproduce_paths import check_data_paths, read_from_recorded_cwd
from lab.reproduce_target import (
    TARGET_VARIABLE,
    log_file_name,
    reproduction_target,
    shared_with_ranks,
)

from conftest import SENTIMENT, TINY_FIXTURE_RUN, lab_cli

RANK_VARIABLES = ("RANK", "SLURM_PROCID", "LOCAL_RANK")


@pytest.fixture
def rank_zero(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """A process no launcher started: no rank variable set."""
    for name in (*RANK_VARIABLES, TARGET_VARIABLE):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


# ----------------------------------------------------------------------------- paths (F1)
def test_relative_paths_are_read_from_the_recorded_working_directory(
    tmp_path: Path, rank_zero: pytest.MonkeyPatch
) -> None:
    then, now = tmp_path / "then", tmp_path / "now"
    (then / "data").mkdir(parents=True)
    (then / "exports" / "model").mkdir(parents=True)
    (then / "template.jinja").write_text("{{ messages }}")
    (now / "data").mkdir(parents=True)  # another `data/` here: not the run's
    rank_zero.chdir(now)
    config = {
        "data": {
            "path": "data",
            "text_column": "data",  # a column name, not a path, though `data` exists there
            "interleave": [{"path": "data", "probability": 0.5}, {"hub_id": "org/set"}],
        },
        "model": {
            "pretrained": "exports/model",
            "tokenizer": {"pretrained_model_name_or_path": "exports/model"},
            "network": {"name_or_path": "FacebookAI/roberta-base"},  # a Hub id: left alone
            "chat_template": "template.jinja",
        },
        "task": {"module": {"start_model": {"model": {"pretrained": "exports/model"}}}},
        "paths": {"output_root": "/abs/out", "output_dir": "/abs/out/runs/x"},
    }
    moved = read_from_recorded_cwd(config, str(then))
    assert moved == [
        "data.path=data",
        "data.interleave.0.path=data",
        "model.pretrained=exports/model",
        "model.tokenizer.pretrained_model_name_or_path=exports/model",
        "model.chat_template=template.jinja",
        "task.module.start_model.model.pretrained=exports/model",
    ]
    assert config == {
        "data": {
            "path": f"{then}/data",
            "text_column": "data",
            "interleave": [{"path": f"{then}/data", "probability": 0.5}, {"hub_id": "org/set"}],
        },
        "model": {
            "pretrained": f"{then}/exports/model",
            "tokenizer": {"pretrained_model_name_or_path": f"{then}/exports/model"},
            "network": {"name_or_path": "FacebookAI/roberta-base"},
            "chat_template": f"{then}/template.jinja",
        },
        "task": {"module": {"start_model": {"model": {"pretrained": f"{then}/exports/model"}}}},
        "paths": {"output_root": "/abs/out", "output_dir": "/abs/out/runs/x"},
    }


def test_paths_stay_relative_without_another_recorded_directory(
    tmp_path: Path, rank_zero: pytest.MonkeyPatch
) -> None:
    (tmp_path / "data").mkdir()
    rank_zero.chdir(tmp_path)
    for cwd in (str(tmp_path), str(tmp_path / "gone"), None):
        config = {"data": {"path": "data"}, "model": {"chat_template": "{{ messages }}"}}
        assert read_from_recorded_cwd(config, cwd) == []
        assert config == {"data": {"path": "data"}, "model": {"chat_template": "{{ messages }}"}}


def test_data_found_nowhere_is_refused_naming_both_places(
    tmp_path: Path, rank_zero: pytest.MonkeyPatch
) -> None:
    then, now = tmp_path / "then", tmp_path / "now"
    then.mkdir()
    now.mkdir()
    rank_zero.chdir(now)
    with pytest.raises(DataError) as refused:
        check_data_paths({"data": {"path": "data"}}, str(then))
    assert str(refused.value) == (
        f"data.path=data is in neither the run's working directory ({then}) nor here "
        f"({now}): put the run's data back at {then}/data"
    )
    with pytest.raises(DataError) as refused:
        check_data_paths({"data": {"path": str(then / "x.csv")}}, str(then))
    assert (
        str(refused.value)
        == f"data.path={then}/x.csv does not exist: put the run's data back there"
    )
    (now / "data").mkdir()  # found here: read from here
    check_data_paths({"data": {"path": "data"}}, str(then))


# -------------------------------------------------------------------- DDP ranks (F4)
def test_other_ranks_reproduce_into_rank_zeros_folder(
    tmp_path: Path, rank_zero: pytest.MonkeyPatch
) -> None:
    run_dir = tmp_path / "run"
    mine = reproduction_target(run_dir)
    assert mine.parent == run_dir / "reproductions"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d", mine.name)
    assert log_file_name() == "train.log"
    with shared_with_ranks(mine):
        assert os.environ[TARGET_VARIABLE] == str(mine)
        # What Lightning's launcher hands a rank it starts: this environment, LOCAL_RANK added.
        rank_zero.setenv("LOCAL_RANK", "1")
        assert reproduction_target(run_dir) == mine
        assert log_file_name() == "train_ddp_process_1.log"
        rank_zero.delenv("LOCAL_RANK")
        # Rank 0 never takes a folder from the environment: each reproduction gets its own.
        rank_zero.setenv(TARGET_VARIABLE, str(tmp_path / "elsewhere"))
        assert reproduction_target(run_dir).parent == run_dir / "reproductions"
    assert TARGET_VARIABLE not in os.environ, "the environment is restored after the block"


def test_data_differences_name_each_changed_split() -> None:
    recorded = {"train": {"rows": 56, "sha256": "a"}, "test": {"rows": 12, "sha256": "b"}}
    assert data_differences(recorded, {"train": {"rows": 56, "sha256": "a"}, "test": {}}) == [
        "data test: content differs from the recorded run (rows 12 -> None)"
    ]
    assert data_differences(recorded, {**recorded, "train": {"rows": 55, "sha256": "c"}}) == [
        "data train: content differs from the recorded run (rows 56 -> 55)"
    ]


# ------------------------------------------------------------------ end to end (F1, F6)
def _reproductions(run_dir: Path) -> list[str]:
    folder = run_dir / "reproductions"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


@pytest.mark.slow
def test_reproduce_from_elsewhere_reads_the_runs_data_and_warns_before_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from lab.config import compose_train_config
    from lab.train import run

    then, now = tmp_path / "then", tmp_path / "now"
    shutil.copytree(SENTIMENT, then / "data")
    now.mkdir()
    shutil.copytree(SENTIMENT, now / "data")
    train = now / "data" / "train.csv"  # another data/ where the reproduction starts
    train.write_text("".join(train.read_text().splitlines(keepends=True)[:31]))
    run_dir = tmp_path / "run"
    monkeypatch.chdir(then)  # lab.train records its working directory
    overrides = [*(o for o in TINY_FIXTURE_RUN if not o.startswith("data.path=")), "data.path=data"]
    run(compose_train_config(overrides, output_dir=run_dir))
    monkeypatch.chdir(tmp_path)
    record = json.loads((run_dir / "record.json").read_text())
    assert record["cwd"] == str(then)

    result = lab_cli("reproduce", str(run_dir), cwd=now)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.count("pass") == 16 and "FAIL" not in result.stdout
    line = f"relative paths read from the run's working directory {then}: data.path=data"
    assert line in result.stdout.splitlines()
    assert "content differs" not in result.stdout
    (first,) = _reproductions(run_dir)
    again = json.loads((run_dir / "reproductions" / first / "record.json").read_text())
    assert again["data"] == record["data"]  # the run's 56 training rows, not the 30 here

    # The run's data changed since: said once the data is read, before the first epoch,
    # and again beside the table.
    rows = (then / "data" / "train.csv").read_text().splitlines(keepends=True)
    rows[1] = rows[1].replace(",positive", ",negative")
    (then / "data" / "train.csv").write_text("".join(rows))
    result = lab_cli("reproduce", str(run_dir), cwd=now)
    lines = result.stdout.splitlines()
    differs = "data train: content differs from the recorded run (rows 56 -> 56)"
    early = f"warning: {differs}; reproducing on it anyway (Ctrl-C stops)"
    first_epoch = next(i for i, text in enumerate(lines) if text.startswith("epoch 1/2"))
    assert lines.index(early) < first_epoch
    assert lines.index(f"warning: {differs}") > lines.index("Final metrics (best checkpoint)")
    second = _reproductions(run_dir)[-1]
    log_lines = (run_dir / "reproductions" / second / "train.log").read_text().splitlines()
    fit_end = next(i for i, text in enumerate(log_lines) if "`Trainer.fit` stopped" in text)
    assert any(differs in text for text in log_lines[:fit_end])

    # Refused before it trained (a column gone): the error, and no reproduction folder. The
    # two refusals run lab.reproduce's `main` in this process (the command above is the
    # process's): a process each cost seconds of imports for one line.
    from lab.reproduce import main as reproduce

    before = _reproductions(run_dir)
    rows[0] = "review,feeling\n"
    (then / "data" / "train.csv").write_text("".join(rows))
    monkeypatch.chdir(now)
    capsys.readouterr()
    with pytest.raises(SystemExit) as ended:
        reproduce([str(run_dir)])
    stderr = capsys.readouterr().err
    assert ended.value.code == 2, stderr[-3000:]
    assert "column 'sentiment' (data.label_column) is not in the train split" in stderr
    assert _reproductions(run_dir) == before

    # The data in neither place: refused in one line before anything is written.
    shutil.rmtree(then / "data")
    shutil.rmtree(now / "data")
    with pytest.raises(SystemExit) as ended:
        reproduce([str(run_dir)])
    assert ended.value.code == 2
    assert capsys.readouterr().err.strip() == (
        f"error: data.path=data is in neither the run's working directory ({then}) nor here "
        f"({now}): put the run's data back at {then}/data"
    )
    assert _reproductions(run_dir) == before
