"""`record.json`'s `own_code` (s27d M4): the package of your own a run's `_target_`s name, where
it was found and its git commit, and lab.reproduce's lines when that code differs."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lab.run_dir.own_code import own_code, own_code_differences


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    """A project of one's own, a git checkout holding a package with a callback, on sys.path."""
    root = tmp_path / "myproj"
    (root / "minepkg").mkdir(parents=True)
    (root / "minepkg" / "__init__.py").write_text("")
    (root / "minepkg" / "cb.py").write_text(
        "import lightning as L\n\n\nclass Mine(L.Callback):\n    pass\n"
    )
    _git(root.parent, "init", "-q", str(root))
    _git(root, "add", ".")
    _git(root, "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "first")
    sys.path.insert(0, str(root))
    yield root
    sys.path.remove(str(root))
    sys.modules.pop("minepkg", None)


def test_the_record_names_your_package_its_folder_and_commit(
    project: Path, compose_cfg: Callable[..., object]
) -> None:
    cfg = compose_cfg("+callbacks.mine={_target_: minepkg.cb.Mine}")
    commit = _git(project, "rev-parse", "HEAD")
    assert own_code(cfg) == {  # type: ignore[arg-type]
        "minepkg": {
            "path": str((project / "minepkg").resolve()),
            "git": {"commit": commit, "dirty": False, "root": str(project.resolve())},
        }
    }
    (project / "minepkg" / "cb.py").write_text("# changed\n")
    assert own_code(cfg)["minepkg"]["git"]["dirty"] is True  # type: ignore[arg-type]
    assert own_code(compose_cfg()) == {}  # type: ignore[arg-type]  # lab's own targets only


def test_reproduce_says_where_your_code_differs() -> None:
    def record(commit: str, dirty: bool = False, path: str = "/p/minepkg") -> dict[str, object]:
        return {"own_code": {"minepkg": {"path": path, "git": {"commit": commit, "dirty": dirty}}}}

    assert own_code_differences(record("a" * 40), record("a" * 40)) == []
    assert own_code_differences(record("a" * 40), record("b" * 40)) == [
        "your package minepkg: recorded at git aaaaaaaaaaaa, now bbbbbbbbbbbb (/p/minepkg): its "
        "changes can change the numbers"
    ]
    assert own_code_differences(record("a" * 40), record("a" * 40, dirty=True)) == [
        "your package minepkg (/p/minepkg) has uncommitted changes now: they can change the numbers"
    ]
    assert own_code_differences(record("a" * 40), {}) == [
        "your package minepkg: recorded at /p/minepkg, not found now"
    ]
    assert own_code_differences(record("a" * 40), record("a" * 40, path="/q/minepkg")) == [
        "your package minepkg: recorded at /p/minepkg, now /q/minepkg"
    ]
