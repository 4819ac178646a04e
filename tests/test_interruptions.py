"""Interrupted runs (issue 19): signals at any step, moved run directories, W&B without a
server.

* SIGTERM at any step (start-up, setup, the final test) leaves `interrupted (SIGTERM)` in the
  record and says what to run next; `resume=auto` passes over runs with no checkpoint.
* A moved run directory resumes to the metrics of a run never interrupted.
* W&B with an unreachable server goes offline in seconds and leaves one run folder.
"""

from __future__ import annotations

import csv
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from lab.run_dir.resume import config_differences, find_auto_resume, prepare_resume
from lab.training.checkpointing import relocate_callback_states
from test_disk_faults import (
    FAULTABLE_RUN,
    FAULTS_ON_PATH,
    dead_pid,
    only_run,
    record_of,
    temporaries,
)

from conftest import TINY_FIXTURE_RUN, lab_cli, lab_command, train_and_signal


def _losses(run_dir: Path) -> list[tuple[str, str]]:
    with (run_dir / "csv" / "metrics.csv").open() as handle:
        return [(r["step"], r["train/loss"]) for r in csv.DictReader(handle) if r.get("train/loss")]


def _metrics(run_dir: Path) -> dict[str, float]:
    return dict(json.loads((run_dir / "metrics.json").read_text()))


# ----------------------------------------------------------------------------- resume
def _fake_run(root: Path, name: str, status: str, checkpoint: bool) -> Path:
    run_dir = root / "runs" / "2026-01-01" / name
    (run_dir / "checkpoints").mkdir(parents=True)
    overrides = [f"paths.output_root={root}"]  # launched like the command of the test
    record = {"status": status, "overrides": overrides, "started": f"2026-01-01T{name}"}
    (run_dir / "record.json").write_text(json.dumps(record))
    if checkpoint:
        (run_dir / "checkpoints" / "last.ckpt").write_bytes(b"checkpoint")
    return run_dir


def test_resume_auto_passes_over_interrupted_runs_without_a_checkpoint_and_says_so(
    tmp_path: Path, compose_cfg: Any, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "out"
    without = _fake_run(root, "10-00-00", "interrupted (SIGTERM); no checkpoint", False)
    overrides = [f"paths.output_root={root}"]
    assert find_auto_resume(str(root), overrides) is None
    cfg = compose_cfg("resume=auto", f"paths.output_root={root}", output_dir=tmp_path / "new")
    with caplog.at_level("INFO", logger="lab.run_dir.resume"):
        assert prepare_resume(tmp_path / "new", cfg) is None
    assert f"resume=auto: passing over {without} (interrupted before writing a checkpoint" in (
        caplog.text
    )
    assert "starting a new run" in caplog.text
    older = _fake_run(root, "09-00-00", "interrupted (SIGTERM); continue with resume=...", True)
    _fake_run(root, "11-00-00", "finished", True)
    assert find_auto_resume(str(root), ["resume=auto", *overrides]) == older


def test_config_paths_inside_a_moved_run_dir_are_not_a_difference() -> None:
    old, new = "/data/old/runs/r1", "/scratch/r1"
    recorded = {
        "paths": {"output_root": "out", "output_dir": old},
        "callbacks": {"last": {"dirpath": f"{old}/checkpoints"}},
        "data": {"path": "/data/old/runs/r10/train.csv"},  # a sibling, not inside the run
        "optimizer": {"lr": 5e-5},
    }
    current = {
        "paths": {"output_root": "out", "output_dir": new},
        "callbacks": {"last": {"dirpath": f"{new}/checkpoints"}},
        "data": {"path": "/data/old/runs/r10/train.csv"},
        "optimizer": {"lr": 1e-3},
    }
    assert config_differences(recorded, current, (old, new)) == ["  optimizer.lr: 5e-05 -> 0.001"]
    assert len(config_differences(recorded, current)) == 3, "without the move: 3 changes"


def test_a_heads_declarations_are_no_config_difference() -> None:
    """A run recorded before its task YAML declared `trains_on` resumes: a declaration of the
    data a head takes is not a setting of the run (a setting that differs still counts)."""
    recorded = {"task": {"head": "h"}, "optimizer": {"lr": 5e-5}}
    declared = {"head": "h", "trains_on": {"data_modules": ["TextClassificationDataModule"]}}
    assert config_differences(recorded, {**recorded, "task": declared}) == []
    assert config_differences(recorded, {"task": declared, "optimizer": {"lr": 1e-3}}) == [
        "  optimizer.lr: 5e-05 -> 0.001"
    ]


def test_a_heads_card_code_is_no_config_difference() -> None:
    """A run recorded before its task YAML declared its model card's code (`card_usage`,
    `card_onnx_usage`) resumes: the card's code is the head's, not a setting of the run."""
    recorded = {"task": {"head": "h", "pipeline_tag": "text-classification"}}
    card = {"_target_": "lab.tasks.text_classification.card.usage", "_partial_": True}
    onnx = {**card, "_target_": "lab.tasks.text_classification.card.onnx_usage"}
    declared = {**recorded["task"], "card_usage": card, "card_onnx_usage": onnx}
    assert config_differences(recorded, {"task": declared}) == []
    assert config_differences(recorded, {"task": {**declared, "head": "g"}}) == [
        "  task.head: 'h' -> 'g'"
    ]


def test_checkpoint_callback_state_follows_a_moved_run_dir(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from lightning.pytorch.callbacks import ModelCheckpoint

    old, new = "/data/old/run/checkpoints", str(tmp_path / "run" / "checkpoints")
    callback = ModelCheckpoint(dirpath=new, monitor="val/acc", mode="max", save_top_k=1)
    best = f"{old}/best-epoch01.ckpt"
    state = {
        "monitor": "val/acc",
        "best_model_score": torch.tensor(0.75),
        "best_model_path": best,
        "current_score": torch.tensor(0.5),
        "dirpath": old,
        "best_k_models": {best: torch.tensor(0.75)},
        "kth_best_model_path": best,
        "kth_value": torch.tensor(0.75),
        "last_model_path": f"{old}/last.ckpt",
    }
    checkpoint = {"callbacks": {callback.state_key: state}}
    relocate_callback_states(SimpleNamespace(callbacks=[callback]), checkpoint)  # type: ignore[arg-type]
    callback.load_state_dict(checkpoint["callbacks"][callback.state_key])
    moved_best = f"{new}/best-epoch01.ckpt"
    assert callback.best_model_path == moved_best
    assert callback.best_model_score == pytest.approx(0.75), "Lightning kept the best score"
    assert list(callback.best_k_models) == [moved_best]
    assert callback.last_model_path == f"{new}/last.ckpt"


# ----------------------------------------------------------------------------- W&B
WANDB_PROBE = """
import json, os, sys, time
from lab.training.loggers import wandb_logger
logger = wandb_logger(project="lab-test", save_dir=sys.argv[1], mode="auto")
if sys.argv[2] == "background":
    logger.start_in_background()
experiment = logger.experiment
logger.log_metrics({"train/loss": 0.5}, step=0)
import wandb
wandb.finish()
folders = sorted(p for p in os.listdir(os.path.join(sys.argv[1], "wandb")) if "run-" in p)
print(json.dumps({"seconds": logger.startup_seconds, "mode": logger._wandb_init["mode"],
                  "folders": folders}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("start", ["on first use", "background"])
def test_wandb_with_an_unreachable_server_goes_offline_in_seconds_with_one_run_folder(
    tmp_path: Path, start: str
) -> None:
    # A loopback port that nothing listens on: W&B's server is unreachable, and nothing
    # leaves this machine. A fresh process: wandb keeps its settings in a process singleton.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        k: v
        for k, v in os.environ.items()
        if k != "WANDB_MODE" and "proxy" not in k.lower()  # credentials present: online
    }
    env.update(
        WANDB_BASE_URL=f"http://127.0.0.1:{port}",
        WANDB_API_KEY="0123456789abcdef0123456789abcdef01234567",
        WANDB_CONFIG_DIR=str(tmp_path / "wandb-config"),
        HOME=str(tmp_path),  # no ~/.netrc or settings of the developer's
    )
    result = subprocess.run(
        [sys.executable, "-c", WANDB_PROBE, str(tmp_path / "run"), start],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["mode"] == "offline"
    assert outcome["seconds"] < 15, "wandb alone retries an unreachable server for 30 s"
    (folder,) = outcome["folders"]
    assert folder.startswith("offline-run-")
    assert "W&B server unreachable (127.0.0.1" in result.stderr


def _start_and_signal_at_run_directory(cwd: Path, *args: str) -> tuple[int, str]:
    """Start a run, send SIGTERM as soon as it names its run directory (it is then reading
    its data and building its model), return its exit code and output."""

    def named(line: str) -> bool:
        return "Run directory:" in line

    return train_and_signal(cwd, args, named, signal.SIGTERM, FAULTS_ON_PATH)


@pytest.mark.slow
def test_sigterm_before_training_is_recorded_and_resume_auto_passes_over_the_run(
    tmp_path: Path,
) -> None:
    code, output = _start_and_signal_at_run_directory(tmp_path, *FAULTABLE_RUN)
    assert code == 128 + signal.SIGTERM, output[-3000:]
    run_dir = only_run(tmp_path / "out")
    no_checkpoint = "no checkpoint was written; start the run again"
    command = shlex.join(["python", "-m", "lab.train", *FAULTABLE_RUN])
    assert output.strip().splitlines()[-1] == f"interrupted by SIGTERM; {no_checkpoint}: {command}"
    assert "Traceback" not in output
    assert record_of(run_dir)["status"] == f"interrupted (SIGTERM); {no_checkpoint}"

    # resume=auto: nothing to continue from, so a new run, which is stopped in its setup
    # (after data and model, before training: Lightning's setup hook).
    env = {**FAULTS_ON_PATH, "LAB_TEST_SIGNAL_AT": "setup_fit"}
    second = lab_cli("train", *FAULTABLE_RUN, "resume=auto", cwd=tmp_path, env=env)
    assert second.returncode == 128 + signal.SIGTERM, second.stderr[-3000:]
    assert f"resume=auto: passing over {run_dir} (interrupted before writing" in second.stdout
    (new_run,) = set((tmp_path / "out").glob("runs/*/*")) - {run_dir}
    assert record_of(new_run)["status"] == f"interrupted (SIGTERM); {no_checkpoint}"
    assert "Traceback" not in second.stderr + second.stdout


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("uninterrupted")
    result = lab_cli("train", *FAULTABLE_RUN, cwd=cwd, env=FAULTS_ON_PATH)
    assert result.returncode == 0, result.stderr[-3000:]
    return only_run(cwd / "out")


@pytest.mark.slow
def test_sigterm_during_the_final_test_is_recorded_and_the_run_resumes(
    uninterrupted: Path, tmp_path: Path
) -> None:
    env = {**FAULTS_ON_PATH, "LAB_TEST_SIGNAL_AT": "test_start"}
    first = lab_cli("train", *FAULTABLE_RUN, cwd=tmp_path, env=env)
    assert first.returncode == 128 + signal.SIGTERM, first.stderr[-3000:]
    run_dir = only_run(tmp_path / "out")
    assert first.stderr.strip().splitlines()[-1] == (  # the final one: 2 epochs of 4 steps
        f"interrupted by SIGTERM; the last checkpoint is {run_dir}/checkpoints/last.ckpt (step "
        "8, where training ended: a resume tests and exports only). Continue with: "
        + shlex.join(["python", "-m", "lab.train", *FAULTABLE_RUN, f"resume={run_dir}"])
    )
    assert record_of(run_dir)["status"] == f"interrupted (SIGTERM); continue with resume={run_dir}"
    assert not (run_dir / "metrics.json").exists()

    resumed = lab_cli(
        "train", *FAULTABLE_RUN, f"resume={run_dir}", cwd=tmp_path, env=FAULTS_ON_PATH
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert record_of(run_dir)["status"] == "finished"
    assert _metrics(run_dir) == pytest.approx(_metrics(uninterrupted), rel=1e-6)


@pytest.mark.slow
def test_a_moved_run_directory_resumes_like_a_run_never_interrupted(
    uninterrupted: Path, tmp_path: Path
) -> None:
    (tmp_path / "here").mkdir()
    kill = {**FAULTS_ON_PATH, "LAB_TEST_KILL_AT_STEP": "3", "LAB_TEST_KILL_SIGNAL": "SIGKILL"}
    first = lab_cli("train", *FAULTABLE_RUN, cwd=tmp_path / "here", env=kill)
    assert first.returncode == -signal.SIGKILL
    ran_in = only_run(tmp_path / "here" / "out")
    # Killed during a checkpoint write: the partial file stays until the run resumes.
    stale = ran_in / "checkpoints" / f".last.ckpt~{socket.gethostname()}~{dead_pid()}.tmp"
    stale.write_bytes(b"PK partial checkpoint")
    moved = tmp_path / "elsewhere" / ran_in.name
    moved.parent.mkdir()
    shutil.move(ran_in, moved)

    started = time.monotonic()
    resumed = lab_cli("train", *FAULTABLE_RUN, f"resume={moved}", cwd=tmp_path, env=FAULTS_ON_PATH)
    assert resumed.returncode == 0, f"{time.monotonic() - started:.0f}s\n{resumed.stderr[-3000:]}"
    record = record_of(moved)
    assert record["status"] == "finished"
    assert [(r["from_step"], r["moved_from"]) for r in record["resumes"]] == [(2, str(ran_in))]
    assert temporaries(moved) == []
    assert _metrics(moved) == pytest.approx(_metrics(uninterrupted), rel=1e-6)
    assert _losses(moved) == _losses(uninterrupted)
    assert len(_losses(moved)) == 8
    # config.yaml now says where the run is: no path in it points into the old directory.
    recorded = (moved / "config.yaml").read_text()
    assert str(ran_in) not in recorded
    assert f"output_dir: {moved}" in recorded


def _catches_sigterm(pid: int) -> bool:
    """Whether process `pid` has a handler for SIGTERM (bit 15 of SigCgt in /proc)."""
    status = Path(f"/proc/{pid}/status").read_text()
    caught = int(
        next(line for line in status.splitlines() if line.startswith("SigCgt:")).split()[1], 16
    )
    return bool(caught & (1 << (signal.SIGTERM - 1)))


@pytest.mark.slow
def test_sigterm_while_lab_train_is_still_importing_ends_in_words(tmp_path: Path) -> None:
    """The first handler is installed before lab.train's imports: a SIGTERM that arrives
    while they load (before Hydra composes anything) still says what happened and what to run."""
    process = subprocess.Popen(
        lab_command("train", "model=tiny_bert", "data=demo"),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not _catches_sigterm(process.pid):
        assert time.monotonic() < deadline, "lab.train never installed a SIGTERM handler"
        time.sleep(0.005)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM, output[-3000:]
    assert output.strip().splitlines()[-1] == (
        "interrupted by SIGTERM before the run started; start it again: "
        "python -m lab.train model=tiny_bert data=demo"
    )
    assert not (tmp_path / "outputs").exists()


@pytest.mark.slow
def test_sigterm_while_a_finished_run_exits_says_the_run_ended(tmp_path: Path) -> None:
    """s26a M8: a finished run whose process waited in its exit (an exit callback: a
    `trainer.compile=true` run was seen to) was told "interrupted by SIGTERM before the run
    started" on SIGTERM. Its files are written; it says so."""
    slow_exit = tmp_path / "slow_exit"
    slow_exit.mkdir()
    # registered first, so run last: after lab's own exit callbacks
    marker = tmp_path / "exiting"
    (slow_exit / "sitecustomize.py").write_text(
        "import atexit, pathlib, time\n"
        f"atexit.register(lambda: (pathlib.Path({str(marker)!r}).touch(), time.sleep(60)))\n"
    )
    pythonpath = os.pathsep.join(filter(None, [str(slow_exit), os.environ.get("PYTHONPATH")]))
    process = subprocess.Popen(
        lab_command("train", *TINY_FIXTURE_RUN, "trainer.max_epochs=1", "paths.output_root=out"),
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": pythonpath},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 240
    while not marker.exists():
        assert process.poll() is None and time.monotonic() < deadline, "the run never exited"
        time.sleep(0.2)
    (record,) = (tmp_path / "out").glob("runs/*/*/record.json")
    assert json.loads(record.read_text())["status"] == "finished"
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM, output[-3000:]
    assert output.strip().splitlines()[-1] == (
        "stopped by SIGTERM while exiting, after the run ended (its files are written)"
    )
    assert json.loads(record.read_text())["status"] == "finished"


def test_an_interrupted_run_with_a_best_checkpoint_only_says_how_to_continue_from_it(
    tmp_path: Path,
) -> None:
    """Ctrl-C saves no last.ckpt; "no checkpoint was written" was said (console and record)
    while checkpoints/best-*.ckpt was on disk, and a user may delete such a run. The line
    also reaches the run's train.log, which ended at Lightning's shutdown line."""
    import logging

    import torch

    from lab.run_dir.endings import interrupted_message, interrupted_status
    from lab.run_dir.held_log import write_to_run_log

    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    best = run_dir / "checkpoints" / "best-epoch00-step000050.ckpt"
    state = {
        "state_dict": {"w": torch.zeros(2)},
        "loops": {},
        "global_step": 50,
        "epoch": 0,
        "optimizer_states": [{"state": {}, "param_groups": [{"lr": 1e-3}]}],
        "lr_schedulers": [{"last_epoch": 50}],
    }
    torch.save(state, best)
    way_out = (
        "copy checkpoints/best-epoch00-step000050.ckpt (step 50) to checkpoints/last.ckpt to "
        "continue from there"
    )
    assert interrupted_status("SIGINT", run_dir) == (
        f"interrupted (SIGINT); no last.ckpt was written; {way_out}"
    )
    overrides = ["model=tiny_bert", "trainer.max_epochs=10"]
    message = interrupted_message("SIGINT", run_dir, "python -m lab.train x", overrides)
    resume = shlex.join(["python", "-m", "lab.train", *overrides, f"resume={run_dir}"])
    assert message == (
        "interrupted by SIGINT; no last.ckpt was written (Ctrl-C saves none, SIGTERM and "
        "SIGUSR1 do); "
        f"{way_out}: {resume}, or start the run again: python -m lab.train x"
    )
    best.unlink()  # no checkpoint at all: as before
    assert interrupted_status("SIGINT", run_dir).endswith(
        "no checkpoint was written; start the run again"
    )

    log_file = run_dir / "train.log"
    handler = logging.FileHandler(log_file)
    elsewhere = logging.FileHandler(tmp_path / "other.log")
    root = logging.getLogger()
    root.addHandler(handler)
    root.addHandler(elsewhere)
    try:
        write_to_run_log(run_dir, message)
    finally:
        root.removeHandler(handler)
        root.removeHandler(elsewhere)
        handler.close()
        elsewhere.close()
    assert log_file.read_text() == message + "\n"
    assert (tmp_path / "other.log").read_text() == ""
