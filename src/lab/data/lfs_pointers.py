"""Git LFS pointer files given as data: what a Hub dataset repository cloned with `git clone`
but without Git LFS holds in place of each data file. Found by their first bytes (by the
local-file loader and by the config rules that peek at a file's header) and refused in words
that say what happened and how to get the data."""

from __future__ import annotations

from pathlib import Path

# How a Git LFS pointer file starts: what a Hub dataset repository cloned without Git LFS holds
# in place of each data file (three lines: this, the object's sha256 and its size).
LFS_POINTER = b"version https://git-lfs.github.com/spec/"


def lfs_pointer_message(file: str | Path) -> str:
    """The refusal of a Git LFS pointer file given as data."""
    return (
        f"{file} is a Git LFS pointer, not the data (the repository was cloned without Git "
        "LFS): run `git lfs install && git lfs pull` in the clone, or download the dataset "
        "with `hf download <repo id> --repo-type dataset --local-dir <dir>`"
    )
