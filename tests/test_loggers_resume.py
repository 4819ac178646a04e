"""Loggers continue the interrupted run on resume."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from lab.training.loggers import CSVLogger, ResilientWandbLogger, wandb_logger


def test_wandb_logger_reuses_the_recorded_run_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    logger = wandb_logger(project="lab-test", save_dir=str(tmp_path))
    logger.resume_from(step=6, record={"wandb_run_id": "abc123"})
    assert logger._wandb_init["id"] == "abc123" and logger._wandb_init["resume"] == "allow"
    assert logger._wandb_init["mode"] == "offline"


def test_csv_logger_keeps_rows_up_to_the_checkpoint(tmp_path: Path) -> None:
    """A checkpoint at global step 2 holds the steps logged at 0 and 1 (a validation after
    step 1 too); the killed process had gone on to steps 2 and 3 (a last.ckpt every N steps,
    then SIGKILL): those rows go, and the resumed run's step 2 is logged once."""
    csv_dir = tmp_path / "csv"
    csv_dir.mkdir()
    (csv_dir / "metrics.csv").write_text(
        "lr,step,train/loss,val/loss\n0.1,0,,\n,0,0.9,\n0.1,1,,\n,1,0.8,\n,1,,0.85\n"
        "0.1,2,,\n,2,0.7,\n0.1,3,,\n,3,0.6,\n"
    )
    logger = CSVLogger(save_dir=str(tmp_path), name="csv", version="")
    logger.resume_from(step=2, record={})
    logger.log_metrics({"lr": 0.1}, step=2)
    logger.log_metrics({"train/loss": 0.75}, step=2)
    logger.save()
    assert (csv_dir / "metrics.csv").read_text().splitlines() == [
        "lr,step,train/loss,val/loss",
        "0.1,0,,",
        ",0,0.9,",
        "0.1,1,,",
        ",1,0.8,",
        ",1,,0.85",
        "0.1,2,,",
        ",2,0.75,",
    ]


def test_csv_logger_resumes_a_run_killed_before_its_first_rows_without_a_warning(
    tmp_path: Path,
) -> None:
    """SIGKILL before metrics.csv was first flushed leaves csv/ with hparams.yaml only:
    nothing to keep or delete, so no "previous log files will be deleted" warning."""
    import warnings

    csv_dir = tmp_path / "csv"
    csv_dir.mkdir()
    (csv_dir / "hparams.yaml").write_text("lr: 0.1\n")
    logger = CSVLogger(save_dir=str(tmp_path), name="csv", version="")
    logger.resume_from(step=3, record={})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        logger.log_metrics({"train/loss": 0.5}, step=3)
        logger.save()
    assert (csv_dir / "metrics.csv").read_text().splitlines() == ["step,train/loss", "3,0.5"]
    assert (csv_dir / "hparams.yaml").read_text() == "lr: 0.1\n"


def test_wandb_start_in_background_runs_in_its_thread_and_hands_over_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    logger = wandb_logger(project="lab-test", save_dir=str(tmp_path))
    threads: list[str] = []
    run = object()

    def start(self: ResilientWandbLogger) -> object:
        threads.append(threading.current_thread().name)
        return run

    monkeypatch.setattr(ResilientWandbLogger, "_start", start)
    logger.start_in_background()
    assert logger.experiment is run
    assert threads == ["wandb-start", "MainThread"], "started in the thread, then handed over"


def test_wandb_start_in_background_raises_its_error_at_first_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_MODE", "offline")
    logger = wandb_logger(project="lab-test", save_dir=str(tmp_path))

    def fail(self: ResilientWandbLogger) -> object:
        raise RuntimeError("W&B is down and offline failed too")

    monkeypatch.setattr(ResilientWandbLogger, "_start", fail)
    logger.start_in_background()
    with pytest.raises(RuntimeError, match="W&B is down"):
        logger.experiment  # noqa: B018


def test_an_offline_wandb_run_says_why_and_how_to_sync_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """No credentials: `auto` goes offline, and lab says so once with the `wandb sync`
    command of the run's folder (it did so silently); the record holds mode and folder."""

    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    logger = wandb_logger(project="lab-test", save_dir=str(tmp_path), mode="auto")
    record = _recorded_identity(logger, caplog)
    entry = record["wandb"]
    assert isinstance(entry, dict) and entry["mode"] == "offline"
    folder = Path(str(entry["dir"]))
    assert folder.is_dir() and folder.name.startswith("offline-run-")
    assert folder.name.endswith(str(record["wandb_run_id"]))
    said = [r.getMessage() for r in caplog.records if r.name == "lab.training.loggers"]
    assert said == [
        "W&B offline (no W&B credentials: WANDB_API_KEY or ~/.netrc): sync later with "
        f"`wandb sync {folder}`"
    ]


def test_a_resumed_offline_run_names_every_folder_of_its_run_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A resume writes a second offline-run folder under the same id: the sync command and
    the record name both, oldest first (the first holds the steps before the interruption)."""

    monkeypatch.setenv("WANDB_MODE", "offline")
    logger = wandb_logger(project="lab-test", save_dir=str(tmp_path))
    logger.resume_from(step=6, record={"wandb_run_id": "abc123"})
    earlier = tmp_path / "wandb" / "offline-run-20000101_000000-abc123"
    earlier.mkdir(parents=True)
    other = tmp_path / "wandb" / "offline-run-20000101_000000-zzz999"  # another run
    other.mkdir()
    record = _recorded_identity(logger, caplog)
    entry = record["wandb"]
    assert isinstance(entry, dict)
    latest = Path(str(entry["dir"]))
    assert latest.name.endswith("-abc123") and latest != earlier
    assert entry["dirs"] == [str(earlier), str(latest)]
    said = [r.getMessage() for r in caplog.records if r.name == "lab.training.loggers"]
    assert said == [
        f"W&B offline (WANDB_MODE=offline): sync later with `wandb sync {earlier} {latest}`"
    ]


def _recorded_identity(logger: Any, caplog: pytest.LogCaptureFixture) -> dict[str, object]:
    """The record `logger.record_identity` fills (its lines in `caplog`); W&B's run ended."""
    import logging

    import wandb

    record: dict[str, object] = {}
    try:
        with caplog.at_level(logging.INFO, logger="lab.training.loggers"):
            logger.record_identity(record)
    finally:
        wandb.finish()
    return record


def test_other_ranks_of_a_ddp_run_record_no_wandb_identity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On rank 1 `experiment` is Lightning's stand-in (every attribute a method): a DDP run
    with the default W&B logger ended in `Path(<method>)`'s TypeError at start-up (s28b H1).
    Rank 0 records the run; the other ranks leave the record alone and start no W&B run."""
    from lightning.pytorch.utilities import rank_zero_only

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setattr(rank_zero_only, "rank", 1)
    logger = wandb_logger(project="lab-test", save_dir=str(tmp_path))
    record: dict[str, object] = {"seed": 1}
    logger.record_identity(record)
    assert record == {"seed": 1}
    assert not (tmp_path / "wandb").exists()  # no W&B run started on this rank
