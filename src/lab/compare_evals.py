"""`lab.compare --eval-data PATH`: compare runs on the data of a later evaluation, not on the
metrics they recorded at train time.

`python -m lab.eval run=<run> data.path=<file>` writes `<run>/eval/<date>_<time>/metrics.json`
(`lab.eval_results`): the metrics, the data evaluated (`data.path`, `rows`, `sha256`: the
content fingerprint of the rows as the evaluation read them, the digest `record.json` keeps for
a run's own splits) and the data options given (`data_overrides`). For each run, the metrics
compared are those of its newest such evaluation whose recorded `sha256` is PATH's as it reads
*now*: PATH is read again the way that evaluation read its file (the run's data settings, the
evaluation's data options with `data.path` pointed at PATH, the same split), so an evaluation of
an earlier version of the file, or of another file, is never taken for one of PATH. A copy of
the file elsewhere matches; the path need not. Reading needs no model: the run's config and
its exported tokenizer.

A run with no matching evaluation is left out, in a line naming it and the `lab.eval` command
that makes one. An evaluation of the run's own split (`lab.eval run=<run> split=validation`)
is not an evaluation of other data, and is not a candidate.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shlex
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from lab.errors import LabError
from lab.eval import BATCHING_KEYS

EVAL_DIR = "eval"

#: (run, an evaluation's metrics.json as read, PATH) -> PATH's fingerprint read as that
#: evaluation read its data, or None where it cannot be read so
Fingerprint = Callable[[Path, dict[str, Any], Path], str | None]


def evaluations(run: Path) -> list[tuple[Path, dict[str, Any]]]:
    """(folder, its metrics.json) of each evaluation of other data in `<run>/eval/*/`, newest
    first (the folders are named `%Y-%m-%d_%H-%M-%S`), of the exported model as trained
    (`as_trained`); a file that cannot be read, or that records no data path or metrics, is
    skipped."""
    found = []
    for metrics in sorted((run / EVAL_DIR).glob("*/metrics.json"), reverse=True):
        try:
            record = json.loads(metrics.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if not isinstance(record, dict) or not isinstance(record.get("metrics"), dict):
            continue
        data = record.get("data") or {}
        other_data = isinstance(data, dict) and data.get("path") and not data.get("run_split")
        if other_data and as_trained(record):  # other weights or inputs compare nothing
            found.append((metrics.parent, record))
    return found


#: data options of lab.eval that change no number (`lab.eval.BATCHING_KEYS`), and the path
SAME_NUMBERS = {"data.path", *(f"data.{key}" for key in BATCHING_KEYS)}


def as_trained(record: dict[str, Any]) -> bool:
    """Whether an evaluation is of the run's exported model as trained, PATH read with the
    run's own data settings: not `checkpoint=last` (other weights), not `data.max_length=8`
    (other inputs: `differs_from_training`), no data option beyond the path and batching.
    Only such evaluations of different runs compare like with like (s24d H1)."""
    if record.get("checkpoint", "model") != "model" or record.get("differs_from_training"):
        return False
    keys = {str(o).split("=", 1)[0].lstrip("+~") for o in record.get("data_overrides") or []}
    return keys <= SAME_NUMBERS


def one_split(chosen: dict[Path, tuple[Path, dict[str, Any]]], path: str) -> str:
    """The split of PATH that every chosen evaluation evaluated; a `LabError` naming them
    where they differ (a folder's test split for one run, its validation split for another
    were averaged as one file's numbers: s24d H1)."""
    by_split: dict[str, list[str]] = {}
    for run, (_, record) in chosen.items():
        by_split.setdefault(str(record["data"].get("split")), []).append(str(run))
    if len(by_split) == 1:
        return next(iter(by_split))
    said = "; ".join(f"{split}: {', '.join(runs)}" for split, runs in sorted(by_split.items()))
    raise LabError(
        f"the runs' newest evaluations of {path} are of different splits ({said}): their "
        f"numbers are not comparable; evaluate every run on one: python -m lab.eval run=<run> "
        f"data.path={shlex.quote(path)} split=<split>"
    )


class Fingerprints:
    """`Fingerprint` by lab.eval's own reading (`lab.eval.evaluation_config`, the head's data
    module, `lab.data.splits.read_splits`), once per distinct run data settings, evaluation
    options and split: the runs of a sweep over learning rates read PATH once."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, tuple[str, ...], str | None], str | None] = {}

    def __call__(self, run: Path, record: dict[str, Any], path: Path) -> str | None:
        from lab.config.resolvers import register_resolvers
        from lab.run_dir.runs import open_run

        register_resolvers()
        try:
            trained = open_run(run)
        except LabError:
            return None
        given = [str(o) for o in record.get("data_overrides") or []]
        overrides = [o for o in given if o.split("=", 1)[0] != "data.path"]
        overrides.append(f"data.path={path.resolve()}")
        split = (record.get("data") or {}).get("split")
        settings = OmegaConf.to_yaml(OmegaConf.masked_copy(trained.config, ["data", "task"]))
        key = (settings, tuple(overrides), split)
        if key not in self._known:
            self._known[key] = _read_fingerprint(trained, overrides, split)
        return self._known[key]


def _read_fingerprint(run: Any, overrides: list[str], split: str | None) -> str | None:
    from lab.data.fingerprints import content_fingerprint
    from lab.data.splits import read_splits
    from lab.eval import evaluation_config
    from lab.eval_splits import data_module, run_tokenizer
    from lab.training.console import tame_library_output

    tame_library_output()
    with _quiet():
        try:
            cfg = evaluation_config(run, overrides, split)
            rows = read_splits(data_module(cfg, run_tokenizer(run, cfg)), warn=False)["test"]
        except (LabError, OSError):  # PATH is not data this evaluation could read
            return None
        return content_fingerprint(rows)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """No warnings while PATH is read: lab.eval's notes on the data (labels read as the
    model's ids, ...) were said when the evaluation ran; here they would be said per run.
    Nor datasets' bars, which a file read the first time draws."""
    import datasets

    bars = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)
        if bars:
            datasets.enable_progress_bars()


def choose(
    runs: list[Path], path: Path, fingerprint: Fingerprint | None = None
) -> tuple[dict[Path, tuple[Path, dict[str, Any]]], list[Path], list[Path]]:
    """(each run's chosen evaluation: its folder and metrics.json, the runs with none, those
    of them that evaluated a file at PATH's place whose content was other than it is now).
    An evaluation is chosen when its recorded `sha256` is `fingerprint`'s of PATH (by default
    lab.eval's own reading, `Fingerprints`); the newest such one of a run."""
    read = fingerprint or Fingerprints()
    chosen: dict[Path, tuple[Path, dict[str, Any]]] = {}
    missing, changed = [], []
    for run in runs:
        found = evaluations(run)
        for folder, record in found:
            if record["data"].get("sha256") == read(run, record, path):
                chosen[run] = (folder, record)
                break
        else:
            missing.append(run)
            if any(_same_place(record["data"]["path"], path) for _, record in found):
                changed.append(run)
    return chosen, missing, changed


def _same_place(recorded: Any, path: Path) -> bool:
    try:
        return Path(str(recorded)).resolve() == path.resolve()
    except OSError:
        return False


def left_out_line(missing: list[Path], changed: list[Path], path: str) -> str:
    """The line on the runs without an evaluation of PATH as it is now, and the command that
    makes one (with the run's folder where there is one run, else `<run>`)."""
    count = len(missing)
    names = ", ".join(map(str, missing))
    since = ""
    if changed:  # the drift case: an evaluation of that very file, of other rows than now
        who = (
            ("it" if count == 1 else "each") if changed == missing else ", ".join(map(str, changed))
        )
        since = f" ({who} evaluated {path} before its content changed)"
    run = shlex.quote(str(missing[0])) if count == 1 else "<run>"
    return (
        f"left out {count} run{'s' * (count != 1)} with no evaluation of {path} as it is now: "
        f"{names}{since}; make one with: python -m lab.eval run={run} "
        f"data.path={shlex.quote(path)}"
    )


def source_line(chosen: dict[Path, tuple[Path, dict[str, Any]]], path: str, split: str) -> str:
    """The line below the table saying where the metrics come from (`split`: of PATH, as
    lab.eval names it), and the rows they are of: one count and digest where every run read
    PATH alike, else each run's row count."""
    read = {
        (record["data"].get("rows"), record["data"].get("sha256")) for _, record in chosen.values()
    }
    if len(read) == 1:
        ((rows, digest),) = read
        rows_read = f"{rows} rows, sha256 {str(digest)[:8]}"
    else:  # the runs' data settings cut or read the file otherwise (max_test_samples)
        counts = sorted({str(rows) for rows, _ in read})
        rows_read = f"read otherwise by the runs' data settings: {', '.join(counts)} rows"
    # A file is read as one split (lab.eval: "the file's only split"); a folder's splits are
    # each evaluation's own (every split of an evaluation maps to the one evaluated: s24e M4).
    named = "the file's only split" if Path(path).is_file() else f"its {split} split"
    return (
        f"Metrics: each run's newest evaluation of {path}, {named}, by its exported "
        f"model as trained ({rows_read}; <run>/{EVAL_DIR}/<time>/metrics.json), not its own "
        "metrics.json"
    )
