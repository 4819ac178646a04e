"""Adds lab's top-level `experiments/` and `sweeps/` folders to Hydra's config search path.

The root is found from the installed `lab` package, so `experiment=...` and `sweep=...`
compose from any working directory.
"""

from __future__ import annotations

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin


class LabSearchPathPlugin(SearchPathPlugin):
    """Appends `lab-groups://<config root>` (see `group_dirs.GroupFoldersConfigSource`)."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        try:
            from lab.config.paths import config_root

            root = config_root()
        except (ImportError, FileNotFoundError):
            return  # lab is not importable here: nothing to add
        search_path.append(provider="lab", path=f"lab-groups://{root}")
