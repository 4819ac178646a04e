"""A DDP rank that fails alone is said by rank 0 in that rank's words (s32b F1, F4):
`lab.training.rank_failures`, with two 2-rank runs (a SIGKILLed rank, bad data only rank 1
reads) and units for the rest."""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from lab.errors import DataError, LabError
from lab.training import rank_failures
from lab.training.rank_failures import (
    FAILURES_DIR,
    RankDataFailed,
    RankFailed,
    RankWatch,
    other_ranks_lines,
    read_failures,
    reported_rank_failures,
    stopped_line,
    stopped_words,
    write_failure,
)

from conftest import DDP_FAULTABLE_RUN, lab_cli

HELPERS = Path(__file__).resolve().parent / "helpers"
GLOO_GONE = RuntimeError(
    "[../gloo/transport/tcp/pair.cc:553] Connection closed by peer [127.0.0.1]:3814. This is "
    "typically caused by a remote worker crashing. GLHF!"
)
KILLED = "rank 1 stopped (killed by signal 9: SIGKILL, e.g. the out-of-memory killer)"


def _record(run_dir: Path, overrides: list[str] | None = None) -> Any:
    return SimpleNamespace(output_dir=run_dir, data={"overrides": overrides or ["a=1"]})


def _only_run(out: Path) -> Path:
    runs = [p for p in out.glob("runs/*/*") if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


def _left_processes(run_dir: Path) -> list[str]:
    """Processes whose command line names the run directory (a rank left behind)."""
    listing = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return [line for line in listing.splitlines() if str(run_dir) in line]


@pytest.fixture(autouse=True)
def _no_watch_left() -> Any:
    yield
    rank_failures._WATCHES.clear()
    other_ranks_lines()


# ------------------------------------------------------------------------------ 2 ranks
@pytest.mark.slow
def test_a_rank_killed_alone_is_said_once_with_the_continue_advice(tmp_path: Path) -> None:
    kill = {"LAB_TEST_KILL_AT_STEP": "3", "LAB_TEST_KILL_RANK": "1", "PYTHONPATH": str(HELPERS)}
    result = lab_cli("train", *DDP_FAULTABLE_RUN, cwd=tmp_path, env=kill, timeout=240)
    assert result.returncode == 128 + signal.SIGKILL, result.stderr[-3000:]
    run_dir = _only_run(tmp_path / "out")
    checkpoint = run_dir / "checkpoints" / "last.ckpt"
    resume = shlex.join(["python", "-m", "lab.train", *DDP_FAULTABLE_RUN, f"resume={run_dir}"])
    line = (
        f"{KILLED}; the last checkpoint is {checkpoint} (step 2; later steps are trained "
        f"again). Continue with: {resume}"
    )
    assert result.stderr.strip().splitlines() == [f"error: {line}"]  # no gloo traceback
    record = json.loads((run_dir / "record.json").read_text())
    assert record["status"] == f"failed: {line}"
    assert f"the run failed: {line}" in (run_dir / "train.log").read_text()
    assert not (run_dir / FAILURES_DIR).exists()
    assert _left_processes(run_dir) == []


@pytest.mark.slow
def test_bad_data_only_rank_one_reads_is_its_line_exit_2(tmp_path: Path) -> None:
    data = tmp_path / "shards" / "data"
    data.mkdir(parents=True)

    def rows(count: int, bad: int = 0) -> str:
        labels = ["pos" if i % 2 == 0 else "neg" for i in range(count)]
        if bad:
            labels[bad - 1] = "neutral"
        return "".join(json.dumps({"text": f"w{i % 7} x", "label": lab}) + "\n" for i, lab in
                       enumerate(labels))  # fmt: skip

    # More rows than lab reads of each file before training (1000): the bad one is met by
    # rank 1 alone, which reads the second shard, after the step-2 best checkpoint.
    (data / "train-00000-of-00002.jsonl").write_text(rows(1100))
    (data / "train-00001-of-00002.jsonl").write_text(rows(1100, bad=1050))
    for split in ("validation", "test"):
        (data / f"{split}-00000-of-00001.jsonl").write_text(rows(6))
    result = lab_cli(
        "train", "model=tiny_bert", "data=json", f"data.path={tmp_path / 'shards'}",
        "data.label_names=[neg,pos]", "data.streaming=true", "data.shuffle_buffer=0",
        "data.max_length=8", "data.batch_size=128", "trainer.max_steps=12",
        "trainer.val_check_interval=2", "trainer.accelerator=cpu", "logger=csv",
        "strategy=ddp", "trainer.devices=2", "paths.output_root=out",
        cwd=tmp_path, timeout=240,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-3000:]
    run_dir = _only_run(tmp_path / "out")
    bad = (
        f"{data / 'train-00001-of-00002.jsonl'}:1050 column 'label': label 'neutral' is not "
        "one of the label names ['neg', 'pos']"
    )
    said = result.stderr.strip().splitlines()
    assert len(said) == 2 and said[0].startswith(f"error: rank 1: {bad}"), said
    assert said[1].startswith("the run's checkpoints are kept"), said  # the continue advice
    record = json.loads((run_dir / "record.json").read_text())
    assert record["status"].startswith(f"failed: rank 1: {bad}")
    assert f"the run failed: rank 1: {bad}" in (run_dir / "train.log").read_text()
    assert _left_processes(run_dir) == []


# --------------------------------------------------------------------------------- units
def test_a_killed_or_silent_rank_in_words() -> None:
    assert stopped_words(1, -9) == KILLED
    assert stopped_words(2, -15) == "rank 2 stopped (killed by signal 15: SIGTERM)"
    assert stopped_words(1, 3) == ("rank 1 stopped (exit code 3; its log: train_ddp_process_1.log)")


def test_the_continue_advice_follows_the_checkpoints_there_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lab.run_dir.resume

    again = "start the run again: python -m lab.train a=1"
    resume = f"python -m lab.train a=1 resume={tmp_path}"
    assert stopped_line(KILLED, tmp_path, ["a=1"]) == (
        f"{KILLED}; no checkpoint was written; {again}"
    )
    # A resumable best checkpoint, as `resume.other_checkpoint` finds one (the signals' words).
    copy = "copy checkpoints/best-epoch00-step000004.ckpt (step 4) to checkpoints/last.ckpt"
    found = f", or {copy} to continue from there"
    monkeypatch.setattr(lab.run_dir.resume, "other_checkpoint", lambda run_dir: found)
    assert stopped_line(KILLED, tmp_path, ["a=1"]) == (
        f"{KILLED}; no last.ckpt was written; {copy} to continue from there: {resume}, or {again}"
    )
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"x")
    assert stopped_line(KILLED, tmp_path, ["a=1"]) == (
        f"{KILLED}; the last checkpoint is {tmp_path / 'checkpoints' / 'last.ckpt'}. "
        f"Continue with: {resume}"
    )


def test_a_ranks_line_is_left_in_the_run_directory(tmp_path: Path) -> None:
    write_failure(tmp_path, 1, DataError("f.jsonl:3 column 'label': bad\nadvice"))
    write_failure(tmp_path, 2, LabError("refused"))
    write_failure(tmp_path, 3, ValueError("oops\nmore"))
    assert read_failures(tmp_path) == {
        1: ("data", "f.jsonl:3 column 'label': bad"),
        2: ("lab", "refused"),
        3: ("bug", "ValueError: oops"),
    }


def test_rank_one_leaves_its_error_and_ends_quietly_when_rank_zero_is_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCAL_RANK", "1")
    with pytest.raises(DataError), reported_rank_failures(_record(tmp_path)):
        raise DataError("f.jsonl:3 bad")
    assert read_failures(tmp_path) == {1: ("data", "f.jsonl:3 bad")}
    with pytest.raises(SystemExit) as stopped, reported_rank_failures(_record(tmp_path)):
        raise GLOO_GONE
    assert stopped.value.code == 1 and stopped.value.__suppress_context__


def test_rank_zero_raises_the_gone_ranks_own_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setattr(rank_failures, "WAIT_S", 0.2)
    record = _record(tmp_path)
    with pytest.raises(RankDataFailed) as raised, reported_rank_failures(record):
        write_failure(tmp_path, 1, DataError("f.jsonl:3 bad"))
        raise GLOO_GONE
    assert str(raised.value) == "rank 1: f.jsonl:3 bad" and raised.value.exit_code == 2
    assert not (tmp_path / FAILURES_DIR).exists()
    with pytest.raises(RankFailed) as bug, reported_rank_failures(record):
        write_failure(tmp_path, 1, ZeroDivisionError("division by zero"))
        raise GLOO_GONE
    assert str(bug.value) == "rank 1: ZeroDivisionError: division by zero"
    assert bug.value.exit_code == 1
    with pytest.raises(RuntimeError, match="Connection closed"), reported_rank_failures(record):
        raise GLOO_GONE  # nobody left a word nor exited in time: the error as it was


def test_rank_zero_names_the_signal_that_killed_a_rank(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    rank_failures.watch_ranks([child])
    child.send_signal(signal.SIGKILL)
    with pytest.raises(RankFailed) as raised, reported_rank_failures(_record(tmp_path)):
        raise GLOO_GONE
    start = "start the run again: python -m lab.train a=1"
    assert str(raised.value) == f"{KILLED}; no checkpoint was written; {start}"
    assert raised.value.exit_code == 137


def test_an_error_both_ranks_meet_is_said_once_another_with_its_rank(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORLD_SIZE", "3")
    monkeypatch.setattr(rank_failures, "OTHERS_WAIT_S", 0.2)
    with pytest.raises(DataError), reported_rank_failures(_record(tmp_path)):
        write_failure(tmp_path, 1, DataError("f.jsonl:9 bad"))
        write_failure(tmp_path, 2, DataError("g.jsonl:4 bad"))
        raise DataError("f.jsonl:9 bad")
    assert other_ranks_lines() == ["rank 2: g.jsonl:4 bad"]
    assert other_ranks_lines() == []  # said once


def test_the_watch_ends_every_rank_only_where_rank_zero_does_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ended: list[tuple[int, int]] = []
    monkeypatch.setattr(RankWatch, "_end_all", lambda self, rank, code: ended.append((rank, code)))
    for handled, expected in ((False, [(1, 3)]), (True, [])):
        child = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
        watch = RankWatch([child], grace=0.5)
        watch.start()
        if handled:
            time.sleep(0.3)
            watch.handled.set()
        watch.join(timeout=10)
        assert ended == expected
        ended.clear()
