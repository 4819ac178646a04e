"""The table `python -m lab.eval` prints: the evaluation's metrics, next to those recorded
at train time for the same split, and why the two may differ (the run's trainer limited that
pass: `trainer.limit_test_batches`, `trainer.limit_val_batches`; the split's data changed
since training: `changed_data_note`)."""

from __future__ import annotations

from pathlib import Path

from lab.run_dir.runs import TrainedRun


def print_metrics(
    metrics: dict[str, float],
    recorded: dict[str, float],
    compare: bool,
    target: Path,
    note: str = "",
    title: str = "Evaluation",
) -> None:
    """A table of the evaluation's metrics, next to `recorded` (the train-time metrics of the
    evaluated split, named as the evaluation names them) when `compare`; `note` (why the two
    may differ, `limited_pass_note`) is printed under it, its column header marked `*`;
    `title` (which split was evaluated) above it."""
    from rich.table import Table

    from lab.run_dir.summary import format_metric
    from lab.training.console import message_console

    console = message_console()
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    if compare:
        table.add_column("at train time*" if note else "at train time", justify="right")
    for name in sorted(metrics):
        row = [name, format_metric(metrics[name])]
        if compare:
            row.append(format_metric(recorded[name]) if name in recorded else "")
        table.add_row(*row)
    console.print(table)
    if compare and note:
        console.print(f"* {note}", highlight=False, markup=False)
    console.print(f"Metrics written to [bold]{target}[/bold]")


def limited_pass_note(run: TrainedRun, split: str | None, rows: int | None) -> str:
    """Why the metrics recorded for the run's `split` may differ from an evaluation of the whole
    split (`rows` rows): the run's trainer limited that pass (`trainer.limit_test_batches=1`
    tests one batch); "" when it did not. lab.eval always evaluates the whole split."""
    key = {"test": "limit_test_batches", "validation": "limit_val_batches"}.get(split or "")
    value = run.config.trainer.get(key) if key else None
    # Lightning reads an int as a number of batches and a float as a share of them (1.0: all).
    if value is None or isinstance(value, bool) or (isinstance(value, float) and value >= 1):
        return ""
    seen = f"{value * 100:g}% of its batches" if isinstance(value, float) else f"{value} batch"
    seen += "" if isinstance(value, float) or value == 1 else "es"
    pass_name = "test" if split == "test" else "validation"
    whole = f"the whole split ({rows} rows)" if rows is not None else "the whole split"
    return (
        f"at train time trainer.{key}={value} limited the {pass_name} pass to at most {seen}; "
        f"this evaluation saw {whole}, so the two can differ"
    )


# What the run did with each of its splits, for the changed-data warning.
_USE = {"train": "trained on", "validation": "validated on", "test": "tested on"}


def changed_data_note(run: TrainedRun, split: str | None, sha256: str | None) -> str:
    """Why the run's own `split`, read again with digest `sha256`, is not what the run saw:
    `record.json` notes another digest for it (the files changed since training), so the
    metrics recorded at train time are of other rows; "" when they match, for other data
    (`split` None), or where either digest is unknown (an older record, a streamed split)."""
    if not split or not sha256:
        return ""
    recorded = ((run.record.get("data") or {}).get(split) or {}).get("sha256")
    if not recorded or recorded == sha256:
        return ""
    return (
        f"the {split} split's data differs from the one the run {_USE.get(split, 'used')} "
        f"(sha256 {sha256[:8]} now, {recorded[:8]} in record.json): its files changed since "
        "training, so metrics recorded at train time are of other rows"
    )


def recorded_for(run: TrainedRun, split: str | None) -> dict[str, float]:
    """The metrics recorded at train time for the run's `split`, named as `lab.eval` names
    them (`val/acc` as `test/acc`): only test and validation have final metrics ({} else)."""
    prefix = {"test": "test/", "validation": "val/"}.get(split or "")
    if prefix is None:
        return {}
    recorded = run.recorded_metrics.items()
    return {f"test/{k[len(prefix) :]}": v for k, v in recorded if k.startswith(prefix)}
