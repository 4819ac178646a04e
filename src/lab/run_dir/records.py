"""The files that make a run directory self-describing, and the record of a run in progress.

config.yaml      the fully resolved config (what actually ran)
overrides.yaml   the command-line overrides, as Hydra parsed them
record.json      command line, working directory, times, lab version, status, final metrics
                 and the weights they are of (`tested`: best checkpoint, or last weights),
                 the config keys whose paths lie inside installed packages (`package_paths`:
                 see `lab.run_dir.package_paths`)
metrics.json     final validation and test metrics of the best checkpoint (of the last
                 weights for a run that ended before its first validation)
.hydra/          Hydra's own copies (unresolved config, hydra config, overrides)

`RunRecord` is `lab.train`'s hold on `record.json` for the length of a run: a context manager
that starts (or resumes) the record and, however the run ends, says how in its `status`:
`finished`, `failed: <why>` (a disk fault in words: `failed: cannot write <path>: No space
left on device`), `pruned: ...`, or `interrupted (SIGTERM); ...` with what to run next.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf

import lab
from lab.run_dir.code_version import resume_code_line, resuming_code
from lab.run_dir.disk import remove_stale_temporaries, run_directories, temporary_path, writing
from lab.run_dir.endings import (  # noqa: F401  (RunInterrupted ...: lab.train's names here)
    RunInterrupted,
    interrupted_message,
    interrupting_signal,
    last_checkpoint,
    resume_command,
    start_command,
)
from lab.run_dir.held_log import HeldFileLog
from lab.run_dir.job_command import recorded_commands
from lab.run_dir.log_file_faults import quiet_on_write_faults
from lab.run_dir.run_failure import end_failed_run
from lab.run_dir.run_lock import hold_run_lock, release_run_lock
from lab.run_dir.start_folders import remove_refused_start

if TYPE_CHECKING:
    from lab.data.datamodule import DataModule
    from lab.run_dir.resume import ResumePoint

log = logging.getLogger(__name__)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def hydra_overrides() -> list[str]:
    """The task overrides of the current Hydra job ([] outside a Hydra app), with the
    `--config-dir` folders it searched (`lab.config.user_dirs`) as a `hydra.searchpath=[...]`
    override: Hydra keeps neither in its list, and the resume command built from these
    overrides (`resume_command`) cannot compose an experiment of yours without them."""
    from hydra.core.hydra_config import HydraConfig

    from lab.config.user_dirs import active_entries, searchpath_override

    if not HydraConfig.initialized():
        return []
    overrides = [str(o) for o in HydraConfig.get().overrides.task]
    entries = active_entries()
    if entries and not any(o.startswith("hydra.searchpath=") for o in overrides):
        overrides.append(searchpath_override(entries))
    return overrides


def is_global_rank_zero() -> bool:
    """True in the process that owns the run directory (every other rank only reads it).

    Decided from the launcher's environment because it is needed before any Trainer exists
    (Lightning's DDP launcher, torchrun and SLURM set RANK / LOCAL_RANK / SLURM_PROCID).
    """
    for variable in ("RANK", "SLURM_PROCID", "LOCAL_RANK"):
        if variable in os.environ:
            return int(os.environ[variable]) == 0
    return True


def write_json(path: Path, data: Any, sort_keys: bool = True) -> None:
    """Write JSON atomically (temp file, then rename); only rank zero writes. `sort_keys=False`
    keeps the order a report gives its keys (per-class scores in class-id order).

    A write that fails (full disk, ...) removes its temporary file and leaves the previous
    version of `path` as it was.
    """
    if not is_global_rank_zero():
        return
    tmp = temporary_path(path)
    try:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=sort_keys, default=str) + "\n")
        tmp.replace(path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def lab_code_version() -> tuple[dict[str, Any], str]:
    """`code_version` of the clone lab runs from; for an installed wheel, no git state: its
    `lab_version` names the code, and the git work tree around site-packages (a venv inside
    the user's own project) is someone else's code, with someone else's uncommitted work."""
    from lab.config.paths import checkout_root
    from lab.run_dir.environment import code_version

    root = checkout_root()
    if root is None:
        where = Path(lab.__file__).resolve().parent
        return {"git": None, "note": f"lab {lab.__version__} installed at {where}"}, ""
    return code_version(root)


def start_record(output_dir: Path, cfg: DictConfig) -> dict[str, Any]:
    """Write config.yaml, overrides.yaml and a first record.json; return the record.

    An OS refusal to write (a full disk, a read-only file system, a file in the way) is a
    `DiskError` naming the file and the OS reason.
    """
    from lab.run_dir.environment import hardware, package_versions
    from lab.run_dir.own_code import RECORD_KEY as OWN_CODE
    from lab.run_dir.own_code import own_code
    from lab.run_dir.package_paths import RECORD_KEY, recorded_package_paths

    overrides = hydra_overrides()
    code, patch = lab_code_version()
    with writing(output_dir):
        output_dir.mkdir(parents=True, exist_ok=True)
        if is_global_rank_zero():
            (output_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
            (output_dir / "overrides.yaml").write_text(
                OmegaConf.to_yaml(OmegaConf.create(overrides))
            )
            if patch:
                (output_dir / "code.patch").write_text(patch)
    if patch:
        code["patch"] = "code.patch"
    record: dict[str, Any] = {
        **recorded_commands(),  # a multirun's job: its own command (s32e F6)
        "argv": sys.argv,
        "cwd": str(Path.cwd()),
        "overrides": overrides,
        "seed": cfg.get("seed"),
        "lab_version": lab.__version__,
        "code": code,
        "packages": package_versions(),
        # config keys whose (resolved, absolute) value lies inside an installed package:
        # lab.reproduce / lab.eval read them where that package is installed then
        RECORD_KEY: recorded_package_paths(cfg),
        # your head's or callback's package: where, and which commit (only where there is one)
        **({OWN_CODE: mine} if (mine := own_code(cfg)) else {}),
        "hardware": hardware(),
        "started": _now(),
        "status": "running",
    }
    with writing(output_dir / "record.json"):
        write_json(output_dir / "record.json", record)
    return record


def resume_record(
    output_dir: Path, record: dict[str, Any], from_step: int, moved_from: str | None = None
) -> dict[str, Any]:
    """Mark an interrupted run as running again, noting when, from which step, with which
    code, and from which directory when the run directory has moved since it last ran."""
    entry: dict[str, Any] = {"at": _now(), "from_step": from_step, "argv": sys.argv}
    entry.update(resuming_code(output_dir, record))  # the code that trains from here (s24e M1)
    if moved_from:
        entry["moved_from"] = moved_from
    record.setdefault("resumes", []).append(entry)
    record["status"] = "running"
    with writing(output_dir / "record.json"):
        write_json(output_dir / "record.json", record)
    return record


def finish_record(
    output_dir: Path, record: dict[str, Any], metrics: dict[str, float], status: str = "finished"
) -> None:
    """Complete record.json with end time, status and metrics (and metrics.json if finished)."""
    if status == "finished":
        write_json(output_dir / "metrics.json", metrics)
    record.update(finished=_now(), status=status, metrics=metrics)
    write_json(output_dir / "record.json", record)


def check_same_data(
    output_dir: Path,
    recorded: dict[str, Any],
    found: dict[str, Any],
    record: dict[str, Any],
) -> None:
    """Refuse to resume on data other than the run's: a split whose content fingerprint (or
    row count) differs from the one recorded when it started. The first steps saw the
    recorded data; the rest would see other rows, and the record would claim the new ones."""
    changed = []
    for split, now in found.items():
        then = recorded.get(split)
        if not then or not then.get("sha256") or not now.get("sha256"):
            continue  # a split not fingerprinted (streamed), or new in this lab version
        if then["sha256"] != now["sha256"]:
            changed.append(
                f"{split} (sha256 {str(then['sha256'])[:12]}... with {then.get('rows')} rows "
                f"then, {str(now['sha256'])[:12]}... with {now.get('rows')} rows now)"
            )
    if changed:
        from lab.errors import DataError

        overrides = [str(o) for o in record.get("overrides") or []]
        raise DataError(
            f"cannot resume {output_dir}: its data differs from what it trained on: "
            f"{'; '.join(changed)}. Restore that data and continue with "
            f"{resume_command(overrides, output_dir)}, or start a new run"
        )


class RunRecord:
    """`record.json` of the run `cfg` describes, held open while it runs.

    Entering checks a resume (`resume=...`: a refusal touches nothing in the run it names),
    then starts the record (config.yaml, overrides.yaml, a first record.json, status
    `running`) and removes the temporary files that killed runs left behind (see
    `lab.run_dir.disk`). A resume writes nothing yet: the checks that need the data and the
    model follow (`lab.training.resume_fit`), and only once they pass does `commit_resume`
    note the resume in the record it continues, remove the run's stale temporaries and let
    `train.log` have the lines held back until then (`lab.run_dir.held_log`); a run that
    ends before that (refused, interrupted, crashed) leaves every file of the run as it
    was, its record's status included. `finish(metrics)`
    marks the run `finished` and writes metrics.json; leaving with an exception marks it
    `failed: <why>`, `pruned: ...`, or `interrupted ...` (see `ending_status`), and lets the
    exception go on, an OS refusal to write (full disk, ...) as a one-line `DiskError`
    (`lab.run_dir.run_failure`). A new run refused before its record was written leaves no
    folder of start-up files behind (`lab.run_dir.start_folders`).
    """

    def __init__(self, cfg: DictConfig) -> None:
        self.cfg = cfg
        self.output_dir = Path(cfg.paths.output_dir).resolve()
        self.data: dict[str, Any] = {}
        self.resume_point: ResumePoint | None = None
        self._lock: int | None = None
        self._held_log: HeldFileLog | None = None  # while a resume is not yet committed

    def __enter__(self) -> RunRecord:
        try:
            self._start()
        except BaseException as error:
            # A signal may land while entering, after the record says `running`.
            if self.data:
                self.__exit__(type(error), error, error.__traceback__)
            else:  # refused before the record was touched (a sweep's process goes on)
                release_run_lock(self._lock)
                self._lock = None
                if self._held_log is not None:
                    self._held_log.drop()
                    self._held_log = None
                elif is_global_rank_zero():  # a new run's folder of start-up files only
                    remove_refused_start(self.output_dir)
            raise
        return self

    def _start(self) -> None:
        from lab.run_dir.resume import prepare_resume

        quiet_on_write_faults(self.output_dir)  # a full disk: one line, not a traceback each
        if is_global_rank_zero():  # first: a run another process trains is left untouched
            self._lock = hold_run_lock(self.output_dir, resuming=bool(self.cfg.get("resume")))
        if self.cfg.get("resume"):
            # From the first check on: a refused resume adds no line to the run's train.log.
            self._held_log = HeldFileLog(self.output_dir)
            self.resume_point = prepare_resume(self.output_dir, self.cfg)
        if self.resume_point:
            # The record as it stands on disk, in memory only until `commit_resume`.
            self.data = self.resume_point.record
        else:
            if self._held_log is not None:  # `resume=auto` found no run: a new one starts
                self._held_log.release()
                self._held_log = None
            self.data = start_record(self.output_dir, self.cfg)
            if is_global_rank_zero():
                self._remove_stale_temporaries()
        if is_global_rank_zero():
            log.info("Run directory: %s", self.output_dir)

    @property
    def resume_pending(self) -> bool:
        """True while a resume is checked and nothing of it is written yet."""
        return self._held_log is not None

    def commit_resume(self) -> None:
        """Write the resume into the run directory, once every check of it passed: the
        record notes it (status `running`, a `resumes` entry), `train.log` gets the lines
        held back since the start, a moved run's config.yaml says where the run is now, and
        the run's stale temporaries go. Nothing to do for a new run, or a second time."""
        point = self.resume_point
        if point is None or self._held_log is None:
            return
        other_code = resume_code_line(self.data, self.output_dir, point.global_step)
        self.data = resume_record(self.output_dir, self.data, point.global_step, point.moved_from)
        # Committed: from here on the run's end is recorded as any run's.
        held, self._held_log = self._held_log, None
        held.release()
        # Said only now: the data and the model checks may still refuse it before this.
        if is_global_rank_zero():
            log.info("Resuming %s from step %d", self.output_dir, point.global_step)
            if other_code:
                log.warning(other_code)
        if point.moved_from and is_global_rank_zero():
            # The config that runs now is the recorded one with the run's own paths moved
            # (checked by prepare_resume): record it, so readers see where the run is.
            with writing(self.output_dir / "config.yaml"):
                (self.output_dir / "config.yaml").write_text(
                    OmegaConf.to_yaml(self.cfg, resolve=True)
                )
        if is_global_rank_zero():
            self._remove_stale_temporaries()

    def _remove_stale_temporaries(self) -> None:
        if self.resume_point:
            own = [self.output_dir, self.output_dir / "checkpoints"]
            remove_stale_temporaries(own, resuming=True)
            return
        root = self.cfg.paths.get("output_root")
        if root:
            remove_stale_temporaries(run_directories(Path(root)))

    def __exit__(
        self,
        error_type: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        release_run_lock(self._lock)
        self._lock = None
        pending, self._held_log = self._held_log, None
        if pending is not None:
            # A resume that ends before it was committed wrote nothing: the run directory,
            # train.log and record.json's status (still saying how to continue) stay as
            # they were.
            pending.drop()
        if error is not None:  # recorded (a committed run), and a disk fault raised in words
            in_sweep = bool(self.cfg.get("optuna_trial"))
            end_failed_run(
                self.output_dir, self.data, error, in_sweep=in_sweep, recorded=pending is None
            )

    @property
    def resume_checkpoint(self) -> str | None:
        """The checkpoint a resumed run continues from (None for a new run)."""
        return str(self.resume_point.checkpoint) if self.resume_point else None

    def note_data(self, datamodule: DataModule) -> None:
        """Record each split's raw row count and content fingerprint; a resumed run refuses
        data that differs from what it ran on (its record keeps describing that data)."""
        found = {
            name: {
                "rows": datamodule.raw_sizes[name],
                "sha256": datamodule.split_fingerprints[name],
            }
            for name in datamodule.raw_sizes
        }
        if self.resume_point:
            check_same_data(self.output_dir, self.data.get("data") or {}, found, self.data)
        self.data["data"] = found

    def note_parameters(self, counts: dict[str, float]) -> None:
        """Record the model's parameter counts (`lab.training.adapters.parameter_counts`)."""
        self.data["parameters"] = counts

    def write(self) -> None:
        """Write the record as it stands (rank zero only)."""
        write_json(self.output_dir / "record.json", self.data)

    def finish(self, metrics: dict[str, float]) -> None:
        """Mark the run finished with its final metrics (record.json and metrics.json)."""
        finish_record(self.output_dir, self.data, metrics)
