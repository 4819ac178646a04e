"""Hydra's lexer error for a non-ASCII value on the command line, as lab's one line (and for an
ASCII value it reads only quoted, such as a home path's `~`).

Hydra's override grammar reads an unquoted value as ASCII only (letters, digits and a few
symbols), so `data.text_column=评论`, `data.path=数据/评论.csv` or `data.label_names=[positif,
négatif]` end with "LexerNoViableAltException: ..." and a caret. A quoted value takes any
character: `'data.text_column="评论"'` (double quotes for Hydra, single quotes for the shell),
and in a list or a sweep each value is quoted: `'data.label_names=["正面","负面"]'`. The line
names the override and gives that form, checked by Hydra's parser before it is offered.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator

# The first line of Hydra's message for an override its lexer cannot read; the caret line and
# the link to Hydra's grammar page follow.
LEXER_ERROR = re.compile(r"^LexerNoViableAltException: (?P<override>[^\n]*)")
RULE = "Hydra's command-line grammar takes non-ASCII characters only inside quotes"
# Where no quoted form parses (a non-ASCII dictionary key: `x={正面:1}`), the rule alone.
UNFORMED = "each non-ASCII value (\"...\") and the whole override ('...') for the shell"
KEY_RULE = "Hydra's command-line grammar takes ASCII keys only (quotes are for values)"
# Hydra's grammar functions whose arguments are values (`choice(a,b)`, `range(1,5)`...).
FUNCTION = re.compile(r"^(?P<name>[A-Za-z_]\w*)\((?P<arguments>.*)\)$", re.S | re.A)


def non_ascii_override_line(message: str) -> str | None:
    """For Hydra's lexer error on an override holding non-ASCII characters, one line naming
    it and the quoted form that Hydra reads (`'data.text_column="评论"'`); None for any other
    message (the caller keeps Hydra's)."""
    found = LEXER_ERROR.match(message.strip())
    if found is None:
        return None
    override = found["override"]
    if override.isascii():
        return _ascii_override_line(override)
    key, sep, value = override.partition("=")
    if not key.isascii():
        return f"{override}: {KEY_RULE}"
    if not sep or not _unquoted_non_ascii(value):
        return None  # the lexer stopped at something else
    new = quoted(value)
    fixed = f"{key}={new}"
    if not _parses(fixed):
        return f"{override}: {RULE}; quote {UNFORMED}"
    whole = new in (f'"{value.strip()}"', _single_quoted(value.strip()))
    return f"{override}: {RULE}; quote {'the' if whole else 'each'} value: {shlex.quote(fixed)}"


def _ascii_override_line(override: str) -> str | None:
    """An ASCII value the lexer stops at (a leading `~` of a home path, which zsh and quoted
    scripts leave to lab: `data.path=~/data/x.csv`): the line with the quoted form, where the
    whole value quoted parses (lab expands `~` in paths); None otherwise."""
    key, sep, value = override.partition("=")
    text = value.strip()
    if not sep or not text or _is_quoted(text) or '"' in text or not key.strip():
        return None
    fixed = f'{key}="{text}"'
    if not _parses(fixed):
        return None
    return (
        f"{override}: Hydra's command-line grammar reads this value only inside quotes; "
        f"quote it: {shlex.quote(fixed)}"
    )


def quoted(value: str) -> str:
    """`value` with each of its unquoted values that holds a non-ASCII character in double
    quotes: `评论` -> `"评论"`, `[正面,负面]` -> `["正面","负面"]`, a sweep `a,é` -> `a,"é"`,
    `choice(正面,负面)` -> `choice("正面","负面")`; quoted and ASCII values unchanged."""
    text = value.strip()
    if _is_quoted(text) or not _unquoted_non_ascii(text):
        return text
    for opening, closing in ("[]", "{}"):
        if text.startswith(opening) and text.endswith(closing):
            inner = _elements(text[1:-1])
            parts = [_entry(part) if opening == "{" else quoted(part) for part in inner]
            return opening + ",".join(parts) + closing
    function = FUNCTION.match(text)
    if function and _elements(function["arguments"]) != []:
        arguments = [_argument(part) for part in _elements(function["arguments"])]
        return f"{function['name']}({','.join(arguments)})"
    elements = _elements(text)
    if len(elements) > 1:  # a sweep: `key=a,b`
        return ",".join(quoted(part) for part in elements)
    return f'"{text}"' if '"' not in text else _single_quoted(text)


def _single_quoted(text: str) -> str:
    return "'" + text.replace("'", "\\'") + "'"


def _entry(part: str) -> str:
    """A dictionary entry `key:value` with its value quoted (a key cannot be)."""
    key, sep, value = _split_top(part, ":")
    return f"{key.strip()}:{quoted(value)}" if sep else quoted(part)


def _argument(part: str) -> str:
    """A function argument, keyword (`list=[...]`) or not, with its value quoted."""
    name, sep, value = _split_top(part, "=")
    if sep and name.strip().isidentifier():
        return f"{name.strip()}={quoted(value)}"
    return quoted(part)


def _elements(text: str) -> list[str]:
    """`text` split at its top-level commas (not inside quotes, brackets or parentheses),
    each part stripped; `[]` for nothing but white space."""
    parts, rest = [], text
    while True:
        head, sep, rest = _split_top(rest, ",")
        parts.append(head.strip())
        if not sep:
            break
    return [] if parts == [""] else parts


def _outside_quotes(text: str) -> Iterator[tuple[int, str]]:
    """Each (index, character) of `text` outside quoted strings (the quotes themselves too)."""
    quote = ""
    for index, char in enumerate(text):
        if quote:
            if char == quote and text[index - 1] != "\\":
                quote = ""
            continue
        if char in "'\"":
            quote = char
        yield index, char


def _split_top(text: str, separator: str) -> tuple[str, str, str]:
    """`str.partition` at the first `separator` outside quotes, brackets and parentheses."""
    depth = 0
    for index, char in _outside_quotes(text):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == separator and depth == 0:
            return text[:index], separator, text[index + 1 :]
    return text, "", ""


def _is_quoted(text: str) -> bool:
    return len(text) >= 2 and text[0] == text[-1] and text[0] in "'\""


def _unquoted_non_ascii(text: str) -> bool:
    """Whether `text` holds a non-ASCII character outside quoted strings."""
    return any(not char.isascii() for _, char in _outside_quotes(text))


def _parses(override: str) -> bool:
    """Whether Hydra's override parser reads `override`."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        OverridesParser.create().parse_override(override)
    except Exception:  # Hydra's parse errors have several types: any means no
        return False
    return True
