"""`python -m lab.export`: re-export a trained run's model, and share it on the Hub.

    python -m lab.export run=<run dir>                          # refresh model/ and its card
    python -m lab.export run=<run dir> form=adapter             # a PEFT run's adapter alone
    python -m lab.export run=<run dir> checkpoint=last          # from a checkpoint
    python -m lab.export run=<run dir> output=/tmp/share push_to_hub=me/roberta-imdb
    python -m lab.export run=<run dir> form=onnx                # ONNX for onnxruntime on CPU
    python -m lab.export run=<run dir> form=onnx-int8           # the same, int8 weights

Without `checkpoint`, the exported directory training wrote (`model/`, merged for PEFT runs;
`adapter/` with `form=adapter`) is copied to `output` (default: in place) and its model card
(`README.md`) rewritten from the run's record. With `checkpoint=best|last|<path>` the model is
rebuilt from the run's config and the checkpoint's weights and saved with `save_pretrained`;
the default output is `model/` when the run has none yet (an interrupted run), otherwise
`exports/<checkpoint file name>/`.

`push_to_hub=<user/repo>` uploads the directory with `huggingface_hub`: the repository is
created if needed (private with `private=true`). The token comes from the environment
(`HF_TOKEN`, or the login cache of `hf auth login`); lab never writes it to a file or log, and
removes it from any error message. `HF_ENDPOINT` points the upload at another Hub server
(a mirror, or the local stand-in the tests use).

`form=onnx` / `form=onnx-int8` trace the run's exported model to ONNX (int8: weights quantized
dynamically with onnxruntime) into `<run dir>/onnx/` / `<run dir>/onnx-int8/` (or `output`):
`model.onnx`, `config.json`, the tokenizer, the model card and `onnx_report.json`, which holds
the test metrics of the ONNX model next to the PyTorch model's on the run's test split and
the CPU latency (batch 1, p50/p95) and throughput (batches of `benchmark_batch_size`) of
both, measured side by side on `benchmark_rows` test rows (see
`lab.inference.onnx_runtime.report`). `lab.predict` and `lab.serve` run it with
`model=onnx` / `model=onnx-int8`. Heads that generate text are refused.
"""

from __future__ import annotations

import os
import shutil
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from lab.config.cli import parse_options, run_tool
from lab.errors import ConfigError, LabError
from lab.eval_data_path import locate_run_data, locate_run_models
from lab.export_checks import check_loadable, check_not_training, hub_token
from lab.run_dir.runs import TrainedRun, building, open_run
from lab.staging import refuse_occupied, staged_folder
from lab.tool_interrupts import on_interrupt
from lab.tool_outputs import check_output, file_not_folder

OPTIONS = {
    "run": "run directory written by python -m lab.train (required)",
    "form": "merged (default; a full model, PEFT adapters merged in), adapter (PEFT runs), "
    "onnx or onnx-int8 (for onnxruntime on CPU)",
    "checkpoint": "rebuild from a checkpoint: best, last or a .ckpt path (default: the export)",
    "output": "target directory (default: the run's model/ or adapter/ in place; onnx/ or "
    "onnx-int8/ in the run; with checkpoint=, model/ where the run has none, else "
    "exports/<checkpoint name>/model)",
    "push_to_hub": "upload to this Hub repository (user/name); off by default",
    "private": "create the Hub repository private (true/false, default false)",
    "commit_message": "message of the Hub commit",
    "benchmark_rows": "onnx forms: test rows timed at batch 1 and batched (default 256)",
    "benchmark_batch_size": "onnx forms: batch size of the throughput timing (default 32)",
    "threads": "onnx forms: CPU threads of both runtimes while timing (default: torch's)",
}
USAGE = (
    "python -m lab.export run=<run dir> [form=merged|adapter|onnx|onnx-int8] [output=<dir>] "
    "[push_to_hub=<repo>]"
)
FORMS = ("merged", "adapter", "onnx", "onnx-int8")
DATA_GONE = (
    "the ONNX forms' benchmark and a checkpoint's export read the run's data: put it back "
    "where the run read it"
)


def export_run(
    run: TrainedRun, form: str = "merged", checkpoint: str | None = None, output: Path | None = None
) -> Path:
    """Write the run's model (or adapter) to a directory with its model card; return it."""
    from lab.run_dir.model_card import write_model_card

    if form not in FORMS:
        raise ConfigError(f"form must be one of {', '.join(FORMS)}, got '{form}'")
    if form in ("onnx", "onnx-int8"):
        return export_onnx_form(run, form, output, checkpoint=checkpoint)
    if form == "adapter" and not _is_peft_run(run):
        raise ConfigError("form=adapter needs a PEFT run (peft=lora/ia3/qlora); this run has none")
    if checkpoint:
        target = output or _checkpoint_target(run, checkpoint)
        written = _export_checkpoint(run, checkpoint, target)
        metrics = run.metrics_of(checkpoint)
    else:
        source = run.adapter_dir if form == "adapter" else run.require_model()
        if not source.is_dir():
            raise LabError(f"{run.directory} has no {source.name}/ export")
        check_loadable(source, "adapter" if form == "adapter" else "exported model")
        target = output or source
        if target.resolve() != source.resolve():
            with staged_folder(target) as staging:
                shutil.copytree(source, staging)
        written = target
        metrics = run.recorded_metrics
    merged = None
    if form == "adapter":
        if checkpoint:
            written = written.parent / "adapter"
        # The merged export beside it: the adapter card reads the run's label names there.
        merged = written.parent / "model" if checkpoint else run.model_dir
    # The card names the checkpoint exported: its metrics are the run's only for the tested one.
    exported = run.checkpoint(checkpoint).name if checkpoint else None
    write_model_card(written, run.config, run.record, metrics, merged=merged, checkpoint=exported)
    return written


def export_onnx_form(
    run: TrainedRun,
    form: str,
    output: Path | None = None,
    *,
    rows: int = 256,
    batch_size: int = 32,
    threads: int | None = None,
    checkpoint: str | None = None,
) -> Path:
    """`form=onnx|onnx-int8`: the ONNX export, its report (JSON) and model card; its folder.

    With `checkpoint`, of that checkpoint's weights: exported first as `checkpoint=` alone
    exports it (`exports/<checkpoint>/model`), then to ONNX beside it
    (`exports/<checkpoint>/onnx`)."""
    from lab.inference.onnx_runtime.model import (
        ONNX_FILE,
        ONNX_FORMS,
        is_onnx_export,
        onnx_dir,
        require_onnx,
    )
    from lab.inference.onnx_runtime.report import REPORT_FILE, export_with_report
    from lab.run_dir.model_card import write_model_card
    from lab.run_dir.records import write_json
    from lab.training.console import quiet_console

    require_onnx()
    model_dir = None
    metrics = run.recorded_metrics
    if checkpoint:
        model_dir = _checkpoint_target(run, checkpoint)
        export_run(run, "merged", checkpoint, model_dir)  # afresh: the file may have changed
        if model_dir != run.model_dir:
            output = output or model_dir.parent / ONNX_FORMS[form]
        metrics = run.metrics_of(checkpoint)
    target = output or onnx_dir(run, form)
    # A previous ONNX export is replaced (once the new one is complete); any other non-empty
    # folder is left alone.
    with staged_folder(target, replaces=is_onnx_export) as staging:
        with quiet_console():  # no weight-loading bars; library notes to the log, not the screen
            report = export_with_report(
                run, form, staging, rows=rows, batch_size=batch_size, threads=threads,
                model_dir=model_dir,
            )  # fmt: skip
        report["export"]["path"] = str(target / ONNX_FILE)  # where it is once moved there
        write_json(staging / REPORT_FILE, report)
        exported = run.checkpoint(checkpoint).name if checkpoint else None
        write_model_card(staging, run.config, run.record, metrics, onnx=report, checkpoint=exported)
    return target


def _checkpoint_target(run: TrainedRun, checkpoint: str) -> Path:
    if not run.model_dir.exists():
        return run.model_dir
    return run.directory / "exports" / run.checkpoint(checkpoint).stem / "model"


def _export_checkpoint(run: TrainedRun, checkpoint: str, target: Path) -> Path:
    """Rebuild the model from config, load the checkpoint's weights, save_pretrained."""
    from lab.build import build_parts
    from lab.config.resolvers import register_resolvers
    from lab.run_dir.runs import load_checkpoint_weights
    from lab.training.checkpointing import read_checkpoint

    path = run.checkpoint(checkpoint)
    earlier = _model_export  # an earlier export of the model is replaced, nothing else
    refuse_occupied(target, earlier)  # before minutes of rebuilding
    # A PEFT run's adapter goes beside the model (`<target>/../adapter`), staged as well: an
    # interrupted export leaves neither folder half-written.
    adapter = target.parent / "adapter" if _is_peft_run(run) else None
    if adapter is not None:
        refuse_occupied(adapter, _adapter_export)
    saved = read_checkpoint(path)  # missing or corrupt: a readable error before any rebuilding
    register_resolvers()
    parts = build_parts(run.config)  # the label maps come from the data, as in training
    load_checkpoint_weights(parts.module, saved, path)
    with ExitStack() as stages:
        staging = stages.enter_context(staged_folder(target, replaces=earlier))
        adapter_staging = None
        if adapter is not None:  # moved into place first, before the model (stack order)
            adapter_staging = stages.enter_context(staged_folder(adapter, _adapter_export))
        parts.module.export(staging, parts.tokenizer, adapter_staging)
    return target


def _is_peft_run(run: TrainedRun) -> bool:
    return bool((run.config.get("peft") or {}).get("config"))


def _adapter_export(folder: Path) -> bool:
    return (folder / "adapter_config.json").is_file()


def _model_export(folder: Path) -> bool:
    return (folder / "config.json").is_file()


def push_to_hub(
    directory: Path,
    repo_id: str,
    *,
    private: bool = False,
    commit_message: str | None = None,
    token: str | None = None,
) -> str:
    """Upload `directory` to the Hub repository `repo_id`; return the commit URL. `token`:
    checked already (`lab.export_checks.hub_token`, which finds one when it is not given)."""
    from huggingface_hub import HfApi

    token = token or hub_token(repo_id)
    api = HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None, token=token)
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        info: Any = api.upload_folder(
            repo_id=repo_id,
            folder_path=directory,
            commit_message=commit_message or f"Upload {directory.name} exported by lab",
        )
    except Exception as err:  # HTTP errors, bad repo ids, network down
        message = str(err).replace(token, "***")
        raise LabError(f"upload to the Hub repository {repo_id} failed: {message}") from None
    return str(getattr(info, "commit_url", info))


def main(argv: list[str]) -> int:
    """Console entry point."""
    from lab.training.console import message_console, tame_library_output

    values, _ = parse_options(argv, OPTIONS, required=("run",), usage=USAGE)
    output = Path(values["output"]).resolve() if values.get("output") else None
    form = values.get("form", "merged")
    checkpoint = values.get("checkpoint")
    if checkpoint and checkpoint not in ("best", "last"):  # else said not to exist
        file_not_folder(Path(checkpoint), "checkpoint")
    with on_interrupt("nothing was exported"):  # from the imports on: seconds
        run = open_run(values["run"])  # a wrong path: said at once, before the imports
        check_not_training(run.directory, output, form, checkpoint)  # before any writing
        tame_library_output()
        if form in ("onnx", "onnx-int8") or checkpoint:
            # These read the run's data (test rows to time and compare; the label maps): a
            # relative data.path from the run's working directory, as lab.eval reads it.
            locate_run_data(run, [], advice=DATA_GONE)
        else:  # the card names the base model by the path the run loaded it from (s30c N1)
            locate_run_models(run)
        # Before the work: every default place is in the run directory.
        check_output(output or run.directory, folder=True, option="" if output else "output")
        # An upload that cannot happen is said before the export writes anything.
        token = hub_token(values["push_to_hub"]) if values.get("push_to_hub") else None
        # A config of other lab code that this code cannot build: one line naming that code.
        with building(run):
            if form in ("onnx", "onnx-int8"):
                options = _benchmark_options(values)
                written = export_onnx_form(run, form, output, checkpoint=checkpoint, **options)
            else:
                written = export_run(run, form, checkpoint, output)
    console = message_console()
    console.print(f"Exported to [bold]{written}[/bold] (model card: {written / 'README.md'})")
    if form in ("onnx", "onnx-int8"):
        _print_onnx_report(console, written)
    if values.get("push_to_hub"):
        private = values.get("private", "false").lower() in ("1", "true", "yes")
        repo = values["push_to_hub"]
        with on_interrupt(f"{written} is exported; the upload to {repo} did not finish"):
            url = push_to_hub(
                written, repo, private=private, commit_message=values.get("commit_message"),
                token=token,
            )  # fmt: skip
        console.print(f"Pushed to the Hub: [bold]{url}[/bold]")
    return 0


def _benchmark_options(values: dict[str, str]) -> dict[str, Any]:
    """rows, batch_size, threads of the ONNX report from the command line (checked)."""
    chosen: dict[str, Any] = {}
    for option, name in (
        ("benchmark_rows", "rows"),
        ("benchmark_batch_size", "batch_size"),
        ("threads", "threads"),
    ):
        if values.get(option) is None:
            continue
        try:
            chosen[name] = int(values[option])
        except ValueError:
            chosen[name] = 0
        if chosen[name] < 1:
            raise ConfigError(f"{option} must be an integer of at least 1, got '{values[option]}'")
    return chosen


def _print_onnx_report(console: Any, folder: Path) -> None:
    """The export's report as a table: test metric, latency and throughput of both models."""
    import json

    from rich.table import Table

    from lab.inference.onnx_runtime.report import REPORT_FILE

    report = json.loads((folder / REPORT_FILE).read_text())
    main = report["main_metric"]
    table = Table(title=f"PyTorch vs {report['form']} on CPU ({report['cpu']['threads']} threads)")
    # Two-line headers keep the table within 80 columns (a pipe, a narrow terminal), and the
    # names are never cut: rich shortened `test/perplexity` to `test/perplexi…` there.
    table.add_column("model", no_wrap=True)
    table.add_column(main, justify="right", no_wrap=True)
    for column in ("latency p50\n(ms)", "latency p95\n(ms)", "throughput\n(rows/s)"):
        table.add_column(column, justify="right")
    for name in ("pytorch", report["form"]):  # the JSON's keys are sorted
        result = report["models"][name]
        table.add_row(
            name,
            f"{result['metrics'].get(main, float('nan')):.4f}",
            f"{result['latency_ms']['p50']:.2f}",
            f"{result['latency_ms']['p95']:.2f}",
            f"{result['throughput']['rows_per_s']:.1f}",
        )
    console.print(table)
    if report.get("timing_note"):
        console.print(f"[yellow]note:[/yellow] {report['timing_note']}")
    console.print(f"Report: {folder / REPORT_FILE}")


if __name__ == "__main__":
    run_tool(main, exit_fast=True, stop_on_sigterm=True)
