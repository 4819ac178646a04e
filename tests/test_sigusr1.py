"""SIGUSR1 (SLURM's `--signal=USR1@90` before a time limit) stops lab as SIGTERM does, and the
lines that say how an interrupted or failed run continues (s21b M1, M3, L2, L5).

* `lab.train` saves `last.ckpt` after the batch, records `interrupted (SIGUSR1)`, prints the
  resume command and exits 138; before training it stops at once, in the same words. Under
  SLURM Lightning's own auto-requeue stays off: no `hpc_ckpt_*.ckpt`, no `scontrol requeue`.
* Under DDP a SIGUSR1 to rank 0 alone stops both ranks after the same batch (no collective in
  a signal handler).
* The tools (`run_tool(stop_on_sigterm=True)`) stop on it in words too.
* The interruption line gives the step of `last.ckpt`; a checkpoint that cannot be read is
  said in one line; a disk fault before the first `last.ckpt` gives the command to start again.
"""

from __future__ import annotations

import os
import shlex
import signal
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from lightning.pytorch.utilities.exceptions import SIGTERMException

from lab.errors import EXIT_INTERRUPTED_SIGUSR1, LabError
from lab.run_dir.endings import interrupted_message, interrupting_signal, note_training_ended
from lab.tool_interrupts import ToolInterrupted, exit_code, sigterm_interrupts
from lab.training.checkpointing import read_checkpoint
from lab.training.trainer import build_trainer, cluster_plugins
from test_disk_faults import FAULTABLE_RUN, FAULTS_ON_PATH, NO_SPACE, only_run, record_of

from conftest import DDP_FAULTABLE_RUN, TINY_FIXTURE_RUN, lab_cli, train_and_signal

# Long enough (200 epochs of 4 steps) that a signal sent after the first progress line lands
# in training, whatever the machine's speed; `last.ckpt` every 2 steps.
LONG_RUN = [
    *(o for o in TINY_FIXTURE_RUN if not o.startswith("trainer.max_epochs=")),
    "trainer.max_epochs=200",
    "callbacks.last_checkpoint.every_n_train_steps=2",
    "paths.output_root=out",
]
# What Lightning's SLURM detection reads (one task, a batch job's name: not `bash`).
SLURM_JOB = {
    "SLURM_JOB_ID": "4242",
    "SLURM_JOB_NAME": "train",
    "SLURM_NTASKS": "1",
    "SLURM_PROCID": "0",
    "SLURM_LOCALID": "0",
    "SLURM_NODEID": "0",
}


# ----------------------------------------------------------------------- in lab.train
def _signal_after_first_progress_line(cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run LONG_RUN, send SIGUSR1 once its first validation's progress line is out (it then
    trains epoch 2); its exit code and output."""

    def first(line: str) -> bool:
        return line.startswith("epoch 1/200 | step 4/800 | ")

    return train_and_signal(cwd, LONG_RUN, first, signal.SIGUSR1, env)


@pytest.mark.slow
@pytest.mark.parametrize("under_slurm", [False, True], ids=["plain", "slurm"])
def test_sigusr1_in_training_saves_last_ckpt_records_and_exits_138(
    under_slurm: bool, tmp_path: Path
) -> None:
    env: dict[str, str] = {}
    if under_slurm:  # and an `scontrol` that notes any requeue Lightning would ask for
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        scontrol = bin_dir / "scontrol"
        scontrol.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "requeued"}\n')
        scontrol.chmod(0o755)
        env = {**SLURM_JOB, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    code, output = _signal_after_first_progress_line(tmp_path, env)

    assert code == EXIT_INTERRUPTED_SIGUSR1 == 138, output[-3000:]
    run_dir = only_run(tmp_path / "out")
    last = run_dir / "checkpoints" / "last.ckpt"
    step = torch.load(last, weights_only=True)["global_step"]
    assert 4 <= step < 800  # saved in training, after the batch (or epoch end) it landed on
    assert f"warning: SIGUSR1: saved {last} at step {step}" in output
    resume = shlex.join(["python", "-m", "lab.train", *LONG_RUN, f"resume={run_dir}"])
    said = (
        f"interrupted by SIGUSR1; the last checkpoint is {last} (step {step}). Continue with: "
        f"{resume}"
    )
    assert output.strip().splitlines()[-1] == said
    assert (run_dir / "train.log").read_text().strip().splitlines()[-1].endswith(said)
    assert record_of(run_dir)["status"] == f"interrupted (SIGUSR1); continue with resume={run_dir}"
    assert "Traceback" not in output
    # lab's is the one requeue path: none of Lightning's SLURM auto-requeue.
    assert list(run_dir.rglob("hpc_ckpt_*")) == []
    assert not (tmp_path / "requeued").exists()
    for text in (output, (run_dir / "train.log").read_text()):
        assert "auto-requeue" not in text and "requeu" not in text.lower()


@pytest.mark.slow
def test_sigusr1_before_training_stops_at_once_in_words(tmp_path: Path) -> None:
    env = {**FAULTS_ON_PATH, "LAB_TEST_SIGNAL_AT": "setup_fit", "LAB_TEST_SIGNAL": "SIGUSR1"}
    result = lab_cli("train", *FAULTABLE_RUN, cwd=tmp_path, env=env)
    assert result.returncode == 138, result.stderr[-3000:]
    run_dir = only_run(tmp_path / "out")
    no_checkpoint = "no checkpoint was written; start the run again"
    command = shlex.join(["python", "-m", "lab.train", *FAULTABLE_RUN])
    assert result.stderr.strip().splitlines()[-1] == (
        f"interrupted by SIGUSR1; {no_checkpoint}: {command}"
    )
    assert record_of(run_dir)["status"] == f"interrupted (SIGUSR1); {no_checkpoint}"


@pytest.mark.slow
def test_ddp_sigusr1_to_rank_zero_alone_stops_both_ranks_after_the_same_batch(
    tmp_path: Path,
) -> None:
    """As SIGTERM (`test_resume_mid_group`): the ranks agree at each batch's end whether any
    got a stop signal, and which; here one step after rank 0 got it."""
    ddp = DDP_FAULTABLE_RUN
    kill = {"LAB_TEST_KILL_AT_STEP": "2", "LAB_TEST_KILL_SIGNAL": "SIGUSR1"}
    env = {**FAULTS_ON_PATH, **kill, "LAB_TEST_KILL_RANK": "0"}
    result = lab_cli("train", *ddp, cwd=tmp_path, env=env, timeout=240)
    assert result.returncode == 138, result.stderr[-3000:]
    run_dir = only_run(tmp_path / "out")
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=False)
    assert checkpoint["global_step"] == 3
    assert len(checkpoint["lab_rng_states_by_rank"]) == 2
    assert record_of(run_dir)["status"] == f"interrupted (SIGUSR1); continue with resume={run_dir}"


@pytest.mark.slow
def test_a_disk_fault_before_the_first_last_ckpt_says_how_to_start_again(tmp_path: Path) -> None:
    # Full from step 1: the first write, last.ckpt at step 2, fails; nothing to resume from.
    env = {**FAULTS_ON_PATH, "LAB_TEST_DISK_FULL_AT_STEP": "1"}
    result = lab_cli("train", *FAULTABLE_RUN, cwd=tmp_path, env=env)
    assert result.returncode == 2, result.stderr[-3000:]
    run_dir = only_run(tmp_path / "out")
    failure = f"cannot write {run_dir / 'checkpoints' / 'last.ckpt'}: {NO_SPACE}"
    again = shlex.join(["python", "-m", "lab.train", *FAULTABLE_RUN])
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {failure}; once fixed, start it again: {again}"
    )
    assert record_of(run_dir)["status"] == f"failed: {failure}"


# ----------------------------------------------------------------------------- units
def test_a_tool_stops_on_sigusr1_in_words_with_exit_138() -> None:
    before = signal.getsignal(signal.SIGUSR1)
    with pytest.raises(ToolInterrupted) as caught, sigterm_interrupts():
        os.kill(os.getpid(), signal.SIGUSR1)
    assert caught.value.signal_name == "SIGUSR1"
    assert exit_code("SIGUSR1") == EXIT_INTERRUPTED_SIGUSR1 == 138
    assert signal.getsignal(signal.SIGUSR1) is before  # put back


def test_lightnings_stop_names_the_signal_the_checkpoint_callback_gave_it() -> None:
    stop = SIGTERMException()
    assert interrupting_signal(stop) == "SIGTERM"  # Lightning's own SIGTERM
    stop.signal_name = "SIGUSR1"  # type: ignore[attr-defined]  # PreemptionCheckpoint's
    assert interrupting_signal(stop) == "SIGUSR1"


def test_the_interruption_line_gives_the_step_of_last_ckpt(tmp_path: Path) -> None:
    (tmp_path / "checkpoints").mkdir()
    last = tmp_path / "checkpoints" / "last.ckpt"
    torch.save({"global_step": 125, "state_dict": {}, "loops": {}}, last)
    overrides = ["model=tiny_bert", "seed=7"]
    resume = shlex.join(["python", "-m", "lab.train", *overrides, f"resume={tmp_path}"])
    assert interrupted_message("SIGINT", tmp_path, "", overrides) == (
        f"interrupted by SIGINT; the last checkpoint is {last} (step 125; later steps are "
        f"trained again). Continue with: {resume}"
    )
    # s30a F8: stopped in the test pass after training ended at that step: nothing to retrain.
    note_training_ended(125)
    try:
        assert interrupted_message("SIGINT", tmp_path, "", overrides) == (
            f"interrupted by SIGINT; the last checkpoint is {last} (step 125, where training "
            f"ended: a resume tests and exports only). Continue with: {resume}"
        )
    finally:
        note_training_ended(None)
    last.write_bytes(b"not a checkpoint")  # the step unknown: the line without it
    assert interrupted_message("SIGINT", tmp_path, "", overrides) == (
        f"interrupted by SIGINT; the last checkpoint is {last}. Continue with: {resume}"
    )


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        # torch's pickle error holds a newline
        (
            lambda whole: b"P" + bytes(100),
            "UnpicklingError: A load persistent id instruction was encountered, but no "
            "persistent_load function was specified.",
        ),
        # its zip reader adds a paragraph of advice ("This is an internal miniz error. ...")
        (
            lambda whole: whole[: len(whole) // 2],
            "RuntimeError: PytorchStreamReader failed reading zip archive: failed finding "
            "central directory.",
        ),
    ],
    ids=["pickle", "truncated"],
)
def test_a_corrupt_checkpoint_is_said_in_one_line(
    damage: Callable[[bytes], bytes], reason: str, tmp_path: Path
) -> None:
    path = tmp_path / "last.ckpt"
    torch.save({"global_step": 3, "state_dict": {"w": torch.zeros(64)}, "loops": {}}, path)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(LabError) as caught:
        read_checkpoint(path)
    assert str(caught.value) == f"checkpoint {path} is corrupt or unreadable ({reason})"


def test_under_slurm_the_trainer_gets_slurm_without_lightnings_auto_requeue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lightning.fabric.plugins.environments import LightningEnvironment, SLURMEnvironment

    for name in ("TORCHELASTIC_RUN_ID", *SLURM_JOB):
        monkeypatch.delenv(name, raising=False)
    assert cluster_plugins() == []  # no SLURM: Lightning's own detection
    for name, value in SLURM_JOB.items():
        monkeypatch.setenv(name, value)
    (plugin,) = cluster_plugins()
    assert isinstance(plugin, SLURMEnvironment) and plugin.auto_requeue is False
    trainer = build_trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False)
    # What Lightning's signal connector reads to decide on its SIGUSR1 handler.
    chosen = trainer._accelerator_connector.cluster_environment
    assert isinstance(chosen, SLURMEnvironment) and chosen.auto_requeue is False
    # Not beside a cluster environment already chosen, nor under torchrun, nor in `srun bash`.
    assert cluster_plugins(SimpleNamespace(cluster_environment=LightningEnvironment())) == []
    assert cluster_plugins(None, [LightningEnvironment()]) == []
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "7")
    assert cluster_plugins() == []
    monkeypatch.delenv("TORCHELASTIC_RUN_ID")
    monkeypatch.setenv("SLURM_JOB_NAME", "bash")
    assert cluster_plugins() == []
