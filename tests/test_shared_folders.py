"""A run another process trains now, seen by the other tools (s25c M1, M2, M3): lab.compare
says it is being trained rather than that it did not finish, lab.eval's advice does not write
into it, and the lock's refusal sends a new run to another folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from lab.compare_find import find_runs, unfinished_line
from lab.errors import LabError
from lab.run_dir.run_lock import held_elsewhere, hold_run_lock, release_run_lock
from lab.run_dir.runs import TrainedRun

RUNNING = {"status": "running", "seed": 1}


def _unfinished_run(folder: Path) -> Path:
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "checkpoints" / "last.ckpt").write_bytes(b"")
    (folder / "record.json").write_text(json.dumps(RUNNING))
    return folder


def test_a_run_being_trained_is_said_to_be_one(tmp_path: Path) -> None:
    training, ended = _unfinished_run(tmp_path / "a"), _unfinished_run(tmp_path / "b")
    lock = hold_run_lock(training, resuming=False)  # another open file: as another process
    try:
        assert held_elsewhere(training) and not held_elsewhere(ended)
        assert unfinished_line([training, ended]) == (
            "left out 2 runs that did not finish (no metrics.json: 1 still running, 1 whose "
            f"process is gone (killed?)): {training} (being trained now), {ended} (process "
            "gone: killed?)"  # s32e F4: its record still says running, its lock is free
        )
        with pytest.raises(LabError) as caught:
            find_runs([str(training)])
        assert str(caught.value) == (
            f"no finished runs (record.json + metrics.json) under {training} (1 run that did "
            f"not finish (no metrics.json: 1 still running): {training} (being trained now))"
        )
        advice = TrainedRun(training, OmegaConf.create({}), RUNNING).export_advice()
        assert advice == (
            "It is being trained now, and exports its model when it ends: wait for that; its "
            f"latest weights now, outside the run: python -m lab.export run={training} "
            "checkpoint=last output=<folder>"
        )
        with pytest.raises(LabError) as refused:
            hold_run_lock(training, resuming=False)
        assert str(refused.value).endswith(
            "choose another hydra.run.dir (or leave it out: each run gets a folder of its own)"
        )
        with pytest.raises(LabError) as refused:
            hold_run_lock(training, resuming=True)
        assert str(refused.value).endswith("wait for it to end (or stop it), then resume it")
    finally:
        release_run_lock(lock)
    assert TrainedRun(training, OmegaConf.create({}), RUNNING).export_advice() == (
        f"Export one from a checkpoint: python -m lab.export run={training} checkpoint=last"
    )
