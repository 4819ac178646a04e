"""Keys lab's YAML set later than a command could name them with Hydra's `+`.

Hydra refuses `+trainer.limit_val_batches=1` once the key is in the config ("Could not append
to config. An item is already at ..."). The common Lightning limits were such keys, passed
with `+` (the README said so, as did scripts and recorded runs' overrides); they now sit in
`conf/trainer/default.yaml` (null: Lightning's default, s31c F7). A `+` on one of them is
read as Hydra's `++` (set, adding where a trainer config of your own lacks it), so old
commands and `lab.reproduce` of runs recorded with them compose as before.
"""

from __future__ import annotations

#: keys added to lab's YAML that commands named with `+` before
ADDED_KEYS = frozenset(
    f"trainer.limit_{stage}_batches" for stage in ("train", "val", "test", "predict")
)


def plus_as_set(override: str) -> str:
    """`++trainer.limit_val_batches=1` for `+trainer.limit_val_batches=1`; any other
    override as it is."""
    key, sep, _ = override.partition("=")
    if sep and key.startswith("+") and not key.startswith("++") and key[1:] in ADDED_KEYS:
        return f"+{override}"
    return override
