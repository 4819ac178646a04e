"""Where `lab.eval` (and `lab.export`, `lab.inspect run=`) reads a run's own data from when
its `data.path` is relative.

A run's `config.yaml` keeps `data.path` as given on the command line: relative to the folder
`lab.train` ran in (`record.json`'s `cwd`). `lab.eval run=<run>` started elsewhere looked for
it there and said only `data.path does not exist: tests/fixtures/...`. A relative path that
is not found from here but is from the run's working directory is read from there (a line
says so); found in neither, the refusal names both places.

The run's relative model paths (`model.pretrained` and its copies, a DPO start model's, a
chat template file: `lab.reproduce_paths.PATH_KEYS` outside `data` and `paths`) are what the
run loaded from its working directory, not the user's choice now: they are read from there
as `lab.reproduce` reads them (a DPO run started from `outputs/<sft run>/model` evaluated
from another folder could not build its reference, and no override could say where: s30a F3).
"""

from __future__ import annotations

import logging
from pathlib import Path

from lab.errors import DataError
from lab.run_dir.runs import TrainedRun

log = logging.getLogger(__name__)


def locate_run_data(
    run: TrainedRun,
    data_overrides: list[str],
    advice: str = "pass data.path=<where the data is now>",
) -> None:
    """Point the run's relative `data.path` at its file in the run's working directory when it
    is not found from here (in `run.config`, which the run's own splits are read from); a
    path given now (`data=`, `data.path=`) is the user's, read from here as given. Found in
    neither place: refused with `advice` (what the tool lets the user do about it). The
    run's relative model paths first (`locate_run_models`)."""
    locate_run_models(run)
    if any(o.split("=", 1)[0] in ("data", "data.path") for o in data_overrides):
        return
    path = run.config.data.get("path")
    if not isinstance(path, str) or not path or Path(path).expanduser().is_absolute():
        return
    if Path(path).exists():
        return
    recorded = run.record.get("cwd")
    there = Path(str(recorded)) / path if recorded else None
    if there is not None and there.exists():
        run.config.data.path = str(there)
        log.warning("data.path=%s is read from the run's working directory: %s", path, there)
        return
    places = f"from here ({Path.cwd()})"
    if recorded:
        places += f" nor from the run's working directory ({recorded})"
    raise DataError(f"data.path={path} does not exist {places}; {advice}")


def locate_run_models(run: TrainedRun) -> None:
    """Point the run's relative model paths (see the module) that exist under its working
    directory at them, in `run.config`; one line names them."""
    from omegaconf import OmegaConf

    from lab.reproduce_paths import read_from_recorded_cwd

    sections = {k: run.config.get(k) for k in ("model", "task") if run.config.get(k) is not None}
    tree = {k: OmegaConf.to_container(v) for k, v in sections.items()}
    moved = read_from_recorded_cwd(tree, run.record.get("cwd"))
    found = OmegaConf.create(tree)
    for key in (item.split("=", 1)[0] for item in moved):
        OmegaConf.update(run.config, key, OmegaConf.select(found, key), merge=False)
    if moved:
        log.info(
            "the run's model paths are read from its working directory %s: %s",
            run.record.get("cwd"),
            ", ".join(moved),
        )
