"""What `python -m lab.eval` writes, and where: `metrics.json` (metrics, checkpoint, the data
evaluated) with the head's report and figures beside it, in `<run dir>/eval/<time>/` or where
`output=` says. The place is checked before the evaluation (an evaluation takes minutes; a
folder that cannot be written is one line then, not a traceback after it), and a write that
fails all the same (a full disk) is one line naming the file."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lab.eval_splits import RUN_SPLIT
from lab.run_dir.runs import TrainedRun
from lab.tool_outputs import check_output


def results_target(run: TrainedRun, output: str | None) -> Path:
    """Where `metrics.json` goes (`output=`, else `<run dir>/eval/<time>/metrics.json`), or a
    `LabError` `cannot write <path>: <reason>` when it cannot be written there."""
    if output:
        return check_output(Path(output))
    stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    return check_output(run.directory / "eval" / stamp / "metrics.json", option="output")


def write_results(
    target: Path,
    run: TrainedRun,
    cfg: DictConfig,
    *,
    checkpoint: str,
    evaluated: dict[str, Any],
    module_settings: list[str],
    metrics: dict[str, float],
    report: dict[str, Any],
) -> None:
    """Write `metrics.json` at `target` (`evaluated`: the rows and digest of the split tested;
    `module_settings`: the `task.module.<key>=` changes), and the head's report and figures
    beside it."""
    from lab.run_dir.disk import writing
    from lab.run_dir.plots import write_run_plots
    from lab.run_dir.records import write_json

    data = cfg.data
    own = cfg.get(RUN_SPLIT)
    # The run's split as training read it: the mapping it was read by is the run's own.
    splits = (run.config.data if own else data).get("splits")
    with writing(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        write_json(
            target,
            {
                "run": str(run.directory),
                "checkpoint": checkpoint,
                "data": {
                    "path": data.get("path"),
                    "hub_id": data.get("hub_id"),
                    "hub_config": data.get("hub_config"),
                    "splits": OmegaConf.to_container(splits),
                    # lab's name on the run's own data, else the source's
                    "split": own or str(data.splits.test),
                    "run_split": bool(own),
                    **evaluated,
                },
                **({"task_module": module_settings} if module_settings else {}),
                "metrics": metrics,
            },
        )
    if report:
        with writing(target.parent):
            write_json(target.parent / "test_report.json", report)
            write_run_plots(target.parent, report, cfg)
