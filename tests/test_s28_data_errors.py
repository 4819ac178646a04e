"""Data errors a run meets while it trains (s28a H2, M3).

* A `LabError` raised in a DataLoader worker process reaches the user as its own message:
  torch re-raises it in the main process with the worker's whole traceback as the message
  (`torch._utils.ExceptionWrapper`); `lab.errors.lab_error_in` gives it back unwrapped.
* A bad row that stops a streamed run after it wrote a checkpoint says, after the error, that
  the checkpoints are kept and the command that continues the run once the data is fixed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from torch._utils import ExceptionWrapper

from lab.errors import ConfigError, DataError, LabError, lab_error_in, worker_message
from lab.run_dir.run_failure import resumable_data_error

from conftest import lab_cli


def _from_worker(error: Exception) -> LabError:
    """`error` as torch's DataLoader re-raises it in the main process when a worker raised it:
    wrapped in a real `except` block (the traceback is the worker's), then `reraise()`."""
    try:
        try:
            raise error
        except Exception:
            wrapper = ExceptionWrapper(where="in DataLoader worker process 0")
        wrapper.reraise()
    except LabError as reraised:
        return reraised
    raise AssertionError("reraise() did not raise")


def test_a_worker_error_is_said_in_its_own_words() -> None:
    message = "/data/train.jsonl:1101 column 'label': label 7 is outside num_labels=2"
    reraised = _from_worker(DataError(message))
    # What torch makes of it: the type kept, the worker's traceback as the message.
    assert type(reraised) is DataError
    assert str(reraised).startswith("Caught DataError in DataLoader worker process 0.\n")
    assert str(reraised).endswith(f"\nlab.errors.DataError: {message}\n")
    found = lab_error_in(reraised)
    assert type(found) is DataError and str(found) == message
    assert found.__cause__ is reraised  # the worker's traceback kept for a bug report
    assert lab_error_in(found) is found  # unwrapped once


def test_a_multi_line_message_survives_whole() -> None:
    message = "first line: row 3\n  second line, indented\nlab.errors.DataError lookalike"
    assert worker_message(_from_worker(DataError(message))) == message


def test_the_error_raised_from_another_is_the_one_said() -> None:
    def raise_chained() -> None:
        try:
            raise DataError("the inner cause")
        except DataError as inner:
            raise ConfigError("data.num_labels=2 disagrees with the data") from inner

    try:
        try:
            raise_chained()
        except Exception:
            wrapper = ExceptionWrapper(where="in DataLoader worker process 1")
        wrapper.reraise()
    except LabError as reraised:
        assert "the inner cause" in str(reraised)  # the worker's traceback holds both
        found = lab_error_in(reraised)
    assert type(found) is ConfigError
    assert str(found) == "data.num_labels=2 disagrees with the data"


def test_errors_not_from_a_worker_are_left_as_they_are() -> None:
    plain = DataError("Caught nothing; a message of lab's own")
    assert worker_message(plain) is None and lab_error_in(plain) is plain
    wrapped = RuntimeError("built the data module")
    wrapped.__cause__ = plain
    assert lab_error_in(wrapped) is plain
    assert str(lab_error_in(_from_worker(DataError()))) == ""  # raised with no message


def test_only_a_streamed_train_splits_error_offers_to_continue(tmp_path: Path) -> None:
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"")
    error = DataError("train.jsonl:9 column 'label': the cell is empty")
    streamed = {"data": {"test": {"rows": 8, "sha256": "ab"}}, "overrides": ["seed=1"]}
    continued = resumable_data_error(tmp_path, streamed, error)
    assert continued is not None
    first, second = str(continued).split("\n")
    assert first == str(error)
    assert second.startswith(f"the run's checkpoints are kept; the last is {tmp_path}")
    assert second.endswith(f"continue with: python -m lab.train seed=1 resume={tmp_path}")
    # A train split read whole is fingerprinted: a resume refuses it once it is fixed.
    whole = {"data": {"train": {"rows": 8, "sha256": "cd"}}, "overrides": []}
    assert resumable_data_error(tmp_path, whole, error) is None
    assert resumable_data_error(tmp_path, streamed, ConfigError("x")) is None
    (tmp_path / "checkpoints" / "last.ckpt").unlink()  # no checkpoint: nothing to continue
    assert resumable_data_error(tmp_path, streamed, error) is None


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


@pytest.mark.slow
def test_a_bad_row_read_by_a_worker_after_a_checkpoint(tmp_path: Path) -> None:
    """Row 1101 of a streamed train file has label 7 (num_labels=2); the stream is checked
    1000 rows at a time, so it fails at step 10 (100 rows a batch), after last.ckpt of
    step 8, in a DataLoader worker process."""
    data = tmp_path / "data"
    data.mkdir()
    rows = [{"text": f"review {i}", "label": i % 2} for i in range(1200)]
    rows[1100]["label"] = 7
    _jsonl(data / "train.jsonl", rows)
    for split in ("validation", "test"):
        _jsonl(data / f"{split}.jsonl", [{"text": f"r {i}", "label": i % 2} for i in range(8)])
    args = [
        "model=tiny_bert",
        "data=json",
        f"data.path={data}",
        "data.num_labels=2",
        "data.stream_sample_rows=10",
        "data.streaming=true",
        "data.shuffle_buffer=0",
        "data.batch_size=100",
        "data.num_workers=2",
        "trainer.max_steps=40",
        "trainer.val_check_interval=5",
        "callbacks.last_checkpoint.every_n_train_steps=2",
        "logger=csv",
        "paths.output_root=out",
    ]
    result = lab_cli("train", *args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-3000:]
    (run_dir,) = (tmp_path / "out").glob("runs/*/*")
    error = (
        f"{data / 'train.jsonl'}:1101 column 'label': label 7 is outside num_labels=2 "
        "(valid: 0..1); fix the data or set data.num_labels"
    )
    last = run_dir / "checkpoints" / "last.ckpt"
    resume = " ".join(["python", "-m", "lab.train", *args, f"resume={run_dir}"])
    assert result.stderr.splitlines() == [
        f"error: {error}",
        f"the run's checkpoints are kept; the last is {last} (step 8; later steps are trained "
        f"again). Once the data is fixed, continue with: {resume}",
    ]
    assert json.loads((run_dir / "record.json").read_text())["status"] == f"failed: {error}"
    assert torch.load(last, weights_only=False)["global_step"] == 8
    (best,) = (run_dir / "checkpoints").glob("best-*.ckpt")
    assert torch.load(best, weights_only=False)["global_step"] == 5
