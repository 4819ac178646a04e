"""The request of `POST /v1/chat/completions` (`lab.inference.chat_api`): its fields, and its
checks, answered as one 422 in OpenAI's error shape.

OpenAI's clients show `{"error": {"message", "type", "param"}}` to the user, so a bad request
gets one such error naming the field (`param`, e.g. `messages.0.role`), never pydantic's list
of every union arm it tried. `messages` is checked first, by the same rules as `/predict`'s
(`lab.inference.request_schema.first_message_problem`), a content may also be a list of text
parts; then the other fields by the pydantic model, the deepest error first.
"""

# No `from __future__ import annotations`: pydantic reads the models' annotations at run time.

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lab.inference.request_schema import first_message_problem, messages_wanted

CONTENT = 'a string or a list of {"type": "text", "text"} parts'
# How pydantic names the branches of the request's unions in an error's location.
_UNION_BRANCHES = frozenset({"str", "list[Part]", "list[str]"})


class Part(BaseModel):
    """A text part of a message's content (images, audio, files: the model reads text only)."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["text"] = "text"
    text: str


class Message(BaseModel):
    """One chat message. No `name`, no tool calls: a template would drop them, so they are
    refused instead."""

    model_config = ConfigDict(extra="forbid")
    role: str
    content: str | list[Part]


class StreamOptions(BaseModel):
    """`stream_options`: only `include_usage`."""

    model_config = ConfigDict(extra="forbid")
    include_usage: bool = False


class ChatRequest(BaseModel):
    """The served fields of OpenAI's chat request. Unknown fields are refused (422 names
    them): a client asking for tools or logprobs must not get an answer that silently lacks
    them. `model` may name anything, or be left out: the run's model answers. Strict types
    (no `"5"` for 5, no `"yes"` for true): a value of the wrong type is a client's mistake
    to hear about, not to guess at."""

    model_config = ConfigDict(extra="forbid", strict=True)
    model: str | None = None
    messages: list[Message] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    n: int = Field(default=1, ge=1, le=1)
    seed: int | None = None
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = None


def parse_chat_request(body: bytes) -> ChatRequest | tuple[str, str | None]:
    """The request in `body`, or what is wrong with it: `(message, param)`, one error."""
    try:
        decoded = json.loads(body)
    except ValueError as err:  # not JSON, or not UTF-8
        return f"the request body is not JSON: {str(err)[:200]}", None
    if isinstance(decoded, dict) and "messages" in decoded:
        problem = first_message_problem(decoded["messages"], parts=True)
        if problem is not None:
            where, reason = problem
            param = ".".join(str(part) for part in ("messages", *where))
            return f"messages must be {messages_wanted(content=CONTENT)}; {reason}", param
    try:
        request = ChatRequest.model_validate_json(body)
    except ValidationError as err:
        # The deepest error is the most specific; pydantic's names of union branches are
        # left out of its place.
        first = max(err.errors(), key=lambda e: len(e.get("loc", ())))
        loc = [part for part in first.get("loc", ()) if part not in _UNION_BRANCHES]
        if not loc:
            return f"the request body: {first.get('msg', 'invalid')}", None
        param = ".".join(str(part) for part in loc)
        return f"{param}: {first.get('msg', 'invalid')}", param
    if request.stream_options is not None and not request.stream:  # as OpenAI refuses it
        return "stream_options: only allowed when stream is true", "stream_options"
    return request


def error_response(message: str, param: str | None) -> Any:
    """A 422 in OpenAI's error shape (its clients raise `UnprocessableEntityError` with it)."""
    from fastapi.responses import JSONResponse

    body = {"message": message, "type": "invalid_request_error", "param": param, "code": None}
    return JSONResponse(status_code=422, content={"error": body})
