"""Which files of a local `data.path` hold which split.

A local path is read in the first of these layouts that fits:

1. One file (csv, tsv, json, jsonl, parquet, txt, optionally gzip-compressed): the train split;
   validation and test are carved from it later.
2. A folder of files named after lab's splits: `train.csv.gz`, `validation.jsonl` (`valid`,
   `dev` and `val` count as validation), `test.parquet`, or after the source split a data
   config maps one of lab's splits to (`validation_matched.jsonl` under `data=mnli`, whose
   `data.splits.validation` is `validation_matched`: the Hub's split names, as shards are
   read; s30b F1). Other data files beside them (`train_augmented.csv`) are not read: the
   loader names them in a warning.
3. A folder written by `datasets` (`Dataset.save_to_disk` / `DatasetDict.save_to_disk`).
4. A dataset folder as the Hugging Face Hub stores it, e.g. downloaded on a machine with network
   by `hf download <id> --repo-type dataset --local-dir <dir>`. Its splits keep the
   Hub's names (`train_sft`, `test_prefs`), so a data config's `data.splits` mapping applies to
   it unchanged. It is read the way `datasets` reads the Hub repository, first rule that fits:
   the README's `configs` when it declares them (`data.hub_config` picks one; without it the
   README's default is read, as `datasets` does, and the log names it and the others; a
   README of one configuration is read whatever the data config's `hub_config` says); a
   folder named after `data.hub_config` inside it, read on its own so the other configs' files
   stay out; the Hub's
   shard names `<split>-00000-of-00003[-<hash>].<ext>` in the folder or its `data/` folder (each
   name before the shard number is one split, exactly); `datasets`' own file-name patterns (the
   Parquet conversion's `<config>/<split>/0000.parquet`; files whose names say no split are all
   train, as `load_dataset(<folder>)` reads them). Without a README's `configs` and without
   `data.hub_config`, a split whose files lie in several sibling folders (a download of several
   configurations: `sentiment/` and `emotion/`, `data/all/` and `data/smol-magpie-ultra/`) is
   refused rather than read as one mixed set; the folder named by `data.hub_config` is looked
   for as `<path>/<config>/` and `<path>/data/<config>/`.

A split may be several files (the Hub's shards); they are read in name order as one split.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from lab.data.hub_folders import config_folders, readme_declares_configs, unreadable_hub_folder
from lab.data.lfs_pointers import LFS_POINTER, lfs_pointer_message
from lab.data.split_files_named import dataset_folder_line, split_files_line
from lab.errors import DataError
from lab.log_records import FILE_ONLY_RECORD

log = logging.getLogger(__name__)

#: file suffix (after stripping .gz) -> datasets builder name
BUILDERS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".parquet": "parquet",
    ".txt": "text",  # one row per line, column `text` (language modelling)
    ".arrow": "arrow",  # the files of a `save_to_disk` folder
}
#: the builders that read text (may be mis-encoded); the others read binary files
TEXT_BUILDERS = frozenset({"csv", "json", "text"})
#: split names found in file names -> lab's split names (also read by the SQuAD JSON loader)
SPLIT_ALIASES = {
    "train": "train",
    "validation": "validation",
    "valid": "validation",
    "val": "validation",
    "dev": "validation",
    "test": "test",
}
# The Hub's shard names: `train_sft-00000-of-00003-a3ecf92756993583.parquet` -> `train_sft`.
_SHARD = re.compile(r"^(?P<split>.+?)-\d{5}-of-\d{5}(?:-[0-9A-Za-z]+)?\.")
_LAYOUTS = (
    "expected train.<csv|tsv|json|jsonl|parquet|txt>[.gz] (plus optional validation/test files), "
    "a folder saved by datasets' save_to_disk, or a dataset folder as the Hub stores it "
    "(hf download <id> --repo-type dataset --local-dir <dir>)"
)

SplitFiles = dict[str, list[str]]


def file_suffix(path: Path) -> str:
    """The format suffix of a data file, `.gz` looked through (`train.csv.gz` -> `.csv`)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def _split_of(path: Path) -> str | None:
    stem = path.name.split(".")[0].lower()
    return SPLIT_ALIASES.get(stem)


def pattern_refusal(root: Path, key: str) -> str | None:
    """For a `data.path` written as a glob (`datasets`' `data_files="train-*.parquet"` idiom),
    which lab reads as no file (s33b F2: "does not exist" though it matched 3): the line
    saying a path is a file or a folder, with the folder to give; None for a plain path."""
    if not any(char in root.name for char in "*?["):
        return None
    matches = sorted(root.parent.glob(root.name)) if root.parent.is_dir() else []
    found = f"it matches {len(matches)} file(s)" if matches else "it matches no file"
    return (
        f"{key}={root} is a pattern ({found}); {key} takes a file or a folder: give the "
        f"folder, {key}={root.parent}, whose files named after a split (train.jsonl, or Hub "
        "shards train-00000-of-00003.parquet) are read as that split"
    )


def local_data_files(
    path: str | Path,
    config: str | None = None,
    *,
    report: bool = False,
    splits: Mapping[str, str | None] | None = None,
    column_names: Sequence[str] | None = None,
    key: str = "data.path",
) -> tuple[str, SplitFiles]:
    """Map a local file or folder to (datasets builder, {split: [files]}) by the layouts of
    the module docstring; `config` is the Hub configuration (`data.hub_config`) of a Hub
    dataset folder that holds several. `report` logs which splits a folder was found to hold
    (the loader says it once; the config check stays quiet); in layout 2, by `splits` (the
    data config's `data.splits`) which file each of lab's splits reads, and a warning naming
    the data files no split reads (`lab.data.split_files_named`; `column_names`,
    `data.csv_column_names`, are the columns of headerless CSV files there). `key`: the
    option the path was given as, for the refusal of a path that does not exist."""
    root = Path(path).expanduser()
    if not root.exists():
        pattern = pattern_refusal(root, key)
        if pattern:
            raise DataError(pattern)
        # Relative: from the folder lab runs in (also one written in a --config-dir file).
        where = "" if root.is_absolute() else f" (relative to {Path.cwd()}, where lab runs)"
        raise DataError(f"{key} does not exist: {root}{where}")
    try:
        files = (
            {"train": [str(root)]}
            if root.is_file()
            else _folder_files(root, config, report, splits, column_names)
        )
    except PermissionError as err:  # a folder this user may not list
        raise DataError(f"cannot read {err.filename or root}: {err.strerror}") from err
    builders = {BUILDERS.get(file_suffix(Path(f))) for group in files.values() for f in group}
    if None in builders:
        bad = next(f for g in files.values() for f in g if file_suffix(Path(f)) not in BUILDERS)
        raise DataError(
            f"{bad} has an unsupported format; use one of {', '.join(sorted(BUILDERS))} "
            "(optionally .gz)"
        )
    if len(builders) > 1:
        raise DataError(f"{root} mixes file formats ({', '.join(sorted(map(str, builders)))})")
    for group in files.values():
        for file in group:
            try:
                with open(file, "rb") as handle:  # mode 000, another user's file
                    start = handle.read(len(LFS_POINTER))
            except OSError as err:
                raise DataError(f"cannot read {file}: {err.strerror or err}") from err
            if not start:
                raise DataError(f"{file} is empty")
            if start == LFS_POINTER:
                raise DataError(lfs_pointer_message(file))
    return builders.pop(), files  # type: ignore[return-value]


def _folder_files(
    root: Path,
    config: str | None,
    report: bool,
    splits: Mapping[str, str | None] | None,
    column_names: Sequence[str] | None = None,
) -> SplitFiles:
    """{split: [files]} of a folder (layouts 2-4), or a `DataError` naming what it holds."""
    named = _split_named_files(root)
    with_mapped = _split_named_files(root, splits)  # `validation_matched.jsonl` too (s30b F1)
    train = str((splits or {}).get("train") or "train")
    # Files named only after mapped splits are this layout where train's is among them;
    # else (`train_sft.jsonl`, `test_sft.jsonl` without a mapping to them) the Hub layouts'
    # file patterns read them, as before.
    if named or train in with_mapped:
        named = with_mapped
    if named:
        if "train" not in named and train not in named:
            raise DataError(f"{root} has no train file: {_LAYOUTS}; found {_listing(root)}")
        if report:
            # Data files no split reads (`train_augmented.csv`; `test.jsonl` where the data
            # config tests on `validation`) make the line a warning: whoever put them there
            # believes they are used. Else it is a report for train.log.
            used = {Path(f).name for group in named.values() for f in group}
            others = sorted(
                p.name
                for p in root.iterdir()
                if p.is_file() and p.name not in used and file_suffix(p) in BUILDERS
            )
            warn, line = split_files_line(root, named, others, splits, column_names)
            quiet = None if warn else FILE_ONLY_RECORD
            log.log(logging.WARNING if warn else logging.INFO, "%s", line, extra=quiet)
        return named
    found, read = _dataset_folder_files(root, config)
    if not found:
        raise DataError(f"{root} holds no data files: {_LAYOUTS}; found {_listing(root)}")
    if report:
        which = (
            f", {_configuration_note(root, read, config)}" if read else _folder_note(root, found)
        )
        log.info("%s", dataset_folder_line(root, which, found, splits))
    return found


def _folder_note(root: Path, found: SplitFiles) -> str:
    """`, folder sst2/` where every file read lies in one folder below data.path (a
    configuration folder picked by data.hub_config, or the only one): which was read."""
    parents = {Path(f).parent for group in found.values() for f in group}
    if len(parents) != 1 or (folder := parents.pop()) == root:
        return ""
    return f", folder {folder.relative_to(root) if folder.is_relative_to(root) else folder}/"


def _configuration_note(root: Path, read: str, asked: str | None) -> str:
    """Which of the README's configurations was read, and why: the one `data.hub_config`
    names, the only one, or the README's default (then how to pick another), since reading
    the default silently would hide that the folder holds others."""
    import datasets

    try:
        names = datasets.get_dataset_config_names(str(root))
    except Exception:  # the folder was read: a note that cannot list the others still names it
        names = [read]
    if len(names) <= 1:
        return f"configuration '{read}' (the README's only one)"
    if asked is not None:
        return f"configuration '{read}' (data.hub_config)"
    return (
        f"configuration '{read}' (the README's default; data.hub_config picks another: "
        f"{', '.join(names)})"
    )


def _listing(root: Path) -> str:
    return ", ".join(sorted(p.name for p in root.iterdir())) or "nothing"


def _split_named_files(root: Path, splits: Mapping[str, str | None] | None = None) -> SplitFiles:
    """Layout 2: `train.csv`, `dev.jsonl`, ... directly in `root`; and a file named after a
    source split `splits` (`data.splits`) maps one of lab's to (`validation_matched.jsonl`),
    keyed by that name, as the Hub's shards of it would be."""
    mapped = {str(v).lower(): str(v) for v in (splits or {}).values() if v}
    files: dict[str, Path] = {}
    for candidate in sorted(root.iterdir()):
        stem = candidate.name.split(".")[0].lower()
        split = _split_of(candidate) or mapped.get(stem)
        if candidate.is_file() and split and file_suffix(candidate) in BUILDERS:
            if split in files:
                raise DataError(
                    f"{root} has two files for the {split} split: "
                    f"{files[split].name} and {candidate.name}"
                )
            files[split] = candidate
    return {split: [str(file)] for split, file in files.items()}


def _saved_dataset_files(root: Path) -> SplitFiles:
    """Layout 3: `save_to_disk` of a DatasetDict (`dataset_dict.json`, a folder per split) or
    of one Dataset (`state.json`: the train split)."""
    import json

    def arrow_files(folder: Path) -> list[str]:
        state = json.loads((folder / "state.json").read_text())
        return [str(folder / entry["filename"]) for entry in state.get("_data_files", [])]

    try:
        if (root / "dataset_dict.json").is_file():
            splits = json.loads((root / "dataset_dict.json").read_text())["splits"]
            return {str(split): arrow_files(root / str(split)) for split in splits}
        if (root / "state.json").is_file():
            return {"train": arrow_files(root)}
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DataError(
            f"{root} looks saved by datasets' save_to_disk but is unreadable: {err}"
        ) from err
    return {}


def _dataset_folder_files(root: Path, config: str | None) -> tuple[SplitFiles, str | None]:
    """Layouts 3 and 4 (see the module docstring): ({split: [files]}, empty when `root` holds
    no data files; the README configuration read, None when the README declares none)."""
    saved = _saved_dataset_files(root)
    if saved:
        return saved, None
    if readme_declares_configs(root):
        # Without a name, datasets reads the one (or the default) configuration itself.
        config = _config_to_read(root, config) if config is not None else None
    else:
        for base in (root, root / "data"):  # GLUE's `sst2/`, SmolTalk's `data/all/`
            if config and (base / config).is_dir():
                inner = base / config
                named = _split_named_files(inner)
                return (named, None) if named else _dataset_folder_files(inner, None)
        for folder in (root, root / "data"):
            sharded = _sharded_files(folder) if folder.is_dir() else {}
            if sharded:
                return sharded, None
        only = config_folders(root)
        if config is None and len(only) == 1:  # IMDB's `plain_text/`: one configuration
            inner = root / only[0] if (root / only[0]).is_dir() else root / "data" / only[0]
            sharded = _sharded_files(inner)
            if sharded:  # every split by its exact name (`datasets` drops `unsupervised`)
                return sharded, None
    import datasets

    try:
        builder = datasets.load_dataset_builder(str(root), config)
    except FileNotFoundError:  # datasets' "doesn't contain any data files"
        return {}, None
    except Exception as err:  # datasets raises ValueError for a missing or unknown config
        raise DataError(unreadable_hub_folder(root, config, err)) from err
    data_files = {
        str(split): sorted(str(f) for f in group)
        for split, group in (builder.config.data_files or {}).items()
    }
    if not any(file_suffix(Path(f)) in BUILDERS for g in data_files.values() for f in g):
        return {}, None  # `datasets` took whatever was there (notes.md): not a dataset folder
    if not readme_declares_configs(root):
        _refuse_mixed_configurations(root, data_files)
        return data_files, None
    return data_files, str(builder.config.name)


def _refuse_mixed_configurations(root: Path, data_files: SplitFiles) -> None:
    """A split whose files lie in several sibling folders (a Hub download of several
    configurations without its README: `sentiment/train-*.parquet` and `emotion/...`, or
    SmolTalk's `data/all/` and `data/smol-magpie-ultra/`) would be read as one dataset of mixed
    (or repeated) rows and labels: refuse it, naming the folders. Folders are compared below
    the deepest one that holds every data file (the Parquet conversion's `default/train/` and
    `default/test/` are one configuration's splits)."""
    import os

    every = [Path(f).parent for files in data_files.values() for f in files]
    common = Path(os.path.commonpath(every)) if every else root
    for split, files in data_files.items():
        folders = sorted(
            {
                Path(f).relative_to(common).parts[0]
                for f in files
                if len(Path(f).relative_to(common).parts) > 1
            }
        )
        if len(folders) > 1:
            raise DataError(
                f"{root}: the {split} split's files lie in several folders "
                f"({', '.join(folders)}), which are configurations of one dataset on the Hub; "
                "pick one with data.hub_config=<folder>"
            )


def _config_to_read(root: Path, config: str) -> str:
    """`config`, unless the folder's README declares a single configuration: that one is
    what the folder holds (a download of one configuration, or a dataset of its own), so
    the data config's `hub_config` (`ro-en`, `simplified`) does not have to match it."""
    import datasets

    try:
        configs = datasets.get_dataset_config_names(str(root))
    except Exception:  # unreadable metadata: `load_dataset_builder` says why
        return config
    if len(configs) == 1 and config not in configs:
        log.info("%s holds one configuration, %s: read it (not %s)", root, configs[0], config)
        return configs[0]
    return config


def _sharded_files(folder: Path) -> SplitFiles:
    """`<split>-00000-of-00003[-<hash>].<ext>` files directly in `folder`, by exact split name."""
    found: SplitFiles = {}
    for file in sorted(folder.iterdir()):
        match = _SHARD.match(file.name)
        if file.is_file() and match and file_suffix(file) in BUILDERS:
            found.setdefault(match["split"], []).append(str(file))
    return found
