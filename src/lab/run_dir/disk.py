"""Disk faults in words: a full disk, a read-only or forbidden path, a path that is a file.

A run writes files for hours; when the operating system refuses one, the user needs one line
naming the file and the OS reason (`No space left on device`), not a library's traceback that
hides it (torch reports a full disk as `[enforce fail at inline_container.cc:672]`).

* `DiskError` is that line, a `LabError`: `lab.train` prints it alone and exits 2.
* `disk_error(error, run_dir)` finds the `OSError` behind an exception (also inside a torch
  or safetensors error that wraps it) and words it as a `DiskError`, or returns None when the
  error is not a disk fault. A flush refused on a full disk names no file: the file object
  it wrote to does (`file_being_written`: Lightning's `csv/hparams.yaml`, s26c M2).
* `check_output_root(cfg)` is the validation rule for `paths.output_root` (a file, a
  read-only or forbidden directory, a place where nothing can be created), run before any
  data or weights load; `output_root_problem(path)` is the same check for one path.
* `release_failed_write(error)` lets go of what a failed write still holds through its
  exception (torch's file writer: the partial file, deleted, keeps its blocks while open),
  so that the record of the failure finds the space the write had taken.
* Lab's atomic writers stage bytes in hidden temporary files (`.<name>~<host>~<pid>.tmp`)
  and remove them when a write fails. A killed process cannot; `remove_stale_temporaries`
  removes what dead processes of this host left behind (at a run's start and resume).
"""

from __future__ import annotations

import errno
import gc
import io
import logging
import os
import re
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from lab.errors import LabError, exception_chain

log = logging.getLogger(__name__)

# The OS telling us the disk or the file system cannot take the write, wherever it happens.
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG})
# The OS refusing a path: a disk fault when the path is one of the run's own files (elsewhere
# it may be a missing data file or a bug, which are not the run directory's fault).
PATH_ERRNOS = frozenset(
    {errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EEXIST, errno.EISDIR, errno.ENOENT}
)
# Rust's io::Error as safetensors and tokenizers word it: "... (os error 28)".
_RUST_OS_ERROR = re.compile(r"\(os error (\d+)\)")
# Lab's temporary files: `.<target name>~<host>~<pid>.tmp`, and the legacy `.<name>.<pid>.tmp`.
_TEMPORARY = re.compile(r"^\.(?P<name>.+)~(?P<host>[^~]*)~(?P<pid>\d+)\.tmp$")
_LEGACY_TEMPORARY = re.compile(r"^\.(?P<name>.+\.ckpt)\.(?P<pid>\d+)\.tmp$")


class DiskError(LabError):
    """The operating system refused to write one of the run's files (full, read-only, ...)."""


def describe_os_error(error: OSError, path: Path | str | None = None) -> str:
    """`cannot write <path>: <OS reason>` for `error` (`path`, else the error's own file)."""
    where = path if path is not None else error.filename
    reason = os.strerror(error.errno) if error.errno else str(error)
    return f"cannot write {where}: {reason}" if where is not None else f"cannot write: {reason}"


def _os_errors(error: BaseException) -> list[OSError]:
    """The `OSError`s in `error`'s chain (itself, its cause, its context), outermost first;
    Rust io errors (`(os error N)` in a message) count as `OSError(N)`."""
    found: list[OSError] = []
    for current in exception_chain(error):
        if isinstance(current, OSError) and current.errno is not None:
            found.append(current)
        else:
            match = _RUST_OS_ERROR.search(str(current))
            if match:
                code = int(match.group(1))
                found.append(OSError(code, os.strerror(code)))
    return found


def _inside(path: str | os.PathLike[str] | None, directory: Path | None) -> bool:
    if path is None or directory is None:
        return False
    try:
        return Path(os.path.abspath(path)).is_relative_to(directory.resolve())
    except (OSError, ValueError):
        return False


def disk_error(
    error: BaseException, run_dir: Path | None = None, path: Path | str | None = None
) -> DiskError | None:
    """`error` as a `DiskError` when an OS refusal to write lies behind it, else None.

    A full disk, a quota, a read-only file system or a too-large file count wherever they
    happen; a forbidden path, a path that is a file or a missing directory count when they
    concern `path` (the file being written, named in the message in place of a temporary
    file's name) or a path inside `run_dir`.
    """
    if isinstance(error, DiskError):
        return error
    for os_error in _os_errors(error):
        code = os_error.errno
        if code in DISK_ERRNOS or (
            code in PATH_ERRNOS and (path is not None or _inside(os_error.filename, run_dir))
        ):
            # A write or flush that fails names no file: the file object it wrote to does.
            written = file_being_written(error) if os_error.filename is None else None
            if path is not None and written is not None and _inside(written, Path(path)):
                path = written  # `path` is the folder the block writes in: name the file
            if path is None and written is not None:
                path = written
            if path is None and os_error.filename is None and run_dir is not None:
                reason = os.strerror(code) if code else str(os_error)
                return DiskError(f"cannot write files in {run_dir}: {reason}")
            return DiskError(describe_os_error(os_error, path))
    return _torch_write_on_full_disk(error, path)


def file_being_written(error: BaseException) -> Path | None:
    """The file that a refused write in `error` was writing, or None where none is seen.

    An `OSError` raised by a file object's `write`, `flush` or `close` (a full disk) names
    no file (`[Errno 28] No space left on device`), so "cannot write <file>" needs another
    source: the frames of the tracebacks in `error`'s chain, innermost first, each looked at
    for a local that is a file object open for writing (`open()`'s, fsspec's: Lightning's
    `hparams.yaml` and `metrics.csv`, Hydra's `.hydra/config.yaml`, lab's `config.yaml`).
    A lab temporary file is named as its target (`.record.json~host~pid.tmp`: record.json).
    Call it before `release_failed_write`, which lets go of those locals."""
    for current in exception_chain(error):
        frames = []
        entry = current.__traceback__
        while entry is not None:
            frames.append(entry.tb_frame)
            entry = entry.tb_next
        for frame in reversed(frames):
            for value in list(frame.f_locals.values()):
                name = _name_if_writing(value)
                if name is not None:
                    path = Path(name)
                    staged = _TEMPORARY.match(path.name)
                    return path.with_name(staged.group("name")) if staged else path
    return None


def _name_if_writing(value: object) -> str | None:
    """The path of `value` where it is a file object opened to write one (else None)."""
    if not isinstance(value, io.IOBase):
        return None
    try:  # a closed file still has its name and mode; a wrapper may lack a mode
        name = getattr(value, "name", None)
        mode = getattr(value, "mode", None)
        writing = any(c in mode for c in "wax+") if isinstance(mode, str) else value.writable()
    except (OSError, ValueError):  # `writable()` of a closed file without a mode
        return None
    if not writing or not isinstance(name, (str, os.PathLike)) or str(name).startswith("<"):
        return None  # a file descriptor's number, `<stderr>`
    return os.fspath(name) if isinstance(name, os.PathLike) else name


# torch's serializer writes a file by path from C++ and reports a failed write as a RuntimeError
# of its own (`[enforce fail at inline_container.cc:...] unexpected pos`, `PytorchStreamWriter
# failed writing file`, `basic_ios::clear: iostream error`), with no OS error to read.
_TORCH_WRITE_FAILURES = ("inline_container", "PytorchStreamWriter", "iostream error")
# Below this much free space a torch write failure is taken for a full disk.
FULL_BELOW_BYTES = 1 << 20


def _torch_write_on_full_disk(error: BaseException, path: Path | str | None) -> DiskError | None:
    """A `DiskError` (no space left) for a torch write failure of `path` on a disk with (next
    to) no free space left: a full disk during a checkpoint save was a traceback with exit 1
    and a record left `running` (s25c H2). Called while the partial file still fills the disk."""
    if path is None or not any(
        isinstance(e, RuntimeError) and any(m in str(e) for m in _TORCH_WRITE_FAILURES)
        for e in exception_chain(error)
    ):
        return None
    try:
        stats = os.statvfs(Path(path).parent)
    except (OSError, AttributeError):  # gone, or no statvfs (Windows)
        return None
    if stats.f_bavail * stats.f_frsize >= FULL_BELOW_BYTES:
        return None
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    return DiskError(describe_os_error(full, path))


def release_failed_write(error: BaseException) -> None:
    """Let go of the objects that the frames of `error`'s traceback (and of every exception
    in its chain) still hold, then collect the cycles among them.

    A write that fails deep in a library leaves its writer alive in those frames' locals:
    torch's `PytorchStreamWriter` keeps the partial checkpoint open, and a file that is
    deleted but open keeps its blocks. On a full disk those blocks were what the failed
    record needed (s26 H2: ~200 KB, freed only when the process ended, after record.json had
    been refused). The frames keep their lines for a traceback, not their locals; frames
    still running (the caller's) are left alone."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        _clear_frames(current.__traceback__)
        pending += [current.__cause__, current.__context__]
    gc.collect()  # a writer held in a reference cycle (frame -> error -> frame) goes too


def _clear_frames(entry: TracebackType | None) -> None:
    """`traceback.clear_frames`, and the frames' `f_locals` snapshots with them: a frame's
    `f_locals` read once (`file_being_written`, a debugger) keeps a dict of its locals that
    `frame.clear()` leaves as it was (Python 3.11, 3.12); read again, it is rebuilt from the
    cleared locals. Frames still running (the caller's) are left alone."""
    while entry is not None:
        try:
            entry.tb_frame.clear()
        except RuntimeError:  # still running
            pass
        else:
            entry.tb_frame.f_locals  # noqa: B018  (rebuilt: the snapshot lets go of them)
        entry = entry.tb_next


@contextmanager
def writing(path: Path) -> Iterator[None]:
    """Run the block that writes `path` (a file or a directory of files): an OS refusal in
    it is raised as a `DiskError` naming `path` and the OS reason."""
    try:
        yield
    except OSError as err:
        fault = disk_error(err, path=path)
        if fault is None:
            raise
        raise fault from err


# ----------------------------------------------------------------------------- output root
def output_root_problem(root: str | Path) -> str | None:
    """Why runs cannot be created under `root` (one line naming the path and the OS
    reason), or None when they can.

    The nearest existing ancestor must be a directory in which a directory can be created:
    that is tried (a hidden one, removed at once), because only the OS knows whether a file
    system is read-only, full, forbidden or virtual (`/proc`).
    """
    existing = nearest_existing(Path(root).expanduser())
    if not existing.is_dir():
        return f"{existing} is a file, not a directory ({os.strerror(errno.ENOTDIR)})"
    refused = new_folder_refused(existing)
    return f"cannot create directories in {existing}: {refused}" if refused else None


def nearest_existing(path: Path) -> Path:
    """`path`, or its nearest ancestor that exists (where a new file or folder would go)."""
    while not os.path.lexists(path) and path != path.parent:
        path = path.parent
    return path


def new_folder_refused(folder: Path) -> str | None:
    """The OS's reason a new folder cannot be made in `folder` (read-only, full, forbidden,
    virtual like `/proc`), or None: one is made there, hidden, and removed at once, because
    only the OS knows."""
    try:
        Path(tempfile.mkdtemp(prefix=".lab-write-check-", dir=folder)).rmdir()
    except OSError as err:
        return os.strerror(err.errno) if err.errno else str(err)
    return None


def check_output_root(cfg: Any) -> None:
    """Validation rule: runs can be created under `paths.output_root`; else a `DiskError`
    naming the key, the path and the OS reason."""
    paths = cfg.get("paths") if hasattr(cfg, "get") else None
    root = paths.get("output_root") if paths is not None else None
    if not root:
        return
    problem = output_root_problem(str(root))
    if problem:
        raise DiskError(f"paths.output_root={root} cannot hold runs: {problem}")


# ----------------------------------------------------------------------------- temporaries
def temporary_path(target: Path) -> Path:
    """Where an atomic writer of `target` stages its bytes (same directory, hidden, named
    after this host and process so that only a dead writer's file is ever removed)."""
    host = socket.gethostname().replace("~", "-")
    return target.with_name(f".{target.name}~{host}~{os.getpid()}.tmp")


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists, owned by someone else
    return True


def _stale(path: Path, host: str, resuming: bool) -> bool:
    match = _TEMPORARY.match(path.name)
    if match:
        writer_host, pid = match.group("host"), int(match.group("pid"))
        # Another host's writer may be alive on a shared file system: never touch its file.
        return writer_host == host and pid != os.getpid() and not _process_alive(pid)
    if not resuming:
        return False
    # Files of older lab versions, in a run being resumed (so nobody else writes there).
    legacy = _LEGACY_TEMPORARY.match(path.name)
    if legacy:
        return not _process_alive(int(legacy.group("pid")))
    return path.name.endswith(".json.tmp")


def remove_stale_temporaries(directories: list[Path], *, resuming: bool = False) -> list[Path]:
    """Remove the temporary files that killed lab processes of this host left in
    `directories`; return what was removed.

    `resuming`: the directories belong to the run being resumed, so also files named by
    older lab versions (without a host) are removed when their process is gone.
    """
    host = socket.gethostname().replace("~", "-")
    removed = []
    for directory in directories:
        try:
            candidates = [p for p in directory.iterdir() if p.name.endswith(".tmp")]
        except OSError:
            continue
        for candidate in candidates:
            if candidate.is_file() and _stale(candidate, host, resuming):
                try:
                    size = candidate.stat().st_size
                    candidate.unlink()
                except OSError:
                    continue
                removed.append(candidate)
                log.info("removed %s (%d bytes), left by a killed run", candidate, size)
    return removed


def run_directories(output_root: Path) -> list[Path]:
    """Every run directory and checkpoint directory under `output_root` (runs and sweeps)."""
    found: list[Path] = []
    for pattern in ("runs/*/*", "multiruns/*/*/*"):
        for run_dir in output_root.glob(pattern):
            found += [run_dir, run_dir / "checkpoints"]
    return found
