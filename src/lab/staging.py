"""A folder written whole or not at all (`lab.export`'s exports).

An export takes seconds to minutes and writes several files (weights, config, tokenizer,
report, card); stopped half-way in place, it would leave a folder that looks like an export
and does not load. So it is written into a hidden staging folder beside the target
(`.<name>.partial-<pid>`), moved into place when complete. Interrupted (Ctrl-C, SIGTERM) or
failed, the staging folder is removed and the target is as it was: an earlier complete export
is replaced only by a complete one, and the line says so (`lab.tool_interrupts`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from lab.errors import LabError


def refuse_occupied(target: Path, replaces: Callable[[Path], bool] | None = None) -> None:
    """Refuse a `target` that holds something other than what is written there: a file, or a
    non-empty folder that `replaces` (an earlier export of the same kind) does not accept."""
    if not target.exists():
        return
    if not target.is_dir():
        raise LabError(f"cannot write {target}: it is a file, not a folder")
    if any(target.iterdir()) and not (replaces is not None and replaces(target)):
        raise LabError(f"output {target} exists and is not empty; choose a new directory")


@contextmanager
def staged_folder(target: Path, replaces: Callable[[Path], bool] | None = None) -> Iterator[Path]:
    """Yield a staging folder (not yet created) to write what `target` will hold; when the
    block ends it becomes `target`. `target` may be missing, empty, or accepted by `replaces`
    (see `refuse_occupied`, checked first). Interrupted, a `ToolInterrupted` says what is
    left; an OS refusal to write (a full disk) is one line naming `target`."""
    from lab.tool_interrupts import ToolInterrupted, signal_of

    refuse_occupied(target, replaces)
    existed = target.exists()
    created = [p for p in (target.parent, *target.parent.parents) if not p.exists()]
    staging = target.parent / f".{target.name}.partial-{os.getpid()}"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
        yield staging
        _move_into_place(staging, target)
    except BaseException as err:
        shutil.rmtree(staging, ignore_errors=True)
        for folder in created:  # the folders made for it, innermost first, if left empty
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        name = signal_of(err)
        if name is not None:
            state = f"{target} is as it was" if existed else f"{target} was not created"
            left = f"nothing was exported (the partial export was removed); {state}"
            raise ToolInterrupted(name, left) from None
        reason = _write_refusal(err, staging)
        if reason:
            raise LabError(f"cannot write {target}: {reason}") from err
        raise


def _move_into_place(staging: Path, target: Path) -> None:
    """`staging` becomes `target`; an earlier `target` is moved aside first and removed once
    the new one is in place (put back if that move fails)."""
    if not staging.is_dir():
        staging.mkdir()
    if not target.exists():
        staging.rename(target)
        return
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    target.rename(old)
    try:
        staging.rename(target)
    except BaseException:
        old.rename(target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _write_refusal(error: BaseException, staging: Path) -> str | None:
    """The OS reason when `error` is a refusal to write (a full disk anywhere; a forbidden or
    missing path inside `staging`), also wrapped by a library; else None."""
    from lab.errors import exception_chain
    from lab.run_dir.disk import DISK_ERRNOS

    for seen in exception_chain(error):
        if isinstance(seen, OSError) and seen.errno is not None:
            inside = seen.filename is not None and str(seen.filename).startswith(str(staging))
            if seen.errno in DISK_ERRNOS and not inside:
                return os.strerror(seen.errno) + _full_elsewhere(seen.filename, staging)
            if seen.errno in DISK_ERRNOS or inside:
                return os.strerror(seen.errno)
    return None


def _full_elsewhere(filename: object, staging: Path) -> str:
    """Where a full disk is not the export's own (s22b M4: exporters write temporary files
    first, and a full TMPDIR was blamed on the run directory): the file being written, or the
    temporary folder where it is full and the export's own disk is not; "" otherwise."""
    import shutil
    import tempfile

    temporary = Path(tempfile.gettempdir())
    if filename is not None:
        in_temporary = temporary in Path(str(filename)).parents
        return f" (writing {filename}{'; set TMPDIR to a folder with room' * in_temporary})"
    try:
        full_there = shutil.disk_usage(temporary).free < 16 * 2**20
        room_here = shutil.disk_usage(staging.parent).free >= 16 * 2**20
    except OSError:
        return ""
    if full_there and room_here:
        return f" (the temporary folder {temporary} is full: set TMPDIR to a folder with room)"
    return ""
