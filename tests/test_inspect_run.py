"""`lab.inspect run=<run dir>` (s21d L2): a run's data inspected as the run read it, from its
recorded config (a relative `data.path` read from the run's working directory), with
`data.<key>=` overrides only; the same numbers as inspecting it by its own options."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from lab.errors import ConfigError
from lab.inspect import main
from test_inspect import TEST, TRAIN, VALIDATION, _args


@pytest.fixture
def run_dir(compose_cfg: Any, tmp_path: Path) -> Path:
    """A run directory as lab.train leaves it, for the inspection's needs (test_inspect's
    reviews): its resolved config.yaml (data.path relative to where it was trained),
    record.json naming that folder, and Hydra's choices."""
    data_dir = tmp_path / "reviews"
    data_dir.mkdir()
    for split, rows in (("train", TRAIN), ("validation", VALIDATION), ("test", TEST)):
        with (data_dir / f"{split}.csv").open("w", newline="") as handle:
            csv.writer(handle).writerows([("review", "sentiment"), *rows])
    run = tmp_path / "run"
    run.mkdir()
    cfg = compose_cfg(*_args(Path(os.path.relpath(data_dir, tmp_path))))  # "reviews"
    (run / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    (run / "record.json").write_text(json.dumps({"cwd": str(tmp_path)}))
    (run / ".hydra").mkdir()
    choices = {"hydra": {"runtime": {"choices": {"data": "csv", "model": "tiny_bert"}}}}
    (run / ".hydra" / "hydra.yaml").write_text(OmegaConf.to_yaml(choices))
    return run


def test_a_run_s_data_is_inspected_as_it_read_it(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the relative data.path is not found from here
    assert main([f"run={run_dir}"]) == 0
    report = json.loads((run_dir / "inspect" / "inspect.json").read_text())
    assert (report["data"], report["model"]) == ("csv", "tiny_bert")
    assert [report["splits"][s]["rows"] for s in ("train", "validation", "test")] == [11, 3, 2]
    assert report["labels"]["counts"] == {"a": 9, "b": 2}
    assert report["max_length"]["review"]["current"] == 8
    assert (run_dir / "inspect" / "lengths.png").read_bytes().startswith(b"\x89PNG")

    # A data key changes what is read; the report goes where out= says.
    assert main([f"run={run_dir}", "data.max_length=16", f"out={tmp_path / 'at16'}"]) == 0
    at16 = json.loads((tmp_path / "at16" / "inspect.json").read_text())
    assert at16["max_length"]["review"]["current"] == 16
    assert at16["splits"]["train"]["lengths"]["review"]["truncated"] == 0


@pytest.mark.parametrize(
    ("option", "refusal"),
    [
        ("data=imdb", "data=imdb with run=: the run's data, model and task are its own"),
        ("model=tiny_gpt2", "model=tiny_gpt2 with run=: the run's data, model and task"),
        ("seed=3", "seed=3 with run=: only data.<key>=<value> overrides change what is read"),
        ("data.nokey=1", "'data.nokey' is not a data key; valid: _target_, batch_size,"),
        # s30c N3: the one key of that name elsewhere is the guess (a run's `optimizer.lr`)
        ("data.lr=1", "'data.lr' is not a data key (did you mean optimizer.lr?); valid: "),
        ("data.max_length=0", "data.max_length=0 is out of range; valid: an integer >= 1"),
    ],
)
def test_what_a_run_s_inspection_refuses(run_dir: Path, option: str, refusal: str) -> None:
    with pytest.raises(ConfigError) as refused:
        main([f"run={run_dir}", option])
    assert str(refused.value).startswith(refusal)
    assert not (run_dir / "inspect").exists()
