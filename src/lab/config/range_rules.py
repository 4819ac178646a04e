"""One rule of `lab.config.ranges.RANGES`: its parser, what it accepts, and its words.

A rule is one or more alternatives joined by ` or `, then optionally ` ; ` and a note shown
with a refusal (what the special values mean):

    null            the value may be null
    bool            true or false
    text            any string (e.g. `trainer.devices=0,1`, which Lightning parses)
    'warn'          exactly that string
    -1              exactly that number
    > 0, >= 1       a number (int or float) compared with a bound
    in [0, 1)       a number in an interval; `[`/`]` include the bound, `(`/`)` exclude it
    int >= 1        `int` before a comparison or interval: an integer only (not 8.0, not true)

A number is finite in every numeric alternative: `beta=inf` passed "> 0" and the run diverged
(s27c M6), and no key of lab's takes an infinity or NaN.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

_NUMBER = r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:e-?\d+)?"
_BOUND = re.compile(rf"^(?P<int>int )?(?P<op>>=|<=|>|<) ?(?P<x>{_NUMBER})$")
_INTERVAL = re.compile(
    rf"^(?P<int>int )?in (?P<lo>[\[(])(?P<a>{_NUMBER}), ?(?P<b>{_NUMBER})(?P<hi>[\])])$"
)
_LITERAL_NUMBER = re.compile(rf"^{_NUMBER}$")
_LITERAL_WORD = re.compile(r"^'(?P<word>[^']+)'$")
_KINDS = {"null": "null", "bool": "true or false", "text": "a string"}


@dataclass(frozen=True)
class Alternative:
    """One way a value may be valid: a kind (`null`, `bool`, `text`, `word`, `number`), and
    for numbers, bounds and whether only integers count."""

    kind: str
    integer: bool = False
    low: float = -math.inf
    low_inclusive: bool = True
    high: float = math.inf
    high_inclusive: bool = True
    literal: float | None = None  # an exact number (-1)
    word: str | None = None  # an exact string ('warn')

    def accepts(self, value: Any) -> bool:
        """Whether `value` is valid by this alternative."""
        if self.kind == "null":
            return value is None
        if self.kind == "bool":
            return isinstance(value, bool)
        if self.kind == "text":
            return isinstance(value, str)
        if self.kind == "word":
            return value == self.word
        if not is_number(value) or (self.integer and not isinstance(value, int)):
            return False
        if not math.isfinite(value):
            return False
        if self.literal is not None:
            return bool(value == self.literal)
        above = value >= self.low if self.low_inclusive else value > self.low
        below = value <= self.high if self.high_inclusive else value < self.high
        return above and below


@dataclass(frozen=True)
class Rule:
    """A key pattern's valid values: the alternatives, their text, and a note."""

    pattern: str
    spec: str
    alternatives: tuple[Alternative, ...]
    note: str

    def problem(self, value: Any) -> str | None:
        """None when `value` is valid; otherwise what is wrong with it, in words."""
        if any(alternative.accepts(value) for alternative in self.alternatives):
            return None
        kinds = {a.kind for a in self.alternatives}
        numeric = [a for a in self.alternatives if a.kind == "number"]
        if is_number(value) and numeric and not math.isfinite(value):
            return "not finite"
        if is_number(value) and numeric and all(a.integer for a in numeric):
            return "out of range" if isinstance(value, int) else "not an integer"
        if is_number(value) and numeric:
            return "out of range"
        if value is None:
            return "not allowed"
        if self.switch():
            return "not true or false"
        if kinds <= {"text", "null"}:
            return "not a string"
        return "not a number" if numeric else "not valid"

    def switch(self) -> bool:
        """Whether the rule takes true or false only (null too, where it says so)."""
        return {a.kind for a in self.alternatives} in ({"bool"}, {"bool", "null"})

    def valid(self) -> str:
        """The valid values in words: `an integer >= 1`, `null or a number in [0, 1)`."""
        words = " or ".join(_describe(part.strip()) for part in self.spec.split(" or "))
        return f"{words} ({self.note})" if self.note else words


def parse_rule(pattern: str, text: str) -> Rule:
    """Parse one table entry; a malformed entry is a bug in the table (ValueError)."""
    spec, _, note = (part.strip() for part in text.partition(";"))
    return Rule(pattern, spec, tuple(_alternative(p.strip()) for p in spec.split(" or ")), note)


def is_number(value: Any) -> bool:
    """Whether `value` is an int or a float (a bool is neither)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _alternative(text: str) -> Alternative:
    if text in _KINDS:
        return Alternative(text)
    if match := _LITERAL_WORD.match(text):
        return Alternative("word", word=match["word"])
    if _LITERAL_NUMBER.match(text):
        return Alternative("number", literal=_number(text))
    if match := _BOUND.match(text):
        bound, op = _number(match["x"]), match["op"]
        if op in (">", ">="):
            return Alternative("number", bool(match["int"]), low=bound, low_inclusive=op == ">=")
        return Alternative("number", bool(match["int"]), high=bound, high_inclusive=op == "<=")
    if match := _INTERVAL.match(text):
        return Alternative(
            "number",
            bool(match["int"]),
            low=_number(match["a"]),
            low_inclusive=match["lo"] == "[",
            high=_number(match["b"]),
            high_inclusive=match["hi"] == "]",
        )
    raise ValueError(f"cannot parse range alternative {text!r}")


def _describe(text: str) -> str:
    if text in _KINDS:
        return _KINDS[text]
    if match := _LITERAL_WORD.match(text):
        return match["word"]
    if text.startswith("int "):
        return f"an integer {text.removeprefix('int ')}"
    return text if _LITERAL_NUMBER.match(text) else f"a number {text}"


def _number(text: str) -> float:
    value = float(text)
    return int(value) if value.is_integer() else value
