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

import json
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
    #: result keys (the CSV header of `lab.predict`); `truncated` (`lab.inference.cuts`) is
    #: listed by a head that marks the rows it read cut, and present only on those rows
    outputs: tuple[str, ...] = ()
    #: fields of `fields` that hold a list of strings (or a JSON array in a string)
    list_fields: tuple[str, ...] = ()
    #: fields of `fields` that a row may leave out or leave empty
    optional_fields: tuple[str, ...] = ()
    #: fields of `fields` that hold a chat: a list of `{role, content}` (or its JSON string)
    message_fields: tuple[str, ...] = ()
    #: a field a row may give in place of `fields[0]` (exactly one of the two): a list of
    #: strings (or its JSON array in a string, a CSV cell), e.g. NER's pre-split words
    alternative_field: str | None = None
    #: a field a row may give in place of `fields[0]`: a `{key: text}` dictionary (a
    #: translation run's own column, `{"en": ..., "ro": ...}`), read by the predictor's `check`.
    #: Not the text-classification predictor's `pair_field`, a second text every row gives.
    text_dict_field: str | None = None
    #: the `task.module` keys its results depend on: what `task.module.<key>=` of lab.predict,
    #: lab.serve and lab.demo may change (`lab.inference.settings`)
    settings: tuple[str, ...] = ()
    #: the setting whose `max_length` cuts an input: named where a result is marked cut
    #: (`truncated`, `lab.inference.cuts`) in `lab.predict`'s note and `lab.serve`'s log
    cut_setting = "data.max_length"

    def __init__(self, model: Any, tokenizer: Any, cfg: DictConfig) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.cfg = cfg
        self.max_length = int(cfg.data.get("max_length") or tokenizer.model_max_length or 512)

    @property
    def accepted_fields(self) -> tuple[str, ...]:
        """Every input field a row may give: `fields`, then `alternative_field` /
        `text_dict_field` (what `lab.serve`'s schema and `/health` list, and `lab.predict`'s
        `columns.` may map)."""
        extras = [
            f for f in (self.alternative_field, self.text_dict_field) if f and f not in self.fields
        ]
        return (*self.fields, *extras)

    def read_data_rows(self) -> None:
        """Read rows as the run's data holds them, for `lab.predict`'s files (often the run's
        own test split). Nothing for most heads, whose data rows are requests with a label
        column more; a chat head's rows end with the answer (`ChatPredictor`)."""

    def notes(self) -> list[str]:
        """Lines `lab.predict` prints after its summary: what the head did to some rows that
        their results do not show (NER's given words past the cut). None for most heads."""
        return []

    def check(self, row: dict[str, Any]) -> str | None:
        """Why `row` cannot be predicted (missing/empty field, wrong type), or None.

        With an `alternative_field`, exactly one of it and `fields[0]` must be given (not
        None, nor an empty CSV cell); a JSON array in it (a CSV cell) is put back as its list."""
        fields = self.fields
        alternative = self.alternative_field
        if alternative and alternative not in fields:
            first = fields[0]
            given = [field for field in (first, alternative) if row.get(field) not in (None, "")]
            if len(given) == 2:
                return f"give either '{first}' or '{alternative}', not both"
            if not given:
                empty = [field for field in (first, alternative) if row.get(field) == ""]
                if empty:  # present, as an empty CSV cell: say so, as for other fields
                    return f"field '{empty[0]}' is empty"
                return (
                    f"missing field '{first}' or '{alternative}' "
                    f"(fields present: {present_fields(row)})"
                )
            if given == [alternative]:
                words = _string_list(row[alternative])
                if words is None:
                    # A string is a CSV cell (or its JSON Lines copy): say its form is JSON.
                    cell = isinstance(row[alternative], str)
                    return f"field '{alternative}' must be a non-empty list of strings" + (
                        ' (in a CSV cell: a JSON array, e.g. ["Anna", "Berg"])' if cell else ""
                    )
                blank = next((i for i, word in enumerate(words) if not word.strip()), None)
                if blank is not None:  # as lab.serve's schema refuses it (s22c L1)
                    return (
                        f"field '{alternative}' must be a non-empty list of non-blank strings "
                        f"(item {blank} is blank)"
                    )
                row[alternative] = words
                fields = fields[1:]
        for field in fields:
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

    Subclasses set `max_new_tokens` and `num_beams` from the run's config and decode;
    `max_new_tokens=` of `lab.predict` / `lab.serve` replaces the former (`predictor_for`).
    """

    outputs: tuple[str, ...] = ("generated_text",)
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


def model_positions(model: Any) -> int | None:
    """The model's context in tokens, prompt and generated tokens together: the tokens its
    position table takes (`lab.model_positions.usable_positions`: `max_position_embeddings`,
    GPT-2's `n_positions` under that name, less a RoBERTa-style offset), when it has one."""
    from lab.model_positions import usable_positions

    return usable_positions(model) or None


def room_problem(
    positions: int | None,
    prompt_tokens: int,
    new_tokens: int,
    *,
    shorten: str = "the conversation",
    option: str | None = None,
) -> str | None:
    """Why a prompt of `prompt_tokens` cannot get `new_tokens` more within the model's
    `positions` (`model_positions`), or None; `shorten` names what to cut, `option` the
    setting that lowers the new tokens (named with the number that fits).

    One rule for every way a decoder answers (the chat API, `lab.predict`, `lab.serve`'s
    `/predict`), so the same prompt is refused alike everywhere. Learned positions (GPT-2)
    have no row past the table, rotary ones (Llama) were never trained there: either way the
    table bounds prompt plus answer."""
    if positions is None or prompt_tokens + new_tokens <= positions:
        return None
    if prompt_tokens >= positions:
        return (
            f"the prompt alone ({prompt_tokens} tokens) fills the model's context of "
            f"{positions} tokens; shorten {shorten}"
        )
    room = positions - prompt_tokens
    return (
        f"the prompt ({prompt_tokens} tokens) plus {new_tokens} new tokens is over the "
        f"model's context of {positions} tokens; ask for at most {room} new tokens"
        + (f" ({option}={room}) or shorten {shorten}" if option else "")
    )


def predictor_for(
    run: Any,
    device: str | None = None,
    model_dir: Any = None,
    max_new_tokens: int | None = None,
    settings: list[str] | None = None,
) -> Predictor:
    """The predictor of a `lab.run_dir.runs.TrainedRun`, its exported model loaded on `device`.

    The head's `task.predictor` partial is instantiated before the model loads, so a run
    config without one, or with one that does not import, fails first, in words
    (`lab.inference.predictor_spec`).
    `model_dir` loads another export of the run than its `model/`: a folder holding
    `model.onnx` (`python -m lab.export form=onnx|onnx-int8`) gives the head's own predictor
    an `lab.inference.onnx_runtime.OnnxModel`, run by onnxruntime on the CPU.
    `max_new_tokens` replaces the run's generation length (a `Generator` only: any other
    head is refused before the model loads). `settings` (`task.module.<key>=<value>`,
    `task.predictor.<key>=<value>`) change how the head reads the model's outputs, in the run's
    loaded config (`lab.inference.settings`), also before the model loads.
    """
    from hydra.utils import instantiate

    from lab.inference.onnx_runtime.model import is_onnx_export, load_onnx
    from lab.inference.predictor_spec import predictor_partial
    from lab.inference.settings import change_settings, reads_of
    from lab.run_dir.runs import load_exported

    spec = run.config.task.get("predictor")
    make = predictor_partial(run)  # or why not: no predictor declared, or not importable
    if settings:
        change_settings(run.config, reads_of(make), settings, run.head)
        make = instantiate(run.config.task.predictor)  # with its own arguments changed
    if max_new_tokens is not None and not _generates(make):
        raise LabError(
            f"max_new_tokens={max_new_tokens}: this run's head ({run.head}, predictor "
            f"{getattr(make, 'func', make).__name__}) does not generate text; the option is for "
            "language model (causal_lm, sft, dpo) and seq2seq runs"
        )
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
    if max_new_tokens is not None and isinstance(predictor, Generator):
        predictor.max_new_tokens = max_new_tokens
    return predictor


def _generates(make: Any) -> bool:
    """Whether the predictor `make` builds (the `task.predictor` partial) is a `Generator`."""
    target = getattr(make, "func", make)
    return isinstance(target, type) and issubclass(target, Generator)


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
    run_option: str,
    model: str | None = None,
    device: str | None = None,
    *,
    max_new_tokens: int | None = None,
    settings: list[str] | None = None,
) -> tuple[Any, Any, Predictor]:
    """`run=`, `model=`, `device=`, `max_new_tokens=` and the `task.*` settings of
    `lab.predict` / `lab.serve`: the run, the ONNX export chosen (a folder, or None for the
    PyTorch model) and the predictor that runs it. `run=` may name the run directory or one
    of its exports (`<run>/onnx-int8`)."""
    from lab.inference.onnx_runtime.model import model_choice, split_export
    from lab.run_dir.runs import open_run
    from lab.training.console import tame_library_output

    run_dir, export = split_export(run_option)
    run = open_run(run_dir)
    tame_library_output()  # after a wrong path is said: its imports take seconds
    model_dir = model_choice(run, model, export)
    return run, model_dir, predictor_for(run, device, model_dir, max_new_tokens, settings)


def present_fields(row: dict[str, Any]) -> str:
    """The fields `row` gives a value, for a message about a missing one (a request to
    `lab.serve` holds every optional field, as None when it was left out)."""
    return ", ".join(field for field, value in row.items() if value is not None) or "none"


def _string_list(value: Any) -> list[str] | None:
    """`value` as a non-empty list of strings (a JSON array in a string parsed), or None."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return None
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return value
    return None


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
