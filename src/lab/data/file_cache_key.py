"""The name datasets caches a load of local files under: their identity beyond the mtime.

datasets keys its Arrow cache of local data files on their paths and modification times only
(`datasets.data_files._get_single_origin_metadata`). A file whose content changed while its
mtime stayed (`cp -p` or `rsync -a` of another version, `touch -r`, an archive unpacked with
fixed times, a symlink pointed at another file of the same mtime) was read from the old
cache without a word: old rows, old labels, and a run record whose data digests were of
those (s22b H1). The configuration name lab passes (`cache_name`) adds what a write always
changes and no tool sets back: each file's status-change time (ctime: the kernel sets it on
every write, rename or permission change), its size and inode, and the path a symlink
resolves to. Hashing the content would be exact too, but would read every byte on every run
(seconds for a corpus the cache maps in milliseconds); a ctime changed without the content
(a `chmod`, a move) costs one more read of the file, as a `touch` did already.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable


def cache_name(files: Iterable[str]) -> str | None:
    """`lab-<digest>` of the files' resolved paths, sizes, mtimes, ctimes and inodes (order
    free); None where one cannot be read (an fsspec URL: datasets' own key then)."""
    digest = hashlib.sha256()
    try:
        for file in sorted(files):
            real = os.path.realpath(file)
            stat = os.stat(real)
            identity = (real, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)
            digest.update(repr(identity).encode())
    except (OSError, ValueError):
        return None
    return f"lab-{digest.hexdigest()[:16]}"
