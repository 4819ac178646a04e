"""The config files behind a study's trial setup, named in the refusal of a changed setup.

A study continued with the same command but other composed values (`optimizer.weight_decay
was 0.01, is 0.02`) was refused with "restore the sweep or config files as they were (or lab's
version)", which named no file (s29c F4). Hydra keeps no record of which file set a key, so
the refusal names the files that can have: the chosen option of the key's config group
(`optimizer=adamw: /home/me/lab/conf/optimizer/adamw.yaml`), the sweep file, and the primary
config. Where the study's trials ran under other lab code, `lab.run_dir.code_version` says
which and how to run it, in place of "lab's version".
"""

from __future__ import annotations

from typing import Any

# The group a sweep file is chosen by (`python -m lab.train -m sweep=imdb_lr`).
SWEEP_GROUP = "sweep"
PRIMARY = ""  # `setup_files`' key for the primary config (train.yaml)


def setup_files(loader: Any, composed: Any) -> dict[str, str]:
    """`{group: "optimizer=adamw: <file>"}` for each top-level config group chosen in
    `composed` (Hydra's own left out), and `PRIMARY` for the primary config; a file Hydra's
    repository cannot place is left out (nothing is guessed)."""
    choices = composed.hydra.runtime.choices
    found = {}
    for group, option in choices.items():
        group = str(group)
        if "/" in group or group.startswith("hydra") or option is None:
            continue
        if file := _file_of(loader, f"{group}/{option}"):
            found[group] = f"{group}={option}: {file}"
    primary = str(composed.hydra.job.config_name or "")
    if primary and (file := _file_of(loader, primary)):
        found[PRIMARY] = file
    return found


def _file_of(loader: Any, config_path: str) -> str | None:
    """Where Hydra's repository finds `config_path` (`optimizer/adamw`): `/…/adamw.yaml`, or
    `pkg://lab.conf/optimizer/adamw.yaml` from an installed package; None where it cannot."""
    try:
        result = loader.repository.load_config(config_path=config_path)
    except Exception:
        return None
    if result is None:
        return None
    root = str(result.path).removeprefix("file://")
    return f"{root}/{config_path}.yaml"


def files_behind(keys: list[str], files: dict[str, str]) -> list[str]:
    """The files of `files` that can have set `keys` (`optimizer.weight_decay`, or a searched
    option's `model=mine:hidden_size`): each key's group option, then the sweep file and the
    primary config, each once."""
    named: list[str] = []
    for key in keys:
        head = key.split(":", 1)[0]
        group = head.split("=", 1)[0] if "=" in head else key.split(".", 1)[0]
        if group in files and files[group] not in named:
            named.append(files[group])
    for last in (SWEEP_GROUP, PRIMARY):
        if last in files and files[last] not in named:
            named.append(files[last])
    return named
