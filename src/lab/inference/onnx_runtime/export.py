"""Write a run's exported model as ONNX (fp32, or dynamic int8) for onnxruntime on CPU.

The graph is traced with torch's TorchScript-based exporter (`torch.onnx.export(...,
dynamo=False)`): the torch.export-based default needs the `onnxscript` package, and the
traced graph of the encoder heads lab exports is exact for any batch size and length (the
tests compare it with PyTorch on other shapes than the traced one). Batch, sequence (and
multiple-choice) dimensions are dynamic.

int8: the fp32 graph's weights are quantized to int8 with onnxruntime's `quantize_dynamic`
(activations are quantized on the fly at run time). Fusing attention first with onnxruntime's
transformer optimizer (which needs the "eager" attention graph) was measured and left out:
on MiniLM it was no faster on our CPUs (benchmarks/RESULTS.md, "CPU deployment").
"""

from __future__ import annotations

import inspect
import logging
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch

from lab.errors import ConfigError
from lab.inference.onnx_runtime.model import ONNX_FILE, OUTPUT_FIELDS

OPSET = 17  # LayerNormalization is one ONNX operator from 17 on


class _Outputs(torch.nn.Module):
    """The head with positional inputs and a tuple of named outputs: what the tracer takes."""

    def __init__(
        self, model: Any, inputs: list[str], outputs: list[str], options: dict[str, Any]
    ) -> None:
        super().__init__()
        self.model = model
        self.inputs = inputs
        self.outputs = outputs
        self.options = options

    def forward(self, *args: torch.Tensor) -> tuple[torch.Tensor, ...]:
        result = self.model(**dict(zip(self.inputs, args, strict=True)), **self.options)
        return tuple(result[name] for name in self.outputs)


# What the ONNX forms cover, as the refusals say it.
ONE_PASS_HEADS = (
    "sequence and token classification, question answering, multiple choice, masked-LM mask filling"
)
# The auto classes whose runs generate text (causal LM, SFT, DPO; seq2seq).
GENERATING_HEADS = ("AutoModelForCausalLM", "AutoModelForSeq2SeqLM")


def generating_head_refusal(head: str, form: str) -> str | None:
    """Why `form` (onnx, onnx-int8) cannot hold a run whose head is `head`; None where it can
    (judged from the head's name: no weights are loaded)."""
    return _refusal(head, form) if head.rsplit(".", 1)[-1] in GENERATING_HEADS else None


def check_exportable(model: Any, head: str, form: str = "onnx") -> None:
    """Refuse, in words, a head the ONNX export does not cover (generating heads)."""
    if model.can_generate():
        raise ConfigError(_refusal(head, form))


def _refusal(head: str, form: str) -> str:
    return (
        f"form={form} covers heads that answer in one forward pass ({ONE_PASS_HEADS}); this "
        f"run's {head} generates text token by token, which lab does not export to ONNX"
    )


def export_onnx(model: Any, sample: dict[str, torch.Tensor], path: Path) -> list[str]:
    """Trace `model` on `sample` (a batch of the tokenizer's tensors) into `path`.

    Returns the output names (the head's: `logits`, or `start_logits` and `end_logits`).
    """
    parameters = inspect.signature(model.forward).parameters
    # The tracer names graph inputs by position: they must follow forward's own order.
    inputs = [name for name in parameters if name in sample]
    # A decoder's head (GPT-2, Llama classifying) also returns its key/value cache, which a
    # one-pass answer never reads: not computed, not exported.
    options = {"use_cache": False} if "use_cache" in parameters else {}
    with torch.no_grad():
        result = model(**{name: sample[name] for name in inputs}, **options)
    outputs = [name for name in result if name in OUTPUT_FIELDS]
    unknown = [name for name in result if name not in OUTPUT_FIELDS and name != "loss"]
    if not outputs or unknown:
        raise ConfigError(
            f"form=onnx covers heads whose outputs are {', '.join(OUTPUT_FIELDS)}; "
            f"{type(model).__name__} answers with {', '.join(result)}"
        )
    axes: dict[str, dict[int, str]] = {}
    for name in inputs:
        dims = sample[name].dim()
        # (batch, sequence) or, for multiple choice, (batch, choices, sequence)
        axes[name] = {0: "batch", dims - 1: "sequence"} | ({1: "choices"} if dims == 3 else {})
    for name in outputs:
        axes[name] = {i: f"{name}_dim{i}" for i in range(result[name].dim())}
    # In eval mode itself: the exporter puts the wrapper back in the mode it found it in, and a
    # new module is in training mode, which would leave the model's dropout on afterwards.
    wrapper = _Outputs(model.eval(), inputs, outputs, options).eval()
    with warnings.catch_warnings():
        # The legacy exporter's deprecation notice and tracer notes on Python-side shape
        # checks in transformers' mask code (constant for encoders) are not actionable.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper,
            tuple(sample[name] for name in inputs),
            str(path),
            input_names=inputs,
            output_names=outputs,
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
    return outputs


def quantize_int8(source: Path, target: Path) -> None:
    """Dynamic int8 quantization of `source`'s weights into `target` (onnxruntime)."""
    # The quantizer recommends its own pre-processing (symbolic shape inference, graph
    # optimization) on every call. The traced graph is quantized as it is, and the export's
    # report measures the result against PyTorch, so the note is not actionable here.
    advice = _DropMessage("Please consider to run pre-processing")
    logging.getLogger().addFilter(advice)
    try:
        _quantize(source, target)
    finally:
        logging.getLogger().removeFilter(advice)


class _DropMessage(logging.Filter):
    """Drops log records whose message starts with `prefix`."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.prefix)


def _quantize(source: Path, target: Path) -> None:
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(source),
        str(target),
        weight_type=QuantType.QInt8,
        per_channel=False,
        # Where ONNX shape inference leaves an intermediate tensor untyped (it cannot type
        # onnxruntime's own contrib operators, for one), the quantizer would stop; every
        # such tensor of these graphs is float32.
        extra_options={"DefaultTensorType": TensorProto.FLOAT},
    )


def write_onnx(
    model: Any, tokenizer: Any, sample: dict[str, torch.Tensor], target: Path, form: str
) -> dict[str, Any]:
    """Write `target/model.onnx` (fp32 or int8), the config and the tokenizer; describe it."""
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lab-onnx-") as scratch:
        fp32 = Path(scratch) / "fp32.onnx"
        outputs = export_onnx(model, sample, fp32)
        if form == "onnx-int8":
            quantize_int8(fp32, target / ONNX_FILE)
        else:
            shutil.copyfile(fp32, target / ONNX_FILE)
    model.config.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return {
        "form": form,
        "file": ONNX_FILE,
        "opset": OPSET,
        "outputs": outputs,
        "precision": "int8 weights, dynamic activations" if form == "onnx-int8" else "fp32",
    }
