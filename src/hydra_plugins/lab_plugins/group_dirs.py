"""A Hydra config source that serves the top-level `experiments/` and `sweeps/` folders.

Why a config source and not just a search-path entry: Hydra looks up option `x` of group `g`
at `<search root>/g/x.yaml`, so a plain search path would force the folders to be named like
the groups (`experiment/`, `sweep/`). We keep the plural folder names researchers expect at the
top of the repository and map them onto the singular group names users type:

    experiment=roberta_imdb  ->  experiments/roberta_imdb.yaml
    sweep=imdb_lr            ->  sweeps/imdb_lr.yaml
"""

from __future__ import annotations

import os

from hydra.core.object_type import ObjectType

from lab.compat.hydra import FileConfigSource

# group name (what users type) -> folder at the config root
GROUP_FOLDERS = {"experiment": "experiments", "sweep": "sweeps"}


class GroupFoldersConfigSource(FileConfigSource):
    """Serves `experiment/*` from `experiments/` and `sweep/*` from `sweeps/`."""

    @staticmethod
    def scheme() -> str:
        return "lab-groups"

    @staticmethod
    def _map(config_path: str) -> str | None:
        head, sep, tail = config_path.partition("/")
        folder = GROUP_FOLDERS.get(head)
        if folder is None:
            return None
        return folder + sep + tail

    def load_config(self, config_path: str):  # type: ignore[no-untyped-def]
        mapped = self._map(config_path)
        return super().load_config(mapped if mapped is not None else config_path)

    def is_group(self, config_path: str) -> bool:
        if config_path == "":
            return True
        mapped = self._map(config_path)
        return mapped is not None and super().is_group(mapped)

    def is_config(self, config_path: str) -> bool:
        mapped = self._map(config_path)
        return mapped is not None and super().is_config(mapped)

    def list(self, config_path: str, results_filter: ObjectType | None) -> list[str]:
        if config_path == "":
            groups = [g for g, f in GROUP_FOLDERS.items() if os.path.isdir(self._folder(f))]
            return [] if results_filter == ObjectType.CONFIG else sorted(groups)
        mapped = self._map(config_path)
        if mapped is None or not super().is_group(mapped):
            return []
        files: list[str] = []
        for name in os.listdir(self._folder(mapped)):
            self._list_add_result(
                files=files,
                file_path=f"{config_path}/{name}",
                file_name=name,
                results_filter=results_filter,
            )
        return sorted(set(files))

    def _folder(self, relative: str) -> str:
        return os.path.realpath(os.path.join(self.path, relative))
