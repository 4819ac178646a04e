"""Running text split into the words an NER run tags (`lab.tasks.token_predictor`).

A token-classification run trains on given words (a CoNLL-style file's `tokens`) and tags
each by its first subword. Text given to `lab.predict` / `lab.serve` is split into words the
way such files hold theirs, then tagged exactly as given words, so a sentence and its words
give the same entities whatever the tokenizer:

* at whitespace;
* punctuation at a word's edges is a word of its own (`Paris!` -> `Paris`, `!`; `(Acme)` ->
  `(`, `Acme`, `)`), punctuation inside a word stays in it (`Jean-Pierre`, `S&P`, `O'Neil`,
  `5,000`), and a final period stays in an abbreviation of dotted parts (`U.S.`, `e.g.`), as
  CoNLL-2003 and OntoNotes write them;
* each CJK ideograph is a word of its own (character-level Chinese NER data, and BERT's
  pre-tokenizer);
* combining marks and format characters stay with what they follow (NFD accents, an
  ideograph's variation selector, a flag's tag characters); a word of format characters
  alone (a zero-width space between spaces) is none.

Punctuation is Unicode's (category P) and the ASCII symbols BERT's pre-tokenizer counts
(`$`, `+`, `<`, `=`, `>`, `^`, `` ` ``, `|`, `~`). Tokenizations that differ (CoNLL's
`Germany 's`, `Corp.`) are what `tokens` are for: give the words themselves.
"""

from __future__ import annotations

import regex

_PUNCTUATION = regex.compile(r"[!-/:-@\[-`{-~\p{P}]")
_CJK = r"\u3400-\u4DBF\u4E00-\u9FFF\uF900-\uFAFF\U00020000-\U0002FA1F"
# A whitespace-free run: an ideograph with its marks, or a stretch without ideographs.
_PIECE = regex.compile(rf"[{_CJK}][\p{{M}}\p{{Cf}}]*|[^\s{_CJK}]+")
_INVISIBLE = regex.compile(r"[\p{Cf}\p{Cc}]+")
_ABBREVIATION = regex.compile(r"(?:\w+\.){2,}")  # U.S., e.g., a.m.


def text_words(text: str) -> list[tuple[int, int]]:
    """The words of running text (see the module) as (start, end) character offsets."""
    words: list[tuple[int, int]] = []
    for piece in _PIECE.finditer(text):
        if _INVISIBLE.fullmatch(piece.group()):
            continue
        words += _peeled(text, *piece.span())
    return words


def _peeled(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The run `text[start:end]` with the punctuation at its edges made words of their own."""
    leading: list[tuple[int, int]] = []
    while start < end and _PUNCTUATION.match(text, start):
        leading.append((start, start + 1))
        start += 1
    trailing: list[tuple[int, int]] = []
    while start < end and _PUNCTUATION.match(text, end - 1):
        if _ABBREVIATION.fullmatch(text, start, end):
            break  # an abbreviation's final period (`U.S.`)
        trailing.append((end - 1, end))
        end -= 1
    middle = [(start, end)] if start < end else []
    return leading + middle + trailing[::-1]
