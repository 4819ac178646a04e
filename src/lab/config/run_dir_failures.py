"""Why Hydra could not start a run's job in its run directory, in words: the directory
cannot be made, its `train.log` cannot be opened, or its `.hydra/` files cannot be written
(a full disk: the line names the file). Hydra does all three before any lab code runs and
answers with a traceback; `lab.config.cli.run_hydra_app` prints this line instead. What the
refused start had made there (a new run folder, a new `.hydra/`) is removed with it: a
refused start leaves nothing behind (`lab.run_dir.start_folders`).
"""

from __future__ import annotations

import traceback
from pathlib import Path

from lab.run_dir.disk import file_being_written


def run_dir_not_made(error: BaseException) -> str | None:
    """Why Hydra could not make the run directory (`hydra.run.dir=/proc/x`, a read-only
    place) or open its `train.log` there (a read-only file: logging's `dictConfig` wraps that
    OSError in `ValueError: Unable to configure handler 'file'`), when `error` is that: an
    OSError in Hydra's `run_job` before it called lab's job. None for anything else (an
    OSError inside the job is the job's to word). Where a resume could be refused, lab's
    resolvers refuse it first (`lab.run_dir.claim`); this is what is left: an explicit
    `hydra.run.dir=<dir>` whose `train.log` is read-only. Where it answers a line, what this
    start made in the job's folder is removed (`remove_refused_start`)."""
    cause = error.__cause__ if isinstance(error, ValueError) else error
    if not isinstance(cause, OSError):
        return None
    frames = traceback.extract_tb(error.__traceback__)
    if cause is error and frames and frames[-1].filename.endswith("pathlib.py"):
        sweeper = [f for f in frames if f.name == "sweep" and "core_plugins" in f.filename]
        if sweeper:  # Hydra's basic sweeper making `hydra.sweep.dir` (s25d H1)
            return (
                f"cannot make the multirun directory {cause.filename}: {cause.strerror or cause} "
                "(choose another place with hydra.sweep.dir=... or paths.output_root=...)"
            )
    jobs = [i for i, frame in enumerate(frames) if frame.name == "run_job"]
    if not jobs or any("/lab/" in frame.filename for frame in frames[jobs[-1] + 1 :]):
        return None
    reason = cause.strerror or cause
    written = file_being_written(cause) if cause.filename is None else None
    remove_refused_start(error)  # the file is named above, whether or not it is left
    if cause is not error:  # the log file, in a directory that exists
        return (
            f"cannot write {cause.filename}: {reason} (make it writable, or choose another "
            "place with hydra.run.dir=...)"
        )
    if cause.filename is None:  # a write into it refused (a full disk: Hydra's .hydra/ files)
        what = written or "the run directory's files"
        return (
            f"cannot write {what}: {reason} (free space there, or choose "
            "another place with paths.output_root=... or hydra.run.dir=...)"
        )
    return (
        f"cannot make the run directory {cause.filename}: {reason} (choose another "
        "place with paths.output_root=... or hydra.run.dir=...)"
    )


def remove_refused_start(error: BaseException) -> None:
    """Remove what the start that Hydra's `run_job` could not make ready made (the job's new
    folder, or a new `.hydra/` in it: `lab.run_dir.start_folders`), so that a refused start
    leaves nothing behind (s26c M3); the folder comes from `run_job`'s own frame."""
    from lab.run_dir.start_folders import remove_refused_start as remove

    entry = error.__traceback__
    job_dir = None
    while entry is not None:
        if entry.tb_frame.f_code.co_name == "run_job":
            job_dir = entry.tb_frame.f_locals.get("output_dir")
        entry = entry.tb_next
    if isinstance(job_dir, str):
        remove(Path(job_dir))
