"""Export a run to ONNX and measure it next to the PyTorch model it came from.

What `python -m lab.export run=<run> form=onnx|onnx-int8` records in `onnx_report.json` and
the model card: for the PyTorch model and the ONNX export, on the CPU, with the same number
of threads,

- the test metrics on the run's test split (the head's own task module computes them, as
  `lab.eval` does, so the head's main metric is the one training optimized: `test/acc`,
  entity `test/f1`, SQuAD `test/f1`...);
- latency at batch 1 (p50 / p95 over the first `rows` test rows, one at a time) and
  throughput (rows per second over the same rows in batches of `batch_size`).

Timings are of the model's forward pass on already tokenized inputs (tokenizing and decoding
are the same code for both). The two models are timed alternately, input by input, so a
noisy neighbour on the machine slows both alike.
"""

from __future__ import annotations

import logging
import platform
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from lab.inference.onnx_runtime.contention import OtherLoad, contention_note
from lab.inference.onnx_runtime.export import check_exportable, write_onnx
from lab.inference.onnx_runtime.model import ONNX_FILE, load_onnx

REPORT_FILE = "onnx_report.json"
WARMUP = 3  # calls per model before timing (first calls allocate and pick kernels)


def export_with_report(
    run: Any,
    form: str,
    target: Path,
    *,
    rows: int = 256,
    batch_size: int = 32,
    threads: int | None = None,
    model_dir: Path | None = None,
) -> dict[str, Any]:
    """Write the ONNX export of `run` (of its `model_dir`, default its `model/`) to `target`
    and measure it; return the report."""
    from lab.build import build_datamodule
    from lab.eval_build import test_notes_only
    from lab.run_dir.runs import load_exported

    model, tokenizer = load_exported(run, model_dir)
    check_exportable(model, run.head, form)
    cfg = OmegaConf.create(OmegaConf.to_container(run.config))
    assert isinstance(cfg, DictConfig)
    # Only the test split is benchmarked: its cut rows are said, not training's (s31g-6).
    datamodule = build_datamodule(cfg, tokenizer, before_setup=test_notes_only)
    # The tokenizer's own inputs (not labels): two test rows, so padding is in the trace
    # (one where the test split has one row: a small split packed into one block).
    rows_for_trace = min(2, len(datamodule.datasets["test"]))
    sample = _inputs(datamodule, list(tokenizer.model_input_names), 0, rows_for_trace)
    export = write_onnx(model, tokenizer, sample, target, form)
    threads = int(threads or torch.get_num_threads())
    # Timed alternately with PyTorch: no spin-waiting threads left behind (see OnnxModel).
    onnx_model, _ = load_onnx(target, threads, spin=False)
    models = {"pytorch": model.eval(), form: onnx_model}
    metrics = {name: test_metrics(cfg, m, datamodule) for name, m in models.items()}
    model.eval()  # the task module put it in train mode; timings are of inference
    with OtherLoad() as load:  # a busy machine skews PyTorch's timings most
        timings = time_models(
            models, datamodule, onnx_model.input_names, rows=rows, batch_size=batch_size,
            threads=threads,
        )  # fmt: skip
    main = "test/" + str(cfg.optimized_metric).split("/", 1)[-1]
    results = {name: {"metrics": metrics[name], **timings[name]} for name in models}
    base, new = results["pytorch"], results[form]
    return {
        "form": form,
        "export": {**export, "path": str(target / ONNX_FILE)},
        "main_metric": main,
        "test_rows": len(datamodule.datasets["test"]),
        "cpu": {"processor": cpu_name(), "threads": threads, "other_load_cores": load.cores},
        **({"timing_note": note} if (note := contention_note(load.cores, threads)) else {}),
        "versions": _versions(),
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "models": results,
        "comparison": {
            "main_metric_delta": new["metrics"].get(main, float("nan"))
            - base["metrics"].get(main, float("nan")),
            "throughput_ratio": new["throughput"]["rows_per_s"] / base["throughput"]["rows_per_s"],
            "latency_p50_ratio": base["latency_ms"]["p50"] / new["latency_ms"]["p50"],
        },
    }


def test_metrics(cfg: DictConfig, model: Any, datamodule: Any) -> dict[str, float]:
    """The head's test metrics of `model` on `datamodule`'s test split, on the CPU."""
    import lightning as L

    from lab.build import build_module

    L.seed_everything(int(cfg.seed), workers=True, verbose=False)
    module = build_module(cfg, model, datamodule)
    # Lightning announces the accelerators of each Trainer at INFO: not news here.
    announcer = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    level = announcer.level
    announcer.setLevel(logging.WARNING)
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        precision="32-true",
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=False,
    )
    try:
        results = trainer.test(module, datamodule=datamodule, verbose=False)
    finally:
        announcer.setLevel(level)
    return {k: float(v) for result in results for k, v in result.items()}


def time_models(
    models: dict[str, Any],
    datamodule: Any,
    input_names: list[str],
    *,
    rows: int,
    batch_size: int,
    threads: int,
) -> dict[str, dict[str, Any]]:
    """Batch-1 latency (ms) and batched throughput (rows/s) of each model, timed in turn."""
    count = min(rows, len(datamodule.datasets["test"]))
    single = [_inputs(datamodule, input_names, i, 1) for i in range(count)]
    batches = [
        _inputs(datamodule, input_names, i, min(batch_size, count - i))
        for i in range(0, count, batch_size)
    ]
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            for model in models.values():
                for inputs in [*single[:WARMUP], *batches[:1]]:
                    model(**inputs)
            latency = _alternate(models, single)
            spent = _alternate(models, batches)
    finally:
        torch.set_num_threads(saved)
    return {
        name: {
            "latency_ms": {
                "p50": _percentile(latency[name], 50) * 1000,
                "p95": _percentile(latency[name], 95) * 1000,
                "mean": sum(latency[name]) / len(latency[name]) * 1000,
                "rows": count,
            },
            "throughput": {
                "rows_per_s": count / sum(spent[name]),
                "batch_size": batch_size,
                "rows": count,
            },
        }
        for name in models
    }


def _alternate(models: dict[str, Any], inputs: list[dict[str, Any]]) -> dict[str, list[float]]:
    """Seconds per call of each model on each input; who goes first alternates."""
    spent: dict[str, list[float]] = {name: [] for name in models}
    order = list(models)
    for index, batch in enumerate(inputs):
        for name in order if index % 2 == 0 else reversed(order):
            start = time.perf_counter()
            models[name](**batch)
            spent[name].append(time.perf_counter() - start)
    return spent


def _percentile(values: list[float], q: float) -> float:
    """Linear-interpolation percentile (numpy's default)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _inputs(datamodule: Any, names: list[str], start: int, size: int) -> dict[str, torch.Tensor]:
    """Test rows `start..start+size` collated as the test loader does, model inputs only."""
    dataset = datamodule.datasets["test"]
    batch = datamodule.collate_fn()([dataset[i] for i in range(start, start + size)])
    return {name: batch[name] for name in names if name in batch and torch.is_tensor(batch[name])}


def cpu_name() -> str:
    """The processor's model name (Linux: /proc/cpuinfo), or what `platform` says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _versions() -> dict[str, str]:
    import onnx
    import onnxruntime
    import transformers

    return {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
    }
