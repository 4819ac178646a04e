"""s32e F4: lab.compare counts the runs it leaves out for want of metrics.json by how each
ended (its record's status, and its lock: a process that trains a run holds it), and names
each with it; a SIGKILLed run, whose record says running forever, is not called failed."""

from __future__ import annotations

import json
from pathlib import Path

from lab.compare_endings import ending
from lab.compare_find import unfinished_line
from lab.run_dir.run_lock import hold_run_lock, release_run_lock


def _run(folder: Path, record: object) -> Path:
    folder.mkdir(parents=True)
    text = record if isinstance(record, str) else json.dumps(record)
    (folder / "record.json").write_text(text)
    return folder


def test_unfinished_runs_are_counted_and_named_by_how_they_ended(tmp_path: Path) -> None:
    failed = [_run(tmp_path / f"f{i}", {"status": f"failed: E{i}"}) for i in (1, 2)]
    term = _run(tmp_path / "t", {"status": "interrupted (SIGTERM); continue with resume=t"})
    training = _run(tmp_path / "r", {"status": "running"})
    killed = _run(tmp_path / "k", {"status": "running"})
    lock = hold_run_lock(training, resuming=False)  # another open file: as another process
    try:
        line = unfinished_line([killed, failed[0], training, term, failed[1]])
    finally:
        release_run_lock(lock)
    assert line == (
        "left out 5 runs that did not finish (no metrics.json: 2 failed, 1 interrupted, "
        f"1 still running, 1 whose process is gone (killed?)): {killed} (process gone: "
        f"killed?), {failed[0]} (failed), {training} (being trained now), {term} "
        f"(interrupted (SIGTERM)), {failed[1]} (failed)"
    )
    # its lock free again: the same run is now one whose process is gone
    assert ending(training) == ("whose process is gone (killed?)", "process gone: killed?")


def test_a_pruned_run_an_odd_status_and_an_unreadable_record(tmp_path: Path) -> None:
    pruned = _run(tmp_path / "p", {"status": "pruned at step 10"})
    odd = _run(tmp_path / "o", {"status": "finished"})  # its metrics.json deleted
    cut = _run(tmp_path / "c", '{"status": "runn')
    assert unfinished_line([odd, cut, pruned]) == (
        "left out 3 runs that did not finish (no metrics.json: 1 pruned, 1 with status "
        f"'finished', 1 with no readable status): {odd} (status 'finished'), {cut} (no "
        f"readable status), {pruned} (pruned)"
    )
