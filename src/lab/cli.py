"""Command-line conveniences around Hydra shared by lab's entry points.

* Lightning's short precision names work as group options: `precision=32` / `16` / `bf16`
  (Hydra would parse `32` as an integer, which no config group accepts).
* When Hydra rejects an override of an unknown key, say which keys are valid there.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Callable

PRECISION_ALIASES = {"32": "32-true", "16": "16-mixed", "bf16": "bf16-mixed"}


def normalize_argv(argv: list[str]) -> list[str]:
    """Rewrite `precision=<Lightning alias>` to the config option of that name."""
    out = []
    for arg in argv:
        key, sep, value = arg.partition("=")
        if sep and key == "precision" and value in PRECISION_ALIASES:
            arg = f"precision={PRECISION_ALIASES[value]}"
        out.append(arg)
    return out


def unknown_key_hints(overrides: list[str], config_dir: str, config_name: str) -> list[str]:
    """For each `a.b.key=value` override whose key does not exist, a line naming valid keys.

    Composes the config with only the group choices of `overrides` (cheap: no weights), so it
    sees exactly the keys the failing command would have seen.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import DictConfig, OmegaConf

    plain = [o for o in overrides if "=" in o and not o.startswith(("+", "~", "-", "hydra."))]
    choices = [o for o in plain if "." not in o.split("=", 1)[0]]
    hints: list[str] = []
    try:
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=config_dir, version_base="1.3"):
            cfg = compose(config_name, overrides=choices)
    except Exception:
        return hints  # the group choices themselves are wrong; Hydra's message says so
    finally:
        GlobalHydra.instance().clear()
    for override in plain:
        key = override.split("=", 1)[0]
        if "." not in key or OmegaConf.select(cfg, key, default="<missing>") != "<missing>":
            continue
        parent_key, _, leaf = key.rpartition(".")
        parent = OmegaConf.select(cfg, parent_key)
        if not isinstance(parent, DictConfig):
            continue
        valid = sorted(str(k) for k in parent)
        close = difflib.get_close_matches(leaf, valid, n=1)
        maybe = f" Did you mean {parent_key}.{close[0]}?" if close else ""
        hints.append(
            f"'{key}' is not a config key.{maybe} Valid keys of {parent_key}: {', '.join(valid)}"
        )
    return hints


def run_hydra_app(app: Callable[[], object], config_dir: str, config_name: str) -> None:
    """Run a `@hydra.main` app with normalized argv; explain unknown keys if Hydra exits 1."""
    sys.argv = [sys.argv[0], *normalize_argv(sys.argv[1:])]
    try:
        app()
    except SystemExit as exit_:
        if exit_.code == 1:
            for hint in unknown_key_hints(sys.argv[1:], config_dir, config_name):
                print(hint, file=sys.stderr)
        raise
