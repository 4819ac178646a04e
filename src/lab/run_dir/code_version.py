"""How the code that recorded a run relates to the code that runs now: one place for it.

A run directory outlives the lab that wrote it. `record.json` names that lab's code
(`lab.run_dir.records.start_record`): `code.git` (`commit`, `dirty`, `untracked_skipped`) for a
clone, with its uncommitted work in the run's code.patch file (named by `code.patch`), or, for an
installed wheel, no git state and `lab_version`. Every tool that reads a run made by other
code says so in the same words, `other_code_note`:

    this run was recorded by lab 0b28d75 (2026-12-03, with uncommitted changes in code.patch);
    this lab is b3d5335: to use that code: git -C <clone> worktree add /tmp/lab-0b28d75 0b28d75
    && git -C /tmp/lab-0b28d75 apply <run>/code.patch, then run lab with
    PYTHONPATH=/tmp/lab-0b28d75/src

(one line): `lab.eval` under a table whose numbers differ from the recorded ones (the scoring
may have changed since), `lab.eval` / `lab.export` / `lab.predict` / `lab.serve` in a refusal of
a config this lab cannot build, `lab.reproduce` before it retrains, a refused resume, and a
sweep that continues a study whose trials ran under other code (`other_code_trials`).

The rule is deliberately plain: code is *other* when both sides name a commit and the commits
differ (or, without git on either side, when the lab versions differ). The same commit with
other uncommitted changes is not told apart: that would mean diffing the working tree on every
start of every tool, and a researcher evaluating with the edits they trained with is the
common case (`lab.reproduce` does list a dirty record, `code_differences`). A worktree, not a
checkout, is advised: it leaves the user's clone, its branch and its uncommitted work as they
are, and the editable install keeps pointing at that clone, so the old code runs with
`PYTHONPATH=<worktree>/src`.
"""

from __future__ import annotations

import functools
import json
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lab

# Where the advice puts the worktree of a recorded commit (`/tmp/lab-<short commit>`).
WORKTREE_PARENT = Path("/tmp")
SHORT = 7  # characters of a commit, as `git log --oneline` shows it


@dataclass(frozen=True)
class CodeVersion:
    """A lab's code: its git commit (None from a wheel, or a record without git), its lab
    version, and, for a recorded run, whether it had uncommitted changes and the run's
    `code.patch` holding them."""

    commit: str | None
    version: str | None
    dirty: bool = False
    patch: Path | None = None
    root: str | None = None  # the checkout that recorded it (`code.git.root`)

    @property
    def label(self) -> str:
        """`0b28d75`, or `0.1.0` without a commit."""
        return self.commit[:SHORT] if self.commit else self.version or "(version unknown)"

    @property
    def name(self) -> str:
        """`lab 0b28d75`, or `lab 0.1.0` without a commit."""
        return f"lab {self.label}"


def recorded_code(record: Mapping[str, Any], run_dir: Path | None = None) -> CodeVersion:
    """The code that recorded `record` (a run's `record.json`), its patch in `run_dir`."""
    code = record.get("code")
    code = code if isinstance(code, Mapping) else {}
    git = code.get("git")
    git = git if isinstance(git, Mapping) else {}
    patch = None
    if run_dir is not None and git.get("dirty"):
        named = code.get("patch") or "code.patch"  # records before `patch` wrote the file too
        if (run_dir / str(named)).is_file():
            patch = run_dir / str(named)
    return CodeVersion(
        commit=str(git["commit"]) if git.get("commit") else None,
        version=str(record["lab_version"]) if record.get("lab_version") else None,
        dirty=bool(git.get("dirty")),
        patch=patch,
        root=str(git["root"]) if git.get("root") else None,
    )


def _git(root: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


@functools.lru_cache(maxsize=1)
def running_code() -> CodeVersion:
    """The code of this process: the clone's HEAD commit, or only the version for a wheel
    (whose surroundings may be anyone's git work tree, `lab.run_dir.records.lab_code_version`)."""
    from lab.config.paths import checkout_root

    root = checkout_root()
    commit = _git(root, "rev-parse", "HEAD") if root is not None else None
    return CodeVersion(commit=commit or None, version=lab.__version__)


@functools.lru_cache(maxsize=32)
def commit_date(commit: str) -> str | None:
    """The day `commit` was made (`2026-12-03`), where the clone lab runs from has it."""
    from lab.config.paths import checkout_root

    root = checkout_root()
    if root is None:
        return None
    return _git(root, "show", "-s", "--format=%cs", f"{commit}^{{commit}}") or None


def is_other_code(recorded: CodeVersion, running: CodeVersion) -> bool:
    """Whether `recorded` is known to be other code than `running` (see the module's rule)."""
    if recorded.commit and running.commit:
        return recorded.commit != running.commit
    if recorded.commit or running.commit:  # a clone on one side, a wheel on the other
        return False  # unknown: a wheel records no commit
    return bool(recorded.version and running.version and recorded.version != running.version)


def how_to_use(code: CodeVersion) -> str:
    """`to use that code: git ... worktree add ... && git ... apply <patch>, then run lab with
    PYTHONPATH=...`; for a wheel's record, the version to install."""
    if not code.commit:
        return f"to use that code: install lab {code.version}"
    if (recorder := _still_at(code)) is not None:  # no new worktree needed (s25a M3)
        return (
            f"to use that code: run lab with PYTHONPATH={recorder / 'src'} (the checkout that "
            f"recorded the run, still at {code.commit[:SHORT]} with no changes)"
        )
    from lab.config.paths import checkout_root

    short = code.commit[:SHORT]
    tree = WORKTREE_PARENT / f"lab-{short}"
    root = checkout_root()
    where = f"git -C {root} " if root is not None else "in a clone of lab: git "
    steps = f"{where}worktree add {tree} {short}"
    if code.patch is not None:
        steps += f" && git -C {tree} apply {code.patch}"
    return f"to use that code: {steps}, then run lab with PYTHONPATH={tree / 'src'}"


def _still_at(code: CodeVersion) -> Path | None:
    """The checkout that recorded `code`, where it still exists at that commit, with no
    uncommitted changes to its tracked files, and was clean then too; else None."""
    if code.root is None or code.dirty or not code.commit:
        return None
    root = Path(code.root)
    if not (root / "src" / "lab").is_dir() or _git(root, "rev-parse", "HEAD") != code.commit:
        return None
    if _git(root, "status", "--porcelain", "--untracked-files=no") != "":
        return None
    return root


def describe(code: CodeVersion) -> str:
    """`lab 0b28d75 (2026-12-03, with uncommitted changes in code.patch)`."""
    details = []
    if code.commit:
        day = commit_date(code.commit)
        details.append(day or "a commit this clone does not have: git fetch it first")
    if code.dirty:
        details.append(
            f"with uncommitted changes in {code.patch.name}"
            if code.patch is not None
            else "with uncommitted changes, its code.patch missing"
        )
    return f"{code.name} ({', '.join(details)})" if details else code.name


def other_code_note(record: Mapping[str, Any], run_dir: Path | None = None) -> str | None:
    """One line saying which lab recorded the run and how to use that code, or None when it
    is this code (or unknown: see the module's rule)."""
    recorded, running = recorded_code(record, run_dir), running_code()
    if not is_other_code(recorded, running):
        return None
    later = _resumed_by_other_code(record, recorded)
    advice = how_to_use(recorded)
    if later:  # which code trained what, before the advice (s25b L5)
        advice = advice.replace("to use that code", "to use the code that started it")
    return (
        f"this run was recorded by {describe(recorded)}{later}; this lab is "
        f"{running.label}: {advice}"
    )


def _resumed_by_other_code(record: Mapping[str, Any], first: CodeVersion) -> str:
    """`, resumed from step 548 by lab 0810afd and from step 600 by lab ee3acb5` where a
    resume of the run ran other code than `first` (the code that started it), else ``."""
    resumes = [
        (entry.get("from_step"), recorded_code(entry))
        for entry in record.get("resumes") or []
        if isinstance(entry, Mapping) and isinstance(entry.get("code"), Mapping)
    ]
    if not any(is_other_code(code, first) for _, code in resumes):
        return ""
    return ", resumed " + " and ".join(f"from step {step} by {code.name}" for step, code in resumes)


def other_code_trials(trials_dir: Path) -> str | None:
    """A warning for a sweep continued under this code while its trials (`trials_dir/<N>`)
    ran under other code: which trials, which lab, and how to continue with that code; None
    when every trial's record names this code (or none can be read)."""
    running = running_code()
    by_code: dict[tuple[str | None, str | None], list[int]] = {}
    folders = trials_dir.iterdir() if trials_dir.is_dir() else iter(())
    for folder in folders:
        try:
            record = json.loads((folder / "record.json").read_text())
        except (OSError, ValueError):  # a trial that wrote no record yet, or a stray file
            continue
        if not folder.name.isdigit() or not isinstance(record, dict):
            continue
        code = recorded_code(record)  # a trial's own patch is not the study's code
        if is_other_code(code, running):
            by_code.setdefault((code.commit, code.version), []).append(int(folder.name))
    if not by_code:
        return None
    parts = []
    for (commit, version), numbers in sorted(by_code.items(), key=lambda item: min(item[1])):
        word = "trial" if len(numbers) == 1 else "trials"
        numbered = ", ".join(str(n) for n in sorted(numbers))
        parts.append(f"{word} {numbered} ran with {describe(CodeVersion(commit, version))}")
    first = CodeVersion(*min(by_code, key=lambda code: min(by_code[code])))
    return (
        f"this study's {'; '.join(parts)}; this lab is {running.label}: the results of other "
        "lab code may not compare with this lab's (scoring and training may differ); "
        + how_to_use(first).replace("to use that code", "to continue the study with that code")
    )


def code_differences(
    record: Mapping[str, Any], now: Mapping[str, Any], run_dir: Path | None = None
) -> list[str]:
    """`lab.reproduce`'s code lines, from the recorded run's record and the reproduction's:
    `code: recorded commit X, now Y`; for a recorded run with uncommitted changes, how to
    rebuild its code from `run_dir`'s code.patch and which untracked files it lacks; a note
    when this checkout has uncommitted changes."""
    lines = []
    old_git = (record.get("code") or {}).get("git") or {}
    new_git = (now.get("code") or {}).get("git") or {}
    if old_git.get("commit") != new_git.get("commit"):
        lines.append(f"code: recorded commit {old_git.get('commit')}, now {new_git.get('commit')}")
    for entry in record.get("resumes") or []:  # resumed by other code (s24e M1)
        code = entry.get("code") if isinstance(entry, Mapping) else None
        commit = ((code.get("git") or {}) if isinstance(code, Mapping) else {}).get("commit")
        if commit and commit != old_git.get("commit"):
            lines.append(
                f"code: the recorded run's steps from {entry.get('from_step')} on were trained "
                f"by a resume with commit {commit}; a reproduction runs one code throughout"
            )
    if old_git.get("dirty"):
        patch = (run_dir or Path(".")) / "code.patch"
        line = (
            "code: the recorded run had uncommitted changes; to rebuild its code: "
            f"git checkout {old_git.get('commit')} && git apply {patch}"
        )
        skipped = old_git.get("untracked_skipped") or {}
        if skipped:
            left_out = ", ".join(f"{name} ({why})" for name, why in skipped.items())
            line += f" (not in the patch: {left_out})"
        lines.append(line)
    if new_git.get("dirty"):  # which of them can matter (s24a L1), by name (s24d L)
        lines.append(
            "code: this checkout has uncommitted changes (the reproduction's code.patch holds "
            f"them): {_what_changes_can_change(new_git)}"
        )
    return lines


# Where a file of a lab checkout lies decides what an uncommitted change of it can change in a
# reproduction: code runs; config files do not (the run's resolved config.yaml runs instead).
_CONFIG_FOLDERS = ("conf/", "experiments/", "sweeps/")


def _what_changes_can_change(git: Mapping[str, Any]) -> str:
    """`changes to lab's code (src/lab/x.py) can change the numbers, edits of conf/ files
    (conf/y.yaml) cannot (...)`, naming the changed and untracked files where the record lists
    them (records before `changed` existed: the general sentence)."""
    from lab.data.unseen_classes import few

    names = [str(n) for key in ("changed", "untracked") for n in git.get(key) or []]
    code = [n for n in names if n.endswith(".py") and not n.startswith("tests/")]
    config = [n for n in names if n.startswith(_CONFIG_FOLDERS)]
    rest = [n for n in names if n not in code and n not in config]
    said = "the run's resolved config.yaml is what runs"
    if not names:
        return f"changes to lab's code can change the numbers, edits of conf/ files cannot ({said})"
    parts = []
    if code:
        parts.append(f"changes to code ({few(code)}) can change the numbers")
    if config:
        parts.append(f"edits of config files ({few(config)}) cannot ({said})")
    if rest:
        parts.append(f"other files ({few(rest)}) do not run")
    return "; ".join(parts)


def resuming_code(output_dir: Path, record: Mapping[str, Any]) -> dict[str, Any]:
    """The `code` and `lab_version` of a resume's `resumes` entry in record.json (s24e M1):
    the code that trains the steps from the resume on, in the shape `recorded_code` reads, its
    uncommitted changes written to `code.resume-<n>.patch` in `output_dir` (the run's
    code.patch holds the first code's)."""
    from lab.run_dir.disk import writing
    from lab.run_dir.records import is_global_rank_zero, lab_code_version

    code, patch = lab_code_version()
    if patch:
        code["patch"] = f"code.resume-{len(record.get('resumes') or []) + 1}.patch"
        if is_global_rank_zero():
            with writing(output_dir / code["patch"]):
                (output_dir / code["patch"]).write_text(patch)
    return {"code": code, "lab_version": lab.__version__}


def resume_code_line(record: Mapping[str, Any], run_dir: Path, from_step: int) -> str | None:
    """A line for a resume by other code than trained the steps before it (the last resume's,
    or the run's first code where no resume names one), or None: which code trained what, and
    how to resume with the earlier code instead."""
    before = recorded_code(record, run_dir)
    resumes = record.get("resumes")
    last = resumes[-1] if isinstance(resumes, list) and resumes else None
    if isinstance(last, Mapping) and isinstance(last.get("code"), Mapping):
        before = recorded_code(last, run_dir)
    running = running_code()
    if not is_other_code(before, running):
        return None
    again = how_to_use(before).replace("to use that code", "to resume with that code instead")
    return (
        f"the steps of this run before step {from_step} were trained by {describe(before)}; "
        f"this lab is {running.label} and trains the steps from {from_step} on (record.json's "
        f"resumes entry names it): a run trained by two codes may not match one trained by "
        f"either; {again}"
    )
