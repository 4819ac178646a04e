"""lab.train's lines on its splits, said by lab.eval for the split it scores (s26 M3,
`lab.eval_split_notes`), counted whole under a limited pass (L2), said once per run and not
on a resume (L7); and lab.inspect's header on a reproduction (L4). Tiny runs (tiny_bert, one
step) on small csv files written here; the counts are worked out by hand in each test."""

from __future__ import annotations

import csv
import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.config import compose_train_config

MEMORY = "scores partly measure memory"
NEAR = "counts them, and the rows that differ only in case or spaces"
#: 40 rows, 38 of class 0 and 2 of class 1 (the last two): carved 32 / 4 / 4, each class in
#: its share, so validation and test get 0.2 of a class-1 row each, rounded to none
SKEWED = [(f"review number {i}", "1" if i >= 38 else "0") for i in range(40)]
#: a class-1 train row (both are train's: validation and test hold none)
RARE = SKEWED[38][0]


def _write(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows([("text", "label"), *rows])
    return path


def _train(data: Path, output_dir: Path, *overrides: str) -> Path:
    from lab.train import run

    args = [
        "model=tiny_bert", "data=csv", f"data.path={data}", "trainer.max_steps=1",
        "logger=csv", "data.batch_size=8", *overrides,
    ]  # fmt: skip
    run(compose_train_config(args, output_dir=output_dir))
    return output_dir


@pytest.fixture(scope="module")
def skewed_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run on a 40-row file of 38 rows of class 0 and 2 of class 1 (carved splits)."""
    root = tmp_path_factory.mktemp("skewed")
    return _train(_write(root / "skewed.csv", SKEWED), root / "run")


@pytest.fixture(scope="module")
def given_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run on given splits: 40 train rows; a 10-row validation of new rows; a 20-row test,
    3 of whose rows are train rows (class 1 in each split)."""
    root = tmp_path_factory.mktemp("given")
    train = [(f"train review {i}", str(i % 2)) for i in range(40)]
    folder = root / "data"
    _write(folder / "train.csv", train)
    _write(folder / "validation.csv", [(f"validation review {i}", str(i % 2)) for i in range(10)])
    _write(
        folder / "test.csv", [*train[:3], *[(f"test review {i}", str(i % 2)) for i in range(17)]]
    )
    return _train(folder, root / "run")


@pytest.fixture
def said() -> Iterator[list[str]]:
    """What lab.eval says in order: its warnings, and `table` where it prints the table."""
    import lab.eval

    shown: list[str] = []

    class Said(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            shown.append(record.getMessage())

    handler = Said(logging.WARNING)
    logging.getLogger("lab.eval").addHandler(handler)
    real = lab.eval.print_metrics
    lab.eval.print_metrics = lambda *a, **k: (shown.append("table"), real(*a, **k))  # type: ignore[assignment]
    try:
        yield shown
    finally:
        logging.getLogger("lab.eval").removeHandler(handler)
        lab.eval.print_metrics = real  # type: ignore[assignment]


def _evaluate(run: Path, output: Path, *options: str) -> dict[str, Any]:
    from lab.eval import main

    assert main([f"run={run}", f"output={output}", *options]) == 0
    return json.loads(output.read_text())  # type: ignore[no-any-return]


# ------------------------------------------------------------------ lab.eval (M3)


@pytest.mark.slow
def test_eval_of_the_runs_test_split_says_the_class_it_lacks(
    skewed_run: Path, tmp_path: Path, said: list[str]
) -> None:
    line = (
        "test holds no row of class '1' (2 of 32 train rows): its scores do not measure it; "
        "more rows of it in the file, or a larger data.test_fraction, would carve some into test"
    )
    written = _evaluate(skewed_run, tmp_path / "test.json")
    assert said == [line, "table"]  # before the table, and kept with the metrics
    assert written["warnings"] == [line]


@pytest.mark.slow
def test_eval_of_the_runs_validation_split_compares_it_with_the_runs_train_rows(
    skewed_run: Path, tmp_path: Path, said: list[str]
) -> None:
    line = (
        "validation holds no row of class '1' (2 of 32 train rows): its scores do not measure "
        "it; more rows of it in the file, or a larger data.val_fraction, would carve some into "
        "validation"
    )
    written = _evaluate(skewed_run, tmp_path / "validation.json", "split=validation")
    assert (said, written["warnings"]) == ([line, "table"], [line])
    said.clear()
    written = _evaluate(skewed_run, tmp_path / "train.json", "split=train")  # train's own rows
    assert (said, "warnings" in written) == (["table"], False)


@pytest.mark.slow
def test_eval_counts_the_test_rows_copied_from_train(
    given_run: Path, tmp_path: Path, said: list[str]
) -> None:
    line = (
        f"3 of 20 test rows have the same text as a train row: the test {MEMORY}; "
        f"python -m lab.inspect run={given_run} {NEAR}"
    )
    written = _evaluate(given_run, tmp_path / "test.json")
    assert (said, written["warnings"]) == ([line, "table"], [line])
    said.clear()
    written = _evaluate(given_run, tmp_path / "validation.json", "split=validation")
    assert (said, "warnings" in written) == (["table"], False)  # new rows, both classes


@pytest.mark.slow
def test_eval_on_a_new_file_compares_it_with_the_runs_train_rows(
    skewed_run: Path, tmp_path: Path, said: list[str]
) -> None:
    """Other data: its rows against the train rows the run read (a row the run trained on,
    with no lab.inspect command: that inspects a source against its own train split)."""
    new = _write(
        tmp_path / "new.csv",
        [(RARE, "0"), (SKEWED[0][0] + " and more", "0"), *[(f"new {i}", "0") for i in range(8)]],
    )
    written = _evaluate(skewed_run, tmp_path / "new.json", f"data.path={new}")
    lines = [
        f"1 of 10 new.csv rows has the same text as a row the run trained on: the new.csv {MEMORY}",
        "new.csv holds no row of class '1' (2 of 32 train rows): its scores do not measure it",
    ]
    assert (said, written["warnings"]) == ([*lines, "table"], lines)


@pytest.mark.slow
def test_eval_on_a_new_file_says_nothing_where_the_runs_train_rows_are_gone(
    skewed_run: Path, tmp_path: Path, said: list[str]
) -> None:
    """The run's file moved (or changed since training): no train rows as the run read them,
    nothing to compare with; the evaluation itself is as before."""
    copy = shutil.copytree(skewed_run, tmp_path / "run", ignore=shutil.ignore_patterns("eval*"))
    config = (copy / "config.yaml").read_text()
    gone = tmp_path / "gone" / "skewed.csv"
    (copy / "config.yaml").write_text(
        config.replace(str(skewed_run.parent / "skewed.csv"), str(gone))
    )
    new = _write(tmp_path / "new.csv", [(RARE, "0"), *[(f"new {i}", "0") for i in range(9)]])
    written = _evaluate(copy, tmp_path / "gone.json", f"data.path={new}")
    assert (said, "warnings" in written) == (["table"], False)
    changed = _write(gone, [(text + "!", label) for text, label in SKEWED])  # other rows now
    assert changed.is_file()
    said.clear()
    written = _evaluate(copy, tmp_path / "changed.json", f"data.path={new}")
    assert (said, "warnings" in written) == (["table"], False)


# ------------------------------------------------------------------ a limited pass (L2)


def _given(folder: Path) -> Path:
    train = [(f"train review {i}", str(i % 2)) for i in range(40)]
    _write(folder / "train.csv", train)
    _write(folder / "validation.csv", [(f"validation review {i}", str(i % 2)) for i in range(10)])
    _write(folder / "test.csv", [*train[:3], *[(f"test review {i}", str(i % 2)) for i in range(7)]])
    return folder


def _notes(compose_cfg: Any, folder: Path, *overrides: str) -> list[str]:
    from hydra.utils import instantiate

    from lab.build import build_datamodule
    from lab.data.split_notes import SplitsAsRead

    cfg = compose_cfg("model=tiny_bert", "data=csv", f"data.path={folder}", *overrides)
    splits = SplitsAsRead()
    datamodule = build_datamodule(cfg, instantiate(cfg.model.tokenizer), before_setup=splits.keep)
    found = splits.warnings(cfg, datamodule, Path("/runs/r1"))
    return [line for line in found if not line.startswith("the validation split holds")]


@pytest.mark.parametrize(
    ("limit", "cut"),
    [
        ("+trainer.limit_test_batches=1", "trainer.limit_test_batches=1"),  # 1 of 3 batches
        ("+trainer.limit_test_batches=0.5", "trainer.limit_test_batches=0.5"),
        ("+trainer.limit_test_batches=3", None),  # all 3 batches of 4, 4, 2 rows
        ("+trainer.limit_test_batches=1.0", None),
    ],
)
def test_a_limited_test_pass_is_counted_whole_and_said_to_be_part(
    compose_cfg: Any, tmp_path: Path, limit: str, cut: str | None
) -> None:
    part = f" (the whole split: {cut} scores only part of it)" if cut else ""
    assert _notes(compose_cfg, _given(tmp_path / "d"), "data.eval_batch_size=4", limit) == [
        f"3 of 10 test rows{part} have the same text as a train row: the test {MEMORY}; "
        f"python -m lab.inspect run=/runs/r1 {NEAR}"
    ]


def test_the_limited_passes_read_the_limits_as_lightning_does() -> None:
    from types import SimpleNamespace

    from lab.data.split_notes import limited_passes

    data = SimpleNamespace(datasets={"test": [0] * 10, "validation": [0] * 8}, eval_batch_size=4)
    both = ["validation", "test"]
    assert limited_passes({}, data, both) == {}
    assert limited_passes({"limit_val_batches": 2, "limit_test_batches": 2}, data, both) == {
        "test": "trainer.limit_test_batches=2"  # validation's 8 rows are 2 batches: all
    }
    assert limited_passes({"limit_val_batches": 0.25}, data, both) == {
        "validation": "trainer.limit_val_batches=0.25"
    }
    assert limited_passes({"limit_test_batches": True}, data, both) == {}


# ------------------------------------------------------------------ once per run (L7)


class _Record:
    """What `lab.train.build` reads of a run record: a new run's, or a resumed one's."""

    def __init__(self, output_dir: Path, resumed: bool) -> None:
        self.output_dir, self.resume_point = output_dir, object() if resumed else None
        self.resume_pending = False  # no checkpoint to fit to the model (lab.training.resume_fit)

    def note_data(self, datamodule: Any) -> None:
        pass

    def note_parameters(self, counts: Any) -> None:
        pass


def test_the_split_lines_are_said_when_a_run_starts_not_when_it_resumes(
    compose_cfg: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import lab.training.run_lines
    from lab.train import build

    # the model line of a resumed run names its checkpoint: not this test's subject
    monkeypatch.setattr(lab.training.run_lines, "model_line", lambda *args: "model")
    data = _write(tmp_path / "skewed.csv", SKEWED)
    cfg = compose_cfg("model=tiny_bert", "data=csv", f"data.path={data}")
    caplog.set_level(logging.WARNING, logger="lab.train")
    build(cfg, _Record(tmp_path / "run", resumed=False))  # type: ignore[arg-type]
    started = [r.getMessage() for r in caplog.records if r.name == "lab.train"]
    assert [line.split(":")[0] for line in started] == [
        "the validation split holds 4 rows",
        "validation and test hold no row of class '1' (2 of 32 train rows)",
    ]
    caplog.clear()
    parts = build(cfg, _Record(tmp_path / "run", resumed=True))  # type: ignore[arg-type]
    assert [r.getMessage() for r in caplog.records if r.name == "lab.train"] == []
    assert "prepare_split" not in vars(parts.datamodule)  # no split held either


# ------------------------------------------------------------------ lab.inspect (L4)


def test_a_reproductions_choices_are_those_of_the_run_it_reproduces(tmp_path: Path) -> None:
    from lab.inspect_run import recorded_choices

    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    choices = "hydra:\n  runtime:\n    choices:\n      data: csv\n      model: tiny_bert\n"
    (run / ".hydra" / "hydra.yaml").write_text(choices)
    reproduction = run / "reproductions" / "2026-01-02_03-04-05"
    again = reproduction / "reproductions" / "2026-01-03_03-04-05"  # of a reproduction
    again.mkdir(parents=True)
    expected = {"data": "csv", "model": "tiny_bert"}
    assert recorded_choices(reproduction) == recorded_choices(again) == expected
    copied = tmp_path / "copied"  # a run copied without .hydra/ still names nothing
    (copied / "reproductions" / "x").mkdir(parents=True)
    assert recorded_choices(copied) == recorded_choices(copied / "reproductions" / "x") == {}


def test_lab_inspect_names_a_reproductions_data_and_model(
    compose_cfg: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from omegaconf import OmegaConf

    from lab.inspect import main

    data = _write(tmp_path / "skewed.csv", SKEWED)
    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    choices = {"hydra": {"runtime": {"choices": {"data": "csv", "model": "tiny_bert"}}}}
    (run / ".hydra" / "hydra.yaml").write_text(OmegaConf.to_yaml(choices))
    reproduction = run / "reproductions" / "2026-01-02_03-04-05"
    reproduction.mkdir(parents=True)
    cfg = compose_cfg("model=tiny_bert", "data=csv", f"data.path={data}")
    (reproduction / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    (reproduction / "record.json").write_text(json.dumps({"cwd": str(tmp_path)}))
    assert main([f"run={reproduction}"]) == 0
    report = json.loads((reproduction / "inspect" / "inspect.json").read_text())
    assert (report["data"], report["model"]) == ("csv", "tiny_bert")
    assert "data=csv, tokenizer of model=tiny_bert" in capsys.readouterr().out
