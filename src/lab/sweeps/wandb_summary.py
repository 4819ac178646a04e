"""The study as one W&B run: a table of every trial and the best result in its summary.

Each trial is its own W&B run already (named `<study>-trial<N>`, grouped by the study name;
see `conf/logger/wandb.yaml`). This adds `<study>-summary` to the same group, with a stable
id so a resumed sweep updates it instead of adding another. Only when the sweep's config
logs to W&B; like every W&B call in lab, it never fails the sweep.

It starts like a trial's W&B run (`lab.training.wandb_start.start_wandb_run`, with the
`connect_timeout` and `init_timeout` of the config's `logger.wandb`): online only when the
server answers within seconds, else offline, where it can be synced later (lab says the
command), then disabled; each with the trials' warnings, and never blocking longer than a
trial's start would.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lab.sweeps.results import best_summary, trial_rows
from lab.training.wandb_start import (
    CONNECT_TIMEOUT,
    INIT_TIMEOUT,
    resolve_wandb_mode,
    start_wandb_run,
    unusable_directory,
    wandb_settings,
)

log = logging.getLogger(__name__)


def log_study_to_wandb(study: Any, config: DictConfig, sweep_dir: Path) -> str | None:
    """Write the summary run; return its W&B run id (None when W&B is not configured)."""
    wandb_cfg = OmegaConf.select(config, "logger.wandb", default=None)
    if not wandb_cfg:
        return None
    mode = resolve_wandb_mode(str(wandb_cfg.get("mode", "auto")))
    if mode == "disabled":
        return None
    run_id = "sweep-" + hashlib.sha256(str(sweep_dir).encode()).hexdigest()[:12]
    unusable = unusable_directory(str(sweep_dir))
    if unusable:
        log.warning(
            "W&B summary of study %s not written: %s cannot be used (%s)",
            study.study_name,
            sweep_dir,
            unusable,
        )
        return None
    try:
        import wandb

        rows = trial_rows(study)
        arguments: dict[str, Any] = dict(
            project=wandb_cfg.get("project"),
            entity=wandb_cfg.get("entity"),
            group=study.study_name,
            name=f"{study.study_name}-summary",
            job_type="sweep-summary",
            id=run_id,
            resume="allow",
            mode=mode,
            dir=str(sweep_dir),
            config={"study": study.study_name, "sweep_dir": str(sweep_dir)},
            reinit="create_new",
            settings=wandb_settings(float(wandb_cfg.get("init_timeout", INIT_TIMEOUT))),
        )
        run = start_wandb_run(
            lambda: wandb.init(**arguments),
            arguments,
            float(wandb_cfg.get("connect_timeout", CONNECT_TIMEOUT)),
        )
        if arguments["mode"] == "disabled":  # said by start_wandb_run: nothing to write
            run.finish()
            return None
        if rows:
            columns: list[Any] = list(rows[0])
            table = wandb.Table(
                columns=columns, data=[[_cell(r[c]) for c in columns] for r in rows]
            )
            run.log({"trials": table})
        summary = best_summary(study)
        run.summary.update({"trials": summary["trials"], **_flat_best(summary)})
        folder = Path(run.dir).parent  # <sweep dir>/wandb/offline-run-<time>-<id>
        run.finish()
        if arguments["mode"] == "offline":
            log.info(
                "W&B summary of study %s offline: sync later with `wandb sync %s`",
                study.study_name,
                folder,
            )
        return run_id
    except Exception as err:  # W&B must never take a sweep down
        log.warning("W&B summary of study %s not written: %s", study.study_name, err)
        return None


def _cell(value: Any) -> Any:
    return "" if value is None else value


def _flat_best(summary: dict[str, Any]) -> dict[str, Any]:
    best = summary.get("best")
    if not best:
        return {"pareto_front": summary.get("pareto_front", [])}
    flat = {"best/number": best["number"], "best/value": best["value"]}
    flat.update({f"best/params/{k}": v for k, v in best["params"].items()})
    return flat
