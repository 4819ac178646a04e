"""W&B never costs a run or a sweep (`lab.training.wandb_start`).

* A sweep's summary run starts like a trial's logger: the same server check, timeouts,
  fallbacks (offline, then disabled) and warnings; offline, it is written for `wandb sync`,
  and nothing wandb prints leaks ANSI colour codes into a log file.
* A W&B directory that cannot be created or written: one warning, and the run goes on without
  W&B.

No test reaches a network: an "unreachable" server is a loopback port nothing listens on, a
"hanging" one a loopback socket that accepts connections and never answers.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import TINY_FIXTURE_RUN

FAKE_KEY = "0123456789abcdef0123456789abcdef01234567"

SUMMARY_PROBE = """
import json, logging, sys, time
from pathlib import Path
import optuna
from omegaconf import OmegaConf
from lab.sweeps.wandb_summary import log_study_to_wandb
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
optuna.logging.set_verbosity(optuna.logging.WARNING)
study = optuna.create_study(study_name="s", direction="maximize")
for value in (0.5, 0.7):
    trial = study.ask()
    trial.suggest_float("lr", 1e-4, 1e-2, log=True)
    study.tell(trial, value)
config = OmegaConf.create({"logger": {"wandb": json.loads(sys.argv[2])}})
started = time.monotonic()
run_id = log_study_to_wandb(study, config, Path(sys.argv[1]))
print(json.dumps({"seconds": time.monotonic() - started, "run_id": run_id}))
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _summary_in_a_fresh_process(
    tmp_path: Path, port: int, wandb_cfg: dict[str, Any]
) -> tuple[dict[str, Any], str, Path]:
    """Run `log_study_to_wandb` online (WANDB_MODE=online, a fake key) against a local port;
    its answer, everything it printed, and the sweep directory. A fresh process: wandb keeps
    its settings in a process singleton. WANDB_SILENT (conftest) is not passed on: the
    settings lab gives wandb must keep it quiet by themselves."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("WANDB_MODE", "WANDB_SILENT") and "proxy" not in k.lower()
    }
    env.update(
        WANDB_MODE="online",
        WANDB_BASE_URL=f"http://127.0.0.1:{port}",
        WANDB_API_KEY=FAKE_KEY,
        WANDB_CONFIG_DIR=str(tmp_path / "wandb-config"),
        HOME=str(tmp_path),  # no ~/.netrc or settings of the developer's
        # wandb's own telemetry (on with its error reporting) exports to the server when the
        # process exits and, against the hanging one, waits out its HTTP timeout there: ~20 s
        # after the summary is done, none of it lab's (whose timeouts these tests time).
        WANDB_ERROR_REPORTING="false",
    )
    sweep_dir = tmp_path / "sweep"
    result = subprocess.run(
        [sys.executable, "-c", SUMMARY_PROBE, str(sweep_dir), json.dumps(wandb_cfg)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1]), output, sweep_dir


def _written_offline(sweep_dir: Path, run_id: str) -> Path:
    """The summary's one run folder: offline, under its stable id, with W&B's log in it."""
    (folder,) = [p for p in (sweep_dir / "wandb").iterdir() if "run-" in p.name]
    assert folder.name.startswith("offline-run-") and folder.name.endswith(run_id)
    assert list(folder.glob("*.wandb")), "W&B wrote its offline log"
    return folder


@pytest.mark.slow
def test_sweep_summary_with_an_unreachable_server_is_written_offline_in_seconds(
    tmp_path: Path,
) -> None:
    port = _free_port()  # nothing listens there: the connection is refused at once
    outcome, output, sweep_dir = _summary_in_a_fresh_process(
        tmp_path, port, {"project": "lab-test", "mode": "auto"}
    )
    assert outcome["run_id"] and outcome["run_id"].startswith("sweep-")
    assert outcome["seconds"] < 15, "wandb alone blocks ~100 s on a resumable run id"
    folder = _written_offline(sweep_dir, outcome["run_id"])
    assert f"W&B server unreachable (127.0.0.1:{port}" in output
    assert "continuing with W&B offline" in output
    assert f"sync later with `wandb sync {folder}`" in output
    assert "\x1b[" not in output, "no ANSI colour codes in output that is not a terminal"


@pytest.mark.slow
def test_sweep_summary_whose_online_start_hangs_falls_back_offline_within_its_timeouts(
    tmp_path: Path,
) -> None:
    """The server accepts connections (the check passes) and never answers: the online start
    gives up after `init_timeout`, and the offline run starts under the same run id once
    wandb's service lets go of it (ended for that); where it still holds it ("run ID ... is in
    use", seen on a loaded CI machine), the summary is disabled with a warning. Either way
    the sweep's end is held up by the timeouts only."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        outcome, output, sweep_dir = _summary_in_a_fresh_process(
            tmp_path,
            server.getsockname()[1],
            # init_timeout bounds the offline start too: 10 s leaves a loaded CI machine room
            # to start wandb's service (3 s failed there once: the run ended disabled)
            {"project": "lab-test", "mode": "auto", "init_timeout": 10, "connect_timeout": 2},
        )
    # connect check (2) + init_timeout (10) + wandb's grace and a new service; no retries
    # (wandb alone: ~100 s on a resumable run id).
    assert outcome["seconds"] < 45, output[-3000:]
    assert "W&B could not start (" in output and "continuing with W&B offline" in output
    assert "not written" not in output
    if outcome["run_id"]:  # wandb's service let go of the failed run's id: written offline
        _written_offline(sweep_dir, outcome["run_id"])  # the failed online folder is gone too
    else:  # it did not (seen on a loaded CI machine): disabled, said, the sweep not held up
        assert "is in use); continuing with W&B disabled" in output, output[-3000:]
    assert "\x1b[" not in output, "wandb's service footer (ANSI colours) stays silent"


def test_sweep_summary_falls_back_like_a_trial_and_uses_the_trials_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Every start fails but a disabled one: online, offline, then disabled, with the trials'
    warnings and settings; nothing is written, and the sweep goes on."""
    import optuna
    import wandb
    from omegaconf import OmegaConf

    from lab.sweeps.wandb_summary import log_study_to_wandb
    from lab.training import wandb_start
    from lab.training.loggers import wandb_logger

    calls: list[dict[str, Any]] = []
    teardowns: list[str] = []
    real_init = wandb.init

    def init(**arguments: Any) -> Any:
        calls.append(dict(arguments))
        if arguments["mode"] != "disabled":
            raise RuntimeError(f"no {arguments['mode']} today")
        return real_init(mode="disabled")

    monkeypatch.setattr(wandb, "init", init)
    monkeypatch.setattr(wandb, "teardown", lambda: teardowns.append(calls[-1]["mode"]))
    monkeypatch.setattr(wandb_start, "wandb_server_unreachable", lambda timeout: None)
    monkeypatch.setenv("WANDB_MODE", "online")
    study = optuna.create_study(study_name="s", direction="maximize")
    study.enqueue_trial({})
    study.tell(study.ask(), 0.5)
    config = OmegaConf.create({"logger": {"wandb": {"project": "lab-test", "mode": "auto"}}})
    with caplog.at_level(logging.WARNING):
        assert log_study_to_wandb(study, config, tmp_path) is None
    assert [c["mode"] for c in calls] == ["online", "offline", "disabled"]
    assert teardowns == ["online"], "the failed online run's id is released for offline"
    # lab's records only: Optuna's ("A new study created ...") reach caplog when an earlier
    # test on this worker left its logger propagating.
    assert [r.getMessage() for r in caplog.records if r.name.startswith("lab.")] == [
        "W&B could not start (no online today); continuing with W&B offline",
        "W&B could not start (no offline today); continuing with W&B disabled",
    ]
    trials = wandb_logger(project="lab-test", save_dir=str(tmp_path / "trial"))
    summary_settings = calls[0]["settings"]
    trial_settings = trials._wandb_init["settings"]
    assert summary_settings.init_timeout == trial_settings.init_timeout == 30
    assert summary_settings.silent and trial_settings.silent
    assert not (tmp_path / "wandb").exists() or not list((tmp_path / "wandb").iterdir())


@pytest.mark.parametrize(
    ("kind", "error"), [("regular file", "Not a directory"), ("/proc", "No such file")]
)
def test_an_unusable_wandb_dir_is_one_warning_and_wandb_disabled(
    kind: str,
    error: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from lab.training.loggers import wandb_logger

    if kind == "regular file":
        save_dir = tmp_path / "not-a-dir"
        save_dir.write_text("")
    else:
        save_dir = Path("/proc/labwandb")  # cannot be created, by root either
    monkeypatch.setenv("WANDB_MODE", "offline")
    with caplog.at_level(logging.WARNING):
        logger = wandb_logger(project="lab-test", save_dir=str(save_dir))
        try:
            logger.log_metrics({"train/loss": 0.5}, step=0)  # starts the (disabled) run
        finally:
            import wandb

            wandb.finish()
    (warning,) = [r.getMessage() for r in caplog.records]
    assert warning.startswith(f"W&B directory {save_dir} cannot be used ({error}")
    assert warning.endswith("continuing with W&B disabled")
    assert logger._wandb_init["mode"] == "disabled"
    assert "dir" not in logger._wandb_init, "wandb is not handed the directory to warn about"
    assert save_dir.is_file() if kind == "regular file" else not save_dir.exists()


@pytest.mark.slow
def test_a_run_whose_wandb_save_dir_is_a_file_finishes_without_wandb(
    compose_cfg: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`logger.wandb.save_dir=<a regular file>` failed the run in the logger's instantiation
    (exit 1, record.json `failed`); now it trains, logs its CSV metrics, and says why once."""
    from lab.train import run

    monkeypatch.setenv("WANDB_MODE", "offline")
    not_a_dir = tmp_path / "not-a-dir"
    not_a_dir.write_text("")
    overrides = [o for o in TINY_FIXTURE_RUN if not o.startswith("logger=")]
    cfg = compose_cfg(
        *overrides,
        "logger=default",
        f"logger.wandb.save_dir={not_a_dir}",
        "trainer.max_epochs=1",
        output_dir=tmp_path / "run",
    )
    with caplog.at_level(logging.WARNING):
        metrics = run(cfg)
    assert "val/acc" in metrics
    record = json.loads((tmp_path / "run" / "record.json").read_text())
    assert record["status"] == "finished"
    assert (tmp_path / "run" / "csv" / "metrics.csv").is_file()
    said = [r.getMessage() for r in caplog.records if "W&B" in r.getMessage()]
    assert said == [
        f"W&B directory {not_a_dir} cannot be used (Not a directory); continuing with W&B disabled"
    ]
    assert not_a_dir.is_file() and not (tmp_path / "run" / "wandb").exists()


def test_a_run_id_still_held_is_released_and_the_same_mode_tried_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """wandb's service may still hold a failed start's run id when the fallback starts ("run
    ID ... is in use"): the service is ended (the failed run is the active one) and the same
    mode tried once more, not dropped to disabled."""
    from types import SimpleNamespace

    from lab.training.wandb_start import start_wandb_run

    ended: list[bool] = []
    fake = SimpleNamespace(run=SimpleNamespace(id="sweep-1"), teardown=lambda: ended.append(True))
    monkeypatch.setitem(sys.modules, "wandb", fake)
    monkeypatch.setattr("lab.training.wandb_start.time.sleep", lambda seconds: None)
    tries: list[str] = []
    arguments = {"mode": "offline", "id": "sweep-1"}

    def start() -> str:
        tries.append(arguments["mode"])
        if len(tries) == 1:
            raise RuntimeError("run ID sweep-1 is in use")
        return "run"

    assert start_wandb_run(start, arguments) == "run"
    assert tries == ["offline", "offline"] and ended == [True]
    # another run active in the process (a trial's): never ended; the fallback goes on
    fake.run = SimpleNamespace(id="trial-3")
    tries.clear()
    ended.clear()
    arguments = {"mode": "offline", "id": "sweep-1"}
    assert start_wandb_run(start, arguments) == "run"
    assert tries == ["offline", "disabled"] and ended == []


BACKGROUND_RELEASE_PROBE = """
import json, sys, threading
import wandb
import lab.training.loggers as loggers
from lab.training.loggers import wandb_logger

ended_in = []
real_teardown = wandb.teardown
def teardown():
    ended_in.append(threading.current_thread().name)
    real_teardown()
wandb.teardown = teardown
real_start = loggers.start_wandb_experiment
calls = []
def start(logger):
    calls.append(1)
    if len(calls) == 1:  # what wandb's service says when it still holds the id
        raise RuntimeError("run ID resumed-run-1 is in use")
    return real_start(logger)
loggers.start_wandb_experiment = start
logger = wandb_logger(project="p", save_dir=sys.argv[1], mode="offline")
logger.resume_from(10, {"wandb_run_id": "resumed-run-1"})
logger.start_in_background()
run = logger.experiment
record = {}
logger.record_identity(record)
print(json.dumps({"ended_in": ended_in, "id": run.id,
                  "mode": record.get("wandb", {}).get("mode")}))
run.finish()
"""


def test_a_held_run_id_is_released_from_the_background_start_thread(tmp_path: Path) -> None:
    """A resumed run's W&B start (in the `wandb-start` thread, beside building the model)
    that finds its run id still held: wandb's service is ended from that thread, with the
    real wandb, and the run starts offline under its id."""
    result = subprocess.run(
        [sys.executable, "-c", BACKGROUND_RELEASE_PROBE, str(tmp_path)],
        env={**os.environ, "WANDB_MODE": "offline"},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer == {
        "ended_in": ["wandb-start"],
        "id": "resumed-run-1",
        "mode": "offline",
    }
    runs = [p.name for p in (tmp_path / "wandb").glob("offline-run-*")]
    assert len(runs) == 1 and runs[0].endswith("-resumed-run-1")  # the failed start left none
