"""Which run folders `lab.compare` compares: the runs at or under the paths given, and the
lines on stderr about those it leaves out (runs that did not finish, reproductions inside a
run's folder, runs whose files cannot be read).

`lab.reproduce <run>` writes a whole run under `<run>/reproductions/<time>/`. Walking a folder
found it as one more run of the original's configuration and seed, and averaged it into the
original's metrics as a rerun, even a failed reproduction on changed data (s24a H1), while
`lab.compare <run>` left it out: the numbers depended on the folder given. A run inside
another run's folder is left out of a walk, in a line; named itself, it is compared as a run.
"""

from __future__ import annotations

import json
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from lab.errors import LabError


def find_runs(
    paths: list[str], left_out: list[Path] | None = None, nested: list[Path] | None = None
) -> list[Path]:
    """Run directories (holding record.json and metrics.json) at or under `paths`; the runs
    without metrics.json (failed, interrupted, pruned) are appended to `left_out` if given.

    A run found inside another run's folder while walking a folder (a reproduction,
    `<run>/reproductions/<time>/`) is not compared: it would count as a rerun of the run's
    seed and move its metrics (s24a H1). It is appended to `nested` if given; a path naming
    such a run itself compares it. A run placed in another run's folder by its own
    `hydra.run.dir` (not below its `reproductions/`) is compared as any run (s24d L)."""
    runs: list[Path] = []
    inner: list[Path] = []
    unfinished: list[Path] = []
    for given in paths:
        root = Path(given)
        if not root.exists():
            raise LabError(f"{root} does not exist")
        found = (
            [root]
            if (root / "record.json").is_file()
            else sorted(p.parent for p in root.rglob("record.json"))
        )
        every = set(found)
        within = [run for run in found if _reproduction(run, every)]
        inner += within
        found = [run for run in found if run not in within]
        runs += [run for run in found if (run / "metrics.json").is_file()]
        unfinished += [run for run in found if not (run / "metrics.json").is_file()]
    if left_out is not None:
        left_out += unfinished
    if not runs:
        why = f" ({unfinished_line(unfinished).removeprefix('left out ')})" if unfinished else ""
        raise LabError(
            f"no finished runs (record.json + metrics.json) under {', '.join(paths)}{why}"
        )
    # One run named twice (a path and a symlink to it, a folder and a run inside it) counts
    # once: it would pass for a repeated seed and weigh twice in the mean (s22b L3).
    unique = {run.resolve(): run for run in reversed(runs)}
    if nested is not None:  # those named themselves as well are compared, not left out
        nested += [run for run in dict.fromkeys(inner) if run.resolve() not in unique]
    return [run for run in runs if unique[run.resolve()] is run]


def _reproduction(run: Path, runs: set[Path]) -> bool:
    """Whether `run` lies in the `reproductions/` folder of one of `runs`."""
    return any(
        parent in runs and run.relative_to(parent).parts[0] == "reproductions"
        for parent in run.parents
    )


def unreadable(run: Path) -> str | None:
    """Why `run`'s files cannot be compared (`<file>: not valid JSON (...)`), or None."""
    from lab.data.origins import not_valid_json

    for name in ("record.json", "metrics.json"):
        path = run / name
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            return f"{path}: {not_valid_json(err)}"
        except (OSError, UnicodeDecodeError) as err:
            return f"{path}: {err}"
        if not isinstance(value, dict):
            return f"{path}: a JSON {type(value).__name__}, not an object"
    try:
        config = OmegaConf.load(run / "config.yaml")
    except Exception as err:  # not YAML, missing: the first line of the parser's message
        return f"{run / 'config.yaml'}: {str(err).splitlines()[0] if str(err) else err!r}"
    if not isinstance(config, DictConfig):
        return f"{run / 'config.yaml'}: not a config (a YAML mapping)"
    return None


def _listed(runs: list[Path], described: dict[Path, str] | None = None) -> str:
    """The first runs of `runs` (3; 10 where each is `described`: its seed and the
    configuration it is of, so the cell that lost a seed is known, s27a L3)."""
    shown = 10 if described else 3
    named = [
        f"{run} ({described[run]})" if described and described.get(run) else str(run)
        for run in runs
    ]
    return ", ".join(named[:shown]) + (
        f", ... ({len(runs) - shown} more)" if len(runs) > shown else ""
    )


def unfinished_line(left_out: list[Path], described: dict[Path, str] | None = None) -> str:
    """The line on the runs left out for want of metrics.json, counted by how each ended and
    each named with it (`lab.compare_endings`: a run another process trains now is said to
    be one, s25c M1; a run whose process is gone, killed, is not called failed, s32e F4).
    `described`: what else to say after a run's folder (`seed 3, configuration s1,s2`:
    `lab.compare_unfinished`)."""
    from lab.compare_endings import count_phrase, ending

    endings = {run: ending(run) for run in left_out}
    said = {
        run: ", ".join(filter(None, (endings[run][1], (described or {}).get(run))))
        for run in left_out
    }
    count = len(left_out)
    kinds = count_phrase([kind for kind, _ in endings.values()])
    return (
        f"left out {count} run{'s' * (count != 1)} that did not finish (no metrics.json: "
        f"{kinds}): {_listed(left_out, said)}"
    )


def nested_line(nested: list[Path]) -> str:
    """The line on the runs left out for lying inside another run's folder."""
    count = len(nested)
    return (
        f"left out {count} reproduction{'s' * (count != 1)} (a run inside another run's folder, "
        f"as lab.reproduce writes <run>/reproductions/<time>/): {_listed(nested)}; name "
        f"{'its folder' if count == 1 else 'such a folder'} itself to compare it as a run"
    )
