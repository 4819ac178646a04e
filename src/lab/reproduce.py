"""`python -m lab.reproduce`: get a recorded number again, and say whether it matches.

    python -m lab.reproduce outputs/runs/2026-11-22/10-00-00_123-abcd   # re-run a run
    python -m lab.reproduce experiment=minilm_demo                        # check `expected:`
    python -m lab.reproduce --config-dir conf experiment=my_exp           # one of your own

A run is re-run from its *resolved* config (config.yaml), so later edits of the YAML files do
not change what runs, its relative paths (`data.path=data`) read from the run's working
directory wherever the reproduction starts (`lab.reproduce_paths`), and its paths inside
installed packages (the quickstart model, lab's demo data and tiny models) from where those
packages are installed now, when the recorded ones are gone (a recreated venv, a moved clone,
a colleague's checkout: `lab.run_dir.package_paths`); the new run goes to
`<run dir>/reproductions/<time>/` (one folder for all its DDP ranks, none left by a
reproduction refused before it trained: `lab.reproduce_target`), as a run of its own: a
sweep's trial (`<sweep dir>/trials/<N>`, the command a sweep's summary prints) reports nothing
to its study, and a W&B run is named after the recorded one with `-repro`. Every recorded
metric is printed next to the new value with pass/fail at `--rtol`/`--atol`; before that,
differences in code version, packages, hardware and data fingerprints are listed as warnings
(a data split that changed is said before the retrain too: `lab.reproduce_data`).
A run directory needs nothing else (its config.yaml is resolved). An experiment is composed
as `lab.train` composes it, `--config-dir` folders of your own searched first
(`lab.config.user_dirs`), and checked against the `expected:` block of its file:

    expected:
      rtol: 0.0
      atol: 0.02
      metrics: {test/acc: 0.90}

The run logs as `python -m lab.train` does under Hydra (`run_log`): lab's lines on the console
(the run directory, the data and model lines) and everything, library reports included, in the
reproduction's `train.log`, to diff against the recorded run's.

Exit code: 0 all metrics within tolerance, 1 some outside, 2 bad input (a record.json or
config.yaml that cannot be read too), 130 Ctrl-C (143 SIGTERM is lab.train's: the reproduction
saves its checkpoint and says how to continue it).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lab.errors import EXIT_USER_ERROR, LabError
from lab.testing import compare_metrics
from lab.tool_interrupts import on_interrupt

EXIT_MISMATCH = 1
REPRO_SUFFIX = "-repro"  # a reproduction's W&B run name: the recorded run's, with this after
Rows = list[tuple[str, float, float | None, bool]]
# Named, not `__name__` ("__main__" under `python -m lab.reproduce`): as lab.train's lines.
log = logging.getLogger("lab.reproduce")


@contextmanager
def run_log(
    output_dir: Path, overrides: Sequence[str] = (), file_name: str = "train.log"
) -> Iterator[None]:
    """Inside the block, logging is set up as Hydra sets it up for a `python -m lab.train` job:
    `hydra.job_logging` of conf/ (lab's lines on the console, library chatter filtered out)
    with its file handler on `<output_dir>/<file_name>` (another DDP rank's: its own file).
    `overrides`: the command's `hydra.*` ones (`hydra.verbose=true`). The root logger's
    handlers and level are restored after."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.utils import configure_log
    from omegaconf import open_dict

    from lab.config.paths import conf_dir
    from lab.training.absl_handler import keep_absl_off_borrowed_streams

    # `run` is called directly, not as a Hydra job, so nothing else would set logging up:
    # without this the lab lines are INFO records with no handler (not shown) and no
    # train.log is written. The config is composed for its `hydra` node only.
    hydra_overrides = [o for o in overrides if o.lstrip("+~").startswith("hydra.")]
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            cfg = compose("train", overrides=hydra_overrides, return_hydra_config=True)
    finally:
        GlobalHydra.instance().clear()
    job_logging = cfg.hydra.job_logging
    if job_logging is not None and "file" in (job_logging.get("handlers") or {}):
        # Hydra names the file after the job (`train.log` for lab.train): the same name here.
        with open_dict(job_logging):
            job_logging.handlers.file.filename = str(output_dir / file_name)
    output_dir.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    keep_absl_off_borrowed_streams()  # dictConfig below closes every handler
    configure_log(job_logging, cfg.hydra.verbose)
    try:
        yield
    finally:
        for handler in list(root.handlers):
            if handler not in saved_handlers:
                root.removeHandler(handler)
                handler.close()
        for handler in saved_handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(saved_level)


def _rebase(node: Any, old: str, new: str) -> Any:
    """Replace the old run directory by the new one in every string of the config."""
    if isinstance(node, dict):
        return {k: _rebase(v, old, new) for k, v in node.items()}
    if isinstance(node, list):
        return [_rebase(v, old, new) for v in node]
    if isinstance(node, str) and node.startswith(old):
        return new + node[len(old) :]
    return node


def environment_differences(
    record: dict[str, Any], now: dict[str, Any], run_dir: Path | None = None
) -> list[str]:
    """Human-readable differences in code, packages, hardware and data between two records.

    When the recorded run had uncommitted work, the line says how to rebuild its code from
    `run_dir`'s code.patch (edits and new files) and which untracked files it lacks.
    """
    from lab.reproduce_data import data_differences  # imports Lightning: not for --help

    lines = []
    old_git = (record.get("code") or {}).get("git") or {}
    new_git = (now.get("code") or {}).get("git") or {}
    if old_git.get("commit") != new_git.get("commit"):
        lines.append(f"code: recorded commit {old_git.get('commit')}, now {new_git.get('commit')}")
    if old_git.get("dirty"):
        patch = (run_dir or Path(".")) / "code.patch"
        line = (
            "code: the recorded run had uncommitted changes; to rebuild its code: "
            f"git checkout {old_git.get('commit')} && git apply {patch}"
        )
        skipped = old_git.get("untracked_skipped") or {}
        if skipped:
            left_out = ", ".join(f"{name} ({why})" for name, why in skipped.items())
            line += f" (not in the patch: {left_out})"
        lines.append(line)
    if new_git.get("dirty"):
        lines.append("code: this checkout has uncommitted changes")
    for name, version in (record.get("packages") or {}).items():
        current = (now.get("packages") or {}).get(name)
        if current != version:
            lines.append(f"package {name}: recorded {version}, now {current}")
    for key in ("cpu", "gpus", "cuda"):
        old, new = (record.get("hardware") or {}).get(key), (now.get("hardware") or {}).get(key)
        if old != new:
            lines.append(f"hardware {key}: recorded {old}, now {new}")
    lines += data_differences(record.get("data") or {}, now.get("data") or {})
    return lines


def reproduce_run(run_dir: Path, *, rtol: float, atol: float) -> tuple[bool, Rows, list[str]]:
    """Re-run `run_dir` from its resolved config; return (all ok, comparison rows, warnings).

    The reproduction logs as a `lab.train` run (`run_log`). Relative paths of the config are
    read from the run's working directory (`lab.reproduce_paths`); a data split that differs
    from the recorded one is said before training (`lab.reproduce_data`). Under DDP all ranks
    reproduce into rank 0's folder, and the other ranks return `(True, [], [])`: rank 0
    compares (`lab.reproduce_target`). A reproduction refused before it trained leaves no
    folder behind."""
    from lab.config.resolvers import register_resolvers
    from lab.errors import lab_error_in
    from lab.reproduce_data import RecordedDataCheck
    from lab.reproduce_paths import check_data_paths, read_from_recorded_cwd
    from lab.reproduce_target import (
        FitStarted,
        log_file_name,
        remove_untrained,
        reproduction_target,
        shared_with_ranks,
    )
    from lab.run_dir.package_paths import restore_package_paths, restored_line
    from lab.run_dir.records import is_global_rank_zero
    from lab.train import run

    record_path = run_dir / "record.json"
    if not record_path.is_file() or not (run_dir / "config.yaml").is_file():
        raise LabError(f"{run_dir} is not a lab run directory (no record.json / config.yaml)")
    record, recorded_cfg = _read_run(run_dir)
    if not record.get("metrics"):
        raise LabError(f"{run_dir} has no recorded metrics (status: {record.get('status')})")
    register_resolvers()
    # Before anything is written: a reproduction whose data is nowhere makes no folder.
    # Paths inside installed packages (the quickstart model, lab's demo data) first: on
    # another install they are elsewhere, and the record says which package holds them.
    packaged = restore_package_paths(recorded_cfg, record)
    moved = read_from_recorded_cwd(recorded_cfg, record.get("cwd"))
    check_data_paths(recorded_cfg, record.get("cwd"))
    target = reproduction_target(run_dir)
    fresh, had_reproductions = not target.exists(), target.parent.exists()
    cfg = reproduction_config(recorded_cfg, target)
    left = f"the reproduction did not finish; what it wrote is in {target}"
    started = FitStarted()
    extra = [started, RecordedDataCheck(record.get("data") or {})]
    try:
        with on_interrupt(left), shared_with_ranks(target), run_log(target, (), log_file_name()):
            if packaged:
                log.info("%s", restored_line(packaged))
            if moved:
                log.info(
                    "relative paths read from the run's working directory %s: %s",
                    record["cwd"],
                    ", ".join(moved),
                )
            metrics = run(cfg, callbacks=extra)
    except Exception as err:
        # Refused (bad data, a full disk) before training: nothing worth a folder that looks
        # like a reproduction. A bug's folder stays, its record saying `failed: <why>`.
        if fresh and not started.started and lab_error_in(err) is not None:
            remove_untrained(target, had_reproductions)
        raise
    if not is_global_rank_zero():
        return True, [], []
    now = json.loads((target / "record.json").read_text())
    rows = compare_metrics(metrics, record["metrics"], rtol=rtol, atol=atol)
    return all(ok for *_, ok in rows), rows, environment_differences(record, now, run_dir)


def _read_run(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(record.json, config.yaml) of a recorded run, or a `LabError` naming the file that
    cannot be read and why (not JSON, cut short, not a mapping)."""
    from lab.data.origins import not_valid_json

    path = run_dir / "record.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise LabError(f"cannot read {path}: {not_valid_json(err)}") from err
    except (OSError, UnicodeDecodeError) as err:
        raise LabError(f"cannot read {path}: {err}") from err
    path = run_dir / "config.yaml"
    try:
        config = OmegaConf.to_container(OmegaConf.load(path))
    except Exception as err:  # the YAML parser's own errors
        raise LabError(f"cannot read {path}: {str(err).splitlines()[0]}") from err
    for name, value in (("record.json", record), ("config.yaml", config)):
        if not isinstance(value, dict):
            raise LabError(f"cannot read {run_dir / name}: not a mapping of keys to values")
    return record, config  # type: ignore[return-value]


def reproduction_config(recorded: dict[str, Any], target: Path) -> DictConfig:
    """The config that re-runs a recorded (resolved) config into `target`: its paths moved
    from the recorded run's directory to `target`, no `resume`, and as a run of its own:

    - without `optuna_trial`: a sweep trial's identity would make the reproduction report to
      the study's finished trial (whose pruner may stop it) and end with the trial's statuses;
    - its W&B run named `<recorded name>-repro` (`REPRO_SUFFIX`): the resolved config holds
      the recorded run's name (`<study>-trial<N>` for a trial), and W&B would list two runs
      of one name, the reproduction looking like the trial. Its group is kept, so a trial's
      reproduction sits in its study's group, beside it."""
    old_dir = str(recorded["paths"]["output_dir"])
    rebased: dict[str, Any] = _rebase(recorded, old_dir, str(target))
    rebased.pop("optuna_trial", None)
    for node in (rebased.get("logger") or {}).values():
        if _is_wandb(node) and node.get("name") and not node["name"].endswith(REPRO_SUFFIX):
            node["name"] = f"{node['name']}{REPRO_SUFFIX}"
    cfg = OmegaConf.create(rebased)
    cfg.resume = None
    OmegaConf.set_struct(cfg, True)
    return cfg


def _is_wandb(node: Any) -> bool:
    return isinstance(node, dict) and str(node.get("_target_", "")).endswith("wandb_logger")


def check_experiment(
    name: str, overrides: list[str], config_dirs: Sequence[str] = ()
) -> tuple[bool, Rows, tuple[float, float]]:
    """Run `experiment=<name>` and compare with its `expected:` block; return (all ok,
    comparison rows, (rtol, atol) of the block). The run logs as a `lab.train` run.
    `config_dirs`: folders of your own configs, searched before lab's (`--config-dir`)."""
    from lab.config.compose import compose_in_words
    from lab.config.user_dirs import search_entries, searched_first
    from lab.train import run

    with searched_first(search_entries(config_dirs)):  # the logging config's compose too
        cfg: DictConfig = compose_in_words([f"experiment={name}", *overrides])
        expected = cfg.get("expected")
        if not expected or not expected.get("metrics"):
            raise LabError(f"experiment {name} has no `expected:` metrics to check")
        rtol, atol = float(expected.get("rtol", 0.0)), float(expected.get("atol", 0.0))
        output_dir = Path(cfg.paths.output_dir)
        left = f"the run did not finish; what it wrote is in {output_dir}"
        with on_interrupt(left), run_log(output_dir, overrides):
            metrics = run(cfg)
    rows = compare_metrics(metrics, dict(expected.metrics), rtol=rtol, atol=atol)
    return all(ok for *_, ok in rows), rows, (rtol, atol)


def print_comparison(
    rows: Rows,
    warnings: list[str],
    *,
    tolerance: tuple[float, float] | None = None,
    reference: str = "recorded",
) -> None:
    """`<reference>` vs now, one metric a row, with pass/fail; the title names `tolerance`
    (rtol, atol). `reference`: `recorded` (a run's record) or `expected` (an experiment's
    `expected:` block)."""
    from rich.table import Table

    from lab.training.console import message_console

    console = message_console()
    for line in warnings:
        console.print(f"[yellow]warning:[/yellow] {line}")
    title = f"{reference.capitalize()} vs now"
    if tolerance is not None:
        title += f" (rtol {tolerance[0]:g}, atol {tolerance[1]:g})"
    table = Table(title=title)
    for column in ("metric", reference, "now", "result"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for name, want, got, ok in rows:
        table.add_row(
            name,
            f"{want:.6g}",
            "missing" if got is None else f"{got:.6g}",
            "[green]pass" if ok else "[red]FAIL",
        )
    console.print(table)


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m lab.reproduce", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("target", help="a run directory, or experiment=<name>")
    parser.add_argument("overrides", nargs="*", help="extra overrides (experiments only)")
    parser.add_argument("--rtol", type=float, default=0.0, help="relative tolerance (runs)")
    parser.add_argument("--atol", type=float, default=1e-6, help="absolute tolerance (runs)")
    parser.add_argument(
        "--config-dir",
        "-cd",
        action="append",
        default=[],
        metavar="DIR",
        help="a folder of your own configs (experiments only; searched before lab's, as "
        "lab.train --config-dir searches it; may be repeated)",
    )
    args = parser.parse_args(argv)
    for name in ("rtol", "atol"):  # before anything retrains
        value = getattr(args, name)
        if not value >= 0:  # NaN too
            print(
                f"error: --{name}={value:g} is out of range; valid: a number >= 0", file=sys.stderr
            )
            sys.exit(EXIT_USER_ERROR)
    try:
        if args.target.startswith("experiment="):
            name = args.target.split("=", 1)[1]
            ok, rows, tolerance = check_experiment(name, args.overrides, args.config_dir)
            warnings: list[str] = []
            reference = "expected"
        else:
            ok, rows, warnings = reproduce_run(
                Path(args.target).resolve(), rtol=args.rtol, atol=args.atol
            )
            tolerance, reference = (args.rtol, args.atol), "recorded"
    except BaseException as err:
        from lab.config.cli import user_error_message
        from lab.tool_interrupts import exit_code, interrupted_line, signal_of

        line = interrupted_line(err)  # Ctrl-C: what the reproduction leaves
        if line is not None:
            print(line, file=sys.stderr)
            sys.exit(exit_code(signal_of(err) or "SIGINT"))
        # a LabError, or Hydra refusing an option
        message = user_error_message(err) if isinstance(err, Exception) else None
        if message is None:
            raise  # a bug (or lab.train's own exit, SIGTERM's): keep it
        print(f"error: {message}", file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)
    from lab.run_dir.records import is_global_rank_zero

    if not is_global_rank_zero():
        sys.exit(0)  # another DDP rank of the reproduction: rank 0 compares and says so
    print_comparison(rows, warnings, tolerance=tolerance, reference=reference)
    sys.exit(0 if ok else EXIT_MISMATCH)


if __name__ == "__main__":
    main()
