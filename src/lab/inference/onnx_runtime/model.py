"""`OnnxModel`: an ONNX export run by onnxruntime, called like the Hugging Face model it was.

`python -m lab.export run=<run> form=onnx` writes `<run>/onnx/` (`form=onnx-int8`:
`<run>/onnx-int8/`): `model.onnx`, the model's `config.json` (labels, problem type), the
tokenizer files, the model card and `onnx_report.json`. Loading that folder gives an
`OnnxModel`: `model(**tokenizer_output)` returns a `ModelOutput` with the same fields the
PyTorch head returns (`logits`, or `start_logits` / `end_logits`, and `loss` when labels are
given), as torch tensors, so every head's predictor, the transformers pipelines they use and
the heads' task modules (for the export's test metrics) run it unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers.utils import ModelOutput

from lab.errors import LabError

ONNX_FILE = "model.onnx"
#: export forms -> the folder in the run directory they are written to by default
ONNX_FORMS = {"onnx": "onnx", "onnx-int8": "onnx-int8"}
#: what `model=` of lab.predict / lab.serve accepts (besides a folder path)
MODEL_CHOICES = ("pytorch", *ONNX_FORMS)


@dataclass
class OnnxOutput(ModelOutput):
    """The fields an exported head answers with (those of the transformers head outputs)."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    start_logits: torch.Tensor | None = None
    end_logits: torch.Tensor | None = None


#: ONNX output names an `OnnxModel` can hand back (the export refuses heads with others)
OUTPUT_FIELDS = ("logits", "start_logits", "end_logits")


class OnnxModel(torch.nn.Module):
    """An ONNX export behind the call signature of the transformers head it came from.

    Args:
        directory: a folder holding `model.onnx` and the model's `config.json`.
        threads: onnxruntime intra-op threads (default: torch's, so both compare fairly).
        spin: whether idle onnxruntime threads spin-wait for the next call (its default: a
            little lower latency for a process that only runs this model). `lab.export`'s
            side-by-side timing turns it off: threads spinning after each ONNX call took the
            cores from the PyTorch call timed next (2 cores: 476 ms against 13 ms a row).

    Inputs the graph does not take (`labels`, QA's `feature_index`) are left out of the
    session call; `token_type_ids`, when the graph wants them and they are missing, are
    zeros (what the PyTorch model assumes too). Outputs come back as float32 CPU tensors on
    the inputs' device.
    """

    def __init__(self, directory: Path, threads: int | None = None, spin: bool = True) -> None:
        super().__init__()
        import onnxruntime as ort
        from transformers import AutoConfig

        self.directory = Path(directory)
        self.config = AutoConfig.from_pretrained(self.directory)
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads or torch.get_num_threads())
        options.inter_op_num_threads = 1
        if not spin:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3  # errors only: shape-inference notes are not actionable
        try:
            self.session = ort.InferenceSession(
                str(self.directory / ONNX_FILE), options, providers=["CPUExecutionProvider"]
            )
        except Exception as err:  # a truncated or foreign file
            raise LabError(
                f"{self.directory / ONNX_FILE} cannot be loaded by onnxruntime: {err}"
            ) from err
        self.input_names = [node.name for node in self.session.get_inputs()]
        self.output_names = [node.name for node in self.session.get_outputs()]
        # Predictors ask the parameters where the model is (`Predictor.device`); one empty
        # CPU parameter answers that without holding any weights.
        self.anchor = torch.nn.Parameter(torch.empty(0), requires_grad=False)

    @property
    def device(self) -> torch.device:
        """Always the CPU: onnxruntime's CPU provider runs the graph."""
        return torch.device("cpu")

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the outputs."""
        return torch.float32

    def can_generate(self) -> bool:
        """Exported heads answer in one forward pass (asked by transformers pipelines)."""
        return False

    def forward(self, **inputs: Any) -> OnnxOutput:
        """Run the graph on the tokenizer's tensors; the head's output (loss with labels)."""
        import numpy as np

        reference = inputs.get("input_ids")
        feed = {}
        for name in self.input_names:
            value = inputs.get(name)
            if value is None and name == "token_type_ids" and reference is not None:
                value = torch.zeros_like(reference)
            if value is None:
                raise LabError(
                    f"the ONNX model in {self.directory} needs input '{name}' "
                    f"(given: {', '.join(inputs) or 'none'})"
                )
            array = value.detach().cpu().numpy() if torch.is_tensor(value) else np.asarray(value)
            feed[name] = array.astype(np.int64, copy=False)
        values = self.session.run(self.output_names, feed)
        device = reference.device if torch.is_tensor(reference) else torch.device("cpu")
        outputs = {
            name: torch.from_numpy(value).to(device)
            for name, value in zip(self.output_names, values, strict=True)
        }
        return OnnxOutput(loss=head_loss(self.config, outputs, inputs), **outputs)


def head_loss(
    config: Any, outputs: dict[str, torch.Tensor], inputs: dict[str, Any]
) -> torch.Tensor | None:
    """The loss the transformers head computes for these outputs, or None without labels.

    The same formulas as the transformers heads: span losses averaged over start and end
    (positions outside the sequence ignored) for QA; for `logits`, MSE (regression), binary
    cross-entropy (multi-label) or cross-entropy ignoring label -100 (classification,
    token classification, multiple choice).
    """
    import torch.nn.functional as F

    if "start_logits" in outputs and inputs.get("start_positions") is not None:
        start, end = outputs["start_logits"], outputs["end_logits"]
        ignored = start.size(1)
        losses = [
            F.cross_entropy(logits, positions.clamp(0, ignored), ignore_index=ignored)
            for logits, positions in (
                (start, inputs["start_positions"]),
                (end, inputs["end_positions"]),
            )
        ]
        return (losses[0] + losses[1]) / 2
    labels = inputs.get("labels")
    logits = outputs.get("logits")
    if labels is None or logits is None:
        return None
    problem = getattr(config, "problem_type", None)
    if problem == "regression":
        return F.mse_loss(logits.squeeze(), labels.squeeze().to(logits.dtype))
    if problem == "multi_label_classification":
        return F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))
    return F.cross_entropy(logits.view(-1, logits.size(-1)), labels.view(-1))


def require_onnx() -> None:
    """A `LabError` naming the install command when onnx or onnxruntime is missing."""
    import importlib.util

    missing = [name for name in ("onnx", "onnxruntime") if importlib.util.find_spec(name) is None]
    if missing:
        raise LabError(
            f"ONNX export and inference need {' and '.join(missing)}: "
            "pip install 'lab[onnx]' (or pip install onnx onnxruntime)"
        )


def is_onnx_export(directory: Path) -> bool:
    """Whether `directory` holds an ONNX export (`model.onnx`)."""
    return (Path(directory) / ONNX_FILE).is_file()


def load_onnx(
    directory: Path, threads: int | None = None, spin: bool = True
) -> tuple[OnnxModel, Any]:
    """(OnnxModel, tokenizer) from an ONNX export folder (`threads`, `spin`: `OnnxModel`'s)."""
    from transformers import AutoTokenizer

    directory = Path(directory)
    if not is_onnx_export(directory):
        raise LabError(f"{directory} holds no ONNX export ({ONNX_FILE} missing)")
    require_onnx()
    try:
        tokenizer = AutoTokenizer.from_pretrained(directory)
    except Exception as err:
        raise LabError(f"the tokenizer in {directory} cannot be loaded: {err}") from err
    model = OnnxModel(directory, threads, spin)
    # transformers pipelines check the model's class name against the head's architectures
    # (and log an error otherwise): the adapter answers to the name of the class it replaces.
    architectures = getattr(model.config, "architectures", None) or []
    if architectures:
        model.__class__ = type(str(architectures[0]), (OnnxModel,), {"__module__": __name__})
    return model, tokenizer


def onnx_dir(run: Any, form: str) -> Path:
    """Where `python -m lab.export run=<run> form=<form>` writes by default."""
    return Path(run.directory) / ONNX_FORMS[form]


def model_choice(run: Any, choice: str | None, default: Path | None = None) -> Path | None:
    """The folder `lab.predict` / `lab.serve` load for `model=<choice>`.

    `pytorch` (or no choice without `default`): None, the run's own `model/`; `onnx` /
    `onnx-int8`: the run's export of that form; anything else: a folder holding `model.onnx`.
    `default` is the export folder named by `run=` (see `open_run_or_export`).
    """
    if choice is None or choice == "":
        return default
    path = (
        None
        if choice == "pytorch"
        else onnx_dir(run, choice)
        if choice in ONNX_FORMS
        else Path(choice).expanduser().resolve()
    )
    if default is not None and (path is None or path.resolve() != default.resolve()):
        raise LabError(
            f"run= names the export {default} and model={choice} another model: give one, "
            f"run={default} alone or run={run.directory} model={choice}"
        )
    if path is None:
        return None
    if not is_onnx_export(path) and choice in ONNX_FORMS:
        from lab.inference.onnx_runtime.export import generating_head_refusal

        if refusal := generating_head_refusal(str(run.head), choice):
            raise LabError(f"model={choice}: {refusal}; predict with model=pytorch (the default)")
    if not is_onnx_export(path):
        made = (
            f"; make it with: python -m lab.export run={run.directory} form={choice}"
            if choice in ONNX_FORMS
            else f"; model= takes {', '.join(MODEL_CHOICES)} or a folder holding {ONNX_FILE}"
        )
        raise LabError(f"{path} holds no ONNX export ({ONNX_FILE} missing){made}")
    return path


def split_export(path: str | Path) -> tuple[Path, Path | None]:
    """`run=` of lab.predict / lab.serve: a run directory, or an ONNX export folder in one.

    Returns (the run directory, the export folder or None): `run=<run>/onnx-int8` names
    both the run and the model to load; `run=<run>/model`, the run's PyTorch export, is the
    run itself (it was refused as "not a lab run directory", s28b L4).
    """
    folder = Path(path).expanduser()
    in_run = (folder.resolve().parent / "config.yaml").is_file()
    if is_onnx_export(folder) and in_run:
        return folder.resolve().parent, folder.resolve()
    if in_run and folder.resolve().name == "model" and (folder / "config.json").is_file():
        return folder.resolve().parent, None
    return folder, None
