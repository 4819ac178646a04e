"""What a Hub dataset folder's configurations are, and why `datasets` could not read one.

`lab.data.local_files` reads a dataset folder as the Hub stores it; these say which
configurations it holds (a README's `configs:`, else its data folders) and word a folder it
could not read, naming the configurations and `data.hub_config`.
"""

from __future__ import annotations

import re
from pathlib import Path


def unreadable_hub_folder(root: Path, config: str | None, err: Exception) -> str:
    """Why `datasets` could not read `root`, in one line; a configuration that is missing or
    unknown is named with the ones the folder has and the option that picks one."""
    import datasets

    try:
        configs = datasets.get_dataset_config_names(str(root))
    except Exception:  # the folder is unreadable for some other reason: say that one
        configs = []
    if not readme_declares_configs(root):
        # Without a README, datasets calls everything `default`; the folders `data.hub_config`
        # picks from are the configurations (tweet_eval's `sentiment/`, SmolTalk's `data/all/`).
        configs = config_folders(root) or configs
    if len(configs) > 1 and config is None:
        return (
            f"{root} holds several configurations ({', '.join(configs)}); pick one with "
            "data.hub_config=<name>"
        )
    if configs and config not in configs:
        return (
            f"{root} has no configuration '{config}'; it has {', '.join(configs)} "
            "(data.hub_config=<name>)"
        )
    from lab.data.sources import root_cause

    why = " ".join(root_cause(err).split())
    return f"could not read {root} as a Hub dataset folder: {why}"


def config_folders(root: Path) -> list[str]:
    """Folders of `root` or `root/data` that hold data files: what `data.hub_config` can name
    in a folder without a README."""
    from lab.data.local_files import BUILDERS, file_suffix  # which imports this module

    found = []
    for base in (root, root / "data"):
        if not base.is_dir():
            continue
        for folder in sorted(p for p in base.iterdir() if p.is_dir() and p.name != "data"):
            if any(file_suffix(f) in BUILDERS for f in folder.rglob("*") if f.is_file()):
                found.append(folder.name)
    return found


def readme_declares_configs(root: Path) -> bool:
    """Whether `root/README.md` has YAML front matter with a `configs:` key (the Hub's way to
    say which files hold which config and split)."""
    try:
        text = (root / "README.md").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    if not text.startswith("---"):
        return False
    header = text[3:].split("\n---", 1)[0]
    return re.search(r"^configs:", header, flags=re.MULTILINE) is not None
