"""The model card's usage code for a sequence classifier (single label, multi-label and
regression: `data.problem_type` picks the pipeline's options).

`usage` is the transformers `text-classification` pipeline, `onnx_usage` the same model's ONNX
graph run with onnxruntime; both cut each text as the run did (`data.max_length`, from the
side `data.truncation_side` says), which the export's tokenizer does not keep, and read text
pairs as the run's two columns (`data.text_pair_column`). The task YAMLs name them as
`task.card_usage` and `task.card_onnx_usage` (see `lab.run_dir.card_usage`).
"""

from __future__ import annotations

from omegaconf import DictConfig

from lab.run_dir.card_usage import HERE, Snippet, call, cut, cut_note, side_line

# The pipeline's options that give each problem type's scores as lab.predict reads them.
PIPELINE_OPTIONS = {"multi_label": ", top_k=None", "regression": ', function_to_apply="none"'}
# What the onnxruntime code makes of the graph's logits, per problem type (else: softmax).
ONNX_SCORES = {
    "multi_label": "1 / (1 + np.exp(-logits))  # a sigmoid per class",
    "regression": "logits[:, 0]  # the predicted value",
}
# The max subtracted first: a logit over ~88 overflowed float32's exp to nan (s31g-7).
SOFTMAX = (
    "np.exp(logits - logits.max(-1, keepdims=True))  # softmax, overflow-safe\n"
    "scores /= scores.sum(-1, keepdims=True)"
)


def usage(cfg: DictConfig) -> Snippet:
    """The `text-classification` pipeline with the run's cut, and a note on it (and on a
    multi-label run's threshold, or a regression's raw score)."""
    problem = _problem(cfg)
    code = (
        "from transformers import pipeline\n\n"
        f'classify = pipeline("text-classification", model="{HERE}"'
        f"{PIPELINE_OPTIONS.get(problem, '')}){side_line(cfg, 'classify.tokenizer')}\n"
        + call("predictions", "classify", _texts(cfg), cut(cfg))
    )
    note = cut_note(cfg)
    if problem == "multi_label":
        threshold = cfg.task.module.get("threshold", 0.5)
        note += (
            "\n`top_k=None` gives every class its own probability; the run predicts a class "
            f"when it reaches `task.module.threshold` ({threshold}).\n"
        )
    elif problem == "regression":
        note += '\n`function_to_apply="none"` gives the raw predicted value as the `score`.\n'
    return code, note


def onnx_usage(cfg: DictConfig) -> Snippet:
    """The ONNX graph run with onnxruntime on the run's cut, its logits made into the scores
    lab.predict gives (softmax, a sigmoid per class, or the value)."""
    inputs = call(
        "inputs", "tokenizer", _texts(cfg), cut(cfg), "padding=True", 'return_tensors="np"'
    )
    code = f"""import numpy as np
import onnxruntime as ort
from transformers import AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("{HERE}"){side_line(cfg, "tokenizer")}
session = ort.InferenceSession("{HERE}/model.onnx")
{inputs}
names = [graph_input.name for graph_input in session.get_inputs()]
logits = session.run(None, {{name: inputs[name] for name in names}})[0]
scores = {ONNX_SCORES.get(_problem(cfg), SOFTMAX)}"""
    return code, cut_note(cfg)


def _problem(cfg: DictConfig) -> str:
    return str(cfg.data.get("problem_type") or "single_label")


def _texts(cfg: DictConfig) -> str:
    """The inputs of a classification call: texts, or the run's text pairs (a `{"text",
    "text_pair"}` dict is tokenized as a pair, as the run's two columns were)."""
    if cfg.data.get("text_pair_column"):
        return '[{"text": "<first text>", "text_pair": "<second text>"}]'
    return '["<your text>"]'
