"""Adds lab's top-level `experiments/` and `sweeps/` folders to Hydra's config search path.

The root is found from the installed `lab` package (`lab.config.paths.config_root`: the clone
lab runs from, or the copy a wheel carries), so `experiment=...` and `sweep=...` compose from
any working directory.
"""

from __future__ import annotations

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin


class LabSearchPathPlugin(SearchPathPlugin):
    """Appends `lab-groups://<config root>` (see `group_dirs.GroupFoldersConfigSource`)."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        try:
            from lab.config.paths import ConfigTreeMissing, config_root

            root = config_root()
        except (ImportError, ConfigTreeMissing):
            # lab is not importable here, or has no config tree: nothing to add (lab's entry
            # points say the latter in words when they look for conf/).
            return
        search_path.append(provider="lab", path=f"lab-groups://{root}")
