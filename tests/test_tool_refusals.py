"""The after-training tools refuse what would lose data or fail late (README "Errors"):

* `lab.predict` never writes its output over its input (same path, another spelling, a link);
* an output that cannot be written (under a file, a folder where a file goes, `/proc`, an
  immutable folder) is one line `cannot write <path>: <reason>` and exit 2, before the work;
* a folder given where a file goes (`checkpoint=`, `input=`) is said to be a folder;
* a run whose record.json, metrics.json or config.yaml is not readable is left out of
  `lab.compare` with a warning, and refused by `lab.reproduce` in one line.

Interruptions (Ctrl-C, SIGTERM) are `test_tool_interruptions.py`'s.

No training: the run is written as `lab.train` leaves it, with random tiny weights.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from lab.config.cli import run_tool
from lab.tool_outputs import output_problem
from test_predict_options import CLASSIFIER_RUN, write_run

from conftest import SENTIMENT

ROOT = Path(__file__).resolve().parent.parent


def write_classifier_run(folder: Path) -> Path:
    """A classifier run directory with a model/ export (random weights, the data's label
    names, as training saves them)."""
    from lab.config import compose_train_config

    columns = ["data.text_column=review", "data.label_column=sentiment"]
    write_run(folder, compose_train_config([*CLASSIFIER_RUN, *columns], output_dir=folder))
    config = json.loads((folder / "model" / "config.json").read_text())
    config["id2label"] = {"0": "negative", "1": "positive"}
    config["label2id"] = {"negative": 0, "positive": 1}
    (folder / "model" / "config.json").write_text(json.dumps(config))
    return folder


@pytest.fixture(scope="module")
def written_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The module's classifier run; tests copy it."""
    return write_classifier_run(tmp_path_factory.mktemp("written") / "run")


@pytest.fixture
def run_dir(written_run: Path, tmp_path: Path) -> Path:
    """A copy of the written run of the test's own (tools write into their run)."""
    return Path(shutil.copytree(written_run, tmp_path / "run"))


def tool_exit(main: Any, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """`run_tool(main, argv)` as the command line runs it: (exit code, stderr)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        run_tool(main, argv)
    return int(exited.value.code or 0), capsys.readouterr().err


def file_tree(folder: Path) -> dict[str, str]:
    """Every file under `folder` (hidden ones too) and its digest."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


# ------------------------------------------------------------------------ predict: its input
@pytest.mark.parametrize("spelling", ["same", "dotted", "link"])
def test_predict_refuses_to_write_over_its_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], spelling: str
) -> None:
    from lab.predict import main

    source = tmp_path / "reviews.csv"
    shutil.copy(SENTIMENT / "test.csv", source)
    before = source.read_bytes()
    output = {
        "same": source,
        "dotted": tmp_path / "." / "sub" / ".." / "reviews.csv",
        "link": tmp_path / "link.csv",
    }[spelling]
    if spelling == "dotted":
        (tmp_path / "sub").mkdir()
    if spelling == "link":
        output.symlink_to(source)
    names = sorted(p.name for p in tmp_path.iterdir())
    code, err = tool_exit(main, ["run=nowhere", f"input={source}", f"output={output}"], capsys)
    assert code == 2
    assert err == (
        f"error: output={output} is the input file: the predictions would replace the rows "
        "being read; choose another output file\n"
    )
    assert source.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == names  # no partial, no temporary


# ------------------------------------------------------------------- outputs not writable
def _places(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Output paths that cannot be written, with the reason each is refused for."""
    (tmp_path / "afile").write_text("x")
    (tmp_path / "folder.jsonl").mkdir()
    return {
        "under a file": (tmp_path / "afile" / "out.jsonl", f"{tmp_path / 'afile'} is a file, "
                         "not a folder"),
        "a folder": (tmp_path / "folder.jsonl", "it is a folder, not a file"),
        "/proc": (Path("/proc/lab-test/out.jsonl"), os.strerror(errno.ENOENT)),
    }  # fmt: skip


@pytest.mark.parametrize("place", ["under a file", "a folder", "/proc"])
def test_predict_refuses_an_output_it_cannot_write_before_loading_the_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], place: str
) -> None:
    from lab.predict import main

    output, reason = _places(tmp_path)[place]
    argv = ["run=nowhere", f"input={SENTIMENT / 'test.csv'}", f"output={output}"]
    code, err = tool_exit(main, argv, capsys)
    assert code == 2
    assert err == f"error: cannot write {output}: {reason}\n"


def test_eval_refuses_an_output_it_cannot_write_before_evaluating(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    import lab.eval

    def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("evaluated before the output was checked")

    monkeypatch.setattr(lab.eval, "evaluate", never)
    choose_split = lab.eval.evaluation_config
    monkeypatch.setattr(lab.eval, "evaluation_config", never)  # reads data: not even that
    places = _places(tmp_path)
    for output, reason in places.values():
        code, err = tool_exit(lab.eval.main, [f"run={run_dir}", f"output={output}"], capsys)
        assert (code, err) == (2, f"error: cannot write {output}: {reason}\n")
    # The default place, in the run directory (checked once the split is chosen): the line
    # says how to choose another.
    monkeypatch.setattr(lab.eval, "evaluation_config", choose_split)
    (run_dir / "eval").write_text("not a folder")
    code, err = tool_exit(lab.eval.main, [f"run={run_dir}"], capsys)
    assert code == 2
    assert re.fullmatch(
        rf"error: cannot write {run_dir}/eval/[\d_-]+/metrics\.json: {run_dir}/eval is a file, "
        r"not a folder \(choose another place with output=\)\n",
        err,
    ), err


def test_export_refuses_an_output_it_cannot_write_before_exporting(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lab.export import main

    (tmp_path / "afile").write_text("x")
    places = {
        tmp_path / "afile": "it is a file, not a folder",
        tmp_path / "afile" / "x": f"{tmp_path / 'afile'} is a file, not a folder",
        Path("/proc/lab-test"): os.strerror(errno.ENOENT),
    }
    before = file_tree(run_dir)
    for output, reason in places.items():
        for form in ("merged", "onnx"):
            code, err = tool_exit(
                main, [f"run={run_dir}", f"output={output}", f"form={form}"], capsys
            )
            assert (code, err) == (2, f"error: cannot write {output}: {reason}\n"), form
    assert file_tree(run_dir) == before


def test_an_immutable_folder_is_refused_with_the_os_reason(tmp_path: Path) -> None:
    """`chattr +i`: not writable even for root (where the tests run), which only the OS
    knows: the probe finds it."""
    folder = tmp_path / "locked"
    folder.mkdir()
    if shutil.which("chattr") is None:
        pytest.skip("no chattr")
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("this file system has no immutable flag (or no permission to set it)")
    try:
        assert output_problem(folder / "m.json") == os.strerror(errno.EPERM)
        assert output_problem(folder / "new" / "x", folder=True) == os.strerror(errno.EPERM)
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


# ------------------------------------------------------------------- a folder, not a file
def test_a_folder_given_as_a_file_is_said_to_be_a_folder(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lab.eval import main as evaluate
    from lab.export import main as export
    from lab.predict import main as predict

    folder = tmp_path / "data.csv"
    folder.mkdir()
    out = tmp_path / "out.jsonl"
    code, err = tool_exit(predict, [f"run={run_dir}", f"input={folder}", f"output={out}"], capsys)
    assert (code, err) == (2, f"error: input file {folder} is a directory, not a file\n")
    for tool in (evaluate, export):
        code, err = tool_exit(tool, [f"run={run_dir}", f"checkpoint={folder}"], capsys)
        assert (code, err) == (2, f"error: checkpoint {folder} is a directory, not a file\n")
    assert not out.exists()


# --------------------------------------------------------------- unreadable run records
def _fake_run(folder: Path, lr: float, acc: float) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(f"seed: 1\noptimizer:\n  lr: {lr}\n")
    (folder / "record.json").write_text(json.dumps({"seed": 1, "metrics": {"val/acc": acc}}))
    (folder / "metrics.json").write_text(json.dumps({"val/acc": acc}))
    return folder


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("metrics.json", "{broken", "not valid JSON (Expecting property name enclosed in "
                                    "double quotes, column 2)"),
        ("record.json", "not json", "not valid JSON (Expecting value, column 1)"),
        ("metrics.json", "[1, 2]", "a JSON list, not an object"),
    ],
)  # fmt: skip
def test_compare_leaves_out_a_run_it_cannot_read_and_compares_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: str, reason: str
) -> None:
    from lab.compare import main

    good = _fake_run(tmp_path / "runs" / "good", 0.001, 0.75)
    other = _fake_run(tmp_path / "runs" / "other", 0.003, 0.5)
    bad = _fake_run(tmp_path / "runs" / "bad", 0.01, 0.25)
    (bad / name).write_text(content)
    assert main([str(tmp_path / "runs"), "--output", str(tmp_path / "c.csv")]) == 0
    printed = capsys.readouterr()
    assert printed.err == f"warning: left out {bad}: cannot read {bad / name}: {reason}\n"
    assert "2 runs, 2 configurations" in printed.out
    table = (tmp_path / "c.csv").read_text()
    assert "0.001" in table and "0.003" in table and "0.01," not in table
    # Nothing left: one line, exit 2.
    for run in (good, other):
        (run / "record.json").write_text("{")
    assert main([str(tmp_path / "runs")]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"error: no run left to compare under {tmp_path / 'runs'}: the warnings above say why"
    )


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("record.json", "not json", "not valid JSON (Expecting value, column 1)"),
        ("config.yaml", "a: [1", "while parsing a flow sequence"),
    ],
)
def test_reproduce_refuses_a_run_it_cannot_read_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: str, reason: str
) -> None:
    from lab.reproduce import main

    run = _fake_run(tmp_path / "run", 0.001, 0.75)
    (run / name).write_text(content)
    with pytest.raises(SystemExit) as exited:
        main([str(run)])
    assert exited.value.code == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: cannot read {run / name}: {reason}"), line
    assert not (run / "reproductions").exists()
