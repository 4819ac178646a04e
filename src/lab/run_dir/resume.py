"""`resume=<run dir>` / `resume=auto`: continue an interrupted run exactly where it stopped.

A resumed run writes into the run directory it continues (same loggers, same checkpoints).
It refuses, in words, to resume a run that finished, a run whose config differs from the one
given now (the differences are listed), a directory that is not a lab run, and a missing or
corrupt checkpoint; it never silently starts from scratch.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lab.config.flatten import flatten
from lab.errors import LabError

log = logging.getLogger(__name__)

# Keys that may differ between the original run and the resuming command.
IGNORED_KEYS = {"resume"}


@dataclass
class ResumePoint:
    """Where a resumed run starts: the checkpoint, its step, and the run's record so far."""

    checkpoint: Path
    global_step: int
    record: dict[str, Any]


def _overrides_without_resume(overrides: list[str]) -> list[str]:
    return sorted(o for o in overrides if not o.lstrip("+~").startswith("resume="))


def find_auto_resume(output_root: str, overrides: list[str]) -> Path | None:
    """The newest unfinished run under `output_root` launched with the same overrides."""
    wanted = _overrides_without_resume(overrides)
    candidates = []
    for record_path in Path(output_root).glob("runs/*/*/record.json"):
        try:
            record = json.loads(record_path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        run_dir = record_path.parent
        if (
            record.get("status") != "finished"
            and _overrides_without_resume(record.get("overrides", [])) == wanted
            and (run_dir / "checkpoints" / "last.ckpt").is_file()
        ):
            candidates.append((record.get("started", ""), run_dir))
    return max(candidates)[1] if candidates else None


def run_dir_for(resume: str | None, output_root: str, new_run_dir: str) -> str:
    """Resolver behind `hydra.run.dir`: the directory to resume into, or a new one."""
    if resume in (None, "", "None", "null"):
        return new_run_dir
    if resume == "auto":
        from hydra.core.hydra_config import HydraConfig

        overrides = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
        found = find_auto_resume(output_root, overrides)
        return str(found) if found else new_run_dir
    return str(Path(resume).expanduser().resolve())


def config_differences(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Lines `key: recorded -> current` for every differing leaf (ignoring IGNORED_KEYS)."""
    old, new = flatten(recorded), flatten(current)
    lines = []
    for key in sorted(set(old) | set(new)):
        if key.split(".")[0] in IGNORED_KEYS:
            continue
        if old.get(key, "<absent>") != new.get(key, "<absent>"):
            lines.append(f"  {key}: {old.get(key, '<absent>')!r} -> {new.get(key, '<absent>')!r}")
    return lines


def prepare_resume(run_dir: Path, cfg: DictConfig) -> ResumePoint | None:
    """Check that `run_dir` can be resumed with `cfg`; None for `resume=auto` with no run."""
    record_path = run_dir / "record.json"
    if not record_path.is_file():
        if cfg.resume == "auto":
            log.info("resume=auto: no unfinished run with these overrides; starting a new run")
            return None
        raise LabError(f"cannot resume: {run_dir} is not a lab run directory (no record.json)")
    record = json.loads(record_path.read_text())
    if record.get("status") == "finished":
        raise LabError(
            f"cannot resume: the run in {run_dir} already finished ({record.get('finished')}); "
            "start a new run instead"
        )
    recorded_config = OmegaConf.to_container(OmegaConf.load(run_dir / "config.yaml"))
    current_config = OmegaConf.to_container(cfg, resolve=True)
    differences = config_differences(recorded_config, current_config)  # type: ignore[arg-type]
    if differences:
        raise LabError(
            f"cannot resume {run_dir}: the config differs from the one it ran with:\n"
            + "\n".join(differences)
        )
    from lab.training.checkpointing import LAST_CHECKPOINT, load_checkpoint_meta

    checkpoint = run_dir / "checkpoints" / LAST_CHECKPOINT
    meta = load_checkpoint_meta(checkpoint)
    return ResumePoint(checkpoint=checkpoint, global_step=meta["global_step"], record=record)
