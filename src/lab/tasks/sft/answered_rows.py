"""A chat run's own data rows given to `lab.predict`: each conversation asked again without
its final answer, that answer kept beside the completion as `reference`.

A request (`lab.serve`, the chat API) ends with the user's turn and is answered. A file given
to `lab.predict` is often the run's test split, whose rows end with the assistant's answer in
one of the formats training reads (`messages`, `prompt` + `completion`, Alpaca's
`instruction` / `input` / `output`, ShareGPT's `conversations`: `lab.tasks.sft.chat`). Such a
row is read as evaluation reads it (`split_final_answer`): the turns before the last assistant
turn are the prompt and that turn is the reference, so `lab.predict` on the test file gives
the generations of the run's `test_report.json`. A row without its answer (a chat ending with
the user, a lone `prompt`) is read as a request is; so is a training row whose answer is empty
(Alpaca has 28 empty outputs; a CSV of prompts with an empty `completion` column): asked, with
no reference.

A DPO run's preference file is read as its training reads a pair (`lab.tasks.dpo.pairs`), by
the run's own column names (`data.prompt_column=question` for Orca's pairs): the prompt is
asked and the chosen completion is the reference; where chosen holds the whole conversation
(user turns included, as in UltraFeedback-binarized), its turns before the last assistant turn
are the prompt. The rejected side is not read.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from lab.tasks.sft.chat import (
    ChatError,
    EmptyAnswer,
    Message,
    detect_format,
    split_final_answer,
    to_messages,
)

#: What a data row reads as: (the turns asked, the final answer; None where it is empty), why
#: it cannot be read (a string), or None for a row that is a request.
Answered = tuple[list[Message], str | None] | str | None
# Stands in for an empty answer while the row is read: the turns before it are asked.
_NO_ANSWER = "\x00"
_ANSWER_FIELDS = {"prompt_completion": "completion", "alpaca": "output"}


def answered_chat(row: dict[str, Any]) -> Answered:
    """A row of one of SFT's formats (see the module)."""
    given = [field for field, value in row.items() if value is not None]
    try:
        form = detect_format(given)
    except ChatError:
        return None  # not a training row: the request's checks say what is missing
    if form == "messages" and isinstance(row["messages"], str):  # a CSV cell: its JSON
        try:
            row = {**row, "messages": json.loads(row["messages"])}
        except json.JSONDecodeError:
            return None  # the request's check names it
    try:
        messages = to_messages(row, form)
    except EmptyAnswer as err:
        if form not in _ANSWER_FIELDS:
            return _refused(err, form)
        try:  # asked without its (empty) answer
            messages = to_messages({**row, _ANSWER_FIELDS[form]: _NO_ANSWER}, form)
        except ChatError as other:
            return _refused(other, form)
    except ChatError as err:
        return None if form == "messages" else _refused(err, form)  # messages: a request
    return _split(messages)


def answered_pair(
    row: dict[str, Any],
    prompt_column: str | None,
    chosen_column: str,
    system_column: str | None = None,
) -> Answered:
    """A DPO run's preference row, by the run's columns (see the module; `system_column`: the
    run's `data.system_column`, its text the first turn as in training); None for a row
    without a chosen side (a request)."""
    chosen = row.get(chosen_column)
    if chosen is None or chosen == "":
        return _own_prompt(row, prompt_column)
    if isinstance(chosen, str) and chosen.lstrip().startswith("["):  # a CSV cell's JSON list
        with contextlib.suppress(json.JSONDecodeError):  # else refused as text below
            chosen = json.loads(chosen)
    prompt = row.get(prompt_column) if prompt_column else None
    whole = isinstance(chosen, list) and any(
        isinstance(turn, dict) and turn.get("role") == "user" for turn in chosen
    )
    try:
        if whole or prompt is None or prompt == "":
            messages = to_messages({"messages": chosen}, "messages")
        else:
            pair = {"prompt": prompt, "completion": chosen}
            messages = to_messages(pair, "prompt_completion")
    except ChatError as err:
        where = f"field '{chosen_column if err.column != 'prompt' else prompt_column}': "
        return f"{where}{err} (the row read as a preference pair)"
    system = row.get(system_column) if system_column else None
    if isinstance(system, str) and system.strip() and messages[0]["role"] != "system":
        messages = [{"role": "system", "content": system}, *messages]
    return _split(messages)


def _own_prompt(row: dict[str, Any], prompt_column: str | None) -> Answered:
    """A row of the run's own prompt column alone (`data.prompt_column=question`: new
    questions in the training schema), asked as a request's `prompt` is; None for other rows,
    which are requests (`prompt`, `messages`)."""
    if not prompt_column or prompt_column in ("prompt", "messages"):
        return None
    prompt = row.get(prompt_column)
    if prompt is None or prompt == "" or row.get("prompt") or row.get("messages"):
        return None
    try:
        asked = to_messages({"prompt": prompt, "completion": _NO_ANSWER}, "prompt_completion")
    except ChatError as err:
        return f"field '{prompt_column}': {err} (the run's data.prompt_column)"
    return asked[:-1], None


def _split(messages: list[Message]) -> Answered:
    """The turns before the last assistant turn, and its text (None: it stood for an empty
    answer); None where the conversation does not end with an answer (a request)."""
    if messages[-1]["role"] != "assistant":
        return None
    asked, answer = split_final_answer(messages)
    if not any(turn["role"] == "user" for turn in asked):
        return "the conversation has no user turn before its final answer"
    return asked, None if answer == _NO_ANSWER else answer


def _refused(err: ChatError, form: str) -> str:
    """Why a row of data format `form` cannot be read, naming its field."""
    where = f"field '{err.column}': " if err.column else ""
    return f"{where}{err} (the row read as data.format={form})"
