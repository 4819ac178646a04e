"""Ctrl-C (SIGINT) and SIGTERM end `lab.predict`, `lab.eval` and `lab.export` with exit 130 /
143 and one line saying what is left (README "Errors"): predict keeps the rows done in
`<name>.partial<suffix>` and never writes its output but whole, eval writes nothing, export
removes its partial folder and keeps an earlier export whole. Real signals in real processes
(from outside, or sent by the process to itself at a chosen point of its work), and the same
in process where a patched step raises Python's `KeyboardInterrupt`.

No training: the run is `test_tool_refusals`'s, written with random tiny weights.
"""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import test_tool_refusals
from lab.errors import LabError
from lab.staging import staged_folder
from lab.tool_interrupts import ToolInterrupted, on_interrupt, signal_of
from test_tool_refusals import ROOT, file_tree, tool_exit

from conftest import SENTIMENT, lab_command

# The same fixtures as the refusal tests: the module's classifier run, and a copy per test.
written_run = test_tool_refusals.written_run
run_dir = test_tool_refusals.run_dir


# ------------------------------------------------------------------------- interruptions
def test_an_interruption_says_what_it_left_once_and_exits_130(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def lightning_like(argv: list[str]) -> int:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            sys.exit(1)  # what a Trainer does with Ctrl-C in its loop

    def nested(argv: list[str]) -> int:
        with on_interrupt("the outer words"), on_interrupt(lambda: "the inner words"):
            raise KeyboardInterrupt

    assert tool_exit(lightning_like, [], capsys) == (
        130,
        "interrupted by SIGINT; stopped\n",
    )
    assert tool_exit(nested, [], capsys) == (130, "interrupted by SIGINT; the inner words\n")
    assert signal_of(ToolInterrupted("SIGTERM")) == "SIGTERM"
    assert signal_of(SystemExit(0)) is None and signal_of(ValueError()) is None


def test_predict_interrupted_keeps_the_rows_done_and_an_earlier_output(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    """Ctrl-C at the second batch: the first batch's rows are kept in the partial file, the
    output of an earlier prediction is left as it was, no temporary file stays."""
    import lab.predict

    output = tmp_path / "pred.jsonl"
    output.write_text("an earlier prediction\n")
    real = lab.predict.predict_rows
    calls: list[int] = []

    def second_batch_interrupted(predictor: Any, rows: list[Any]) -> Any:
        calls.append(len(rows))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(predictor, rows)

    monkeypatch.setattr(lab.predict, "predict_rows", second_batch_interrupted)
    argv = [f"run={run_dir}", f"input={SENTIMENT / 'train.csv'}", f"output={output}"]
    code, err = tool_exit(lab.predict.main, [*argv, "batch_size=5", "device=cpu"], capsys)
    partial = tmp_path / "pred.partial.jsonl"
    assert code == 130
    assert err == (
        f"interrupted by SIGINT; 5 of 56 rows were predicted: they are kept in {partial}; "
        f"{output} is as it was\n"
    )
    assert [json.loads(line)["line"] for line in partial.read_text().splitlines()] == [
        2,
        3,
        4,
        5,
        6,
    ]
    assert output.read_text() == "an earlier prediction\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pred.jsonl", "pred.partial.jsonl", "run"]


def test_export_interrupted_keeps_an_earlier_export_whole(
    run_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    """Ctrl-C once the new model.onnx is written: the new folder is removed, the earlier
    complete export is byte for byte as it was, no hidden folder stays."""
    pytest.importorskip("onnxruntime")
    import lab.inference.onnx_runtime.report as report
    from lab.export import main

    argv = [f"run={run_dir}", "form=onnx", "benchmark_rows=2", "threads=1"]
    assert tool_exit(main, argv, capsys)[0] == 0
    before = file_tree(run_dir)

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(report, "load_onnx", interrupted)
    code, err = tool_exit(main, argv, capsys)
    assert code == 130
    assert err == (
        "interrupted by SIGINT; nothing was exported (the partial export was removed); "
        f"{run_dir / 'onnx'} is as it was\n"
    )
    assert file_tree(run_dir) == before


def test_a_staged_folder_is_whole_or_absent(tmp_path: Path) -> None:
    target = tmp_path / "exports" / "last" / "model"
    with pytest.raises(RuntimeError), staged_folder(target) as staging:
        staging.mkdir()
        (staging / "config.json").write_text("{}")
        raise RuntimeError("a bug half-way")
    assert list(tmp_path.iterdir()) == []  # the folders made for it are gone too
    full = rf"^cannot write {target}: No space left on device$"
    with pytest.raises(LabError, match=full), staged_folder(target) as staging:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    target.mkdir(parents=True)
    (target / "notes.txt").write_text("the user's")
    occupied = "exists and is not empty; choose a new directory"
    with pytest.raises(LabError, match=occupied), staged_folder(target):
        raise AssertionError("refused before the block runs")
    with staged_folder(target, replaces=lambda folder: True) as staging:
        staging.mkdir()
        (staging / "config.json").write_text("{}")
    assert [p.name for p in target.parent.iterdir()] == ["model"]
    assert [p.name for p in target.iterdir()] == ["config.json"]


def test_a_full_disk_elsewhere_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """s22b M4: an exporter's temporary file on a full TMPDIR was blamed on the run directory.
    The file written is named where the error gives it; where it does not, a full temporary
    folder beside an export disk with room is."""
    import shutil
    import tempfile
    from collections import namedtuple

    target = tmp_path / "onnx"
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(temporary))
    scratch = temporary / "model.onnx.data"
    named = f"^cannot write {target}: No space left on device \\(writing {scratch}; set TMPDIR"
    with pytest.raises(LabError, match=named), staged_folder(target):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(scratch))
    usage = namedtuple("usage", "total used free")
    free = {str(temporary): 0, str(tmp_path): 2**30}
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(2**31, 0, free[str(path)]))
    full = f"No space left on device \\(the temporary folder {temporary} is full: set TMPDIR"
    with pytest.raises(LabError, match=full), staged_folder(target):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


# ------------------------------------------------------- real signals, real processes
def _default_sigint() -> None:
    """In the child before it starts: SIGINT to its default. A test run started in the
    background (`nohup ... &`, some CI runners) ignores SIGINT, and a child inherits that: Python
    then installs no KeyboardInterrupt handler, and Ctrl-C would do nothing."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _script(body: str, *args: str) -> list[str]:
    """`python -c <body> <args>`: a tool run as its `__main__` does, after `body`'s patches."""
    return [sys.executable, "-c", textwrap.dedent(body), *args]


def test_ctrl_c_in_predict_keeps_the_rows_done(run_dir: Path, tmp_path: Path) -> None:
    """SIGINT from outside, once rows are being written (the temporary file has grown)."""
    source, output = tmp_path / "many.txt", tmp_path / "pred.csv"
    source.write_text("".join(f"review number {i} was fine\n" for i in range(20000)))
    process = subprocess.Popen(
        lab_command("predict", f"run={run_dir}", f"input={source}", f"output={output}",
                    "batch_size=4", "device=cpu"),
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        preexec_fn=_default_sigint,
    )  # fmt: skip
    temporary = tmp_path / "pred.csv.tmp"
    deadline = time.monotonic() + 120
    while not (temporary.is_file() and temporary.stat().st_size):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err[-3000:]
    partial = tmp_path / "pred.partial.csv"
    found = re.fullmatch(
        rf"interrupted by SIGINT; (\d+) of 20000 rows were predicted: they are kept in "
        rf"{re.escape(str(partial))}; {re.escape(str(output))} was not written",
        err.strip().splitlines()[-1],
    )
    assert found, err[-3000:]
    lines = partial.read_text().splitlines()
    assert lines[0] == "line,id,label,probabilities,truncated,error"  # truncated: s26b H2
    assert [int(line.split(",")[0]) for line in lines[1:]] == list(range(1, int(found[1]) + 1))
    assert not output.exists() and not temporary.exists()
    assert "Traceback" not in err


def test_ctrl_c_in_evals_test_loop_writes_nothing(run_dir: Path, tmp_path: Path) -> None:
    """Lightning catches the Ctrl-C in its loop and exits 1: lab says what happened, 130."""
    output = tmp_path / "eval" / "metrics.json"
    process = subprocess.run(
        _script(
            """
            import os, signal, sys
            from lightning.pytorch.loops import evaluation_loop
            from lab.config.cli import run_tool
            from lab.eval import main

            step = evaluation_loop._EvaluationLoop._evaluation_step
            def interrupted(self, *args, **kwargs):
                os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C in the middle of the test loop
                return step(self, *args, **kwargs)
            evaluation_loop._EvaluationLoop._evaluation_step = interrupted
            run_tool(main, sys.argv[1:], exit_fast=True, stop_on_sigterm=True)
            """,
            f"run={run_dir}",
            f"output={output}",
        ),
        cwd=ROOT, capture_output=True, text=True, timeout=300, preexec_fn=_default_sigint,
    )  # fmt: skip
    assert process.returncode == 130, process.stderr[-3000:]
    assert process.stderr.strip().splitlines()[-1] == (
        "interrupted by SIGINT; nothing was written (metrics.json is written once the whole "
        "split is evaluated)"
    )
    assert not (tmp_path / "eval").exists()
    assert "Traceback" not in process.stderr


def test_sigterm_in_an_onnx_export_leaves_no_folder(run_dir: Path) -> None:
    """SIGTERM once model.onnx is written (as a scheduler's would come): exit 143, the
    partial `<run>/onnx` removed."""
    pytest.importorskip("onnxruntime")
    before = file_tree(run_dir)
    process = subprocess.run(
        _script(
            """
            import os, signal, sys
            import lab.inference.onnx_runtime.report as report
            from lab.config.cli import run_tool
            from lab.export import main

            load = report.load_onnx
            def stopped(*args, **kwargs):
                os.kill(os.getpid(), signal.SIGTERM)
                return load(*args, **kwargs)
            report.load_onnx = stopped
            run_tool(main, sys.argv[1:], exit_fast=True, stop_on_sigterm=True)
            """,
            f"run={run_dir}", "form=onnx", "benchmark_rows=2", "threads=1",
        ),
        cwd=ROOT, capture_output=True, text=True, timeout=300, preexec_fn=_default_sigint,
    )  # fmt: skip
    assert process.returncode == 143, process.stderr[-3000:]
    assert process.stderr.strip().splitlines()[-1] == (
        "interrupted by SIGTERM; nothing was exported (the partial export was removed); "
        f"{run_dir / 'onnx'} was not created"
    )
    assert file_tree(run_dir) == before
    assert "Traceback" not in process.stderr


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_the_kept_rows_are_counted_from_the_file(tmp_path: Path, suffix: str) -> None:
    """A signal between a row's write and its count said one row fewer than the partial file
    held (CI: 266 of a file of 267); the kept file's rows are counted from it."""
    from lab.inference.rows import RowWriter

    output, partial = tmp_path / f"pred{suffix}", tmp_path / f"pred.partial{suffix}"
    writer = RowWriter(output, ["line", "text"], partial=partial)
    with pytest.raises(KeyboardInterrupt), writer:
        for line in range(1, 4):
            writer.write({"line": line, "text": "two\nlines" if line == 2 else "one"})
        writer.rows -= 1  # the third row written, the signal before its count
        raise KeyboardInterrupt
    assert writer.rows == 3 and writer.kept == partial
    assert not output.exists()
