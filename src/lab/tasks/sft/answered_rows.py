"""A chat run's own data rows given to `lab.predict`: each conversation asked again without
its final answer, that answer kept beside the completion as `reference`.

A request (`lab.serve`, the chat API) ends with the user's turn and is answered. A file given
to `lab.predict` is often the run's test split, whose rows end with the assistant's answer in
one of the formats training reads (`messages`, `prompt` + `completion`, Alpaca's
`instruction` / `input` / `output`, ShareGPT's `conversations`: `lab.tasks.sft.chat`). Such a
row is read as evaluation reads it (`split_final_answer`): the turns before the last assistant
turn are the prompt and that turn is the reference, so `lab.predict` on the test file gives
the generations of the run's `test_report.json`. A row without its answer (a chat ending with
the user, a lone `prompt`) is read as a request is.
"""

from __future__ import annotations

import json
from typing import Any

from lab.tasks.sft.chat import ChatError, Message, detect_format, split_final_answer, to_messages


def answered_chat(row: dict[str, Any]) -> tuple[list[Message], str] | str | None:
    """(the turns asked, the final answer) of a data row that ends with its answer, why such a
    row cannot be read (a string), or None for a row that is a request (see the module)."""
    given = [field for field, value in row.items() if value is not None and value != ""]
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
    except ChatError as err:
        if form == "messages":
            return None  # e.g. no assistant turn: a request, checked as one
        where = f"field '{err.column}': " if err.column else ""
        return f"{where}{err} (the row read as data.format={form})"
    if messages[-1]["role"] != "assistant":
        return None
    asked, answer = split_final_answer(messages)
    if not any(turn["role"] == "user" for turn in asked):
        return "the conversation has no user turn before its final answer"
    return asked, answer
