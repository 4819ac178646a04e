"""CPU deployment: a run's model exported to ONNX and run with onnxruntime.

- `model`: `OnnxModel`, an ONNX export behind the Hugging Face model's call signature, so the
  heads' predictors, pipelines and task modules use it unchanged; `load_onnx`, and where a
  run's ONNX exports live (`onnx_dir`, `split_export`).
- `export`: `torch.onnx.export` of the exported model, dynamic int8 quantization.
- `report`: the exported model's test metrics and CPU latency / throughput next to the
  PyTorch model's (what `python -m lab.export form=onnx|onnx-int8` records).

Only `model` is needed to serve an export; the other two import Lightning and the data side.
"""

from lab.inference.onnx_runtime.model import (
    ONNX_FILE,
    ONNX_FORMS,
    OnnxModel,
    is_onnx_export,
    load_onnx,
    model_choice,
    onnx_dir,
    split_export,
)

__all__ = [
    "ONNX_FILE",
    "ONNX_FORMS",
    "OnnxModel",
    "is_onnx_export",
    "load_onnx",
    "model_choice",
    "onnx_dir",
    "split_export",
]
