"""`python -m lab.reproduce`: get a recorded number again, and say whether it matches.

    python -m lab.reproduce outputs/runs/2026-11-22/10-00-00_123-abcd   # re-run a run
    python -m lab.reproduce outputs/multiruns/2026-11-22/10-00-00_123-ab  # each of its runs
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
(a data split that changed is said before the retrain too: `lab.reproduce_data`). A run
recorded by other lab code is said to be so first, with how to run that code, before any
check of its config; its config is read as this lab would have written it for the same
command (renamed targets, keys added since: `lab.reproduce_config`), so an old run is not
refused for a setting it never had. A refusal before the data is read names no run
directory: the folder is removed again (`lab.reproduce_log.run_directory_held`).
A run directory needs nothing else (its config.yaml is resolved); a multirun or sweep
folder has each of its runs reproduced in turn (`lab.reproduce_many`). An experiment is
composed as `lab.train` composes it, `--config-dir` folders of your own searched first
(`lab.config.user_dirs`), and checked against the `expected:` block of its file:

    expected:
      rtol: 0.0
      atol: 0.02
      metrics: {test/acc: 0.90}

(per seed too: `lab.reproduce_expected`, which also names the overrides that change what the
experiment pins, `seed=2` above all, before the run). The run logs as `python -m lab.train`
does under Hydra (`run_log`): lab's lines on the console (the run directory, the data and
model lines) and everything, library reports included, in the reproduction's `train.log`, to
diff against the recorded run's.

Exit code: 0 all metrics within tolerance, 1 some outside, 3 some outside of an experiment
whose overrides change what it pins (not comparable), 2 bad input (a record.json or
config.yaml that cannot be read too), 130 Ctrl-C (143 SIGTERM is lab.train's: the reproduction
saves its checkpoint and says how to continue it).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from lab.errors import EXIT_USER_ERROR, LabError
from lab.reproduce_config import (  # noqa: F401  (REPRO_SUFFIX, reproduction_config: here too)
    REPRO_SUFFIX,
    read_run,
    reproducible_config,
    reproduction_config,
)
from lab.reproduce_expected import ExpectedCheck
from lab.reproduce_log import run_directory_held, run_log
from lab.testing import compare_metrics
from lab.tool_interrupts import on_interrupt

EXIT_MISMATCH = 1
Rows = list[tuple[str, float, float | None, bool]]
# Named, not `__name__` ("__main__" under `python -m lab.reproduce`): as lab.train's lines.
log = logging.getLogger("lab.reproduce")


def environment_differences(
    record: dict[str, Any], now: dict[str, Any], run_dir: Path | None = None
) -> list[str]:
    """Human-readable differences in code, packages, hardware and data between two records.

    When the recorded run had uncommitted work, the line says how to rebuild its code from
    `run_dir`'s code.patch (edits and new files) and which untracked files it lacks.
    """
    from lab.reproduce_data import data_differences  # imports Lightning: not for --help
    from lab.run_dir.code_version import code_differences
    from lab.run_dir.own_code import own_code_differences

    lines = code_differences(record, now, run_dir) + own_code_differences(record, now)
    for name, version in (record.get("packages") or {}).items():
        current = (now.get("packages") or {}).get(name)
        if current != version:
            lines.append(f"package {name}: recorded {version}, now {current}")
    # torch's threads too: on CPU a sum split over another number of threads rounds otherwise;
    # those the ranks trained with where both records have them (`lab.training.rank_threads`)
    then, again = record.get("hardware") or {}, now.get("hardware") or {}
    threads = "rank_threads" if "rank_threads" in then and "rank_threads" in again else None
    for key in ("cpu", "gpus", "cuda", threads or "torch_threads"):
        old, new = then.get(key), again.get(key)
        if old != new:
            fix = f" (OMP_NUM_THREADS={old} runs as recorded)" if key.endswith("threads") else ""
            lines.append(f"hardware {key}: recorded {old}, now {new}{fix}")
    lines += data_differences(record.get("data") or {}, now.get("data") or {})
    if stop := _time_stop_difference(record, now):
        lines.append(stop)
    return lines


def _time_stop_difference(record: dict[str, Any], now: dict[str, Any]) -> str | None:
    """A line where the recorded run stopped at `trainer.max_time` and the reproduction did
    not stop at the same step (s24d L): a stop by time falls where the machine's speed puts
    it, so the two trained for different numbers of steps."""
    from lab.training.stopping_notes import TIME_RECORD_KEY

    then, again = record.get(TIME_RECORD_KEY), now.get(TIME_RECORD_KEY)
    if not isinstance(then, dict) or (
        isinstance(again, dict) and again.get("step") == then.get("step")
    ):
        return None
    here = f"after step {again.get('step')}" if isinstance(again, dict) else "did not"
    return (
        f"trainer.max_time: the recorded run stopped at it after step {then.get('step')}, the "
        f"reproduction {here}: a stop by time falls where the machine's speed puts it, so the "
        "metrics of runs that trained for different numbers of steps differ"
    )


def reproduce_run(
    run_dir: Path, *, rtol: float, atol: float, name: str | None = None
) -> tuple[bool, Rows, list[str]]:
    """Re-run `run_dir` from its resolved config into `<run_dir>/reproductions/<name>/` (the
    time now by default); return (all ok, comparison rows, warnings).

    The reproduction logs as a `lab.train` run (`run_log`). Relative paths of the config are
    read from the run's working directory (`lab.reproduce_paths`); a data split that differs
    from the recorded one is said before training (`lab.reproduce_data`). Under DDP all ranks
    reproduce into rank 0's folder, and the other ranks return `(True, [], [])`: rank 0
    compares (`lab.reproduce_target`). A reproduction refused before it trained leaves no
    folder behind."""
    record_path = run_dir / "record.json"  # before Lightning's imports: said in a second
    if not record_path.is_file() or not (run_dir / "config.yaml").is_file():
        raise LabError(
            f"{run_dir} is not a lab run directory (no record.json / config.yaml), nor a "
            "folder of runs (a multirun's or a sweep's)"
        )
    record, recorded_cfg = read_run(run_dir)
    if not record.get("metrics"):
        raise LabError(f"{run_dir} has no recorded metrics (status: {record.get('status')})")
    from lab.config.optimized_mode import recorded_direction_note
    from lab.config.resolvers import register_resolvers
    from lab.config.rules import validate_config
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

    register_resolvers()
    # First, before any refusal of its config: a run of other code is read as this lab would
    # have written it, and said to be one (its numbers come from this lab's code now).
    other_code = reproducible_config(run_dir, record, recorded_cfg)
    if other_code and is_global_rank_zero():
        console_warning(other_code)
    if (direction := recorded_direction_note(recorded_cfg)) and is_global_rank_zero():
        console_warning(direction)  # the run reproduces as it ran: its "best" is its worst
    # Before anything is written: a reproduction whose data is nowhere makes no folder.
    # Paths inside installed packages (the quickstart model, lab's demo data) first: on
    # another install they are elsewhere, and the record says which package holds them.
    packaged = restore_package_paths(recorded_cfg, record)
    moved = read_from_recorded_cwd(recorded_cfg, record.get("cwd"))
    check_data_paths(recorded_cfg, record.get("cwd"))
    target = reproduction_target(run_dir, name)
    fresh, had_reproductions = not target.exists(), target.parent.exists()
    cfg = reproduction_config(recorded_cfg, target)
    validate_config(cfg)  # as lab.train does, but before the folder: a refusal makes none
    left = f"the reproduction did not finish; what it wrote is in {target}"
    started = FitStarted()
    extra = [started, RecordedDataCheck(record.get("data") or {})]
    try:
        with (
            on_interrupt(left),
            shared_with_ranks(target),
            run_log(target, (), log_file_name()),
            run_directory_held() as run_line,
        ):
            if packaged:
                log.info("%s", restored_line(packaged))
            # paths.output_root is read from there too (it is checked for writing), but a
            # reproduction writes under the run's folder, not there: naming it is noise
            used = [key for key in moved if not key.startswith("paths.output_root=")]
            if used:
                log.info(
                    "relative paths read from the run's working directory %s: %s",
                    record["cwd"],
                    ", ".join(used),
                )
            try:
                metrics = run(cfg, callbacks=extra)
            except Exception as err:
                if fresh and not started.started and lab_error_in(err) is not None:
                    run_line.drop()  # its folder goes (below): no line names it
                raise
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


def console_warning(line: str) -> None:
    """`warning: <line>` on the console, as `print_comparison` says its warnings."""
    from rich.text import Text

    from lab.training.console import message_console

    message_console().print(Text.assemble(("warning:", "yellow"), f" {line}"))


def check_experiment(
    name: str, overrides: list[str], config_dirs: Sequence[str] = ()
) -> tuple[bool, Rows, ExpectedCheck]:
    """Run `experiment=<name>` and compare with its `expected:` block; return (all ok,
    comparison rows, the check: its tolerance, and the overrides that change what the
    experiment pins, said before the run: `lab.reproduce_expected`). The run logs as a
    `lab.train` run. `config_dirs`: folders of your own configs, searched before lab's
    (`--config-dir`)."""
    from hydra.core.hydra_config import HydraConfig

    from lab.config.compose import compose_in_words
    from lab.config.user_dirs import search_entries, searched_first
    from lab.reproduce_expected import composed_view, expected_check, overridden_warning
    from lab.train import run

    def view(given: list[str], output_dir: str | None) -> tuple[DictConfig, Any]:
        cfg = compose_in_words(given, output_dir=output_dir)
        return cfg, composed_view(cfg, HydraConfig.get().runtime.choices)

    hydra = [o for o in overrides if o.lstrip("+~").startswith("hydra.")]
    with searched_first(search_entries(config_dirs)):  # the logging config's compose too
        # lab's defaults, then the experiment as written (a placeholder run directory: no
        # folder claimed), then the run itself, last: the one HydraConfig holds for the run
        defaults = view(hydra, "-")[1][0]
        pinned = view([*hydra, f"experiment={name}"], "-")[1]
        cfg, now = view([f"experiment={name}", *overrides], None)
        check = expected_check(name, now, pinned, defaults, cfg.get("expected"))
        if check.overridden:
            console_warning(overridden_warning(name, check))  # before the run: Ctrl-C stops it
        output_dir = Path(cfg.paths.output_dir)
        left = f"the run did not finish; what it wrote is in {output_dir}"
        with on_interrupt(left), run_log(output_dir, overrides):
            metrics = run(cfg)
    rows = compare_metrics(metrics, check.metrics, rtol=check.rtol, atol=check.atol)
    return all(ok for *_, ok in rows), rows, check


def print_comparison(
    rows: Rows,
    warnings: list[str],
    *,
    tolerance: tuple[float, float] | None = None,
    reference: str = "recorded",
    title: str | None = None,
    outside: str = "FAIL",
) -> None:
    """`<reference>` vs now, one metric a row, with pass/fail; the title names `tolerance`
    (rtol, atol). `reference`: `recorded` (a run's record) or `expected` (an experiment's
    `expected:` block); `title`: another title's start (`Expected for seed=2 vs now`);
    `outside`: the word for a metric outside the tolerance (`differs` where the run is not
    the one the values were pinned for)."""
    from rich.table import Table

    from lab.training.console import message_console

    console = message_console()
    for line in warnings:
        console.print(f"[yellow]warning:[/yellow] {line}")
    title = title or f"{reference.capitalize()} vs now"
    if tolerance is not None:
        title += f" (rtol {tolerance[0]:g}, atol {tolerance[1]:g})"
    table = Table(title=title)
    for column in ("metric", reference, "now", "difference", "result"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    colour = "red" if outside == "FAIL" else "yellow"
    for name, want, got, ok in rows:
        # what moved, where 6 digits show two equal numbers (2e-6 on a perplexity of 10.2)
        moved = "" if got is None else "0" if got == want else f"{got - want:+.3g}"
        table.add_row(
            name,
            f"{want:.6g}",
            "missing" if got is None else f"{got:.6g}",
            moved,
            "[green]pass" if ok else f"[{colour}]{outside}",
        )
    console.print(table)


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m lab.reproduce", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("target", help="a run directory, or experiment=<name>")
    parser.add_argument(
        "overrides",
        nargs="*",
        help="extra overrides (experiment=<name> only; a run directory is reproduced as recorded)",
    )
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
    if refusal := ignored_arguments_line(args.target, args.overrides, args.config_dir):
        print(f"error: {refusal}", file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)
    for name in ("rtol", "atol"):  # before anything retrains
        value = getattr(args, name)
        if not value >= 0:  # NaN too
            print(
                f"error: --{name}={value:g} is out of range; valid: a number >= 0", file=sys.stderr
            )
            sys.exit(EXIT_USER_ERROR)
    try:
        code = _reproduce(args)
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
    sys.exit(code)


def ignored_arguments_line(target: str, overrides: list[str], config_dirs: list[str]) -> str:
    """The refusal of overrides (or `--config-dir`) given with a run directory or a folder of
    runs, which is reproduced as recorded (s31f F5); "" for `experiment=<name>` or none."""
    if target.startswith("experiment=") or not (overrides or config_dirs):
        return ""
    given = [*overrides, *(f"--config-dir {folder}" for folder in config_dirs)]
    return (
        f"lab.reproduce {target} takes no overrides ({', '.join(given)}): a run directory is "
        "reproduced as recorded, from its config.yaml; overrides apply to "
        "experiment=<name> only"
    )


def _reproduce(args: argparse.Namespace) -> int:
    """Reproduce what the command line names (an experiment, a run, a folder of runs) and
    report it; return the exit code. Another DDP rank reports nothing: rank 0 compares."""
    from lab.reproduce_expected import report_experiment
    from lab.reproduce_many import is_folder_of_runs, reproduce_folder
    from lab.run_dir.records import is_global_rank_zero

    if args.target.startswith("experiment="):
        name = args.target.split("=", 1)[1]
        ok, rows, check = check_experiment(name, args.overrides, args.config_dir)
        return report_experiment(ok, rows, check) if is_global_rank_zero() else 0
    target = Path(args.target).resolve()
    if is_folder_of_runs(target):  # a multirun's or a sweep's: each of its runs
        return reproduce_folder(target, rtol=args.rtol, atol=args.atol)
    ok, rows, warnings = reproduce_run(target, rtol=args.rtol, atol=args.atol)
    if not is_global_rank_zero():
        return 0
    print_comparison(rows, warnings, tolerance=(args.rtol, args.atol))
    return 0 if ok else EXIT_MISMATCH


if __name__ == "__main__":
    main()
