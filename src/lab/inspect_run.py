"""`python -m lab.inspect run=<run dir>`: the data a trained run read, inspected as it read it.

A researcher who wants to look at "the data of this run" had to rebuild its `data=` and
`data.path=` by hand from `config.yaml` (s21d L2). With `run=`, the run's recorded config is
the config: its data section, its head's rules and its model's tokenizer (never the weights),
as `lab.eval run=` reads them (`lab.run_dir.runs.open_run`: an older lab's config under
today's names, a moved package path found where it is now, a relative `data.path` read from
the run's working directory where it is not found from here). `data.<key>=<value>` overrides
change what is read (`data.sample=...` is not a key: `sample=` is lab.inspect's own); the
run's data, model and task choices themselves are its own, so `data=`, `model=` and `task=`
are refused with it. The report is written into `<run dir>/inspect` unless `out=` says
otherwise. Its header names the run's data and model options (`data=csv, tokenizer of
model=tiny_bert`); for a reproduction (`<run>/reproductions/<time>`, the folder lab.reproduce's
leaked-rows line names) those of the run it reproduces (`recorded_choices`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lab.errors import ConfigError

GROUPS = ("data", "model", "task")
#: the folder of a run's reproductions (`lab.reproduce_target.reproduction_target`)
REPRODUCTIONS = "reproductions"


def run_inspect_config(path: str, overrides: list[str]) -> tuple[DictConfig, dict[str, Any], Path]:
    """The config to inspect the run at `path` with (its recorded one, `data.<key>=` overrides
    set), its config choices (`data`, `model`, ... as it was trained: `.hydra/hydra.yaml`), and
    the default output folder."""
    from lab.config.ranges import check_keys
    from lab.eval_data_path import locate_run_data
    from lab.eval_fit import change_data
    from lab.run_dir.runs import open_run

    swapped = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") in GROUPS]
    if swapped:
        raise ConfigError(
            f"{swapped[0]} with run=: the run's data, model and task are its own; give "
            "data.<key>=<value> overrides, or inspect other data without run="
        )
    others = [o for o in overrides if not o.split("=", 1)[0].startswith("data.")]
    if others:
        raise ConfigError(
            f"{others[0]} with run=: only data.<key>=<value> overrides change what is read"
        )
    run = open_run(path)
    locate_run_data(run, overrides)
    cfg = OmegaConf.create(OmegaConf.to_container(run.config))
    assert isinstance(cfg, DictConfig)
    change_data(cfg, overrides, run)  # the keys the run's data has (or lab added since)
    check_keys(cfg, [o.split("=", 1)[0] for o in overrides])
    return cfg, recorded_choices(run.directory), run.directory / "inspect"


def recorded_choices(run_dir: Path) -> dict[str, Any]:
    """The config groups' choices the run was composed with (`data: imdb`), from Hydra's
    record of it; `{}` where that record is gone or unreadable (a copied run without
    `.hydra/`): the report then names no data or model option. A reproduction
    (`<run>/reproductions/<time>/`, which `lab.reproduce` runs from the run's resolved config,
    with no Hydra of its own) was composed with the choices of the run it reproduces."""
    try:
        hydra = OmegaConf.load(run_dir / ".hydra" / "hydra.yaml")
        choices = OmegaConf.to_container(hydra.hydra.runtime.choices)
    except Exception:  # a missing or damaged record names nothing
        if run_dir.parent.name == REPRODUCTIONS and not (run_dir / ".hydra").exists():
            return recorded_choices(run_dir.parent.parent)
        return {}
    return {str(k): v for k, v in choices.items()} if isinstance(choices, dict) else {}
