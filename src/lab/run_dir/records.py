"""The files that make a run directory self-describing, and the record of a run in progress.

config.yaml      the fully resolved config (what actually ran)
overrides.yaml   the command-line overrides, as Hydra parsed them
record.json      command line, working directory, times, lab version, status, final metrics
metrics.json     final validation and test metrics of the best checkpoint
.hydra/          Hydra's own copies (unresolved config, hydra config, overrides)

`RunRecord` is `lab.train`'s hold on `record.json` for the length of a run: a context manager
that starts (or resumes) the record and, however the run ends, says how in its `status`.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import sys
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf

import lab
from lab.errors import LabError

if TYPE_CHECKING:
    from lab.data.datamodule import DataModule
    from lab.run_dir.resume import ResumePoint

log = logging.getLogger(__name__)


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


def ending_status(error: BaseException) -> str:
    """The `status` of a run that ended with `error` (what `record.json` says happened)."""
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    if isinstance(error, LabError):
        return f"failed: {error}"
    if isinstance(error, SIGTERMException):
        return "interrupted (SIGTERM); resume=<this dir>"
    if isinstance(error, Exception):
        # Pruned by a sweep, out of memory, a bug: the record says how the run ended.
        ended = "pruned" if type(error).__name__ == "TrialPruned" else "failed"
        return f"{ended}: {type(error).__name__}: {error}"
    return f"interrupted ({type(error).__name__})"  # Ctrl-C (Lightning exits on it)


class RunRecord:
    """`record.json` of the run `cfg` describes, held open while it runs.

    Entering checks a resume (`resume=...`: a refusal touches nothing in the run it names),
    then starts the record (config.yaml, overrides.yaml, a first record.json, status
    `running`) or notes the resume in the record it continues. `finish(metrics)` marks the run
    `finished` and writes metrics.json; leaving with an exception marks it `failed: <why>`,
    `pruned: ...`, or `interrupted ...` (see `ending_status`), and lets the exception go on.
    """

    def __init__(self, cfg: DictConfig) -> None:
        self.cfg = cfg
        self.output_dir = Path(cfg.paths.output_dir).resolve()
        self.data: dict[str, Any] = {}
        self.resume_point: ResumePoint | None = None

    def __enter__(self) -> RunRecord:
        from lab.run_dir.resume import prepare_resume

        if self.cfg.get("resume"):
            self.resume_point = prepare_resume(self.output_dir, self.cfg)
        if self.resume_point:
            step = self.resume_point.global_step
            self.data = resume_record(self.output_dir, self.resume_point.record, step)
            log.info("Resuming %s from step %d", self.output_dir, step)
        else:
            self.data = start_record(self.output_dir, self.cfg)
        if is_global_rank_zero():
            log.info("Run directory: %s", self.output_dir)
        return self

    def __exit__(
        self,
        error_type: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if error is not None:
            finish_record(self.output_dir, self.data, {}, status=ending_status(error))

    @property
    def resume_checkpoint(self) -> str | None:
        """The checkpoint a resumed run continues from (None for a new run)."""
        return str(self.resume_point.checkpoint) if self.resume_point else None

    def note_data(self, datamodule: DataModule) -> None:
        """Record each split's raw row count and content fingerprint."""
        self.data["data"] = {
            name: {
                "rows": datamodule.raw_sizes[name],
                "sha256": datamodule.split_fingerprints[name],
            }
            for name in datamodule.raw_sizes
        }

    def note_parameters(self, counts: dict[str, float]) -> None:
        """Record the model's parameter counts (`lab.training.adapters.parameter_counts`)."""
        self.data["parameters"] = counts

    def write(self) -> None:
        """Write the record as it stands (rank zero only)."""
        write_json(self.output_dir / "record.json", self.data)

    def finish(self, metrics: dict[str, float]) -> None:
        """Mark the run finished with its final metrics (record.json and metrics.json)."""
        finish_record(self.output_dir, self.data, metrics)
