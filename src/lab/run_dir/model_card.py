"""The model card (`README.md`) written beside every exported model.

Hugging Face shows a model directory's `README.md` as its card. lab fills it from the run's
record: what the model is (base, head, labels), what it was trained on, how (the command and
the hyperparameters that matter), how well it did (final metrics: of the best checkpoint, or of
the last weights for a run that ended before its first validation), with which code, and what it
is for and not for. YAML front matter carries the Hub's metadata fields. A model exported from
a checkpoint (`lab.export checkpoint=last`) is named so, and where no metrics were recorded for
its weights the card says so instead of showing an empty table.

A PEFT run's `adapter/` gets the same card, adapted (`adapter_card`): peft's `save_pretrained`
writes an empty template there, which lab replaces. It names the base the adapter applies on
and how to load it, or, for a base built from a config (no saved weights to apply it on), says
that the merged `model/` is the usable model. A model card has a "How to use" section with the
run's input settings filled in, written by the head's `task.card_usage` (`lab.run_dir.card_usage`;
a head that declares none gets no such section); an ONNX export's card says how to
run `model.onnx` instead, and names no transformers library (the folder holds no weights it
loads).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

import lab
from lab.run_dir.card_base import (
    base_model_line,
    base_model_name,
    base_needed,
    from_config_name,
    hub_base_model,
    local_base_path,
)
from lab.run_dir.card_data import data_line, data_metadata, metric_cell, read_id2label
from lab.run_dir.card_hyperparameters import hyperparameter_rows, own_module_target
from lab.run_dir.card_usage import onnx_usage, usage_section
from lab.run_dir.job_command import config_dir_note, multirun_note
from lab.run_dir.summary import BEST, format_metric

PARAMS = "model/params_"  # the parameter counts lab.train records with the metrics
# The card's line on a model exported from a checkpoint; `lab.eval` reads it back
# (`exported_checkpoint`) to tell weights other than those the run's metrics are of.
WEIGHTS_LINE = "- **Weights**: checkpoint `{}` of the run"


def model_card(
    cfg: DictConfig,
    record: dict[str, Any],
    metrics: dict[str, float],
    onnx: dict[str, Any] | None = None,
    adapter: dict[str, Any] | None = None,
    merged_parameters: int | None = None,
    id2label: dict[int, str] | None = None,
    checkpoint: str | None = None,
) -> str:
    """The card's Markdown text; `onnx`, an ONNX export's report, adds its measurements;
    `adapter` (`adapter_facts`) makes it the card of a PEFT adapter directory;
    `merged_parameters`, the count in a PEFT run's merged weights, the card of those;
    `id2label`, the model's label names, names the class `f1_positive` scores; `checkpoint`,
    the file the weights were exported from (`last.ckpt`; None: the run's own export)."""
    head = str(cfg.task.head).rsplit(".", 1)[-1]
    # The head declares its Hub task tag in its task YAML ("" when the Hub has none for it).
    pipeline_tag = str(cfg.task.get("pipeline_tag") or "")
    base = (
        cfg.model.get("pretrained") or "random initialisation from config (no pretrained weights)"
    )
    data = cfg.data.get("path") or cfg.data.get("hub_id") or "?"
    # Parameter counts are counts, not metrics: a line of their own, as whole numbers.
    rows = "\n".join(
        f"| {metric_cell(k, id2label)} | {format_metric(v)} |"
        for k, v in sorted(metrics.items())
        if "/" in k and not k.startswith(PARAMS)
    )
    params = "\n".join(f"| `{k}` | {v} |" for k, v in hyperparameter_rows(cfg, record))
    git = (record.get("code") or {}).get("git") or {}
    code = f"git {git.get('commit', '?')[:12]}" + (
        " with uncommitted changes" if git.get("dirty") else ""
    )
    if not git and (record.get("code") or {}).get("note"):  # an installed lab: no commit (s34g L1)
        code = "installed, no git checkout"
    name = base_model_name(str(base)) if cfg.model.get("pretrained") else from_config_name(cfg)
    own = own_module_target(cfg)  # a task module of yours, which the head's name does not tell
    module = f", task module `{own}`" if own else ""
    # The weights the metrics are of, as lab.train recorded them (`tested`); a record without
    # it, of a run from before lab recorded it, is taken to be of the best checkpoint.
    tested = record.get("tested") or BEST
    title = f"{name} on {Path(str(data)).name}"
    # An ONNX folder holds model.onnx, no weights transformers loads: the Hub's library is ONNX.
    library = "onnx" if onnx else "transformers"
    tags, intro = "", f"Fine-tuned with lab {lab.__version__} ({code})."
    if adapter:
        kind = adapter["kind"]
        library, tags = "peft", f", peft, {kind.lower()}"
        hub_base = hub_base_model(cfg)
        if hub_base:  # the Hub links an adapter to its base by this field (a Hub id only)
            library += f"\nbase_model: {hub_base}"
        title = f"{kind} adapter: {title}"
        intro = (
            f"A {kind} adapter fine-tuned with lab {lab.__version__} ({code}):\nthe adapter "
            "weights (and the trained head, where peft keeps one) without the base model."
        )
    # The Hub task is `pipeline_tag`'s; peft's task type (SEQ_CLS) is no Hub tag.
    pipeline = f"\npipeline_tag: {pipeline_tag}" if pipeline_tag else ""
    published = cfg.model.get("published_as")
    # A local base by its absolute path: a relative one means nothing once the card is shared
    base_line = (
        base_model_line(local_base_path(str(base)), published)
        if cfg.model.get("pretrained")
        else base
    )
    size = parameters_line(metrics, merged_parameters)
    # An adapter card says how to load it on its base; an ONNX card's usage is its own section.
    usage = loading_section(cfg, adapter) if adapter else "" if onnx else usage_section(cfg)
    weights = f"\n{WEIGHTS_LINE.format(checkpoint)}" if checkpoint else ""
    # The Hub's metadata on a Hub dataset: its id, and the test metrics on its configuration.
    hub_data = data_metadata(cfg, title, metrics, id2label)
    return f"""---
library_name: {library}{pipeline}
tags: [lab{tags}{", onnx" if onnx else ""}]
{hub_data}---

# {title}

{intro}

- **Base model**: {base_line}
- **Head**: `{head}`{f" (Hub task `{pipeline_tag}`)" if pipeline_tag else ""}{module}
- **Data**: {data_line(cfg)}
- **Optimized metric**: `{cfg.optimized_metric}` ({cfg.optimized_mode}){size}{weights}
{usage}
## Command

```
{record.get("command", "?")}
```
{multirun_note(record)}{config_dir_note(record)}
## Hyperparameters

| key | value |
|---|---|
{params}

{results_section(rows, record, tested, checkpoint)}{onnx_results_note(onnx) if onnx else ""}
{onnx_section(onnx, cfg) if onnx else ""}
## Intended use and limitations

Trained for research on the data above; it inherits that data's domain, language, label
definitions and biases, and those of the base model. The metrics are on the split named
`test` of that data only: check it on your own data before relying on it. Reproduce or audit
the run with `python -m lab.reproduce <run dir>` (the run directory holds the full record).
"""


def results_section(rows: str, record: dict[str, Any], tested: str, checkpoint: str | None) -> str:
    """The card's results: the table of metric `rows` under the weights they are of (`tested`),
    or, without any, why none were recorded for the weights exported (from `checkpoint`)."""
    if rows:
        return f"## Results ({tested})\n\n| metric | value |\n|---|---|\n{rows}"
    these = f"these weights (checkpoint `{checkpoint}`)" if checkpoint else "these weights"
    if record.get("metrics"):  # the run's are of other weights: its best checkpoint's
        why = f"the run recorded its metrics for its {tested}"
    else:
        why = f"the run recorded none (status: {record.get('status', '?')})"
    text = f"## Results\n\nNo metrics were recorded for {these}: {why}."
    if checkpoint:  # lab.eval measures them from the same file
        which = "last" if checkpoint == "last.ckpt" else f"<run dir>/checkpoints/{checkpoint}"
        text += f" Measure them with `python -m lab.eval run=<run dir> checkpoint={which}`."
    return text


def onnx_results_note(report: dict[str, Any]) -> str:
    """Under an ONNX card's results: they are the PyTorch weights' the graph was exported from,
    and the graph's own main metric where it differs (int8 moves it: s31g-1, a card showed
    the PyTorch 0.5950 above an int8 graph scoring 0.5450)."""
    main, form = report["main_metric"], report["form"]
    ours = report["models"][form]["metrics"].get(main)
    theirs = report["models"]["pytorch"]["metrics"].get(main)
    text = (
        f"\n\nThese are the metrics of the PyTorch weights this graph (`{form}`) was exported from"
    )
    if ours is None or ours == theirs:
        return text + "; the graph scores the same (CPU deployment, below)."
    return (
        text + f". **This graph scores `{main}` {ours:.4f}** on the same test rows (the PyTorch "
        f"weights: {theirs:.4f}; CPU deployment, below)."
    )


def exported_checkpoint(model_dir: Path) -> str | None:
    """The checkpoint file the model in `model_dir` was exported from, as its card names it
    (`last.ckpt`), or None: the run's own export (or no card)."""
    import re

    try:
        card = (model_dir / "README.md").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    pattern = re.escape(WEIGHTS_LINE).replace(re.escape("{}"), "([^`]+)")
    found = re.search(f"^{pattern}$", card, flags=re.MULTILINE)
    return found.group(1) if found else None


def parameters_line(metrics: dict[str, float], merged: int | None = None) -> str:
    """The card's line on the model's size (`\n- **Parameters**: 22,713,986 (all trainable)`)
    from the run's `model/params_*` counts; "" for a run that recorded none. `merged`: the
    count in merged PEFT weights, which lack the adapter's own parameters that training held."""
    total = metrics.get(f"{PARAMS}total")
    if total is None:
        return ""
    if merged is not None:
        trained = metrics.get(f"{PARAMS}trainable")
        during = f", {int(trained):,} of them trainable" if trained is not None else ""
        return (
            f"\n- **Parameters**: {merged:,} (the adapter merged in; training held "
            f"{int(total):,}{during})"
        )
    trainable = metrics.get(f"{PARAMS}trainable")
    if trainable is None:
        detail = ""
    elif trainable == total:
        detail = " (all trainable)"
    else:
        detail = f" ({int(trainable):,} trainable)"
    return f"\n- **Parameters**: {int(total):,}{detail}"


def onnx_section(report: dict[str, Any], cfg: DictConfig | None = None) -> str:
    """The card's section on an ONNX export: what it is, how to run it (`onnx_usage`: with
    the run's config `cfg`, its settings filled in), what was measured."""
    main = report["main_metric"]
    export, cpu = report["export"], report["cpu"]
    rows = []
    for name in ("pytorch", report["form"]):
        result = report["models"][name]
        latency, throughput = result["latency_ms"], result["throughput"]
        value = result["metrics"].get(main)
        rows.append(
            f"| {name} | {'' if value is None else f'{value:.4f}'} | {latency['p50']:.2f} | "
            f"{latency['p95']:.2f} | {throughput['rows_per_s']:.1f} |"
        )
    table = "\n".join(rows)
    first = next(iter(report["models"].values()))
    return f"""
## CPU deployment (ONNX)

`{export["file"]}` ({export["precision"]}; opset {export["opset"]}) runs with onnxruntime
{report["versions"]["onnxruntime"]}:
{onnx_usage(cfg, report)}

Measured at export ({report["measured_at"]}) on {cpu["processor"]} with {cpu["threads"]}
thread(s), side by side: `{main}` on the run's test split ({report["test_rows"]} tokenized rows);
latency of one row at a time and throughput in batches of
{first["throughput"]["batch_size"]}, over {first["throughput"]["rows"]} test rows (forward pass
on tokenized inputs). Details: `onnx_report.json`.

| model | `{main}` | latency p50 (ms) | latency p95 (ms) | throughput (rows/s) |
|---|---:|---:|---:|---:|
{table}
{f"{chr(10)}Note: {report['timing_note']}.{chr(10)}" if report.get("timing_note") else ""}"""


def adapter_facts(cfg: DictConfig, merged: Path | None = None) -> dict[str, Any]:
    """What an adapter card says beyond the model card: the adapter's kind (LoRA, QLoRA, IA3)
    and, read from the merged export `merged` when it has them, the run's label names (a
    classification base must be built with them before the adapter applies)."""
    target = str(OmegaConf.select(cfg, "peft.config._target_") or "Adapter")
    kind = target.rsplit(".", 1)[-1].removesuffix("Config").replace("Lora", "LoRA")
    if kind == "LoRA" and OmegaConf.select(cfg, "peft.quantization") is not None:
        kind = "QLoRA"
    labels = None
    config = merged / "config.json" if merged else None
    if config and config.is_file():
        labels = json.loads(config.read_text()).get("id2label")
    return {"kind": kind, "labels": labels}


def loading_section(cfg: DictConfig, adapter: dict[str, Any]) -> str:
    """The adapter card's section on loading it: on its base, or why it cannot be."""
    base = cfg.model.get("pretrained")
    if not base:
        return """
## Loading

The base model of this adapter was built from a config with random initial weights
(`model.pretrained` was not set: a tiny test model) and was not saved, so **this adapter cannot
be loaded on its own** (`adapter_config.json` names no base model). Use the run's merged
export, `<run>/model`: the base with this adapter folded in, a plain transformers model.
"""
    base = local_base_path(str(base))  # as adapter_config.json names it (lab.training.adapters)
    head = str(cfg.task.head).rsplit(".", 1)[-1]
    labels = adapter.get("labels")
    # A classification head is built for the run's labels; the base's own config does not
    # know them, and a different label count would not fit the trained head's weights.
    options = ""
    if labels and "Classification" in head:
        id2label = {int(k): v for k, v in labels.items()}
        options = f", id2label={id2label!r}"
    # Tokens the run added have embedding rows past the base's table: it must grow to the
    # tokenizer saved here first, or peft indexes past its end.
    added = bool(cfg.model.get("add_tokens") or cfg.model.get("add_special_tokens"))
    imports = f"AutoTokenizer, {head}" if added else head
    resize = (
        '\ntokenizer = AutoTokenizer.from_pretrained("<this directory>")  # with the added tokens'
        "\nif base.get_input_embeddings().num_embeddings < len(tokenizer):  # as lab grew it"
        "\n    base.resize_token_embeddings(len(tokenizer))"
        if added
        else ""
    )
    return f"""
## Loading

{base_needed(str(base), cfg.model.get("published_as"))}

```python
from peft import PeftModel
from transformers import {imports}

base = {head}.from_pretrained("{base}"{options}){resize}
model = PeftModel.from_pretrained(base, "<this directory>")
```

The run's `<run>/model` holds the same model with the adapter merged in (a plain transformers
model, no peft needed).
"""


def write_model_card(
    model_dir: Path,
    cfg: DictConfig,
    record: dict[str, Any],
    metrics: dict[str, float],
    onnx: dict[str, Any] | None = None,
    merged: Path | None = None,
    checkpoint: str | None = None,
) -> Path:
    """Write `model_dir/README.md`; return its path (`onnx`, `checkpoint`: see `model_card`).

    `merged` (the merged export of a PEFT run) makes `model_dir` that run's adapter directory:
    its card says how to load the adapter, and replaces the empty template peft writes.
    """
    path = model_dir / "README.md"
    adapter = adapter_facts(cfg, merged) if merged is not None else None
    peft_run = bool(OmegaConf.select(cfg, "peft.config._target_"))
    folded = stored_parameters(model_dir) if peft_run and not adapter and not onnx else None
    # The label names of the model exported here (an adapter's: of the merged model beside).
    id2label = read_id2label(merged if merged is not None else model_dir)
    # UTF-8 whatever the locale: label names and the command may be in any script.
    card = model_card(cfg, record, metrics, onnx, adapter, folded, id2label, checkpoint)
    path.write_text(card, encoding="utf-8")
    return path


def stored_parameters(model_dir: Path) -> int | None:
    """The parameters in `model_dir`'s safetensors files, from their headers (no tensor is
    read); None without such files."""
    from math import prod

    from safetensors import safe_open

    files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        return None
    total = 0
    for file in files:
        with safe_open(str(file), framework="pt") as weights:
            total += sum(prod(weights.get_slice(k).get_shape()) for k in weights.keys())  # noqa: SIM118
    return total


def write_run_cards(
    output_dir: Path, cfg: DictConfig, record: dict[str, Any], metrics: dict[str, float]
) -> None:
    """The cards of a finished run: `model/`'s, and `adapter/`'s when a PEFT run wrote one."""
    from lab.run_dir.runs import ADAPTER_DIR, MODEL_DIR

    write_model_card(output_dir / MODEL_DIR, cfg, record, metrics)
    if (output_dir / ADAPTER_DIR).is_dir():
        write_model_card(
            output_dir / ADAPTER_DIR, cfg, record, metrics, merged=output_dir / MODEL_DIR
        )
