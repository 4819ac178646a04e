"""Exact resume: kill a run mid-epoch (SIGKILL, SIGTERM), resume it, get the same results."""

from __future__ import annotations

import csv
import json
import shlex
from pathlib import Path
from typing import Any

import pytest
import torch

from lab.errors import EXIT_INTERRUPTED, LabError
from lab.train import run
from lab.training.checkpoint_writer import AtomicCheckpointIO

from conftest import TINY_FIXTURE_RUN, lab_cli

HELPERS = Path(__file__).resolve().parent / "helpers"
# Lets the runs' config name `fault_injection.KillAtStep` (tests/helpers).
FAULT_INJECTION = {"PYTHONPATH": str(HELPERS)}
# 56 train rows / batch 16 = 4 steps per epoch; 3 epochs = 12 steps; last.ckpt every 2 steps.
RESUMABLE_RUN = [
    *TINY_FIXTURE_RUN,
    "trainer.max_epochs=3",
    "callbacks.last_checkpoint.every_n_train_steps=2",
    "+callbacks.fault={_target_: fault_injection.KillAtStep}",
]


def _losses(run_dir: Path) -> list[tuple[str, str]]:
    with (run_dir / "csv" / "metrics.csv").open() as handle:
        return [(r["step"], r["train/loss"]) for r in csv.DictReader(handle) if r.get("train/loss")]


def _only_run(root: Path) -> Path:
    (run_dir,) = root.glob("runs/*/*")
    return run_dir


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("uninterrupted")
    result = lab_cli("train", *RESUMABLE_RUN, "paths.output_root=out", cwd=cwd, env=FAULT_INJECTION)
    assert result.returncode == 0, result.stderr[-3000:]
    return _only_run(cwd / "out")


@pytest.mark.slow
@pytest.mark.parametrize("signal_name", ["SIGKILL", "SIGTERM"])
def test_killed_mid_epoch_then_resumed_matches_uninterrupted(
    signal_name: str, uninterrupted: Path, tmp_path: Path
) -> None:
    kill = {"LAB_TEST_KILL_AT_STEP": "7", "LAB_TEST_KILL_SIGNAL": signal_name}
    first = lab_cli(
        "train",
        *RESUMABLE_RUN,
        "paths.output_root=out",
        cwd=tmp_path,
        env={**FAULT_INJECTION, **kill},
    )
    run_dir = _only_run(tmp_path / "out")
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    record = json.loads((run_dir / "record.json").read_text())
    if signal_name == "SIGKILL":
        assert first.returncode == -9
        assert checkpoint["global_step"] == 6  # the last 2-step checkpoint before the kill
        assert record["status"] == "running"
    else:
        assert first.returncode == EXIT_INTERRUPTED, first.stderr[-2000:]
        assert (
            first.stderr.strip()
            .splitlines()[-1]
            .endswith(
                "Continue with: "
                + shlex.join(["python", "-m", "lab.train", *RESUMABLE_RUN, "paths.output_root=out"])
                + f" resume={run_dir}"
            )
        )
        assert checkpoint["global_step"] == 7  # saved on SIGTERM after the current batch
        assert record["status"].startswith("interrupted")
    assert not (run_dir / "metrics.json").exists()

    resumed = lab_cli(
        "train",
        *RESUMABLE_RUN,
        "paths.output_root=out",
        "resume=auto",
        cwd=tmp_path,
        env=FAULT_INJECTION,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert _only_run(tmp_path / "out") == run_dir, "resumed in place, no new run directory"
    # lab resumes exactly: Lightning's resume warnings go to train.log, not the console.
    screen, log_file = resumed.stdout + resumed.stderr, (run_dir / "train.log").read_text()
    for report in ("exists and is not empty", "your dataloader is not resumable"):
        assert report not in screen and report in log_file, report
    step = checkpoint["global_step"]
    assert f"every weight from the resumed checkpoint checkpoints/last.ckpt (step {step})" in screen
    record = json.loads((run_dir / "record.json").read_text())
    assert record["status"] == "finished"
    assert [r["from_step"] for r in record["resumes"]] == [checkpoint["global_step"]]
    # Bit-identical: the same metrics and the same loss curve as a run never interrupted.
    assert (run_dir / "metrics.json").read_text() == (uninterrupted / "metrics.json").read_text()
    assert _losses(run_dir) == _losses(uninterrupted)
    assert len(_losses(run_dir)) == 12


@pytest.mark.slow
def test_sigterm_on_an_epochs_last_step_resumes_at_the_next_epochs_first_batch(
    uninterrupted: Path, tmp_path: Path
) -> None:
    """SIGTERM on step 4, the first epoch's last: Lightning raises it after counting the epoch
    complete, and the checkpoint said "4 batches done" of the epoch already next, so the resumed
    run skipped that whole epoch (its CSV rows carried epoch 2 where the uninterrupted run's
    carry epoch 1, with other losses; metrics.json happened to agree)."""
    kill = {"LAB_TEST_KILL_AT_STEP": "4", "LAB_TEST_KILL_SIGNAL": "SIGTERM"}
    run_args = [*RESUMABLE_RUN, "paths.output_root=out"]
    first = lab_cli("train", *run_args, cwd=tmp_path, env={**FAULT_INJECTION, **kill})
    assert first.returncode == EXIT_INTERRUPTED, first.stderr[-2000:]
    run_dir = _only_run(tmp_path / "out")
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["global_step"] == 4
    assert checkpoint["lab_data_position"] == {"epoch": 1, "batches_done": 0}
    resumed = lab_cli("train", *run_args, "resume=auto", cwd=tmp_path, env=FAULT_INJECTION)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    for name in ("metrics.json", "csv/metrics.csv"):
        assert (run_dir / name).read_text() == (uninterrupted / name).read_text(), name


def _kill_then_resume(run: list[str], kill_at: int, cwd: Path) -> tuple[Path, dict[str, Any]]:
    """SIGKILL a run after step `kill_at`, then resume it: its directory and the checkpoint
    the resume started from."""
    env = {**FAULT_INJECTION, "LAB_TEST_KILL_AT_STEP": str(kill_at)}
    assert lab_cli("train", *run, cwd=cwd, env=env).returncode == -9
    run_dir = _only_run(cwd / "out")
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=False)
    resumed = lab_cli("train", *run, "resume=auto", cwd=cwd, env=FAULT_INJECTION)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    return run_dir, checkpoint


def _uninterrupted_in_process(
    compose_cfg: Any, overrides: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The run never interrupted, in this process: only the reference the interrupted and
    resumed processes (real kills) are compared with, so no process start-up is paid for it."""
    monkeypatch.syspath_prepend(str(HELPERS))  # the runs' `fault_injection.KillAtStep`
    run_dir = tmp_path / "whole"
    run(compose_cfg(*overrides, output_dir=run_dir))
    return run_dir


def _best_score(checkpoint: dict[str, Any]) -> Any:
    (state,) = (v for k, v in checkpoint["callbacks"].items() if "'monitor': 'val/acc'" in k)
    return state["best_model_score"]


@pytest.mark.slow
def test_a_checkpoint_due_before_a_validation_is_written_after_it(
    uninterrupted: Path, tmp_path: Path
) -> None:
    """Step 4 is epoch 0's last batch: Lightning saved last.ckpt before that epoch's
    validation and, resumed from it, never ran the validation (the best checkpoint became
    epoch 1's and the final metrics differed). lab writes it after the epoch's validation."""
    run = [*RESUMABLE_RUN, "paths.output_root=out"]
    run_dir, checkpoint = _kill_then_resume(run, kill_at=5, cwd=tmp_path)
    assert checkpoint["global_step"] == 4
    assert _best_score(checkpoint) is not None  # epoch 0's validation is in the checkpoint
    assert (run_dir / "metrics.json").read_text() == (uninterrupted / "metrics.json").read_text()
    metrics_csv = "csv/metrics.csv"
    assert (run_dir / metrics_csv).read_text() == (uninterrupted / metrics_csv).read_text()
    assert sorted(p.name for p in (run_dir / "checkpoints").glob("best-*")) == sorted(
        p.name for p in (uninterrupted / "checkpoints").glob("best-*")
    )


@pytest.mark.slow
def test_a_checkpoint_due_before_a_mid_epoch_validation_is_written_after_it(
    compose_cfg: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`val_check_interval=0.5` validates after steps 2 and 4 of each epoch, and every
    2-step save falls on one of them: killed after step 3, resumed, the same run."""
    mid_epoch = [*RESUMABLE_RUN, "trainer.val_check_interval=0.5"]
    uninterrupted = _uninterrupted_in_process(compose_cfg, mid_epoch, tmp_path, monkeypatch)
    (tmp_path / "cut").mkdir()
    args = [*mid_epoch, "paths.output_root=out"]
    run_dir, checkpoint = _kill_then_resume(args, kill_at=3, cwd=tmp_path / "cut")
    assert checkpoint["global_step"] == 2 and _best_score(checkpoint) is not None
    for name in ("metrics.json", "csv/metrics.csv"):
        assert (run_dir / name).read_text() == (uninterrupted / name).read_text(), name


@pytest.mark.slow
def test_lora_run_interrupted_then_resumed_matches_uninterrupted(
    compose_cfg: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PEFT checkpoint holds what resuming needs: adapter, head, optimizer, loop state."""
    lora = [*RESUMABLE_RUN, "peft=lora", "optimizer.lr=1e-2"]
    uninterrupted = _uninterrupted_in_process(compose_cfg, lora, tmp_path, monkeypatch)
    (tmp_path / "cut").mkdir()
    lora.append("paths.output_root=out")
    kill = {"LAB_TEST_KILL_AT_STEP": "7", "LAB_TEST_KILL_SIGNAL": "SIGTERM"}
    first = lab_cli("train", *lora, cwd=tmp_path / "cut", env={**FAULT_INJECTION, **kill})
    assert first.returncode == EXIT_INTERRUPTED, first.stderr[-2000:]
    resumed = lab_cli("train", *lora, "resume=auto", cwd=tmp_path / "cut", env=FAULT_INJECTION)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    run_dir = _only_run(tmp_path / "cut" / "out")
    assert (run_dir / "metrics.json").read_text() == (uninterrupted / "metrics.json").read_text()
    assert _losses(run_dir) == _losses(uninterrupted)
    assert (run_dir / "adapter" / "adapter_model.safetensors").is_file()


@pytest.mark.slow
def test_resume_refuses_a_finished_run(uninterrupted: Path, compose_cfg: Any) -> None:
    before = (uninterrupted / "record.json").read_text()
    cfg = compose_cfg(*RESUMABLE_RUN, f"resume={uninterrupted}", output_dir=uninterrupted)
    with pytest.raises(LabError, match="already finished"):
        run(cfg)
    assert (uninterrupted / "record.json").read_text() == before


@pytest.mark.slow
def test_a_refused_resume_leaves_hydras_record_of_the_run_as_it_was(
    uninterrupted: Path, tmp_path: Path
) -> None:
    """Hydra writes .hydra/ before lab checks a resume: into a run directory that has it, the
    attempt's copy goes to .hydra/resume-<time>/, the run's own record untouched."""
    record = {p.name: p.read_bytes() for p in (uninterrupted / ".hydra").glob("*.yaml")}
    assert set(record) == {"config.yaml", "hydra.yaml", "overrides.yaml"}
    refused = lab_cli(
        "train",
        *RESUMABLE_RUN,
        "trainer.max_epochs=3",
        f"resume={uninterrupted}",
        cwd=tmp_path,
        env=FAULT_INJECTION,
    )
    assert refused.returncode == 2 and "already finished" in refused.stderr, refused.stderr[-2000:]
    assert {p.name: p.read_bytes() for p in (uninterrupted / ".hydra").glob("*.yaml")} == record
    attempts = [
        a for a in (uninterrupted / ".hydra").glob("resume-*")
        if "trainer.max_epochs=3" in (a / "overrides.yaml").read_text()
    ]  # fmt: skip
    assert len(attempts) == 1


def _interrupted_copy(source: Path, target: Path) -> Path:
    import shutil

    shutil.copytree(source, target)
    record = json.loads((target / "record.json").read_text())
    record["status"] = "running"
    (target / "record.json").write_text(json.dumps(record))
    # The copied config points at the original directory; make it this one's.
    config = (target / "config.yaml").read_text().replace(str(source), str(target))
    (target / "config.yaml").write_text(config)
    return target


@pytest.mark.slow
def test_resume_refuses_a_different_config_and_shows_the_diff(
    uninterrupted: Path, compose_cfg: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(HELPERS))
    run_dir = _interrupted_copy(uninterrupted, tmp_path / "run")
    cfg = compose_cfg(
        *RESUMABLE_RUN,
        "paths.output_root=out",
        "optimizer.lr=0.001",
        f"resume={run_dir}",
        output_dir=run_dir,
    )
    with pytest.raises(LabError) as caught:
        run(cfg)
    assert "the config differs" in str(caught.value)
    assert "optimizer.lr: 5e-05 -> 0.001" in str(caught.value)
    # The way out: the run's own overrides (record.json), the resume added.
    recorded = json.loads((run_dir / "record.json").read_text())["overrides"]
    assert "paths.output_root=out" in recorded
    assert str(caught.value).splitlines()[-1] == (
        "resume it with the overrides it ran with: "
        + shlex.join(["python", "-m", "lab.train", *recorded, f"resume={run_dir}"])
    )


@pytest.mark.slow
def test_resume_refuses_a_run_another_process_trains_now(
    uninterrupted: Path, compose_cfg: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A resume started while the run's own process still trains (a requeue that came too
    early) made two processes write one run directory; it is refused before touching it,
    and accepted once that process is gone (its lock goes with it)."""
    from lab.run_dir.run_lock import hold_run_lock, release_run_lock

    monkeypatch.syspath_prepend(str(HELPERS))
    run_dir = _interrupted_copy(uninterrupted, tmp_path / "run")
    before = {p: p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()}
    held = hold_run_lock(run_dir, resuming=False)  # the process training it
    cfg = compose_cfg(*RESUMABLE_RUN, "paths.output_root=out", f"resume={run_dir}")
    with pytest.raises(LabError) as caught:
        run(cfg)
    assert str(caught.value).startswith(
        f"{run_dir} is being trained by another process now, so it cannot be resumed here"
    )
    assert {p: p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()} == before
    release_run_lock(held)
    release_run_lock(hold_run_lock(run_dir, resuming=True))  # free again once it is gone


@pytest.mark.slow
def test_resume_refuses_data_that_differs_from_what_the_run_trained_on(
    uninterrupted: Path, compose_cfg: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The train file was replaced between the interrupt and the resume (here: the record's
    fingerprint is another's): the rest of the run would train on other rows and the record
    would claim them. Refused, naming the split; the record is left as it was (the data it
    ran on, the status saying how to continue)."""
    monkeypatch.syspath_prepend(str(HELPERS))
    run_dir = _interrupted_copy(uninterrupted, tmp_path / "run")
    record = json.loads((run_dir / "record.json").read_text())
    now = record["data"]["train"]["sha256"]
    record["data"]["train"]["sha256"] = "ab" * 32
    (run_dir / "record.json").write_text(json.dumps(record))
    before = (run_dir / "record.json").read_bytes()
    cfg = compose_cfg(
        *RESUMABLE_RUN, "paths.output_root=out", f"resume={run_dir}", output_dir=run_dir
    )
    with pytest.raises(LabError) as caught:
        run(cfg)
    rows = record["data"]["train"]["rows"]
    assert str(caught.value).startswith(
        f"cannot resume {run_dir}: its data differs from what it trained on: train (sha256 "
        f"abababababab... with {rows} rows then, {now[:12]}... with {rows} rows now). Restore "
        "that data and continue with python -m lab.train "
    )
    assert (run_dir / "record.json").read_bytes() == before


@pytest.mark.slow
def test_resume_refuses_a_corrupt_checkpoint(
    uninterrupted: Path, compose_cfg: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(HELPERS))
    run_dir = _interrupted_copy(uninterrupted, tmp_path / "run")
    last = run_dir / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    cfg = compose_cfg(
        *RESUMABLE_RUN, "paths.output_root=out", f"resume={run_dir}", output_dir=run_dir
    )
    with pytest.raises(LabError, match=r"last\.ckpt is corrupt or unreadable") as caught:
        run(cfg)
    (best,) = (run_dir / "checkpoints").glob("best-*.ckpt")
    assert str(caught.value).startswith(f"cannot resume {run_dir}: checkpoint {last} is corrupt")
    assert str(caught.value).endswith(
        f"; restore it from a copy to continue, or copy checkpoints/{best.name} (step "
        f"{torch.load(best, weights_only=True)['global_step']}) to checkpoints/last.ckpt to "
        "continue from there, or start the run again without resume="
    )
    # Deleted after the run wrote it: said so, not "interrupted before writing a checkpoint".
    last.unlink()
    record = json.loads((run_dir / "record.json").read_text())
    record["status"] = f"interrupted (SIGTERM); continue with resume={run_dir}"
    (run_dir / "record.json").write_text(json.dumps(record))
    with pytest.raises(LabError, match=r"checkpoints/last\.ckpt is missing, though the run wrote"):
        run(cfg)


def test_resume_refuses_a_directory_that_is_not_a_run(compose_cfg: Any, tmp_path: Path) -> None:
    cfg = compose_cfg(*TINY_FIXTURE_RUN, f"resume={tmp_path}", output_dir=tmp_path)
    with pytest.raises(LabError, match="not a lab run directory"):
        run(cfg)
    missing = tmp_path / "nope"
    cfg = compose_cfg(*TINY_FIXTURE_RUN, f"resume={missing}", output_dir=missing)
    with pytest.raises(LabError, match=f"^cannot resume: {missing} does not exist$"):
        run(cfg)


def test_a_kill_during_save_leaves_the_previous_checkpoint_loadable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    io = AtomicCheckpointIO()
    path = tmp_path / "last.ckpt"
    io.save_checkpoint({"step": 1, "weights": torch.arange(1000)}, path)

    def dies_half_way(obj: Any, handle: Any) -> None:
        handle.write(b"PK\x03\x04 partial bytes of a checkpoint")
        raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(torch, "save", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"step": 2, "weights": torch.arange(5)}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True)["step"] == 1
    assert list(tmp_path.iterdir()) == [path], "no temporary file left behind"
