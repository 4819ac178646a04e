"""What a run ran on: code version, packages, hardware. Recorded in every run's record.json.

`lab.reproduce` compares these with the machine it runs on and warns about differences.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

# Packages whose versions can change numbers; recorded in every run.
KEY_PACKAGES = (
    "lab",
    "torch",
    "lightning",
    "transformers",
    "tokenizers",
    "datasets",
    "torchmetrics",
    "hydra-core",
    "omegaconf",
    "numpy",
    "peft",
    "optuna",
    "wandb",
)


def package_versions() -> dict[str, str | None]:
    """Installed versions of KEY_PACKAGES (None when not installed) and Python's."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in KEY_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


# Untracked files above this size are left out of code.patch (listed in record.json instead):
# a run directory should not swallow a stray data dump or model file.
UNTRACKED_MAX_BYTES = 1 << 20
# A checkout with a big unignored folder must not make every run start slow or its patch huge:
# past this many files (one `git diff` each) or this many bytes in all, the rest is listed only.
UNTRACKED_MAX_FILES = 200
UNTRACKED_TOTAL_BYTES = 10 << 20

# Options that make `git diff` output a patch `git apply` takes whatever the user's git config
# says (diff.noprefix, color.ui=always, external diff drivers, textconv filters).
_PATCH_OPTIONS = (
    "--binary",
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--src-prefix=a/",
    "--dst-prefix=b/",
)


def _git(root: Path, *args: str, ok_codes: tuple[int, ...] = (0,)) -> str | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.TimeoutExpired, UnicodeDecodeError):
        return None
    return result.stdout if result.returncode in ok_codes else None


def _skip_reason(path: Path) -> str | None:
    """Why an untracked file cannot go into code.patch as text (None: it can)."""
    if path.is_symlink():
        if path.is_dir():  # a linked virtual environment or data folder: not code
            return "a link to a folder"
        return None  # git stores the link target, a short text
    if not path.is_file():
        return "not a regular file (a nested git repository?)"
    try:
        size = path.stat().st_size
        if size > UNTRACKED_MAX_BYTES:
            return f"over {UNTRACKED_MAX_BYTES >> 20} MB ({size} bytes)"
        content = path.read_bytes()
    except OSError as err:
        return f"unreadable ({err.strerror})"
    if b"\0" in content[:8000]:  # git's own binary test
        return "binary"
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8 text"
    return None


def untracked_patch(root: Path, untracked: list[str]) -> tuple[str, dict[str, str]]:
    """New-file diffs of the `untracked` files of `root`, and {path: reason} for those left out.

    Each file is diffed against /dev/null with `git diff --no-index`, which reads no index:
    the user's staging area is never touched. Binary files, files over UNTRACKED_MAX_BYTES,
    unreadable ones and those past UNTRACKED_MAX_FILES / UNTRACKED_TOTAL_BYTES are left
    out, with the reason.
    """
    hunks: list[str] = []
    skipped: dict[str, str] = {}
    total = 0
    for name in untracked:
        reason = _skip_reason(root / name)
        if reason is None and len(hunks) >= UNTRACKED_MAX_FILES:
            reason = f"more than {UNTRACKED_MAX_FILES} untracked files"
        if reason is None and total + (root / name).lstat().st_size > UNTRACKED_TOTAL_BYTES:
            reason = f"untracked files over {UNTRACKED_TOTAL_BYTES >> 20} MB in all"
        if reason is None:
            total += (root / name).lstat().st_size
            # --no-index exits 1 when the files differ, which they always do here.
            diff = _git(
                root,
                "diff",
                "--no-index",
                *_PATCH_OPTIONS,
                "--",
                "/dev/null",
                name,
                ok_codes=(0, 1),
            )
            if not diff:  # failed, or git had nothing to say of it
                reason = "git diff failed" if diff is None else "git diff gave no content"
            else:
                hunks.append(diff)
        if reason is not None:
            skipped[name] = reason
    return "".join(hunks), skipped


def code_version(root: Path) -> tuple[dict[str, Any], str]:
    """Git commit, branch and dirty state of `root`, plus the patch of uncommitted work.

    The patch (may be '') is `git diff HEAD` followed by a new-file diff of every untracked,
    not ignored file, so `git apply code.patch` on a clean checkout of the commit rebuilds the
    code that ran. Untracked files left out of it (binary, over 1 MB) are listed with the
    reason under `untracked_skipped`.
    """
    commit = _git(root, "rev-parse", "HEAD")
    if commit is None:
        return {"git": None, "note": f"{root} is not a git checkout; code version unknown"}, ""
    branch = (_git(root, "rev-parse", "--abbrev-ref", "HEAD") or "").strip()
    # Paths in the patch are relative to the top of the checkout, where `git apply` runs.
    root = Path((_git(root, "rev-parse", "--show-toplevel") or str(root)).strip())
    patch = _git(root, "diff", "HEAD", *_PATCH_OPTIONS) or ""
    changed = [name for name in (_git(root, "diff", "--name-only", "-z", "HEAD") or "").split("\0")]
    listing = _git(root, "ls-files", "-z", "--others", "--exclude-standard") or ""
    untracked = [name for name in listing.split("\0") if name]
    new_files, skipped = untracked_patch(root, untracked)
    return {
        "git": {
            "commit": commit.strip(),
            "branch": branch,
            "dirty": bool(patch or untracked),
            "changed": [name for name in changed if name],  # tracked files the patch edits
            "untracked": untracked,
            "untracked_skipped": skipped,
            "root": str(root),
        }
    }, patch + new_files


def hardware() -> dict[str, Any]:
    """CPU and GPU model and count, CUDA/cuDNN versions, torch threads."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpus = (
        [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        if torch.cuda.is_available()
        else []
    )
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpus": gpus,
        "gpu_count": len(gpus),
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "executable": sys.executable,
    }
