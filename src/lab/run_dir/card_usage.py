"""The model card's "How to use" section: code that reproduces the run's results outside lab.

An exported model alone does not know the run's input settings: its tokenizer keeps the base
model's own limit (`model_max_length`, 512 for MiniLM), not `data.max_length`, and generation
lengths, task prefixes and decoding settings live in the run's `config.yaml`. A plain
`pipeline(...)` on the export therefore reads long texts otherwise than the run did (and fails
on texts over the model's positions). The section writes the run's values into the call.

The snippet follows the Hub task the head declares (`task.pipeline_tag`, transformers'
vocabulary, not a lab head name) and what the run's config and predictor declare: a chat
predictor (`message_fields`) gets messages, `data.problem_type` picks the classification
pipeline's options. A head with another tag gets the Auto-class loading lines of its
`task.head`. Each snippet is the loading code the README gives for that kind of head, with the
run's settings filled in (a setting the run's config lacks is left to the library's default,
as lab.predict leaves it); "<this directory>" stands for the folder the card is in (or its Hub
repository id). `onnx_usage` is the same for an ONNX export, run with onnxruntime.
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

from omegaconf import DictConfig

HERE = "<this directory>"  # the folder the card describes (the adapter card says the same)
WIDTH = 95  # the card's Markdown source is read as text too: lines folded near lab's width


def usage_section(cfg: DictConfig) -> str:
    """The card's "How to use" section for an exported transformers model (`<run>/model`)."""
    tag = str(cfg.task.get("pipeline_tag") or "")
    head = str(cfg.task.head).rsplit(".", 1)[-1]
    if tag == "text-classification":
        code, note = _classification(cfg)
    elif tag == "token-classification":
        code, note = _token_classification()
    elif tag == "question-answering":
        code, note = _question_answering(cfg, head)
    elif tag == "multiple-choice":
        code, note = _multiple_choice(cfg, head)
    elif tag == "text2text-generation":
        code, note = _seq2seq(cfg, head)
    elif tag == "text-generation":
        code, note = _chat(cfg) if _takes_messages(cfg) else _continuation(cfg)
    elif tag == "fill-mask":
        code, note = _fill_mask(cfg)
    else:
        code = (
            f"{_imports(head)}\n\n"
            f'model = {head}.from_pretrained("{HERE}")\n'
            f'tokenizer = AutoTokenizer.from_pretrained("{HERE}")'
        )
        note = ""
    return f"""
## How to use

```python
{code}
```
{_fold(note)}
With lab, `python -m lab.predict run=<run dir> input=<file> output=<file>` (or `lab.serve`)
reads these settings from the run's `config.yaml` itself.
"""


def onnx_usage(cfg: DictConfig | None, report: dict[str, Any]) -> str:
    """How to run an ONNX export (`model.onnx`, no transformers weights): lab.predict /
    lab.serve, and, for a text classifier's run config `cfg`, onnxruntime directly with the
    run's cut."""
    form = report["form"]
    # The commands stay whole on their lines; the prose after them is folded.
    commands = (
        f"`python -m lab.predict run=<run dir> model={form} input=... output=...` or\n"
        f"`python -m lab.serve run=<run dir> model={form}`"
    )
    outputs = ", ".join(f"`{name}`" for name in report["export"].get("outputs") or ["logits"])
    prose = "Both read the run's settings and decode the outputs as with the PyTorch model."
    if cfg is None or str(cfg.task.get("pipeline_tag") or "") != "text-classification":
        graph = "The graph takes the tokenizer's inputs, as the transformers model does, and "
        return f"{commands}.\n{fill(f'{prose} {graph}returns {outputs}.')}"
    scores = {
        "multi_label": "1 / (1 + np.exp(-logits))  # a sigmoid per class",
        "regression": "logits[:, 0]  # the predicted value",
    }.get(_problem(cfg), "np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)  # softmax")
    inputs = _call(
        "inputs", "tokenizer", _texts(cfg), _cut(cfg), "padding=True", 'return_tensors="np"'
    )
    return f"""{commands}.
{fill(f"{prose} With onnxruntime alone (the graph returns {outputs}):")}

```python
import numpy as np
import onnxruntime as ort
from transformers import AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("{HERE}"){_side_line(cfg, "tokenizer")}
session = ort.InferenceSession("{HERE}/model.onnx")
{inputs}
names = [graph_input.name for graph_input in session.get_inputs()]
logits = session.run(None, {{name: inputs[name] for name in names}})[0]
scores = {scores}
```
{_fold(_cut_note(cfg)).rstrip()}"""


def _fold(note: str) -> str:
    """`note`'s paragraphs (split at blank lines) folded to the card's width, a blank line
    before each ("" for none)."""
    parts = [part.strip() for part in note.split("\n\n") if part.strip()]
    return "".join(f"\n{fill(part)}\n" for part in parts)


def fill(text: str) -> str:
    """`text` folded to the card's width, paths and code spans kept whole."""
    return textwrap.fill(text, WIDTH, break_long_words=False, break_on_hyphens=False)


def _call(target: str, function: str, *arguments: str) -> str:
    """`target = function(arguments)`, an argument a line where one line would pass the
    card's width."""
    line = f"{target} = {function}({', '.join(arguments)})"
    if len(line) <= WIDTH:
        return line
    return f"{target} = {function}(\n" + "".join(f"    {a},\n" for a in arguments) + ")"


def _imports(head: str) -> str:
    return f"from transformers import {', '.join(sorted({'AutoTokenizer', head}))}"


def _problem(cfg: DictConfig) -> str:
    return str(cfg.data.get("problem_type") or "single_label")


def _max_length(cfg: DictConfig, key: str = "max_length") -> int | None:
    value = cfg.data.get(key)
    return int(value) if value else None


def _cut(cfg: DictConfig, key: str = "max_length") -> str:
    """The tokenizer arguments that cut an input as the run did (`truncation=True,
    max_length=N`), or at the model's own limit where the run set none (as lab.predict)."""
    length = _max_length(cfg, key)
    return f"truncation=True, max_length={length}" if length else "truncation=True"


def _cut_note(cfg: DictConfig, key: str = "max_length") -> str:
    length = _max_length(cfg, key)
    if not length:
        return ""
    side = "last" if cfg.data.get("truncation_side") == "left" else "first"
    return (
        f"\nThe run read the {side} {length} tokens of each input (`data.{key}`); the exported "
        "tokenizer keeps the model's own limit (`model_max_length`), so the code passes the "
        "run's cut: without it a longer input is read otherwise than in the run, and one "
        "longer than the model's positions fails.\n"
    )


def _side_line(cfg: DictConfig, tokenizer: str) -> str:
    """A line keeping a text's last tokens, for a run with `data.truncation_side=left`: the
    export keeps the side only in its tokenizer.json's truncation state, which transformers
    saves after the tokenizer truncated something (not a setting of its config)."""
    if cfg.data.get("truncation_side") != "left":
        return ""
    return f'\n{tokenizer}.truncation_side = "left"  # the run kept each text\'s last tokens'


def _texts(cfg: DictConfig) -> str:
    """The inputs of a classification call: texts, or the run's text pairs (a `{"text",
    "text_pair"}` dict is tokenized as a pair, as the run's two columns were)."""
    if cfg.data.get("text_pair_column"):
        return '[{"text": "<first text>", "text_pair": "<second text>"}]'
    return '["<your text>"]'


def _classification(cfg: DictConfig) -> tuple[str, str]:
    problem = _problem(cfg)
    options = {"multi_label": ", top_k=None", "regression": ', function_to_apply="none"'}
    code = (
        "from transformers import pipeline\n\n"
        f'classify = pipeline("text-classification", model="{HERE}"'
        f"{options.get(problem, '')}){_side_line(cfg, 'classify.tokenizer')}\n"
        + _call("predictions", "classify", _texts(cfg), _cut(cfg))
    )
    note = _cut_note(cfg)
    if problem == "multi_label":
        threshold = cfg.task.module.get("threshold", 0.5)
        note += (
            "\n`top_k=None` gives every class its own probability; the run predicts a class "
            f"when it reaches `task.module.threshold` ({threshold}).\n"
        )
    elif problem == "regression":
        note += '\n`function_to_apply="none"` gives the raw predicted value as the `score`.\n'
    return code, note


def _token_classification() -> tuple[str, str]:
    code = (
        "from transformers import pipeline\n\n"
        f'tag = pipeline("token-classification", model="{HERE}", aggregation_strategy="first")\n'
        'entities = tag(["<your text>"])'
    )
    note = (
        '\n`aggregation_strategy="first"` tags each word by its first subword, as the run was '
        "trained (and as `lab.predict` groups entities): other strategies split words.\n"
    )
    return code, note


def _arguments(values: dict[str, Any]) -> list[str]:
    """`key=value` of each setting the run's config has (the others: the library's default)."""
    return [f"{key}={value!r}" for key, value in values.items() if value is not None]


def _question_answering(cfg: DictConfig, head: str) -> tuple[str, str]:
    data, module = cfg.data, cfg.task.module
    windows = _arguments(
        {
            "max_length": data.get("max_length"),
            "doc_stride": data.get("doc_stride"),
            "version_2_with_negative": bool(data.get("version_2_with_negative")),
        }
    )
    decoding = _arguments(
        {
            key: module.get(key)
            for key in ("n_best_size", "max_answer_length", "null_score_diff_threshold")
        }
    )
    code = (
        f"{_imports(head)}\n\n"
        "from lab.tasks.question_answering import answer_questions  # pip install lab\n\n"
        f'model = {head}.from_pretrained("{HERE}")\n'
        f'tokenizer = AutoTokenizer.from_pretrained("{HERE}")\n'
        "answers = answer_questions(\n"
        '    model, tokenizer, ["<your question>"], ["<its context>"],\n'
        + "".join(f"    {', '.join(group)},\n" for group in (windows, decoding) if group)
        + ")"
    )
    note = (
        "\ntransformers 5 has no question-answering pipeline; `answer_questions` cuts long "
        "contexts into the run's windows and decodes spans as the run's evaluation did, with "
        "the run's settings above.\n"
    )
    return code, note


def _multiple_choice(cfg: DictConfig, head: str) -> tuple[str, str]:
    code = f"""import torch
{_imports(head)}

model = {head}.from_pretrained("{HERE}").eval()
tokenizer = AutoTokenizer.from_pretrained("{HERE}")
context, prefix = "<the context>", "<the start of the ending, or empty>"
endings = ["<ending 1>", "<ending 2>"]
inputs = tokenizer(
    [context] * len(endings),
    [" ".join(part for part in (prefix, ending) if part) for ending in endings],
    {_cut(cfg)},
    padding=True,
    return_tensors="pt",
)
with torch.no_grad():  # one question: [1, endings, tokens] -> one score per ending
    scores = model(**{{k: v.unsqueeze(0) for k, v in inputs.items()}}).logits[0]
probabilities = scores.softmax(-1)"""
    note = "\ntransformers has no multiple-choice pipeline: pair and score the endings.\n"
    return code, note + _cut_note(cfg)


def _seq2seq(cfg: DictConfig, head: str) -> tuple[str, str]:
    prefix = str(cfg.data.get("source_prefix") or "")
    # JSON's form of a string is a Python literal too, in the code's double quotes.
    source = f"{json.dumps(prefix, ensure_ascii=False)} + text" if prefix else "text"
    module = cfg.task.module
    generation = _arguments(
        {"num_beams": module.get("num_beams"), "max_new_tokens": module.get("max_new_tokens")}
    )
    code = (
        f"{_imports(head)}\n\n"
        f'tokenizer = AutoTokenizer.from_pretrained("{HERE}")\n'
        f'model = {head}.from_pretrained("{HERE}")\n'
        'text = "<your text>"\n'
        + _call(
            "inputs",
            "tokenizer",
            f"[{source}]",
            _cut(cfg, "max_source_length"),
            'return_tensors="pt"',
        )
        + f"\nids = model.generate({', '.join(['**inputs', *generation, 'do_sample=False'])})\n"
        "generated = tokenizer.batch_decode(ids, skip_special_tokens=True)"
    )
    note = (
        "\ntransformers 5 has no summarization / translation pipeline: generate with the Auto "
        "class, with the run's source prefix (`data.source_prefix`), cut, beams and length.\n"
    )
    return code, note + _cut_note(cfg, "max_source_length")


def _takes_messages(cfg: DictConfig) -> bool:
    """Whether the run's predictor answers chats (declares `message_fields`), as lab.predict
    and lab.serve do with it."""
    from hydra.utils import get_class

    target = (cfg.task.get("predictor") or {}).get("_target_")
    try:
        return bool(target and getattr(get_class(str(target)), "message_fields", ()))
    except Exception:  # a moved class: the card still gets a plain generation snippet
        return False


def _chat(cfg: DictConfig) -> tuple[str, str]:
    from lab.tasks.sft.predictor import DEFAULT_MAX_NEW_TOKENS

    new = int(cfg.task.module.get("max_new_tokens") or DEFAULT_MAX_NEW_TOKENS)
    code = (
        "from transformers import pipeline\n\n"
        f'generator = pipeline("text-generation", model="{HERE}")\n'
        'messages = [{"role": "user", "content": "<your question>"}]\n'
        f"reply = generator(messages, max_new_tokens={new}, do_sample=False)\n"
        'answer = reply[0]["generated_text"][-1]["content"].strip()'
    )
    length = _max_length(cfg)
    cut = f" (lab keeps a prompt's last {length} tokens, `data.max_length`)" if length else ""
    note = (
        "\nThe pipeline renders the messages with the exported chat template, as the run did; "
        f"the run answers greedily with at most {new} new tokens{cut}.\n"
    )
    return code, note


def _continuation(cfg: DictConfig) -> tuple[str, str]:
    module = cfg.task.module
    generation = _arguments(
        {
            "max_new_tokens": module.get("sample_max_new_tokens"),
            "num_beams": module.get("num_beams"),
        }
    )
    code = (
        "from transformers import pipeline\n\n"
        f'generator = pipeline("text-generation", model="{HERE}")\n'
        + _call("text", "generator", '"<your prompt>"', *generation, "do_sample=False")
        + '[0]["generated_text"]'
    )
    note = "\nAs the run's samples (`task.module.sample_max_new_tokens`), greedily.\n"
    return code, note


def _fill_mask(cfg: DictConfig) -> tuple[str, str]:
    top_k = (cfg.task.get("predictor") or {}).get("top_k")
    length = _max_length(cfg)
    cut = f'{{"truncation": True, "max_length": {length}}}' if length else '{"truncation": True}'
    code = (
        "from transformers import pipeline\n\n"
        f'fill = pipeline("fill-mask", model="{HERE}"{f", top_k={top_k}" if top_k else ""})\n'
        'text = f"<your text with a {fill.tokenizer.mask_token} in it>"\n'
        f"guesses = fill(text, tokenizer_kwargs={cut})"
    )
    note = (
        "\nWhere the model's output layer has rows no token names (an embedding table padded "
        "past the tokenizer, as ModernBERT's), the pipeline's guesses and scores count them; "
        "`lab.predict` leaves them out, so its scores are over the tokenizer's tokens only.\n"
    )
    return code, _cut_note(cfg) + note
