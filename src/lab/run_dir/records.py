"""The files that make a run directory self-describing.

config.yaml      the fully resolved config (what actually ran)
overrides.yaml   the command-line overrides, as Hydra parsed them
record.json      command line, working directory, times, lab version, final metrics
metrics.json     final validation and test metrics of the best checkpoint
.hydra/          Hydra's own copies (unresolved config, hydra config, overrides)
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

import lab


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def hydra_overrides() -> list[str]:
    """The task overrides of the current Hydra job ([] outside a Hydra app)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return []
    return list(HydraConfig.get().overrides.task)


def is_global_rank_zero() -> bool:
    """True in the process that owns the run directory (every other rank only reads it).

    Decided from the launcher's environment because it is needed before any Trainer exists
    (Lightning's DDP launcher, torchrun and SLURM set RANK / LOCAL_RANK / SLURM_PROCID).
    """
    for variable in ("RANK", "SLURM_PROCID", "LOCAL_RANK"):
        if variable in os.environ:
            return int(os.environ[variable]) == 0
    return True


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temp file, then rename); only rank zero writes."""
    if not is_global_rank_zero():
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    tmp.replace(path)


def start_record(output_dir: Path, cfg: DictConfig) -> dict[str, Any]:
    """Write config.yaml, overrides.yaml and a first record.json; return the record."""
    output_dir.mkdir(parents=True, exist_ok=True)
    overrides = hydra_overrides()
    if is_global_rank_zero():
        (output_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
        (output_dir / "overrides.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(overrides)))
    from lab.config.paths import config_root
    from lab.run_dir.environment import code_version, hardware, package_versions

    code, patch = code_version(config_root())
    if patch and is_global_rank_zero():
        (output_dir / "code.patch").write_text(patch)
        code["patch"] = "code.patch"
    record: dict[str, Any] = {
        "command": shlex.join([Path(sys.executable).name, "-m", "lab.train", *sys.argv[1:]])
        if sys.argv and sys.argv[0].endswith(("train.py", "lab-train"))
        else shlex.join(sys.argv),
        "argv": sys.argv,
        "cwd": str(Path.cwd()),
        "overrides": overrides,
        "seed": cfg.get("seed"),
        "lab_version": lab.__version__,
        "code": code,
        "packages": package_versions(),
        "hardware": hardware(),
        "started": _now(),
        "status": "running",
    }
    write_json(output_dir / "record.json", record)
    return record


def resume_record(output_dir: Path, record: dict[str, Any], from_step: int) -> dict[str, Any]:
    """Mark an interrupted run as running again, noting when and from which step."""
    record.setdefault("resumes", []).append(
        {"at": _now(), "from_step": from_step, "argv": sys.argv}
    )
    record["status"] = "running"
    write_json(output_dir / "record.json", record)
    return record


def finish_record(
    output_dir: Path, record: dict[str, Any], metrics: dict[str, float], status: str = "finished"
) -> None:
    """Complete record.json with end time, status and metrics (and metrics.json if finished)."""
    if status == "finished":
        write_json(output_dir / "metrics.json", metrics)
    record.update(finished=_now(), status=status, metrics=metrics)
    write_json(output_dir / "record.json", record)
