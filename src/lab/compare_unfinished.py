"""What `lab.compare`'s line on the runs that did not finish says of each: its seed and the
configuration (the table's column) it would have counted in.

"left out 2 runs that did not finish: .../s3_killed, .../s3_partial" named folders only: in
a multirun of numbered folders, which cell lost a seed took opening each record (s27a L3).
Each such run is now followed by `seed 3, configuration s1,s2` (the configuration's label in
the table, where the run's resolved config and choices are those of a configuration
compared), or by the values that set it apart where no finished run has its configuration
(`seed 3, a configuration no finished run has: optimizer.lr=0.02`). A run whose record or
config cannot be read says what it can (its seed), or nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lab.compare_cells import column_cells
from lab.compare_rows import MISSING, flat_config, is_run_label
from lab.compare_stats import read_record
from lab.inspect_run import recorded_choices

# The keys a run's line names at most: one line, not a config (an 18,000-character line
# pushed the table off the screen).
SHOWN_KEYS = 6


def describe_unfinished(
    left_out: list[Path], rows: list[dict[str, Any]], labels: list[str], columns: list[str]
) -> dict[Path, str]:
    """Each run of `left_out` -> what to say after its folder (`unfinished_line`): its seed
    and the label (`labels`) of the configuration of `rows` it is of, else its values of
    the table's `columns` (the groups' choices and keys shown) and of the keys in which it
    differs from every configuration."""
    known = [(flat_config(Path(row["runs"][0])), row.get("choices", {})) for row in rows]
    described = {}
    for run in left_out:
        parts = []
        try:
            seed = read_record(run).get("seed")
            if seed is not None:
                parts.append(f"seed {seed}")
            config = flat_config(run)
        except Exception:  # not finished, maybe not begun: say what could be read
            described[run] = ", ".join(parts)
            continue
        choices = {k: str(v) for k, v in recorded_choices(run).items()}
        of = [
            label
            for (other, picked), label in zip(known, labels, strict=True)
            if _same(config, other) and all(choices.get(g) == v for g, v in picked.items())
        ]
        if of:
            parts.append(f"configuration {of[0]}")
        else:
            parts.append(
                f"a configuration no finished run has: {_apart(config, choices, known, columns)}"
            )
        described[run] = ", ".join(parts)
    return described


def _same(config: dict[str, Any], other: dict[str, Any]) -> bool:
    keys = set(config) | set(other)
    return all(repr(config.get(k, MISSING)) == repr(other.get(k, MISSING)) for k in keys)


def _apart(
    config: dict[str, Any],
    choices: dict[str, str],
    known: list[tuple[dict[str, Any], dict[str, Any]]],
    columns: list[str],
) -> str:
    """The run's values of the table's columns, and of every key whose value no
    configuration compared has."""
    unlike = sorted(
        key
        for key in set(config) | {k for other, _ in known for k in other}
        if not is_run_label(key)
        and all(
            repr(config.get(key, MISSING)) != repr(other.get(key, MISSING)) for other, _ in known
        )
    )
    named = [*columns, *(key for key in unlike if key not in columns)]
    more = len(named) - SHOWN_KEYS
    named = named[:SHOWN_KEYS]  # a run of another model set hundreds apart (s27e M1)
    values = [choices.get(key, config.get(key, MISSING)) for key in named]
    # a float as short as the table shows it (`lab.compare_cells`)
    cells = [column_cells([value])[0] for value in values]
    said = " ".join(f"{key}={cell}" for key, cell in zip(named, cells, strict=True))
    return said + (f" (and {more} more keys: its config.yaml)" if more > 0 else "")
