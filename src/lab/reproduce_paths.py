"""Where `lab.reproduce` reads a recorded run's relative paths from: the run's working directory.

`lab.train` changes no working directory (`hydra.job.chdir: false`), and a run's resolved
`config.yaml` keeps a path as it was given: `data.path=data` stays `data`, read from the folder
`lab.train` ran in, which `record.json` keeps as `cwd`. A reproduction started from another
folder read `data` from there: `data.path does not exist: data`, or worse, another `data/`
folder that happened to be there. So before the reproduction starts, every relative value of a
path-valued key (`PATH_KEYS`: `data.path` and `data.interleave[*].path`, `model.pretrained` and
the copies of it a resolved config holds (the tokenizer's and the network's `pretrained...`
keys, a DPO start model's), a `model.chat_template` file, `paths.output_root`) that exists
under the recorded working directory is read from there; one log line names them (all but
`paths.output_root`: a reproduction writes under the run's folder, not there). A value
found there is what the recorded run read (`lab.train` and `from_pretrained` look on disk
first); one not found there is left as it is: read from the current directory, or a Hub id
(`FacebookAI/roberta-base`) that is no path. A data path found nowhere is refused before the
reproduction writes anything, naming both places (`lab.eval_data_path` does the same for
`lab.eval`, which prefers the current directory: there the user names the data to score).
Absolute paths inside installed packages (the quickstart model, lab's demo data), gone on
another install, are not this module's: `lab.run_dir.package_paths` reads them where their
package is installed now, before these checks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lab.errors import DataError

# Keys whose string value is a file or folder (or, for the model keys, a Hub id).
PATH_KEYS = frozenset(
    {
        "path",  # data.path, data.interleave[*].path
        "pretrained",  # model.pretrained, model.network.pretrained
        "name_or_path",  # model.network.name_or_path
        "pretrained_model_name_or_path",  # model.tokenizer
        "chat_template",  # model.chat_template: a Jinja string or a file
        "output_root",  # paths.output_root (only checked for writing by a reproduction)
    }
)


def read_from_recorded_cwd(config: dict[str, Any], recorded_cwd: object) -> list[str]:
    """Point `config`'s relative paths (`PATH_KEYS`) that exist under `recorded_cwd` at them,
    in place; return `key=value` (dotted key, recorded value) for each one moved. Nothing
    moves when the run's working directory is unknown, gone, or the current one."""
    if not isinstance(recorded_cwd, str) or not recorded_cwd:
        return []
    base = Path(recorded_cwd)
    if not base.is_dir() or _same_dir(base, Path.cwd()):
        return []
    moved: list[str] = []
    _walk(config, "", base, moved)
    return moved


def check_data_paths(config: dict[str, Any], recorded_cwd: object) -> None:
    """A `DataError` when a data path of `config` (after `read_from_recorded_cwd`) exists
    nowhere: named with the places looked in, before the reproduction writes anything."""
    data = config.get("data") or {}
    entries = [("data.path", data.get("path"))]
    entries += [
        (f"data.interleave[{index}].path", entry.get("path"))
        for index, entry in enumerate(data.get("interleave") or [])
        if isinstance(entry, dict)
    ]
    for key, value in entries:
        if not isinstance(value, str) or not value or _exists(Path(value).expanduser()):
            continue
        if not _relative(value):
            raise DataError(f"{key}={value} does not exist: put the run's data back there")
        here = Path.cwd()
        if not isinstance(recorded_cwd, str) or not recorded_cwd:
            raise DataError(
                f"{key}={value} does not exist here ({here}) and the run's record.json names "
                "no working directory: start the reproduction where the run was started"
            )
        there = Path(recorded_cwd)
        places = (
            f"is not in the run's working directory ({there})"
            if _same_dir(there, here)
            else f"is in neither the run's working directory ({there}) nor here ({here})"
        )
        raise DataError(f"{key}={value} {places}: put the run's data back at {there / value}")


def _walk(node: Any, where: str, base: Path, moved: list[str]) -> None:
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        name = f"{where}.{key}" if where else str(key)
        if isinstance(value, (dict, list)):
            _walk(value, name, base, moved)
        elif key in PATH_KEYS and isinstance(value, str) and _relative(value):
            there = base / value
            if _exists(there):
                node[key] = str(there)
                moved.append(f"{name}={value}")


def _relative(value: str) -> bool:
    if not value or "://" in value:  # a URL
        return False
    try:
        return not Path(value).expanduser().is_absolute()
    except (RuntimeError, ValueError):  # `~user` of no user; a NUL in a Jinja string
        return False


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # a Jinja template is no file name (too long, a NUL)
        return False


def _same_dir(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False
