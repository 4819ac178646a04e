"""Class names a Hub dataset folder's card (`README.md`) declares for its label columns.

A Hub repository's `README.md` YAML header may declare the features of each configuration
(`dataset_info.features`), a label column as `class_label` with its names. `datasets` applies
them when it reads the repository (`load_dataset(<folder>)`); lab reads a folder's data files
with the format's builder, which sees only what the files carry: Parquet written by the
`datasets` library holds the names in its schema, but Parquet written by pandas and CSV/JSON
files do not, and the labels came out as bare ids (an exported model labelled "0".."3" for
AG News' World, Sports, Business, Sci/Tech). `apply_card_labels` casts such a column of
integer ids to the card's `ClassLabel`, as `datasets` would.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datasets import DatasetDict

log = logging.getLogger(__name__)


def card_label_names(root: Path, config: str | None) -> dict[str, list[str]]:
    """{column: class names} the card of folder `root` declares for configuration `config`
    (None: the only one, or `default`); empty where it declares none or cannot be read."""
    import yaml

    readme = root / "README.md"
    if not root.is_dir() or not readme.is_file():
        return {}
    try:
        text = readme.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    header = re.match(r"---\s*\n(.*?)\n---\s*(\n|$)", text, flags=re.DOTALL)
    if header is None:
        return {}
    try:
        card = yaml.safe_load(header.group(1)) or {}
    except yaml.YAMLError:
        return {}
    info = card.get("dataset_info") if isinstance(card, dict) else None
    entries = info if isinstance(info, list) else [info] if isinstance(info, dict) else []
    entry = _entry_of(entries, config)
    names: dict[str, list[str]] = {}
    for feature in (entry or {}).get("features") or []:
        if not isinstance(feature, dict):
            continue
        dtype = feature.get("dtype")
        label = dtype.get("class_label") if isinstance(dtype, dict) else None
        declared = label.get("names") if isinstance(label, dict) else None
        if isinstance(declared, dict):  # {'0': World, '1': Sports, ...}
            try:
                ordered = sorted(declared.items(), key=lambda item: int(item[0]))
            except (TypeError, ValueError):
                continue
            declared = [str(name) for _, name in ordered]
        if isinstance(declared, list) and declared and feature.get("name"):
            names[str(feature["name"])] = [str(name) for name in declared]
    return names


def _entry_of(entries: list[Any], config: str | None) -> dict[str, Any] | None:
    entries = [e for e in entries if isinstance(e, dict)]
    if config is not None:
        return next((e for e in entries if e.get("config_name") == config), None)
    if len(entries) == 1:
        return entries[0]  # type: ignore[no-any-return]
    return next((e for e in entries if e.get("config_name", "default") == "default"), None)


def apply_card_labels(loaded: DatasetDict, root: Path, config: str | None) -> DatasetDict:
    """`loaded` with each integer label column the card names classes for cast to that
    `ClassLabel` (a column already a ClassLabel, or not of integers, is left as it is)."""
    import datasets

    declared = card_label_names(root, config)
    for column, names in declared.items():
        splits = [s for s in loaded if column in loaded[s].column_names]
        features = [loaded[s].features[column] for s in splits]
        if not splits or not all(
            isinstance(f, datasets.Value) and f.dtype.startswith("int") for f in features
        ):
            continue  # a ClassLabel already, or not ids
        values = {v for s in splits for v in loaded[s].unique(column) if v is not None}
        if any(not 0 <= int(v) < len(names) for v in values if v != -1):
            continue  # ids the names do not cover: training says so in its own words
        for split in splits:  # every split or none: one column, one type
            loaded[split] = loaded[split].cast_column(column, datasets.ClassLabel(names=names))
        log.debug("%s: column %s named by the card: %s", root, column, names)
    return loaded
