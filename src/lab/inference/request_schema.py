"""The field types of `lab.serve`'s `/predict` request, and its 422 error entries.

A field that takes two forms (a list of words or that list as a JSON string; an `id` that is
a string or an integer) is one plain validator here, not a pydantic Union: a Union reports
every arm it tried, each under its internal type name (`list[function-after[...]]`), which
tells a client nothing it can act on. One message names the field and what it must be.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import AfterValidator, PlainValidator, StringConstraints
from pydantic_core import PydanticCustomError

EXCERPT = 80  # characters of an input quoted back in an error
#: the tags `lab.serve` gives its one-input / batch forms: not part of the client's body
FORM_TAGS = ("single", "batch")


def not_blank(value: str) -> str:
    """`value`, refused when empty or only whitespace (one message for both)."""
    if not value.strip():
        raise ValueError("must not be empty or only whitespace")
    return value


def text_type(max_length: int) -> Any:
    """A text field: a string of at most `max_length` characters, not blank. No
    `min_length`: an empty string gets the same message as a blank one."""
    return Annotated[str, StringConstraints(max_length=max_length), AfterValidator(not_blank)]


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
                "string_too_long", f"field '{name}': each string at most {max_length} characters"
            )
        return words

    return Annotated[Any, PlainValidator(check, json_schema_input_type=list[str] | str)]


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
                "string_too_long", f"field '{name}' must be at most {max_length} characters"
            )
        return value

    return Annotated[Any, PlainValidator(check, json_schema_input_type=str | int)]


def short_error(error: Any) -> dict[str, Any]:
    """A pydantic error as `lab.serve` answers it: type, location, message, an excerpt of the
    input (never the whole input). The location is the body's own: `["body", "inputs",
    <index>, <field>]` or `["body", <field>]`, without the tag pydantic puts in for the
    one-input / batch form (the tag is the server's, not a key of the body)."""
    short = {key: error[key] for key in ("type", "msg") if key in error}
    loc = list(error.get("loc", ()))
    if loc[:1] == ["body"] and len(loc) > 1 and loc[1] in FORM_TAGS:
        del loc[1]
    # A location names the keys of the input; an unknown key may be as long as any text.
    short["loc"] = [excerpt(part) for part in loc]
    if "input" in error:
        short["input"] = excerpt(error["input"])
    return short


def excerpt(value: Any) -> Any:
    """`value` itself when short; else its first `EXCERPT` characters and its full size."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if len(text) <= EXCERPT:
        return value
    return f"{text[:EXCERPT]}... ({len(text)} characters)"
