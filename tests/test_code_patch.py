"""code.patch: `git apply` on a clean checkout of the recorded commit rebuilds the code that ran."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lab.reproduce import environment_differences
from lab.run_dir.environment import UNTRACKED_MAX_BYTES, code_version


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.email=t@t", "-c", "user.name=t", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def _checkout_with_work(root: Path) -> str:
    """A repository with a committed file, then a tracked edit and untracked files of each kind."""
    root.mkdir()
    _git(root, "init", "-q")
    (root / "train.py").write_text("lr = 1\n")
    (root / ".gitignore").write_text("outputs/\n")
    _git(root, "add", "train.py", ".gitignore")
    _git(root, "commit", "-qm", "first")
    commit = _git(root, "rev-parse", "HEAD").strip()
    # Even with prefix-less diffs configured, the patch must keep a/ b/ for `git apply`.
    _git(root, "config", "diff.noprefix", "true")
    (root / "train.py").write_text("lr = 2\n")
    (root / "heads").mkdir()
    (root / "heads" / "new head.py").write_text("def head():\n    return 'new'\n")
    (root / "outputs").mkdir()
    (root / "outputs" / "run.log").write_text("ignored\n")
    (root / "weights.bin").write_bytes(b"\x00\x01\x02")
    (root / "dump.txt").write_text("x" * (UNTRACKED_MAX_BYTES + 1))
    (root / "venv_target").mkdir()
    (root / ".venv").symlink_to(root / "venv_target")  # a linked virtual environment
    (root / "venv_target" / "marker.txt").write_text("not code\n")
    return commit


def test_patch_rebuilds_tracked_edits_and_new_files_on_a_fresh_clone(tmp_path: Path) -> None:
    work = tmp_path / "work"
    commit = _checkout_with_work(work)
    index_before = (work / ".git" / "index").read_bytes()

    code, patch = code_version(work)

    git = code["git"]
    assert git["commit"] == commit and git["dirty"]
    assert git["changed"] == ["train.py"]  # tracked files the patch edits, by name
    assert sorted(git["untracked"]) == [
        ".venv",
        "dump.txt",
        "heads/new head.py",
        "venv_target/marker.txt",
        "weights.bin",
    ]
    assert git["untracked_skipped"] == {
        ".venv": "a link to a folder",
        "dump.txt": f"over 1 MB ({UNTRACKED_MAX_BYTES + 1} bytes)",
        "weights.bin": "binary",
    }
    assert "outputs/run.log" not in patch and "weights.bin" not in patch
    # The user's staging area is left as it was.
    assert (work / ".git" / "index").read_bytes() == index_before
    assert _git(work, "status", "--porcelain", "--untracked-files=no") == " M train.py\n"

    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", str(work), str(clone))
    _git(clone, "checkout", "-q", commit)
    (tmp_path / "code.patch").write_text(patch)
    _git(clone, "apply", str(tmp_path / "code.patch"))
    assert (clone / "train.py").read_text() == "lr = 2\n"
    assert (clone / "heads" / "new head.py").read_text() == "def head():\n    return 'new'\n"
    assert not (clone / "weights.bin").exists() and not (clone / "dump.txt").exists()


def test_clean_checkout_has_an_empty_patch(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    _git(work, "init", "-q")
    (work / "a.py").write_text("a = 1\n")
    _git(work, "add", "a.py")
    _git(work, "commit", "-qm", "first")
    code, patch = code_version(work)
    assert patch == "" and not code["git"]["dirty"] and code["git"]["untracked_skipped"] == {}


def test_reproduce_says_how_to_rebuild_the_recorded_code(tmp_path: Path) -> None:
    record = {
        "code": {
            "git": {
                "commit": "abc123",
                "dirty": True,
                "untracked_skipped": {"weights.bin": "binary"},
            }
        }
    }
    now = {"code": {"git": {"commit": "abc123", "dirty": False}}}
    lines = environment_differences(record, now, tmp_path)
    assert lines == [
        "code: the recorded run had uncommitted changes; to rebuild its code: "
        f"git checkout abc123 && git apply {tmp_path / 'code.patch'} "
        "(not in the patch: weights.bin (binary))"
    ]


def test_lab_reproduce_says_what_the_checkouts_own_changes_can_change(tmp_path: Path) -> None:
    """lab.reproduce's code lines (s24a L1): commits told apart, the recorded run's patch and
    how to rebuild its code, and what this checkout's uncommitted changes can change."""
    from lab.run_dir.code_version import code_differences

    recorded = {"code": {"git": {"commit": "abc1234", "dirty": True}}}
    now = {"code": {"git": {"commit": "def5678", "dirty": True}}}
    assert code_differences(recorded, now, tmp_path) == [
        "code: recorded commit abc1234, now def5678",
        "code: the recorded run had uncommitted changes; to rebuild its code: "
        f"git checkout abc1234 && git apply {tmp_path / 'code.patch'}",
        "code: this checkout has uncommitted changes (the reproduction's code.patch holds them): "
        "changes to lab's code can change the numbers, edits of conf/ files cannot (the run's "
        "resolved config.yaml is what runs)",
    ]
    clean = {"code": {"git": {"commit": "abc1234", "dirty": False}}}
    assert code_differences(clean, clean, tmp_path) == []


def test_lab_reproduce_names_the_code_of_a_resume_by_other_code(tmp_path: Path) -> None:
    """s24e M1: a run resumed by another commit was trained by two codes; a reproduction runs
    one. Resumes by the run's own commit, and records of resumes before they named their
    code, add no line."""
    from lab.run_dir.code_version import code_differences

    recorded = {
        "code": {"git": {"commit": "abc1234", "dirty": False}},
        "resumes": [
            {"from_step": 40, "code": {"git": {"commit": "abc1234"}}},
            {"from_step": 340, "code": {"git": {"commit": "def5678", "dirty": False}}},
            {"from_step": 500},
        ],
    }
    now = {"code": {"git": {"commit": "abc1234", "dirty": False}}}
    assert code_differences(recorded, now, tmp_path) == [
        "code: the recorded run's steps from 340 on were trained by a resume with commit "
        "def5678; a reproduction runs one code throughout"
    ]


def test_a_resume_names_the_code_that_trained_the_steps_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The line a resume by other code says: the code of the last resume that names one, else
    the run's first code; None where that is this code."""
    from lab.run_dir import code_version
    from lab.run_dir.code_version import CodeVersion, resume_code_line

    monkeypatch.setattr(code_version, "running_code", lambda: CodeVersion("f" * 40, "0.1.0"))
    monkeypatch.setattr(code_version, "commit_date", lambda commit: "2026-12-01")
    first = {"code": {"git": {"commit": "a" * 40}}, "lab_version": "0.1.0"}
    line = resume_code_line(first, tmp_path, 340)
    assert line is not None
    assert line.startswith(
        "the steps of this run before step 340 were trained by lab aaaaaaa (2026-12-01); this "
        "lab is fffffff and trains the steps from 340 on (record.json's resumes entry names "
        "it): a run trained by two codes may not match one trained by either; to resume with "
        "that code instead: git "
    )
    resumed = {**first, "resumes": [{"from_step": 100, "code": {"git": {"commit": "f" * 40}}}]}
    assert resume_code_line(resumed, tmp_path, 340) is None  # this code trained since step 100
    older = {**first, "resumes": [{"from_step": 100}]}  # an entry before resumes named code
    assert resume_code_line(older, tmp_path, 340) is not None


def test_lab_reproduce_names_the_changed_files_by_what_they_can_change(tmp_path: Path) -> None:
    """s24d L: the files of this checkout's uncommitted changes, by where they lie: code can
    change the numbers, config files cannot, other files do not run."""
    from lab.run_dir.code_version import code_differences

    clean = {"code": {"git": {"commit": "abc1234", "dirty": False}}}
    git = {
        "commit": "abc1234",
        "dirty": True,
        "changed": ["src/lab/training/optim.py", "conf/model/minilm.yaml", "README.md"],
        "untracked": ["experiments/mine.yaml", "tests/test_mine.py"],
    }
    assert code_differences(clean, {"code": {"git": git}}, tmp_path) == [
        "code: this checkout has uncommitted changes (the reproduction's code.patch holds them): "
        "changes to code ('src/lab/training/optim.py') can change the numbers; edits of config "
        "files ('conf/model/minilm.yaml', 'experiments/mine.yaml') cannot (the run's resolved "
        "config.yaml is what runs); other files ('README.md', 'tests/test_mine.py') do not run"
    ]
    only_config = {**git, "changed": ["conf/data/imdb.yaml"], "untracked": []}
    assert code_differences(clean, {"code": {"git": only_config}}, tmp_path) == [
        "code: this checkout has uncommitted changes (the reproduction's code.patch holds them): "
        "edits of config files ('conf/data/imdb.yaml') cannot (the run's resolved config.yaml is "
        "what runs)"
    ]


def test_lab_reproduce_says_a_stop_by_time_fell_at_another_step() -> None:
    """s24d L: a run stopped by `trainer.max_time` stops where the machine's speed puts it."""
    from lab.reproduce import _time_stop_difference

    then = {"max_time_stop": {"step": 120, "line": "training stopped at trainer.max_time=..."}}
    assert _time_stop_difference(then, {"max_time_stop": {"step": 97}}) == (
        "trainer.max_time: the recorded run stopped at it after step 120, the reproduction "
        "after step 97: a stop by time falls where the machine's speed puts it, so the metrics "
        "of runs that trained for different numbers of steps differ"
    )
    assert "the reproduction did not:" in str(_time_stop_difference(then, {}))
    assert _time_stop_difference(then, {"max_time_stop": {"step": 120}}) is None
    assert _time_stop_difference({}, {"max_time_stop": {"step": 120}}) is None


def test_the_advice_names_the_recording_checkout_where_it_still_holds_that_code(
    tmp_path: Path,
) -> None:
    """s25a M3: a run recorded by a worktree that still exists at that commit, clean: use it,
    rather than a new worktree of the same commit; once it moved on or holds edits, a new one."""
    from lab.run_dir.code_version import how_to_use, recorded_code

    old = tmp_path / "old"
    (old / "src" / "lab").mkdir(parents=True)
    (old / "src" / "lab" / "__init__.py").write_text("")
    _git(old, "init", "-q")
    _git(old, "add", ".")
    _git(old, "commit", "-qm", "first")
    commit = _git(old, "rev-parse", "HEAD").strip()
    record = {"code": {"git": {"commit": commit, "dirty": False, "root": str(old)}}}
    assert how_to_use(recorded_code(record)) == (
        f"to use that code: run lab with PYTHONPATH={old / 'src'} (the checkout that recorded "
        f"the run, still at {commit[:7]} with no changes)"
    )
    (old / "src" / "lab" / "__init__.py").write_text("edited = True\n")
    assert "worktree add" in how_to_use(recorded_code(record))
    _git(old, "commit", "-qam", "second")  # moved on: HEAD is another commit
    assert "worktree add" in how_to_use(recorded_code(record))
    gone = {"code": {"git": {"commit": commit, "root": str(tmp_path / "gone")}}}
    assert "worktree add" in how_to_use(recorded_code(gone))
