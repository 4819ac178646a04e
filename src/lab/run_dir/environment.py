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


def _git(root: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout if result.returncode == 0 else None


def code_version(root: Path) -> tuple[dict[str, Any], str]:
    """Git commit, branch and dirty state of `root`, plus the uncommitted diff (may be '')."""
    commit = _git(root, "rev-parse", "HEAD")
    if commit is None:
        return {"git": None, "note": f"{root} is not a git checkout; code version unknown"}, ""
    branch = (_git(root, "rev-parse", "--abbrev-ref", "HEAD") or "").strip()
    patch = _git(root, "diff", "HEAD", "--binary") or ""
    untracked = (_git(root, "ls-files", "--others", "--exclude-standard") or "").split()
    return {
        "git": {
            "commit": commit.strip(),
            "branch": branch,
            "dirty": bool(patch or untracked),
            "untracked": untracked,
            "root": str(root),
        }
    }, patch


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
