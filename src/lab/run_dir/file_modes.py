"""Files a run writes get the modes the user's umask gives any new file.

transformers 5 writes `model.safetensors` through a private temporary file and keeps its mode
(0600): in a run directory on a shared machine every other file was readable by the team
(0644 under the usual umask 022) but the weights were not. `share_like_umask` gives the
files and folders of an export the modes a plain `open()` / `mkdir` would have given them.
"""

from __future__ import annotations

import os
from pathlib import Path


def current_umask() -> int:
    """The process's umask (read by setting it and setting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def share_like_umask(directory: str | Path) -> None:
    """Set every file under `directory` to `0o666 & ~umask` and every folder (itself too) to
    `0o777 & ~umask`, where that gives more than it has (nothing is made stricter)."""
    mask = current_umask()
    root = Path(directory)
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        wanted = (0o777 if path.is_dir() else 0o666) & ~mask
        mode = path.stat().st_mode & 0o777
        if mode | wanted != mode:
            path.chmod(mode | wanted)
