"""How `lab.demo` shows a predictor's results: the view, chosen from what the predictor declares.

A head's predictor declares its input `fields` and result `outputs` (the head protocol); the
demo picks its view from those names alone, so a new head gets a fitting view without any
table keyed by head names:

| view    | chosen when the predictor...                          | shown as (Gradio)             |
|---------|-------------------------------------------------------|-------------------------------|
| `chat`  | takes a `messages` field (a conversation)             | a chat box (`ChatInterface`)  |
| `spans` | outputs `entities`, or `answer` + `start` + `end`     | the input text, spans marked  |
| `label` | outputs `probabilities`                               | bars per class (`Label`)      |
| `score` | outputs `score` (and none of the above)               | a number                      |
| `text`  | outputs `generated_text`, `completion`, `filled_text` | a text box                    |
| `json`  | anything else                                         | the raw result                |

A predictor whose outputs mislead these rules sets the class attribute `demo_view` to one of
`VIEWS`. The functions here turn one result into plain values (dicts, lists, strings) that the
Gradio components take; they import nothing of Gradio, so they are tested without a browser.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

VIEWS = ("chat", "spans", "label", "score", "text", "json")
#: result keys that hold generated text, in the order they are looked for
TEXT_OUTPUTS = ("completion", "generated_text", "filled_text")
#: the input field of a chat predictor: a list of {"role", "content"} messages
CHAT_FIELD = "messages"
STAGES = ("train", "val", "test")  # the columns of the metrics table
MAX_BARS = 10  # classes shown as bars; the rest stay in the raw result


def view_for(predictor: Any) -> str:
    """The view of `predictor` (one of `VIEWS`), from its `demo_view`, `fields` and `outputs`."""
    declared = getattr(predictor, "demo_view", None)
    if declared is not None:
        if declared not in VIEWS:
            raise ValueError(f"demo_view must be one of {', '.join(VIEWS)}, got {declared!r}")
        return str(declared)
    fields, outputs = set(predictor.fields), set(predictor.outputs)
    if CHAT_FIELD in fields and outputs & set(TEXT_OUTPUTS):
        return "chat"
    if "entities" in outputs or {"answer", "start", "end"} <= outputs:
        return "spans"
    if "probabilities" in outputs:
        return "label"
    if "score" in outputs:
        return "score"
    if outputs & set(TEXT_OUTPUTS):
        return "text"
    return "json"


def row_from_inputs(predictor: Any, values: Sequence[str | None]) -> dict[str, Any]:
    """The input row from the demo's text boxes, one per field in `predictor.fields` order.

    A list field's box holds one item per line (blank lines dropped); an optional field left
    empty is left out, as `lab.predict` and `lab.serve` accept.
    """
    row: dict[str, Any] = {}
    for field, value in zip(predictor.fields, values, strict=True):
        text = value or ""
        if field in predictor.list_fields:
            row[field] = [line.strip() for line in text.splitlines() if line.strip()]
        elif text.strip() or field not in predictor.optional_fields:
            row[field] = text
    return row


def label_value(row: dict[str, Any], result: dict[str, Any]) -> dict[str, float]:
    """Class -> probability for `gr.Label`, the `MAX_BARS` most likely classes.

    `probabilities` is a dict (classes by name) or a list; a list as long as one of the row's
    list fields (the endings of a multiple-choice row) is named by those items, else by index.
    """
    probabilities = result["probabilities"]
    if isinstance(probabilities, dict):
        named = {str(k): float(v) for k, v in probabilities.items()}
    else:
        names = [str(i) for i in range(len(probabilities))]
        for value in row.values():
            if isinstance(value, list) and len(value) == len(probabilities):
                # The index keeps two equal items apart (a dict key cannot repeat).
                names = [f"{i}: {item}" for i, item in enumerate(value)]
                break
        named = {name: float(p) for name, p in zip(names, probabilities, strict=True)}
    top = sorted(named.items(), key=lambda item: item[1], reverse=True)[:MAX_BARS]
    return dict(top)


def result_spans(result: dict[str, Any]) -> list[tuple[int, int, str, str]]:
    """(start, end, category, text) of each span a result marks: its entities, or its answer."""
    if "entities" in result:
        return [
            (int(e["start"]), int(e["end"]), str(e.get("type", "entity")), str(e.get("text", "")))
            for e in result["entities"]
        ]
    if result.get("answer"):  # SQuAD v2 models may answer "" (no answer): nothing to mark
        return [(int(result["start"]), int(result["end"]), "answer", str(result["answer"]))]
    return []


def span_field(
    predictor: Any, row: dict[str, Any], spans: Sequence[tuple[int, int, str, str]]
) -> str:
    """The input field the spans index: the one whose text at a span is the span's text
    (a QA answer lies in the context, not the question); the last string field otherwise."""
    texts = [f for f in predictor.fields if isinstance(row.get(f), str)]
    for start, end, _, text in spans:
        for field in texts:
            if text and row[field][start:end] == text:
                return str(field)
    return str(texts[-1]) if texts else str(predictor.fields[0])


def highlighted(
    text: str, spans: Sequence[tuple[int, int, str, str]]
) -> list[tuple[str, str | None]]:
    """`text` cut into (piece, category or None) for `gr.HighlightedText`.

    Spans out of range, or overlapping an earlier one, are skipped: every character is shown
    once, in order.
    """
    pieces: list[tuple[str, str | None]] = []
    at = 0
    for start, end, category, _ in sorted(spans):
        if start < at or end <= start or end > len(text):
            continue
        if start > at:
            pieces.append((text[at:start], None))
        pieces.append((text[start:end], category))
        at = end
    if at < len(text):
        pieces.append((text[at:], None))
    return pieces


def generated_text(result: dict[str, Any]) -> str:
    """The text of a result (its first key of `TEXT_OUTPUTS`)."""
    for key in TEXT_OUTPUTS:
        if key in result:
            return str(result[key])
    return ""


def chat_messages(history: Sequence[Any], message: str) -> list[dict[str, str]]:
    """The conversation a chat predictor gets: earlier turns, then the user's new message.

    Gradio gives each earlier turn as a dict with `role` and `content`; a content may be a
    list of parts (`{"type": "text", "text": ...}`), whose texts are joined. Turns with no
    text (a file, an image) are dropped.
    """
    messages = []
    for turn in history:
        role = turn.get("role") if isinstance(turn, dict) else getattr(turn, "role", None)
        content = turn.get("content") if isinstance(turn, dict) else getattr(turn, "content", "")
        text = _content_text(content)
        if role in ("user", "assistant", "system") and text:
            messages.append({"role": str(role), "content": text})
    messages.append({"role": "user", "content": message})
    return messages


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text") or "")
    if isinstance(content, list):
        return "".join(_content_text(part) for part in content)
    return ""


def metrics_markdown(metrics: dict[str, Any]) -> str:
    """The run's final metrics in Markdown: a table of the `train/`, `val/` and `test/`
    metrics (a row per name, a column per stage), then any other key (`model/params_total`)
    on a line of its own."""
    if not metrics:
        return "_No metrics recorded (the run did not finish)._"
    table: dict[str, dict[str, Any]] = {}
    other: list[str] = []
    for key, value in metrics.items():
        stage, _, name = str(key).partition("/")
        if stage in STAGES and name:
            table.setdefault(name, {})[stage] = value
        else:
            other.append(f"- `{key}`: {_number(value)}")
    stages = [s for s in STAGES if any(s in by_stage for by_stage in table.values())]
    lines = []
    if table:
        lines += ["| metric | " + " | ".join(stages) + " |", "|---" * (len(stages) + 1) + "|"]
        for name, by_stage in table.items():
            cells = [_number(by_stage[s]) if s in by_stage else "" for s in stages]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines + other).strip()


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.0f}" if value.is_integer() and abs(value) >= 1000 else f"{value:.4g}"
    return json.dumps(value) if not isinstance(value, str) else value


def card_body(card: str) -> str:
    """A model card without its YAML front matter (the Hub's metadata, not for reading)."""
    return re.sub(r"\A---\n.*?\n---\n", "", card, count=1, flags=re.DOTALL).lstrip()
