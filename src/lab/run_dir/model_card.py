"""The model card (`README.md`) written beside every exported model.

Hugging Face shows a model directory's `README.md` as its card. lab fills it from the run's
record: what the model is (base, head, labels), what it was trained on, how (the command and
the hyperparameters that matter), how well it did (final metrics), with which code, and what
it is for and not for. YAML front matter carries the Hub's metadata fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

import lab

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


def model_card(cfg: DictConfig, record: dict[str, Any], metrics: dict[str, float]) -> str:
    """The card's Markdown text."""
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
    title = f"{name} on {Path(str(data)).name}"
    return f"""---
library_name: transformers
pipeline_tag: {pipeline_tag}
tags: [lab, {cfg.task.get("peft_task_type", "")}]
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

## Results (best checkpoint)

| metric | value |
|---|---|
{rows}

## Intended use and limitations

Trained for research on the data above; it inherits that data's domain, language, label
definitions and biases, and those of the base model. The metrics are on the split named
`test` of that data only: check it on your own data before relying on it. Reproduce or audit
the run with `python -m lab.reproduce <run dir>` (the run directory holds the full record).
"""


def write_model_card(
    model_dir: Path, cfg: DictConfig, record: dict[str, Any], metrics: dict[str, float]
) -> Path:
    """Write `model_dir/README.md`; return its path."""
    path = model_dir / "README.md"
    path.write_text(model_card(cfg, record, metrics))
    return path
