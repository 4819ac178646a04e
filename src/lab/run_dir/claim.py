"""Claim a run directory before Hydra writes into it: refuse, in one line, what would spoil it.

Hydra makes the job's directory, opens `train.log` in it and writes its record (`.hydra/`)
before any code of the job runs, and answers a file it cannot open with a 57-line traceback.
So lab's resolvers behind `hydra.run.dir` (`lab.run_dir.resume.run_dir_for`) and
`hydra.output_subdir` (`lab.run_dir.resume.hydra_subdir_for`) check the directory first, and
end the process with `error: <why>` on stderr and exit 2 (`refuse`) before Hydra writes:

* **A new run into a directory that holds a run** (`record.json`: finished, failed,
  interrupted, or training now), which an explicit `hydra.run.dir=<dir>` used a second time
  names: it would overwrite the run file by file (its metrics, record, checkpoints, logs) and
  leave a mix of two runs. Refused, saying how to continue that run (`resume=<dir>`) or to
  choose another directory (`claim_for_new_run`). An empty folder, or one without
  `record.json`, is used as it is.
* **A resume of a directory another process trains now** (the run lock of
  `lab.run_dir.run_lock`), or **that cannot be written**: a read-only or forbidden folder or
  file in it (a read-only `train.log` is where Hydra's traceback came from), a read-only file
  system. The advice is to make the run directory writable and run the same command again
  (`claim_for_resume`).

Where each check runs: `hydra.run.dir`'s resolver runs before Hydra creates or opens anything,
but only where `hydra.run.dir` is lab's own (a new run under `paths.output_root`,
`resume=<dir>`, `resume=auto`); with an explicit `hydra.run.dir=<dir>` the first lab code
Hydra runs is `hydra.output_subdir`'s resolver, after it opened `train.log` for appending
(which writes nothing) and before it writes `.hydra/`. Refused there, nothing is written.

**Two commands at once into one directory**: both would find it free (no record.json yet),
and both write `.hydra/`. So `hydra.output_subdir`'s resolver, once the checks pass, takes
the run lock and keeps it (`run_lock.claim_run_lock`) through Hydra's writing of `.hydra/` to
the run, whose `RunRecord` takes it over: of two such commands one holds it, and the other is
refused there as a run into a directory being trained, before it wrote anything (before, the
one refused later had written its `.hydra/` over the winner's: s26 H4). The lock comes
before the look at record.json, so no run can end in between unseen. `hydra.run.dir`'s
resolver only looks (it runs before Hydra made the directory), and a refusal lets go of the
claim (`refuse`). (A Hydra callback could not claim it in time: Hydra calls `on_job_start`
after it wrote `.hydra/`.)

Only the process that owns the run directory checks (global rank 0, from the launcher's
environment: `lab.run_dir.records.is_global_rank_zero`): all ranks of one DDP or multi-node
run share its directory. The ranks Lightning's DDP launcher starts run with
`hydra.output_subdir=null` and the directory as `hydra.run.dir`, so no resolver of lab runs
in them (`lab.training.distributed.rank_command`); torchrun's and SLURM's other ranks skip
the checks and write no Hydra record (`hydra_subdir` answers None: rank 0's is the run's).
An Optuna trial's directory is the sweeper's to manage: it runs an abandoned trial again
there, resumed (`resume=<dir>`) where it has a checkpoint, from scratch where it has none
(`lab.sweeps.worker`), so no check refuses a trial.

What is left to `RunRecord` (`lab.run_dir.records`): the lock where no resolver claimed it
(a sweep's trial, a run started without Hydra), and every check of a resume that reads the
run (its record, config, checkpoint, data); a refused resume leaves its command's Hydra
record in `.hydra/resume-<time>/` and nothing else.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any, NoReturn

from lab.errors import EXIT_USER_ERROR
from lab.run_dir.start_folders import note_new_folder

# The last decision of `hydra_subdir`, by (run directory, resume): Hydra reads
# `hydra.output_subdir` more than once, and a second reading must not refuse the run this
# process has since started there (nor name another `resume-<time>` folder).
_decided: dict[tuple[str, str], str | None] = {}


def refuse(message: str) -> NoReturn:
    """End the process from inside a resolver: `error: <message>`, exit 2. (A `LabError`
    cannot carry the words out of a resolver: OmegaConf re-raises it as its own error, with
    a traceback; `SystemExit` passes through OmegaConf and Hydra.) A refused job starts no
    run: the run lock it claimed goes (`run_lock.release_claim`)."""
    from lab.run_dir.run_lock import release_claim

    release_claim()
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(EXIT_USER_ERROR)


def new_folder(output_root: str, folder: str) -> str:
    """Resolver behind a new run's `hydra.run.dir` (through `resume.run_dir_for`) and a
    multirun's `hydra.sweep.dir` (`lab.new_dir`): `folder`, or the process ends in one line
    where `output_root` cannot hold runs (read-only, a file, forbidden), before Hydra creates
    anything there (a multirun into a read-only root was a traceback, s25c H4)."""
    from lab.run_dir.disk import output_root_problem

    problem = output_root_problem(output_root)
    if problem:
        refuse(f"paths.output_root={output_root} cannot hold runs: {problem}")
    note_new_folder(folder)  # a start refused later removes it (lab.run_dir.start_folders)
    return folder


def no_resume(resume: object) -> bool:
    """Whether a `resume` value asks for no resume (Hydra's `null` may arrive as a string)."""
    return resume in (None, "", "None", "null")


def hydra_subdir(run_dir: Path, root: Any) -> str | None:
    """`hydra.output_subdir` of the job whose directory is `run_dir`, after the checks above
    (`root`: the job's whole config): `.hydra`, or `.hydra/resume-<time>` for a resume of a
    run that has Hydra's record already (a refused resume must leave the record of the
    command that started the run as it was); None (no record) in a rank other than 0. The
    run lock is claimed here for the job (`claim_for_new_run`, `claim_for_resume`), so that
    Hydra writes `.hydra/` only for the one command that holds it."""
    from lab.run_dir.records import is_global_rank_zero

    if not is_global_rank_zero():
        return None
    resume = _select(root, "resume")
    key = (str(run_dir), str(resume))
    if key in _decided:
        return _decided[key]
    resuming = not no_resume(resume) and (resume != "auto" or (run_dir / "record.json").is_file())
    if not _select(root, "optuna_trial"):
        if resuming:
            claim_for_resume(run_dir, keep=True)
        else:
            multirun = str(_select(root, "hydra.mode")).endswith("MULTIRUN")
            claim_for_new_run(run_dir, "hydra.sweep.dir" if multirun else "hydra.run.dir")
    subdir = ".hydra"
    if resuming and (run_dir / ".hydra" / "config.yaml").exists():
        from datetime import datetime

        subdir = f".hydra/resume-{datetime.now():%Y-%m-%d_%H-%M-%S}"
    note_new_folder(run_dir / subdir)  # where it is new: a refused start removes it
    _decided.clear()
    _decided[key] = subdir
    return subdir


def _select(root: Any, key: str) -> Any:
    from omegaconf import OmegaConf

    return OmegaConf.select(root, key, default=None) if root is not None else None


def claim_for_new_run(run_dir: Path, option: str = "hydra.run.dir") -> None:
    """Claim `run_dir`'s run lock for a new run (kept: `run_lock.claim_run_lock`), or refuse
    (`refuse`) when it holds a run (`record.json`), or another process trains it now (holds
    the lock, maybe before its record.json is written); `option` is the setting that chose
    the directory."""
    if not run_dir.is_dir():
        return
    from lab.errors import LabError
    from lab.run_dir.run_lock import claim_run_lock

    try:
        claim_run_lock(run_dir, resuming=False)  # first: a run ending now is seen below
        busy = False
    except LabError:
        busy = True
    record_path = run_dir / "record.json"
    if not record_path.exists() and not busy:
        return
    record, unreadable = _read(record_path)
    seed = f", seed {record['seed']}" if record.get("seed") is not None else ""
    if busy:
        refuse(
            f"{run_dir} already holds a run (being trained by another process now{seed}); "
            f"a new run there would overwrite it: choose another {option}"
        )
    if unreadable:
        refuse(
            f"{run_dir} already holds a run (its record.json cannot be read: {unreadable}); "
            f"a new run there would overwrite it: choose another {option}"
        )
    status = str(record.get("status") or "unknown")
    # the state, before what follows it (`interrupted (SIGTERM); continue with ...`)
    state = re.split(r"[;:]", status, maxsplit=1)[0].strip() or status
    held = f"{run_dir} already holds a run (status: {state}{seed})"
    if status == "finished":
        refuse(f"{held}; a new run there would overwrite it: choose another {option}")
    from lab.run_dir.endings import last_checkpoint, resume_command

    if last_checkpoint(run_dir):
        overrides = [str(o) for o in record.get("overrides") or []]
        refuse(
            f"{held}; continue it with {resume_command(overrides, run_dir)}, or choose "
            f"another {option}"
        )
    refuse(
        f"{held} with no checkpoint to continue from; choose another {option}, or delete "
        "that folder to start the run there again"
    )


def claim_for_resume(run_dir: Path, keep: bool = False) -> None:
    """Refuse (`refuse`) a resume of `run_dir` that another process trains now, or in which
    a folder or file cannot be written (nothing is created or changed by the check). `keep`:
    claim the run lock for this job (`run_lock.claim_run_lock`), else only look."""
    from lab.errors import LabError
    from lab.run_dir.records import is_global_rank_zero
    from lab.run_dir.run_lock import check_run_lock, claim_run_lock

    if not is_global_rank_zero():  # rank 0 holds the lock, and only it writes the record
        return
    try:
        (claim_run_lock if keep else check_run_lock)(run_dir, resuming=True)
    except LabError as err:
        refuse(str(err))
    problem = unwritable(run_dir)
    if problem:
        refuse(
            f"cannot resume {run_dir}: {problem}; make the run directory writable (every "
            "folder and file in it), then run the same command again"
        )


def unwritable(run_dir: Path) -> str | None:
    """`cannot write <path>: <OS reason>` for the first folder or file of `run_dir` that a
    resume could not write, or None. Hydra's records of earlier commands (`.hydra/*/`) are
    never written again: only `.hydra/` itself must take a new folder."""
    from lab.run_dir.disk import describe_os_error, new_folder_refused

    for folder, subfolders, files in os.walk(run_dir):
        here = Path(folder)
        if here.name == ".hydra" and here.parent == run_dir:
            subfolders.clear()
            files = []
        subfolders.sort()
        if not os.access(here, os.W_OK | os.X_OK):
            # os.access only says no; trying to make a folder there says why (and when
            # os.access was wrong, makes one and removes it)
            reason = new_folder_refused(here)
            if reason:
                return f"cannot write {here}: {reason}"
        for name in sorted(files):
            path = here / name
            if path.is_file() and not os.access(path, os.W_OK):
                try:
                    with path.open("a"):  # appending nothing changes nothing
                        pass
                except OSError as err:
                    return describe_os_error(err, path)
    return None


def _read(path: Path) -> tuple[dict[str, Any], str]:
    """The record at `path` ({} when there is none) and, when it cannot be read, why."""
    import json

    if not path.exists():
        return {}, ""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        return {}, " ".join(f"{type(err).__name__}: {err}".split())
    if not isinstance(record, dict):
        return {}, f"a JSON {type(record).__name__}, not a run record"
    return record, ""
