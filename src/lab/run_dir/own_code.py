"""The code of your own a run used, in its record: `record.json`'s `own_code`.

A head, callback or logger of your own is a `_target_` outside lab and the installed packages
(`lab.config.target_imports.is_own_code`). Every tool imports it again from the run's
config.yaml, `lab.reproduce` months later too, so the record says which package it was, where
it was imported from, and its git commit (with whether it had uncommitted changes), as it says
lab's own: `{"mylab": {"path": "/home/me/myproj/mylab", "git": {"commit": "...", "dirty":
false, "root": "/home/me/myproj"}}}` (`git: null` outside a git checkout). Nothing is
imported here: the package is found by name (s27d M4).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

RECORD_KEY = "own_code"


def own_code(cfg: DictConfig) -> dict[str, Any]:
    """{top-level package: {path, git}} for each package of your own the config's `_target_`s
    name; {} when there is none."""
    from lab.config.target_imports import is_own_code, target_nodes

    tree = OmegaConf.to_container(cfg, resolve=False)
    packages = sorted(
        {
            str(node["_target_"]).split(".", 1)[0]
            for _, node in target_nodes(tree)
            if is_own_code(str(node["_target_"]))
        }
    )
    return {name: entry for name in packages if (entry := _package(name)) is not None}


def _package(name: str) -> dict[str, Any] | None:
    from lab.config.target_imports import top_level_spec

    spec = top_level_spec(name)
    if spec is None:
        return None
    locations = list(spec.submodule_search_locations or [])
    path = Path(locations[0] if locations else str(spec.origin)).resolve()
    return {"path": str(path), "git": _git_state(path if path.is_dir() else path.parent)}


def _git_state(folder: Path) -> dict[str, Any] | None:
    """The commit, dirty state and top folder of the git checkout holding `folder`, or None."""
    from lab.run_dir.environment import _git

    commit = _git(folder, "rev-parse", "HEAD")
    if commit is None:
        return None
    root = (_git(folder, "rev-parse", "--show-toplevel") or str(folder)).strip()
    status = _git(folder, "status", "--porcelain", "--untracked-files=no", "--", ".")
    return {"commit": commit.strip(), "dirty": bool(status and status.strip()), "root": root}


def own_code_differences(recorded: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """`lab.reproduce`'s lines where the code of your own differs between the recorded run and
    its reproduction (`own_code` of each record): another commit, uncommitted changes, another
    folder, or a package the reproduction did not find."""
    lines = []
    for name, was in (recorded.get(RECORD_KEY) or {}).items():
        is_ = (now.get(RECORD_KEY) or {}).get(name)
        if is_ is None:
            lines.append(f"your package {name}: recorded at {was.get('path')}, not found now")
            continue
        old, new = was.get("git") or {}, is_.get("git") or {}
        if old.get("commit") != new.get("commit"):
            lines.append(
                f"your package {name}: recorded at git {str(old.get('commit'))[:12]}, now "
                f"{str(new.get('commit'))[:12]} ({is_.get('path')}): its changes can change "
                "the numbers"
            )
        elif new.get("dirty") or old.get("dirty"):
            lines.append(
                f"your package {name} ({is_.get('path')}) has uncommitted changes "
                f"{'now' if new.get('dirty') else 'in the recorded run'}: they can change "
                "the numbers"
            )
        elif was.get("path") != is_.get("path"):
            lines.append(
                f"your package {name}: recorded at {was.get('path')}, now {is_.get('path')}"
            )
    return lines
