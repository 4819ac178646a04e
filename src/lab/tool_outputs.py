"""Where the after-training tools write, checked before their work: `lab.eval`'s metrics,
`lab.predict`'s predictions, `lab.export`'s folder, `lab.compare`'s CSV.

An evaluation or an export takes minutes; a path that cannot be written (a read-only folder,
a file where a folder would be, `/proc`) must be refused before it starts, in one line
naming the path and the reason (`cannot write <path>: Operation not permitted`), not found
by the last write, as a traceback. Only the OS knows whether a folder takes new files
(read-only mounts, immutable folders, root's permissions), so the check creates a hidden
probe folder there and removes it at once (`lab.run_dir.disk.new_folder_refused`, the probe
`paths.output_root` gets for runs). A tool's output that is its own input is refused too:
writing the predictions would replace the rows being read.
"""

from __future__ import annotations

import os
from pathlib import Path

from lab.errors import LabError
from lab.run_dir.disk import nearest_existing, new_folder_refused


def output_problem(path: Path, *, folder: bool = False) -> str | None:
    """Why `path` (a file; a folder with `folder`) cannot be written, as the end of
    `cannot write <path>: ...`; None when it can (as far as can be told before writing)."""
    path = Path(os.path.abspath(Path(path).expanduser()))
    if os.path.lexists(path):
        if folder and not path.is_dir():
            return "it is a file, not a folder"
        if not folder and path.is_dir():
            return "it is a folder, not a file"
        if not folder and not os.access(path, os.W_OK):  # read-only or immutable (chattr +i)
            return "it is write-protected"
    existing = nearest_existing(path if folder and path.is_dir() else path.parent)
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    return new_folder_refused(existing)


def check_output(path: Path, *, folder: bool = False, option: str = "") -> Path:
    """`path`, or a `LabError` `cannot write <path>: <reason>` (see `output_problem`);
    `option` (`output`) names the option that chooses another place, for a default path."""
    problem = output_problem(path, folder=folder)
    if problem is None:
        return path
    elsewhere = f" (choose another place with {option}=)" if option else ""
    raise LabError(f"cannot write {path}: {problem}{elsewhere}")


def check_not_input(output: Path, source: Path) -> None:
    """Refuse an `output` that is the file `source` (the same path, or the same file by
    another name: a link, `./`, another spelling): writing it would destroy the input."""
    same = Path(os.path.abspath(output)).resolve() == Path(os.path.abspath(source)).resolve()
    if not same and output.exists() and source.exists():
        try:
            same = os.path.samefile(output, source)
        except OSError:
            same = False
    if same:
        raise LabError(
            f"output={output} is the input file: the predictions would replace the rows being "
            "read; choose another output file"
        )


def file_not_folder(path: Path, what: str) -> None:
    """Refuse a `what` (`checkpoint`, `input file`) that is a folder, in those words (it
    would otherwise be said not to exist)."""
    if Path(path).is_dir():
        raise LabError(f"{what} {path} is a directory, not a file")
