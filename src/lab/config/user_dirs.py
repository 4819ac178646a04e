"""Your own config folders (`--config-dir DIR`), searched before lab's, by every tool.

Researchers keep their experiments, data, model and sweep YAMLs in a project folder of their
own, laid out as lab's `conf/` is (one folder per group, named as typed: `data/`, `model/`,
`experiment/`, `sweep/`):

    python -m lab.train --config-dir conf experiment=my_exp
    python -m lab.validate --config-dir conf experiment=my_exp
    python -m lab.reproduce --config-dir conf experiment=my_exp
    python -m lab.inspect --config-dir conf data=my_data
    python -m lab.eval run=<run dir> --config-dir conf data=my_data
    run_experiment("my_exp", config_dirs=["conf"])        # lab.testing, compose_train_config

`--config-dir DIR`, `--config-dir=DIR` and `-cd DIR` may be repeated; Hydra's own
`hydra.searchpath=[file://DIR,...]` override means the same. The folders are searched in the
order given and before lab's `conf/`, `experiments/` and `sweeps/`: a file of yours with the
name of one of lab's options (`data/sst2.yaml`) is the one used. Hydra's `--config-dir` alone
would search them last, so a tweaked copy that keeps its name silently lost to lab's. A name
that only lab has is still lab's: a data file of yours that says
`defaults: [base/text_classification@_here_]` finds lab's base.

Why a search-path plugin registered here, at run time: Hydra builds its search path inside
`compose` and `@hydra.main`, and only a `SearchPathPlugin` sees it before any config is read.
`searched_first(entries)` makes the entries active for its block; the plugin (registered
through Hydra's public `Plugins.register` the first time) puts the active entries before the
`main` config folder (lab's `conf/`) and does nothing when none are active.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hydra.core.config_search_path import ConfigSearchPath, SearchPathQuery
from hydra.plugins.search_path_plugin import SearchPathPlugin

from lab.errors import LabError

CONFIG_DIR_FLAGS = ("--config-dir", "-cd")
SEARCHPATH_KEY = "hydra.searchpath"
PROVIDER = "config-dir"  # the name `--info searchpath` shows for these entries

# The entries searched first while a `searched_first` block runs (innermost last).
_active: list[str] = []
_registered = False


class UserConfigDirs(SearchPathPlugin):
    """Puts the active entries of `searched_first` before lab's `conf/` (Hydra's `main`)."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        main = SearchPathQuery(provider="main")
        for entry in _active:
            # prepend before an anchor keeps the given order: each lands just before `main`
            search_path.prepend(provider=PROVIDER, path=entry, anchor=main)


def active_entries() -> list[str]:
    """The search-path entries of the enclosing `searched_first` blocks, in search order."""
    return list(_active)


@contextmanager
def searched_first(entries: Sequence[str]) -> Iterator[None]:
    """Within the block, every Hydra composition searches `entries` (`file:///abs/dir`, as
    `search_entries` makes them) before lab's own config folders. Nested blocks add to the
    outer ones; the same entry is searched once."""
    global _registered
    new = [entry for entry in dict.fromkeys(entries) if entry not in _active]
    if new and not _registered:
        from hydra.core.plugins import Plugins

        Plugins.instance().register(UserConfigDirs)
        _registered = True
    _active.extend(new)
    try:
        yield
    finally:
        del _active[len(_active) - len(new) :]


def search_entries(dirs: Sequence[str | Path], *, flag: str = "--config-dir") -> list[str]:
    """`dirs` as Hydra search-path entries: a folder (relative to the working directory) as
    `file:///abs/path`; an entry with another scheme (`pkg://my_configs`) as given. A folder
    that is missing or no folder is a `LabError` naming it the way it was given (`flag`)."""
    entries = []
    for given in dirs:
        text = str(given)
        scheme, sep, rest = text.partition("://")
        if sep and scheme != "file":
            entries.append(text)
            continue
        path = Path(rest if sep else text).expanduser()
        shown = f"{flag} {text}" if flag.startswith("-") else f"{flag} entry {text}"
        if not path.exists():
            raise LabError(f"{shown}: no such folder ({path.absolute()})")
        if not path.is_dir():
            raise LabError(
                f"{shown}: not a folder ({path.absolute()}); give the folder that holds your "
                "config groups (data/, model/, experiment/, ...)"
            )
        entries.append(f"file://{os.path.abspath(path)}")
    return entries


def take_config_dirs(argv: Sequence[str], *, strict: bool = True) -> tuple[list[str], list[str]]:
    """Split a command line into (search-path entries, the other arguments): the entries of
    `--config-dir DIR`, `--config-dir=DIR`, `-cd DIR` and `hydra.searchpath=[...]`, in the
    order given (`search_entries`). `strict=False` (for error hints, whose command already
    failed): a folder that is not there is left out, not refused."""
    dirs: list[tuple[str, str]] = []  # (flag, value) in order
    rest: list[str] = []
    args = iter(argv)
    for arg in args:
        flag, eq, value = arg.partition("=")
        if flag in CONFIG_DIR_FLAGS:
            if not eq:
                value = next(args, "")
            if not value and strict:
                raise LabError(f"{flag} needs a folder: {flag} <folder of your config groups>")
            dirs += [(flag, value)] if value else []
        elif eq and flag.lstrip("+") == SEARCHPATH_KEY:
            dirs += [(SEARCHPATH_KEY, entry) for entry in _searchpath_list(value, strict)]
        else:
            rest.append(arg)
    entries: list[str] = []
    for flag, value in dirs:
        try:
            entries += search_entries([value], flag=flag)
        except LabError:
            if strict:
                raise
    return list(dict.fromkeys(entries)), rest


def command_entries(argv: Sequence[str]) -> list[str]:
    """The search-path entries a `lab.train` command line asks for (`take_config_dirs`,
    strict). Hydra's shell completion (`lab-train -sc query=bash`) is handed the line being
    completed in `COMP_LINE`, not as arguments: its `--config-dir` folders count too, so the
    options of your own folders complete."""
    import shlex

    entries = take_config_dirs(argv)[0]
    line = os.environ.get("COMP_LINE")
    if line and any(arg.startswith("query=") for arg in argv):
        try:
            words = shlex.split(line)
        except ValueError:  # an open quote: the word being typed
            words = line.split()
        entries += take_config_dirs(words, strict=False)[0]
    return list(dict.fromkeys(entries))


def _searchpath_list(value: str, strict: bool) -> list[str]:
    """The entries of a `hydra.searchpath=[a,b]` override's value (Hydra's own grammar)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_override(f"{SEARCHPATH_KEY}={value}").value()
    except Exception as err:  # Hydra's grammar error: said in one line
        if not strict:
            return []
        raise LabError(
            f"{SEARCHPATH_KEY}={value}: not a list of folders; write "
            f"{SEARCHPATH_KEY}=[file:///abs/folder,...] or use --config-dir <folder>"
        ) from err
    if isinstance(parsed, str):
        return [parsed]
    return [str(entry) for entry in parsed] if isinstance(parsed, list) else []


def searchpath_override(entries: Sequence[str]) -> str:
    """The `hydra.searchpath=[...]` override that searches `entries` again (`lab.train`'s
    `run_hydra_app` puts them first too): what a run records of where its configs came from."""
    return f"{SEARCHPATH_KEY}=[{','.join(entries)}]"


def option_file(entry: str, group: str, option: str) -> Path | None:
    """`<folder>/<group>/<option>.yaml` of a `file://` entry where that file exists."""
    scheme, _, rest = entry.partition("://")
    if scheme != "file":
        return None
    path = Path(rest) / group / f"{option}.yaml"
    return path if path.is_file() else None


def lab_option_file(group: str, option: str) -> Path | None:
    """lab's own file of `<group>=<option>` (`conf/`, or `experiments/` and `sweeps/`)."""
    from lab.config.paths import conf_dir, config_root

    plural = {"experiment": "experiments", "sweep": "sweeps"}.get(group)
    folder = config_root() / plural if plural else conf_dir() / group
    path = folder / f"{option}.yaml"
    return path if path.is_file() else None


def has_option(group: str, option: str, entries: Sequence[str]) -> bool:
    """Whether lab or one of the folders of `entries` has `<group>/<option>.yaml`."""
    return bool(
        lab_option_file(group, option) or any(option_file(e, group, option) for e in entries)
    )


def own_choices(choices: dict[str, str | None], entries: Sequence[str]) -> list[str]:
    """For each group option chosen from your folders: `data=my_sst2 (/p/conf/data/my_sst2.yaml)`,
    and where lab has an option of that name too, that yours is used in place of lab's."""
    lines = []
    for group, option in choices.items():
        if option is None:
            continue
        found = next((f for e in entries if (f := option_file(e, group, str(option)))), None)
        if found is None:
            continue
        lab_file = lab_option_file(group, str(option))
        instead = f", in place of lab's {lab_file}" if lab_file else ""
        lines.append(f"{group}={option} ({found}{instead})")
    return lines


def recorded_dirs_hint(record: Mapping[str, Any]) -> str:
    """For an error about an option a command did not find: the config folders the run was
    trained with (its record's `hydra.searchpath=[...]`, `lab.run_dir.records.hydra_overrides`)
    that the command does not search ("" where it searches them all), as the `--config-dir` flags to
    pass again: `data=<a data config of yours>` is found only with its folder. A recorded
    folder that no longer exists (renamed, moved: s31f F4) is named as such, with what to do."""
    recorded = [str(o) for o in record.get("overrides") or []]
    entries = take_config_dirs(recorded, strict=False)[0]
    missing = [entry for entry in entries if entry not in _active]
    gone = [entry for entry in recorded_entries(recorded) if _is_gone(entry)]
    hint = ""
    if missing:
        flags = " ".join(f"--config-dir {entry.removeprefix('file://')}" for entry in missing)
        hint += f"; this run was trained with config folders of its own (record.json): {flags}"
    if gone:
        flags = " ".join(f"--config-dir {entry.removeprefix('file://')}" for entry in gone)
        verb = "no longer exists" if len(gone) == 1 else "no longer exist"
        where = "the folder where those configs are" if len(gone) == 1 else "the folders"
        hint += f"; this run was trained with {flags}, which {verb}: pass {where} now"
    return hint


def recorded_entries(recorded: Sequence[str]) -> list[str]:
    """Every config folder a recorded command line names (`hydra.searchpath=[...]`,
    `--config-dir`), as written, whether or not it exists now."""
    entries: list[str] = []
    args = iter(recorded)
    for arg in args:
        flag, eq, value = arg.partition("=")
        if flag in CONFIG_DIR_FLAGS:
            entries += [value if eq else next(args, "")]
        elif eq and flag.lstrip("+") == SEARCHPATH_KEY:
            entries += _searchpath_list(value, strict=False)
    return list(dict.fromkeys(entry for entry in entries if entry))


def _is_gone(entry: str) -> bool:
    """Whether a recorded `file://` entry (or plain folder) is no folder now."""
    scheme, sep, rest = entry.partition("://")
    if sep and scheme != "file":
        return False  # pkg://: not a folder of yours
    return not Path(rest if sep else entry).expanduser().is_dir()
