"""Which data each `lab.compare` configuration was scored on, so that a best is only chosen
among configurations scored on the same rows.

`best by val/acc` compared val/acc on the demo set against val/acc on IMDB (s27a M3): two
validation sets, two scales. What a run was validated on is in its record: `record.json`
`data.<split>` holds the rows' count and content digest (`sha256`) as the run read them, the
fingerprint `lab.reproduce` checks. The configurations are grouped by the digests of the split
their optimized metric is of (`val/` -> `validation`, `test/` -> `test`), and the best is
chosen within each group, one line per group. A run recorded without a digest is grouped by
where its data came from (`data.path`, `data.hub_id`, `data.hub_config` of its config).
A group is named by the keys that tell it from the others among those the table shows (the
`data` choice, `data.path`, ...) and by its rows and digest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lab.compare_stats import read_record

#: a metric's stage -> the record's split name (`val/acc` is of the validation split)
SPLITS = {"val": "validation"}
#: where a run recorded without digests read its data from (conf/data/base/source.yaml)
SOURCE_KEYS = ("path", "hub_id", "hub_config")


def scored_split(metric: str) -> str:
    """The split a metric is of, as the record names it: `val/acc` -> `validation`."""
    stage = metric.split("/", 1)[0]
    return SPLITS.get(stage, stage)


def scored_on(run: Path, metric: str) -> tuple[Any, ...]:
    """What `run`'s `metric` was computed on: ("rows", count, sha256) of its split from
    record.json, else ("source", data.path, data.hub_id, data.hub_config) from its config."""
    split = scored_split(metric)
    data = read_record(run).get("data")
    read = data.get(split) if isinstance(data, dict) else None
    if isinstance(read, dict) and read.get("sha256"):
        return ("rows", read.get("rows"), str(read["sha256"]))
    config = OmegaConf.load(run / "config.yaml")
    node = config.get("data") if isinstance(config, DictConfig) else None
    source = [
        OmegaConf.select(node, key, default=None, throw_on_resolution_failure=False)
        if isinstance(node, DictConfig)
        else None
        for key in SOURCE_KEYS
    ]
    return ("source", *map(str, source))


def data_groups(rows: list[dict[str, Any]], metric: str) -> list[list[int]]:
    """The configurations (indices into `rows`) scored on the same data, each group in the
    table's order, the groups by their first configuration."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    for index, row in enumerate(rows):
        key = tuple(sorted({scored_on(Path(run), metric) for run in row["runs"]}, key=repr))
        groups.setdefault(key, []).append(index)
    return list(groups.values())


def group_name(
    rows: list[dict[str, Any]],
    groups: list[list[int]],
    group: int,
    cells: dict[str, list[str]],
    metric: str,
) -> str:
    """How the best line names `groups[group]`: the `data` choice and the keys of where the
    data came from (`SOURCE_KEYS`; `cells`: each shown key's cells as the table prints them)
    whose value is one within the group and another in every other group, then its rows and
    digest where recorded: `data=imdb data.path=/data/imdb_small (40 rows, sha256 1006b04d)`.
    The other keys that differ between the groups (`data.max_length`) are named beside each
    configuration where they differ on its data. Where no source key tells the group apart
    (two sets of one data), the source keys it shares are named."""
    members = groups[group]
    others = [i for g, indices in enumerate(groups) if g != group for i in indices]
    named: list[str] = []
    shared: list[str] = []
    for key, values in cells.items():
        if key != "data" and key not in {f"data.{k}" for k in SOURCE_KEYS}:
            continue
        inside = {values[i] for i in members}
        if len(inside) == 1:
            own = not inside & {values[i] for i in others}
            (named if own else shared).append(f"{key}={next(iter(inside))}")
    # Two sets of one data (a random carve and a stream's head): named by that data all the
    # same, their rows and digest telling them apart (s30e F4: "best on (100 rows, ...)").
    named = named or shared
    read = {scored_on(Path(run), metric) for i in members for run in rows[i]["runs"]}
    if len(read) == 1 and (only := next(iter(read)))[0] == "rows":
        named.append(f"({only[1]} rows, sha256 {only[2][:8]})")
    return " ".join(named) or f"data #{group + 1}"
