"""The model card (`README.md`) written beside every exported model.

Hugging Face shows a model directory's `README.md` as its card. lab fills it from the run's
record: what the model is (base, head, labels), what it was trained on, how (the command and
the hyperparameters that matter), how well it did (final metrics: of the best checkpoint, or of
the last weights for a run that ended before its first validation), with which code, and what it
is for and not for. YAML front matter carries the Hub's metadata fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

import lab
from lab.run_dir.summary import BEST

HYPERPARAMETERS = (
    "seed",
    "optimizer.lr",
    "optimizer.weight_decay",
    "scheduler.name",
    "scheduler.warmup_ratio",
    "scheduler.warmup_steps",
    "data.batch_size",
    "data.max_length",
    "data.doc_stride",
    "data.max_source_length",
    "data.max_target_length",
    "data.block_size",
    "trainer.max_epochs",
    "trainer.max_steps",
    "trainer.accumulate_grad_batches",
    "trainer.gradient_clip_val",
    "trainer.precision",
)


def model_card(
    cfg: DictConfig,
    record: dict[str, Any],
    metrics: dict[str, float],
    onnx: dict[str, Any] | None = None,
) -> str:
    """The card's Markdown text; `onnx`, an ONNX export's report, adds its measurements."""
    choices = {k: OmegaConf.select(cfg, k) for k in HYPERPARAMETERS}
    head = str(cfg.task.head).rsplit(".", 1)[-1]
    # The head declares its Hub task tag in its task YAML ("" when the Hub has none for it).
    pipeline_tag = str(cfg.task.get("pipeline_tag") or "")
    base = (
        cfg.model.get("pretrained") or "random initialisation from config (no pretrained weights)"
    )
    data = cfg.data.get("path") or cfg.data.get("hub_id") or "?"
    rows = "\n".join(f"| `{k}` | {v:.4f} |" for k, v in sorted(metrics.items()) if "/" in k)
    params = "\n".join(f"| `{k}` | {v} |" for k, v in choices.items() if v is not None)
    git = (record.get("code") or {}).get("git") or {}
    code = f"git {git.get('commit', '?')[:12]}" + (
        " with uncommitted changes" if git.get("dirty") else ""
    )
    name = Path(str(base)).name if cfg.model.get("pretrained") else "model"
    # The weights the metrics are of, as lab.train recorded them (`tested`); a record without
    # it, of a run from before lab recorded it, is taken to be of the best checkpoint.
    tested = record.get("tested") or BEST
    title = f"{name} on {Path(str(data)).name}"
    return f"""---
library_name: transformers
pipeline_tag: {pipeline_tag}
tags: [lab, {cfg.task.get("peft_task_type", "")}{", onnx" if onnx else ""}]
---

# {title}

Fine-tuned with lab {lab.__version__} ({code}).

- **Base model**: {base}
- **Head**: `{head}`{f" (pipeline `{pipeline_tag}`)" if pipeline_tag else ""}
- **Data**: {data}
- **Optimized metric**: `{cfg.optimized_metric}` ({cfg.optimized_mode})

## Command

```
{record.get("command", "?")}
```

## Hyperparameters

| key | value |
|---|---|
{params}

## Results ({tested})

| metric | value |
|---|---|
{rows}
{onnx_section(onnx) if onnx else ""}
## Intended use and limitations

Trained for research on the data above; it inherits that data's domain, language, label
definitions and biases, and those of the base model. The metrics are on the split named
`test` of that data only: check it on your own data before relying on it. Reproduce or audit
the run with `python -m lab.reproduce <run dir>` (the run directory holds the full record).
"""


def onnx_section(report: dict[str, Any]) -> str:
    """The card's section on an ONNX export: what it is, how to run it, what was measured."""
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
`python -m lab.predict run=<run dir> model={report["form"]} input=... output=...` or
`python -m lab.serve run=<run dir> model={report["form"]}`.

Measured at export ({report["measured_at"]}) on {cpu["processor"]} with {cpu["threads"]}
thread(s), side by side: `{main}` on the run's test split ({report["test_rows"]} tokenized rows);
latency of one row at a time and throughput in batches of
{first["throughput"]["batch_size"]}, over {first["throughput"]["rows"]} test rows (forward pass
on tokenized inputs). Details: `onnx_report.json`.

| model | `{main}` | latency p50 (ms) | latency p95 (ms) | throughput (rows/s) |
|---|---:|---:|---:|---:|
{table}
"""


def write_model_card(
    model_dir: Path,
    cfg: DictConfig,
    record: dict[str, Any],
    metrics: dict[str, float],
    onnx: dict[str, Any] | None = None,
) -> Path:
    """Write `model_dir/README.md`; return its path (`onnx`: see `model_card`)."""
    path = model_dir / "README.md"
    path.write_text(model_card(cfg, record, metrics, onnx))
    return path
