"""The config a `lab.reproduce` reproduction runs: the recorded run's resolved `config.yaml`,
read as this lab would have written it for the same command (`reproducible_config`: renamed
targets under today's names, the keys lab added since at this lab's defaults for the
recorded command, `lab.run_dir.config_upgrade`), then moved to run as a run of its own
(`reproduction_config`).

A run recorded by other code is said to be so before anything else (`lab.run_dir.
code_version`): its reproduction runs this lab's code, whose numbers may differ; a config
naming `lab.` code this lab does not have is refused then, in one line, before any folder is
made.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lab.errors import LabError

REPRO_SUFFIX = "-repro"  # a reproduction's W&B run name: the recorded run's, with this after


def reproducible_config(
    run_dir: Path, record: dict[str, Any], recorded: dict[str, Any]
) -> str | None:
    """Read `recorded` (the run's config.yaml, changed in place, never written back) as this
    lab would have written it for the run's command; return the line naming the other code
    that recorded the run (None for this code), after refusing one naming `lab.` code this
    lab does not have."""
    from lab.run_dir.config_upgrade import lab_config_for, unknown_targets, upgrade

    output_dir = str((recorded.get("paths") or {}).get("output_dir") or run_dir)
    note = upgrade(recorded, record, run_dir, lambda: lab_config_for(record, output_dir))
    unknown = unknown_targets(recorded, skip=()) if note else []
    if unknown:
        named = ", ".join(f"{target} ({key})" for key, target in unknown)
        raise LabError(
            f"{run_dir}: its config.yaml names code this lab does not have: {named}; {note}"
        )
    return note


def read_run(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(record.json, config.yaml) of a recorded run, or a `LabError` naming the file that
    cannot be read and why (not JSON, cut short, not a mapping)."""
    from lab.data.origins import not_valid_json

    path = run_dir / "record.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise LabError(f"cannot read {path}: {not_valid_json(err)}") from err
    except (OSError, UnicodeDecodeError) as err:
        raise LabError(f"cannot read {path}: {err}") from err
    path = run_dir / "config.yaml"
    try:
        config = OmegaConf.to_container(OmegaConf.load(path))
    except Exception as err:  # the YAML parser's own errors
        raise LabError(f"cannot read {path}: {str(err).splitlines()[0]}") from err
    for name, value in (("record.json", record), ("config.yaml", config)):
        if not isinstance(value, dict):
            raise LabError(f"cannot read {run_dir / name}: not a mapping of keys to values")
    return record, config  # type: ignore[return-value]


def _rebase(node: Any, old: str, new: str) -> Any:
    """Replace the old run directory by the new one in every string of the config."""
    if isinstance(node, dict):
        return {k: _rebase(v, old, new) for k, v in node.items()}
    if isinstance(node, list):
        return [_rebase(v, old, new) for v in node]
    if isinstance(node, str) and node.startswith(old):
        return new + node[len(old) :]
    return node


def reproduction_config(recorded: dict[str, Any], target: Path) -> DictConfig:
    """The config that re-runs a recorded (resolved) config into `target`: its paths moved
    from the recorded run's directory to `target`, no `resume`, and as a run of its own:

    - without `optuna_trial`: a sweep trial's identity would make the reproduction report to
      the study's finished trial (whose pruner may stop it) and end with the trial's statuses;
    - its W&B run named `<recorded name>-repro` (`REPRO_SUFFIX`): the resolved config holds
      the recorded run's name (`<study>-trial<N>` for a trial), and W&B would list two runs
      of one name, the reproduction looking like the trial. Its group is kept, so a trial's
      reproduction sits in its study's group, beside it."""
    old_dir = str(recorded["paths"]["output_dir"])
    rebased: dict[str, Any] = _rebase(recorded, old_dir, str(target))
    rebased.pop("optuna_trial", None)
    for node in (rebased.get("logger") or {}).values():
        if _is_wandb(node) and node.get("name") and not node["name"].endswith(REPRO_SUFFIX):
            node["name"] = f"{node['name']}{REPRO_SUFFIX}"
    cfg = OmegaConf.create(rebased)
    cfg.resume = None
    OmegaConf.set_struct(cfg, True)
    return cfg


def _is_wandb(node: Any) -> bool:
    return isinstance(node, dict) and str(node.get("_target_", "")).endswith("wandb_logger")
