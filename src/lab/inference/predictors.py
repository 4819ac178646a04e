"""Generic inference on raw rows: what `lab.predict` writes and `lab.serve` answers.

A predictor wraps a run's exported model and tokenizer and turns a batch of input rows
(dicts with the head's fields) into one result dict per row. It works from the exported
model alone, not the training module: what is served is exactly what was exported.

Each head declares its predictor in its task YAML (`task.predictor`, a partial completed
with `model=`, `tokenizer=`, `cfg=`) and keeps its code with the head (`lab/tasks/<head>.py`
or `lab/tasks/<head>/predictor.py`). This module holds only what every head shares: the
`Predictor` base, the `Generator` base of the generating heads, `predictor_for` and
`predict_rows`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from omegaconf import DictConfig

from lab.errors import LabError


class Predictor:
    """Batched inference for one head.

    Args:
        model: the exported Hugging Face model (eval mode).
        tokenizer: its tokenizer.
        cfg: the run's resolved config (column names, lengths, thresholds).
    """

    #: input fields every row must have (non-empty strings unless `check` says otherwise)
    fields: tuple[str, ...] = ("text",)
    #: result keys (the CSV header of `lab.predict`)
    outputs: tuple[str, ...] = ()
    #: fields of `fields` that hold a list of strings (or a JSON array in a string)
    list_fields: tuple[str, ...] = ()
    #: fields of `fields` that a row may leave out or leave empty
    optional_fields: tuple[str, ...] = ()
    #: fields of `fields` that hold a chat: a list of `{role, content}` (or its JSON string)
    message_fields: tuple[str, ...] = ()

    def __init__(self, model: Any, tokenizer: Any, cfg: DictConfig) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.cfg = cfg
        self.max_length = int(cfg.data.get("max_length") or tokenizer.model_max_length or 512)

    def check(self, row: dict[str, Any]) -> str | None:
        """Why `row` cannot be predicted (missing/empty field, wrong type), or None."""
        for field in self.fields:
            if field not in row:
                return f"missing field '{field}' (fields present: {present_fields(row)})"
            value = row[field]
            if not isinstance(value, str):
                return f"field '{field}' must be a string, got {type(value).__name__}"
            if not value.strip():
                return f"field '{field}' is empty"
        return None

    def predict(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """One result dict per row (rows already passed `check`)."""
        raise NotImplementedError

    @property
    def device(self) -> torch.device:
        """Where the model's weights are (inputs are moved there)."""
        return next(self.model.parameters()).device


class Generator(Predictor):
    """Shared by the generating heads: tokenize a batch, `generate` (greedy or beam search).

    Subclasses set `max_new_tokens` and `num_beams` from the run's config and decode.
    """

    outputs = ("generated_text",)
    max_new_tokens = 32
    num_beams = 1

    def generate(self, texts: list[str]) -> tuple[Any, Any]:
        """(inputs, output ids) for a batch of texts."""
        inputs = self.tokenizer(
            texts, return_tensors="pt", padding=True, truncation=True, max_length=self.max_length
        ).to(self.device)
        with torch.no_grad():
            output = self.model.generate(
                **inputs,
                max_new_tokens=self.max_new_tokens,
                num_beams=self.num_beams,
                do_sample=False,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        return inputs, output


def predictor_for(run: Any, device: str | None = None, model_dir: Any = None) -> Predictor:
    """The predictor of a `lab.run_dir.runs.TrainedRun`, its exported model loaded on `device`.

    The head's `task.predictor` partial is instantiated before the model loads, so a run
    config without one (written before heads declared their predictor) fails first, in words.
    `model_dir` loads another export of the run than its `model/`: a folder holding
    `model.onnx` (`python -m lab.export form=onnx|onnx-int8`) gives the head's own predictor
    an `lab.inference.onnx_runtime.OnnxModel`, run by onnxruntime on the CPU.
    """
    from hydra.utils import instantiate

    from lab.inference.onnx_runtime.model import is_onnx_export, load_onnx
    from lab.run_dir.runs import load_exported

    spec = run.config.task.get("predictor")
    if spec is None:
        raise LabError(
            f"{run.directory} was made by an older lab: its config.yaml has no task.predictor "
            "(retrain it, or add task.predictor from conf/task/ to its config.yaml)"
        )
    try:
        make = instantiate(spec)
    except Exception as err:  # a moved or misspelt _target_
        raise LabError(f"task.predictor of {run.directory} cannot be built: {err}") from err
    if model_dir is not None and is_onnx_export(model_dir):
        if device not in (None, "cpu"):
            raise LabError(
                f"the ONNX export {model_dir} runs on the CPU (onnxruntime); drop device={device}"
            )
        model, tokenizer = load_onnx(model_dir)
    else:
        check_device(device)  # before the weights load
        model, tokenizer = load_exported(run, model_dir)
        model.to(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    predictor = make(model=model, tokenizer=tokenizer, cfg=run.config)
    if not isinstance(predictor, Predictor):
        raise LabError(f"task.predictor {spec.get('_target_')} is not a lab Predictor")
    return predictor


def check_device(device: str | None) -> None:
    """Refuse, before any weights load, a `device=` torch cannot use on this machine."""
    if device in (None, "cpu"):
        return
    try:
        torch.device(device)
    except (RuntimeError, ValueError) as err:
        raise LabError(f"device={device} is not a device torch knows: {err}") from err
    kind = torch.device(device).type
    if kind == "cuda" and not torch.cuda.is_available():
        raise LabError(f"device={device} needs a CUDA GPU and none is visible; use device=cpu")
    if kind == "cuda" and torch.device(device).index is not None:
        count = torch.cuda.device_count()
        if torch.device(device).index >= count:
            raise LabError(f"device={device}: this machine has {count} CUDA GPU(s)")
    if kind == "mps" and not torch.backends.mps.is_available():
        raise LabError(f"device={device} needs Apple's MPS and it is not available")


def open_predictor(
    run_option: str, model: str | None = None, device: str | None = None
) -> tuple[Any, Any, Predictor]:
    """`run=`, `model=` and `device=` of `lab.predict` / `lab.serve`: the run, the ONNX export
    chosen (a folder, or None for the PyTorch model) and the predictor that runs it.
    `run=` may name the run directory or one of its exports (`<run>/onnx-int8`)."""
    from lab.inference.onnx_runtime.model import model_choice, split_export
    from lab.run_dir.runs import open_run

    run_dir, export = split_export(run_option)
    run = open_run(run_dir)
    model_dir = model_choice(run, model, export)
    return run, model_dir, predictor_for(run, device, model_dir)


def present_fields(row: dict[str, Any]) -> str:
    """The fields `row` gives a value, for a message about a missing one (a request to
    `lab.serve` holds every optional field, as None when it was left out)."""
    return ", ".join(field for field, value in row.items() if value is not None) or "none"


def predict_rows(predictor: Predictor, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Results for `rows`, an `{"error": ...}` entry for each bad row instead of a crash.

    Rows that pass `check` are predicted as one batch; if the batch fails, each row is
    retried alone so one odd row cannot take its neighbours down.
    """
    results: list[dict[str, Any] | None] = [None] * len(rows)
    good: list[int] = []
    for index, row in enumerate(rows):
        problem = predictor.check(row)
        if problem:
            results[index] = {"error": problem}
        else:
            good.append(index)
    if good:
        try:
            batch = predictor.predict([rows[i] for i in good])
        except Exception:
            batch = [_predict_one(predictor, rows[i]) for i in good]
        for index, result in zip(good, batch, strict=True):
            results[index] = result
    return [r if r is not None else {"error": "not predicted"} for r in results]


def _predict_one(predictor: Predictor, row: dict[str, Any]) -> dict[str, Any]:
    try:
        return predictor.predict([row])[0]
    except Exception as err:
        return {"error": f"{type(err).__name__}: {err}"}
