"""Given words (a row's `tokens`) as a token-classification model reads them: one encoding for
training and prediction, and the entities in word tags.

`TokenClassificationDataModule.tokenize` (training, lab.eval) and the predictor of `lab.predict`
/ `lab.serve` on given words (`lab.tasks.token_predictor`) both encode with `encode_words`, so a
word has the same subwords, the same first subword (the one whose tag is the word's) and the
same truncation (`data.max_length`) in both: the word tags the metrics score are the word tags
the predictor reads. `word_entities` groups word tags into entities as the metrics read them.
Light: no torch, no Lightning.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import BatchEncoding, PreTrainedTokenizerBase


def encode_words(
    tokenizer: PreTrainedTokenizerBase, words: Sequence[Sequence[str]], max_length: int
) -> BatchEncoding:
    """Rows of given words as subword ids (`is_split_into_words`, truncated at `max_length`,
    not padded): `word_ids(i)` maps row i's positions to its words.

    A word the tokenizer reads as nothing (a zero-width space, a soft hyphen, an emoji
    variation selector) would have no subword to carry its tag: its gold tag would vanish from
    training and from the scored entities, and the predictor could not tag it. It is read as
    the unknown token instead, so every word before the cut has a subword."""
    encoded = _encode(tokenizer, words, max_length)
    unknown = tokenizer.unk_token
    silent = [
        wordless(encoded.word_ids(i), len(row), is_full(encoded, i, max_length))
        for i, row in enumerate(words)
    ]
    if unknown is None or not any(silent):
        return encoded
    replaced = [
        [unknown if j in gone else word for j, word in enumerate(row)]
        for row, gone in zip(words, silent, strict=True)
    ]
    return _encode(tokenizer, replaced, max_length)


def _encode(
    tokenizer: PreTrainedTokenizerBase, words: Sequence[Sequence[str]], max_length: int
) -> BatchEncoding:
    return tokenizer(
        [list(row) for row in words],
        is_split_into_words=True,
        truncation=True,
        max_length=max_length,
    )


def is_full(encoded: BatchEncoding, row: int, max_length: int) -> bool:
    """Whether row `row` of an unpadded `encode_words` output is `max_length` long, so the
    truncation may have cut words off its end (`lab.tasks.token_cut`)."""
    return len(encoded["input_ids"][row]) >= max_length


def wordless(word_ids: Sequence[int | None], words: int, full: bool) -> set[int]:
    """The words of a row of `words` words that got no subword in its encoding (`word_ids`).
    `full`: the encoding is `max_length` long, so it may have been cut: words after the last
    one present count as truncated (`lab.tasks.token_cut`), not as wordless."""
    present = {w for w in word_ids if w is not None}
    end = (max(present) + 1 if present else 0) if full else words
    return set(range(end)) - present


def first_subwords(word_ids: Sequence[int | None], words: int) -> list[int | None]:
    """The position of each of `words` words' first subword in an encoding (`word_ids`), or
    None for a word without one (past the truncation)."""
    first: list[int | None] = [None] * words
    for position, word in enumerate(word_ids):
        if word is not None and first[word] is None:
            first[word] = position
    return first


def word_entities(
    words: Sequence[str], tags: Sequence[str], scores: Sequence[float]
) -> list[dict[str, Any]]:
    """The entities in one row's word tags (a tag and a score per word of `words`).

    Grouped as the token-classification pipeline groups its words (so text and given words
    give the same entities where their words agree): a B-X tag starts an entity, an I-X tag
    continues an X entity just before it and starts one otherwise (after O or another type),
    and `O` is no entity. For IOB tags this is how the metrics (seqeval's default mode,
    conlleval) read them: the entities are those the test F1 scores. Tags of no IOB scheme (POS)
    group runs of one tag, as the pipeline does.

    Each entity: `type`, `text` (its words joined with single spaces), `start` / `end`
    (character offsets into the row's words joined with single spaces) and `score` (the mean
    of its words' scores).
    """
    return span_entities(" ".join(words), joined_spans(words), tags, scores)


def joined_spans(words: Sequence[str]) -> list[tuple[int, int]]:
    """Each word's character offsets in `words` joined with single spaces: the spans given
    words are reported at, entities and words alike."""
    spans, position = [], 0
    for word in words:
        spans.append((position, position + len(word)))
        position += len(word) + 1
    return spans


def tagged_words(
    words: Sequence[str], tags: Sequence[str | None], spans: Sequence[tuple[int, int]]
) -> list[dict[str, Any]]:
    """Each word of a row with its own tag (`lab.predict`'s `words`: one tag per word, for POS
    and any tag set, where `entities` groups runs of tags): `text`, `tag` (None for a word the
    model did not read, past the cut), `start` / `end` (the word's character offsets: in the
    given text, or, for words given as a list, in the words joined with single spaces, as the
    entities' are: `joined_spans`)."""
    return [
        {"text": word, "tag": tag, "start": start, "end": end}
        for word, tag, (start, end) in zip(words, tags, spans, strict=True)
    ]


def span_entities(
    text: str,
    spans: Sequence[tuple[int, int]],
    tags: Sequence[str],
    scores: Sequence[float],
) -> list[dict[str, Any]]:
    """The entities of the words of `text` at `spans` (character offsets), grouped from their
    tags as `word_entities` says: `text` is `text[start:end]` from the first word's start to the
    last word's end."""
    entities = []
    for kind, group in tag_groups(tags):
        start, end = spans[group[0]][0], spans[group[-1]][1]
        entities.append(
            {
                "type": kind,
                "text": text[start:end],
                "start": start,
                "end": end,
                "score": sum(scores[i] for i in group) / len(group),
            }
        )
    return entities


def tag_groups(tags: Sequence[str]) -> list[tuple[str, list[int]]]:
    """(type, word indices) of each entity in a row's word tags (see `word_entities`); `O`
    words are in none."""
    groups: list[list[int]] = []
    last = ("", "")
    for index, tag in enumerate(tags):
        part = _tag_part(tag)
        if groups and part[1] == last[1] and part[0] != "B":
            groups[-1].append(index)
        else:
            groups.append([index])
        last = part
    # The type by the same rule that grouped the words: `-LRB-` (PTB) stays `-LRB-`.
    found = [(_tag_part(tags[group[0]])[1], group) for group in groups]
    return [(kind, group) for kind, group in found if kind != "O"]  # the pipeline's ignored


def _tag_part(tag: str) -> tuple[str, str]:
    """("B" or "I", type) of a tag, as the pipeline splits it: a tag without a B-/I- prefix
    (`O`, a POS tag, PTB's `-LRB-`) is its own type and continues a run of itself."""
    if tag.startswith(("B-", "I-")):
        return tag[0], tag[2:]
    return "I", tag
