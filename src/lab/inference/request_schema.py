"""The field types of `lab.serve`'s `/predict` request, and its 422 error entries.

A field that takes two forms (a list of words or that list as a JSON string; an `id` that is
a string or an integer) is one plain validator here, not a pydantic Union: a Union reports
every arm it tried, each under its internal type name (`list[function-after[...]]`), which
tells a client nothing it can act on. One message names the field and what it must be.

A chat's `messages` is checked by `first_message_problem`, shared with the OpenAI chat route
(`lab.inference.chat_request`): the first bad message, named by its place, after what a
message must be.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from lab.tasks.sft.chat import ROLES  # the roles training accepts: a served chat takes the same

EXCERPT = 80  # characters of an input quoted back in an error
#: the tags `lab.serve` gives its one-input / batch forms: not part of the client's body
FORM_TAGS = ("single", "batch")


def not_blank(value: str) -> str:
    """`value`, refused when empty or only whitespace (one message for both)."""
    if not value.strip():
        raise ValueError("must not be empty or only whitespace")
    return value


def length_limit(max_length: int) -> str:
    """Where a text's limit of `max_length` characters comes from, for its 422 (s26b M7:
    pydantic's own message named no setting, and the same text went through lab.predict)."""
    return (
        f"the server's max_text_length={max_length}: start lab.serve with a larger "
        "max_text_length= for longer texts; lab.predict has no such limit"
    )


def batch_type(item: Any, max_items: int) -> Any:
    """A batch's `inputs`: 1 to `max_items` rows of `item`; over the limit, the 422 names the
    setting as a text's does (`length_limit`; s31g-3: pydantic's "List should have at most 32
    items after validation" named none). The schema still says `maxItems`."""

    def few_enough(rows: Any) -> Any:  # before the rows are read: one error for the batch
        if isinstance(rows, list) and len(rows) > max_items:
            raise PydanticCustomError(
                "too_long",
                f"List should have at most {max_items} items, not {len(rows)} (the server's "
                f"max_batch_size={max_items}: start lab.serve with a larger max_batch_size=, or "
                "send the rows in several requests; lab.predict has no such limit)",
            )
        return rows

    return Annotated[
        list[item],  # type: ignore[valid-type]
        Field(min_length=1, json_schema_extra={"maxItems": max_items}),
        BeforeValidator(few_enough),
    ]


def text_type(max_length: int) -> Any:
    """A text field: a string of at most `max_length` characters (the message names the
    setting, `length_limit`; the schema says `maxLength`), not blank. No `min_length`: an
    empty string gets the same message as a blank one."""

    def short_enough(value: str) -> str:
        if len(value) > max_length:
            raise PydanticCustomError(
                "string_too_long",
                f"String should have at most {max_length} characters ({length_limit(max_length)})",
            )
        return value

    return Annotated[
        str,
        AfterValidator(short_enough),
        AfterValidator(not_blank),
        WithJsonSchema({"type": "string", "maxLength": max_length}),
    ]


def word_list_type(name: str, max_length: int) -> Any:
    """A list field (NER's words, multiple choice's endings): a non-empty list of non-blank
    strings, or that list as a JSON string (a CSV cell's form), validated to the list."""
    wanted = (
        f"field '{name}' must be a non-empty list of non-blank strings "
        "(or that list as a JSON string)"
    )

    def check(value: Any) -> list[str]:
        words = value
        if isinstance(value, str):
            try:
                words = json.loads(value)
            except json.JSONDecodeError:
                raise PydanticCustomError("value_error", wanted) from None
        if not isinstance(words, list) or not words:
            raise PydanticCustomError("value_error", wanted)
        if not all(isinstance(word, str) and word.strip() for word in words):
            raise PydanticCustomError("value_error", wanted)
        if any(len(word) > max_length for word in words):
            raise PydanticCustomError(
                "string_too_long",
                f"field '{name}': each string at most {max_length} characters "
                f"({length_limit(max_length)})",
            )
        return words

    return Annotated[Any, PlainValidator(check, json_schema_input_type=list[str] | str)]


def text_dict_type(name: str, max_length: int) -> Any:
    """A `{key: text}` field (a translation run's own column, `{"en": "...", "ro": "..."}`):
    a non-empty object of strings at most `max_length` characters each. Which key the run
    reads, and whether its text is blank, is the predictor's `check` (its words, per row)."""
    wanted = f'field \'{name}\' must be an object of texts, e.g. {{"en": "..."}}'

    def check(value: Any) -> dict[str, str]:
        if not isinstance(value, dict) or not value:
            raise PydanticCustomError("value_error", wanted)
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise PydanticCustomError("value_error", wanted)
        if any(len(v) > max_length for v in value.values()):
            raise PydanticCustomError(
                "string_too_long",
                f"field '{name}': each text at most {max_length} characters "
                f"({length_limit(max_length)})",
            )
        return value

    return Annotated[Any, PlainValidator(check, json_schema_input_type=dict[str, str])]


def id_type(name: str, max_length: int) -> Any:
    """An input's `id`, echoed in its result: a string (at most `max_length` characters) or
    an integer (not a boolean, which JSON tells apart)."""

    def check(value: Any) -> str | int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if not isinstance(value, str):
            raise PydanticCustomError(
                "value_error", f"field '{name}' must be a string or an integer"
            )
        if len(value) > max_length:
            raise PydanticCustomError(
                "string_too_long",
                f"field '{name}' must be at most {max_length} characters "
                f"({length_limit(max_length)})",
            )
        return value

    return Annotated[Any, PlainValidator(check, json_schema_input_type=str | int)]


def messages_wanted(roles: tuple[str, ...] = ROLES, content: str = "a string") -> str:
    """What a chat's `messages` must be, in words (`content`: what a message's content is)."""
    return (
        'a non-empty list of {"role", "content"} objects '
        f"(role: {', '.join(roles)}; content: {content})"
    )


def first_message_problem(
    value: Any, roles: tuple[str, ...] = ROLES, *, parts: bool = False
) -> tuple[tuple[int | str, ...], str] | None:
    """Where under the field and what is wrong with the first bad message of `value` (a
    decoded JSON list of `{"role", "content"}` objects), or None when every message is good.

    The place is `()` for the list itself, `(i, key)` inside message `i`, `(i, "content", j,
    key)` inside one of its text parts; the text names the message by its index. `parts`:
    a content may also be a list of `{"type": "text", "text": ...}` parts (OpenAI's form).
    """
    if not isinstance(value, list):
        return (), f"found {kind_of(value)}"
    if not value:
        return (), "found an empty list"
    for i, message in enumerate(value):
        if not isinstance(message, dict):
            return (i,), f"message {i} is {kind_of(message)}"
        for key in ("role", "content"):
            if key not in message:
                return (i, key), f"message {i} has no '{key}'"
        # The role before other keys: a tool message's `tool_call_id` is not the real reason.
        role = message["role"]
        if not isinstance(role, str):
            return (i, "role"), f"message {i}'s role is {kind_of(role)}"
        if role not in roles:
            return (i, "role"), f"message {i} has role {role[:40]!r}"
        other = [key for key in message if key not in ("role", "content")]
        if other:
            keys = ", ".join(repr(excerpt(str(key))) for key in other)
            return (i, other[0]), f"message {i} has other keys ({keys}): only role and content"
        problem = _content_problem(i, message["content"], parts)
        if problem is not None:
            return problem
    return None


def _content_problem(i: int, content: Any, parts: bool) -> tuple[tuple[int | str, ...], str] | None:
    if isinstance(content, str):
        return None
    if not parts or not isinstance(content, list):
        return (i, "content"), f"message {i}'s content is {kind_of(content)}"
    for j, part in enumerate(content):
        where = f"message {i} content part {j}"
        if not isinstance(part, dict):
            return (i, "content", j), f"{where} is {kind_of(part)}"
        # Images, audio, files: the model reads text only, so they are refused, not dropped.
        if part.get("type", "text") != "text":
            shown = excerpt(str(part["type"]))
            return (i, "content", j, "type"), f"{where} has type {shown!r}: only 'text'"
        other = [key for key in part if key not in ("type", "text")]
        if other:
            return (i, "content", j, other[0]), f"{where} has other keys: only type and text"
        if not isinstance(part.get("text"), str):
            return (i, "content", j, "text"), f"{where} has no 'text' string"
    return None


def message_list_type(name: str, max_length: int, roles: tuple[str, ...] = ROLES) -> Any:
    """A chat field (`messages`): a non-empty list of `{"role", "content"}` objects, no other
    keys, `role` one of `roles`, `content` a string of at most `max_length` characters; or
    that list as a JSON string (a CSV cell's form), validated to the list."""
    wanted = f"field '{name}' must be {messages_wanted(roles)}, or that list as a JSON string"

    def check(value: Any) -> list[dict[str, str]]:
        messages = value
        if isinstance(value, str):
            try:
                messages = json.loads(value)
            except json.JSONDecodeError:
                raise PydanticCustomError(
                    "value_error", f"{wanted}; found text that is not JSON"
                ) from None
        problem = first_message_problem(messages, roles)
        if problem is not None:
            raise PydanticCustomError("value_error", f"{wanted}; {problem[1]}")
        for i, message in enumerate(messages):
            if len(message["content"]) > max_length:
                raise PydanticCustomError(
                    "string_too_long",
                    f"field '{name}': message {i} has content over {max_length} characters "
                    f"({length_limit(max_length)})",
                )
        return [{"role": m["role"], "content": m["content"]} for m in messages]

    return Annotated[Any, PlainValidator(check, json_schema_input_type=list[ChatMessage] | str)]


class ChatMessage(BaseModel):
    """One message of a served chat, as the OpenAPI page shows it (`message_list_type`
    checks a request's messages itself, for one error per mistake)."""

    model_config = ConfigDict(extra="forbid")
    role: str
    content: str


def kind_of(value: Any) -> str:
    """What a decoded JSON `value` is, in JSON's words ("a string", "an object", ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def short_error(error: Any) -> dict[str, Any]:
    """A pydantic error as `lab.serve` answers it: type, location, message, an excerpt of the
    input (never the whole input). The location is the body's own: `["body", "inputs",
    <index>, <field>]` or `["body", <field>]`, without the tag pydantic puts in for the
    one-input / batch form (the tag is the server's, not a key of the body)."""
    short = {key: error[key] for key in ("type", "msg") if key in error}
    loc = list(error.get("loc", ()))
    if error.get("type") == "json_invalid":  # FastAPI's bare "JSON decode error" (s31g-3)
        short["msg"] = json_message(loc[-1], error.get("ctx", {}).get("error", ""))
        return {**short, "loc": loc}
    if loc[:1] == ["body"] and len(loc) > 1 and loc[1] in FORM_TAGS:
        del loc[1]
    # A location names the keys of the input; an unknown key may be as long as any text.
    short["loc"] = [excerpt(part) for part in loc]
    if "input" in error:
        short["input"] = excerpt(error["input"])
    return short


def json_message(position: Any, reason: str) -> str:
    """A body that is not JSON, in lab's words: `not valid JSON: Unterminated string starting
    at character 13` (`position`: json's offset in the body, from 0, as its own "(char 13)")."""
    from lab.data.origins import json_reason

    return f"not valid JSON: {json_reason(reason, f'character {position}')}"


def excerpt(value: Any) -> Any:
    """`value` itself when short; else its first `EXCERPT` characters and its full size."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if len(text) <= EXCERPT:
        return value
    return f"{text[:EXCERPT]}... ({len(text)} characters)"
