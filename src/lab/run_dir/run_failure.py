"""A run that an error ended, recorded: `record.json` says how, `train.log` says why, and a
disk fault is raised as its one line (what `RunRecord.__exit__` does with an error).

* The record's status (`ending_status`) is written as every record is, atomically (a
  temporary file, then a rename). On a full disk that temporary file finds no space, even
  where the run's own files fill the disk (s26c M2: a 40 KB disk filled by config.yaml,
  `.hydra/` and `train.log`, the record stayed `running`). So when the disk refuses it for
  space, the record is written over in place where its file's blocks already hold the new
  text (`rewrite_in_place`): no block is needed, and it is one write of a few KB. Where
  even that fails, the error line says that record.json still says `running`.
* A disk fault ends the run's `train.log` with the line the console shows (s26c L2), where
  that file can still be written; where it cannot, its handler says so in one line
  (`lab.run_dir.log_file_faults`), never a traceback.
* A disk fault is raised as a `DiskError` whose line names the file and the OS reason (the
  file found before the failed write's frames are let go: `disk.file_being_written`) and
  what to run once the disk is fixed (`endings.disk_fault_line`).
* A bad row that stops a streamed run after it wrote a checkpoint is raised as a `DataError`
  of two lines: the row's, then that the checkpoints are kept and what continues the run
  once the data is fixed (`endings.data_fault_line`, s28a M3).
"""

from __future__ import annotations

import errno
import json
import logging
import os
from pathlib import Path
from typing import Any

from lab.errors import DataError, lab_error_in
from lab.run_dir.disk import DiskError, describe_os_error, disk_error, release_failed_write
from lab.run_dir.endings import data_fault_line, disk_fault_line, ending_status
from lab.run_dir.held_log import write_to_run_log

log = logging.getLogger(__name__)

# The OS refusing a write for want of space: an overwrite in place needs none.
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


def end_failed_run(
    output_dir: Path,
    record: dict[str, Any],
    error: BaseException,
    *,
    in_sweep: bool = False,
    recorded: bool = True,
) -> None:
    """Record how `error` ended the run in `output_dir` (`record`: its record, as it stands;
    `recorded`: False for a resume not yet committed, whose files stay as they were), and
    raise a disk fault as a one-line `DiskError`, and bad data met after a checkpoint as a
    `DataError` that says how to continue (`resumable_data_error`); any other error is left
    to go on."""
    from lab.run_dir.records import is_global_rank_zero  # records imports this module

    fault = disk_error(error, output_dir) if isinstance(error, Exception) else None
    # Worded before the failed write's frames are let go: they name the file it wrote.
    status = ending_status(error, output_dir, in_sweep) if recorded else ""
    if fault is not None:  # the failed write may still hold the space the record needs
        release_failed_write(error)
    unmarked = record_ending(output_dir, record, status) if recorded else None
    state = status.split(":", 1)[0].split(" (", 1)[0]  # failed, pruned, interrupted
    if fault is None:
        if unmarked:
            log.warning("record.json could not be marked %s (%s)", state, unmarked)
        continued = resumable_data_error(output_dir, record, error) if recorded else None
        if continued is not None and not in_sweep:  # a trial is the sweep's to continue
            if is_global_rank_zero():
                write_to_run_log(output_dir, f"the run failed: {continued}", logging.ERROR)
            raise continued from error
        return
    if unmarked:  # said once, in the line (the OS reason is the fault's)
        fault = DiskError(
            f"{fault}; record.json still says 'running' (it could not be marked {state})"
        )
    overrides = [str(o) for o in record.get("overrides") or []]
    line = disk_fault_line(fault, output_dir, overrides)
    if recorded and is_global_rank_zero():  # once, not once per DDP process
        write_to_run_log(output_dir, f"the run failed: {line}", logging.ERROR)
    raise DiskError(line) from error


def resumable_data_error(
    output_dir: Path, record: dict[str, Any], error: BaseException
) -> DataError | None:
    """The `DataError` that ended the run in `output_dir`, with a second line that says its
    checkpoints are kept and what continues it once the data is fixed
    (`endings.data_fault_line`); None for another error, or for a run that wrote no
    checkpoint.

    Only where the train split was streamed: its rows are read as training goes, so a bad
    one stops a run hours in, and a resume does not compare it with what the run started
    on. A split read whole was checked before the first step, and is fingerprinted: a
    resume refuses it once it is fixed (`records.check_same_data`)."""
    found = lab_error_in(error)
    if not isinstance(found, DataError):
        return None
    if ((record.get("data") or {}).get("train") or {}).get("sha256"):
        return None  # the train split was read whole (not streamed)
    overrides = [str(o) for o in record.get("overrides") or []]
    line = data_fault_line(output_dir, overrides)
    return DataError(f"{found}\n{line}") if line else None


def record_ending(output_dir: Path, record: dict[str, Any], status: str) -> str | None:
    """Write `status` into the run's record.json (`records.finish_record`), in place where
    the disk has no room for the atomic write's temporary file; None once it is written,
    else why not (`cannot write <run>/record.json: <OS reason>`)."""
    from lab.run_dir.records import finish_record, is_global_rank_zero

    path = output_dir / "record.json"
    try:
        finish_record(output_dir, record, {}, status=status)
        return None
    except OSError as err:
        refused = err
    if refused.errno in _NO_SPACE and is_global_rank_zero():
        try:
            rewrite_in_place(path, record)
            return None
        except OSError as err:
            refused = err
    return describe_os_error(refused, path)


def rewrite_in_place(path: Path, data: dict[str, Any]) -> None:
    """Write `data` as `records.write_json` does, over the file at `path` where it lies,
    where the file's blocks already hold the new text; else `OSError(ENOSPC)`.

    For a disk with no block left: writing over blocks a file holds takes none (on file
    systems that write in place; one that copies on write refuses it as the atomic write
    was refused). The text is padded with spaces (JSON allows them after the value) to the
    old length, so one write replaces it whole: no truncation follows, between which and
    the write a kill would leave the new text followed by the old one's tail."""
    text = (json.dumps(data, indent=2, sort_keys=True, default=str) + "\n").encode()
    with path.open("r+b") as file:
        held = os.fstat(file.fileno())
        room = max(held.st_size, getattr(held, "st_blocks", 0) * 512)
        if len(text) > room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        file.write(text.ljust(held.st_size))
