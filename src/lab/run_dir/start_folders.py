"""The folders a job's start makes, and their removal when that start is refused.

Hydra makes a job's folder and writes its own files there (`train.log`, `.hydra/`) before
any code of the job runs; lab's job then writes config.yaml, overrides.yaml and a first
record.json. A start refused on the way (a disk so full that Hydra's `.hydra/config.yaml`
or lab's config.yaml is refused) left a folder holding those files and no run: one that
`lab.compare` and `resume=auto` come across later (s26c M3). A refused start is to leave
nothing behind, and never to remove anything that was there before it.

Only the resolvers that choose a folder know whether it is new: `note_new_folder` is called
by them while it does not exist yet (`lab.run_dir.claim.new_folder`: a new run's
`hydra.run.dir`, a multirun's `hydra.sweep.dir`; `lab.run_dir.claim.hydra_subdir`: `.hydra`,
or a resume's `.hydra/resume-<time>`). `remove_refused_start(job_dir)` removes what the
start of the job in `job_dir` made of those (and the new parents it emptied); an explicit
`hydra.run.dir=<dir>` that existed is yours, and only a `.hydra` this start made goes there.
Per process: a process starts one job at a time, and the notes only grow by a few paths.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from lab.run_dir.disk import nearest_existing
from lab.run_dir.endings import BEFORE_RECORD

# A folder this process chose while it did not exist -> its nearest ancestor that existed.
_made: dict[Path, Path] = {}


def note_new_folder(folder: str | Path) -> None:
    """Note that this process chose `folder` for a job's start while it did not exist (a
    folder that exists is not noted: it was there before)."""
    path = Path(folder).expanduser().resolve()
    if path in _made:
        return
    existed = nearest_existing(path)
    if existed != path:
        _made[path] = existed


def remove_refused_start(job_dir: str | Path) -> bool:
    """Remove what this process made for the start of the job in `job_dir`, refused before
    its run record was written: `job_dir` itself where it is new (or lies in a new folder:
    a multirun's job) and holds only what a start writes (`endings.BEFORE_RECORD`), else a
    new `.hydra` or `.hydra/resume-<time>` in it; then each new parent left empty, up to
    the folder that existed before. A folder holding a run (its `record.json`) is kept.
    Returns whether anything was removed."""
    path = Path(job_dir).expanduser().resolve()
    from lab.run_dir.run_lock import release_claim

    release_claim()  # the lock on the folder, claimed for this job's start (lab.run_dir.claim)
    removed = False
    # Outermost first: once the job's folder is gone, a note inside it finds nothing.
    for made, existed in sorted(_made.items(), key=lambda item: len(item[0].parts)):
        if path.is_relative_to(made):
            if _holds_more_than_a_start(path):  # a run's record.json, say: it is kept
                continue
            target = path
        elif made.is_relative_to(path):
            target = made
        else:
            continue
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
            removed = removed or not target.exists()
        _remove_empty_parents(target, existed)
    return removed


def _holds_more_than_a_start(folder: Path) -> bool:
    """Whether `folder` holds anything but what a job's start writes (or cannot be read)."""
    try:
        names = {entry.name for entry in folder.iterdir()} if folder.is_dir() else set()
    except OSError:
        return True
    return bool(names - BEFORE_RECORD)


def _remove_empty_parents(folder: Path, existed: Path) -> None:
    """rmdir each parent of `folder` below `existed` (made new with it), until one is not
    empty."""
    parent = folder.parent
    while parent != existed and parent.is_relative_to(existed):
        try:
            parent.rmdir()
        except OSError:  # not empty (another run's), or gone
            return
        parent = parent.parent
