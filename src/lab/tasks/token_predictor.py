"""What `lab.predict`, `lab.serve` and the demo do with a token-classification (NER) run.

`TokenClassificationPredictor` returns each row's entities with character spans, and each word
with its own tag (`words`, one tag per word: what a POS run reads). A row gives either `text`
(a string) or the run's tokens column (`data.tokens_column`: given words, the test file's own
form). Both are tagged as training and the metrics tag words: encoded by the
same function (`lab.tasks.token_words.encode_words`: `is_split_into_words`, a word the
tokenizer reads as nothing read as the unknown token), each word's tag that of its first
subword, the tags grouped into entities as the metrics read them. So `lab.predict`'s entities
on the test file's words are those the run's test F1 scores, and a given word is one word
whatever punctuation it holds (`U.S.`, `Jean-Pierre`, `1-0`, `S&P`); words past
`data.max_length` subwords are `O` there, as the metrics count them.

Text is first split into words the way CoNLL-style files hold theirs (`lab.tasks.text_words`:
at whitespace, punctuation at a word's edges and each CJK ideograph a word of its own,
punctuation inside a word kept), with their character offsets, then tagged as given words; a text
longer than `data.max_length` subwords is tagged in consecutive windows of whole words, so
every word gets a tag. An entity's `text` is `text[start:end]`, whole words of the input.
transformers' token-classification pipeline found the words of text before: from each
tokenizer's own pre-tokenization and offsets, which agree with the given words only for
WordPiece. With a byte-level BPE (RoBERTa) or SentencePiece (XLM-R, DeBERTa-v3) tokenizer it
made words of a lone `▁` (`PER "J"` beside `PER "José"`), kept `York.` whole, read the first
word of a text in another form than training's words, and printed a warning on every call
(s22a H1-H3); with an accent-stripping tokenizer, a word's final marks fell outside its entity.

This module imports neither Lightning nor the training code, so a predictor loads fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from lab.inference.cuts import TRUNCATED
from lab.inference.predictors import Predictor
from lab.tasks.text_words import text_words
from lab.tasks.token_words import (
    encode_words,
    first_subwords,
    joined_spans,
    span_entities,
    tagged_words,
    word_entities,
)

if TYPE_CHECKING:
    from omegaconf import DictConfig


class TokenClassificationPredictor(Predictor):
    """Entities with character spans: `type`, `text`, `start`, `end`, `score` for each row,
    and each word with its own tag (`words`: `text`, `tag`, `start`, `end`; see
    `lab.tasks.token_words.tagged_words`), which a POS run reads where `entities` groups runs
    of one tag.

    A row gives `text` (a string) or the data's tokens column (a list of words): exactly one
    of them (`alternative_field`). For words, `start` / `end` are character offsets into the
    words joined with single spaces (the entity's `text` is that slice: its words so joined),
    and `score` is the mean over the entity's words of the probability of each word's tag on
    its first subword, the pipeline's score for `aggregation_strategy="first"`. Words are
    tagged by their first subword, as in training, and grouped as the metrics read the tags
    (an I-X after O or another type starts an entity, `lab.tasks.token_words.word_entities`);
    words past `data.max_length` subwords are predicted `O`, as the metrics count them, and
    such a row's result has `truncated`: `{"words": <given>, "words_read": <before the cut>}`
    (`lab.inference.cuts`). Text is split into words and tagged the same way, its `start` /
    `end` offsets into the text (see the module), in windows: never cut.
    """

    outputs = ("entities", "words", TRUNCATED)

    def __init__(self, model: Any, tokenizer: Any, cfg: DictConfig) -> None:
        super().__init__(model, tokenizer, cfg)
        self.tokens_field = str(cfg.data.get("tokens_column") or "tokens")
        self.alternative_field = self.tokens_field
        self.cut_rows = 0  # rows of given words past the cut, and their words there (`notes`)
        self.cut_words = 0

    def check(self, row: dict[str, Any]) -> str | None:
        """As `Predictor.check`, and a text must hold a word: one of invisible characters
        alone (zero-width spaces) is refused as an empty one is, not tagged as no entities."""
        problem = super().check(row)
        if problem is None and row.get("text") and not text_words(row["text"]):
            return "field 'text' has no words (only invisible characters such as zero-width spaces)"
        return problem

    def predict(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """`entities` and `words` for each row (rows already passed `check`), in row order."""
        # `check` let through exactly one of them (an empty CSV cell of `text` is none).
        texts = {i: row["text"] for i, row in enumerate(rows) if row.get("text")}
        given = {i: list(row[self.tokens_field]) for i, row in enumerate(rows) if i not in texts}
        found: dict[int, list[dict[str, Any]]] = {}
        listed: dict[int, list[dict[str, Any]]] = {}  # each word and its tag
        if texts:
            spans = [text_words(text) for text in texts.values()]
            words = [
                [text[a:b] for a, b in row] for text, row in zip(texts.values(), spans, strict=True)
            ]
            tagged = self.tag_whole(words)
            for index, text, row, (tags, scores) in zip(
                texts, texts.values(), spans, tagged, strict=True
            ):
                found[index] = span_entities(text, row, tags, scores)
                listed[index] = tagged_words([text[a:b] for a, b in row], tags, row)
        cut: dict[int, dict[str, int]] = {}
        if given:
            words_given = list(given.values())
            word_tags = self.word_tags(words_given)
            for index, row_words, (tags, scores, kept) in zip(
                given, words_given, word_tags, strict=True
            ):
                found[index] = word_entities(row_words, tags, scores)
                # words past the cut were not read: no tag (the metrics count them as `O`)
                read = [tag if i < kept else None for i, tag in enumerate(tags)]
                listed[index] = tagged_words(row_words, read, joined_spans(row_words))
                if kept < len(row_words):
                    cut[index] = {"words": len(row_words), "words_read": kept}
        self.cut_rows += len(cut)  # counted once the batch is done: a retried row is not twice
        self.cut_words += sum(c["words"] - c["words_read"] for c in cut.values())
        return [
            {"entities": found[i], "words": listed[i], **({TRUNCATED: cut[i]} if i in cut else {})}
            for i in range(len(rows))
        ]

    def notes(self) -> list[str]:
        """Given words past `data.max_length` subwords, not read (tag null in `words`, in no
        entity; the run's metrics scored such words as predicted `O`: s31e N5), text being
        tagged in windows instead: how many rows and words, if any."""
        if not self.cut_rows:
            return []
        rows = f"{self.cut_rows} row{'' if self.cut_rows == 1 else 's'}"
        return [
            f"{rows} of given words ran past data.max_length={self.max_length} subwords: the "
            f"{self.cut_words} words past the cut, in all, are not read: tag null in `words`, in "
            "no entity (the run's metrics scored them as predicted O); give such a row as text "
            "to tag every word, in windows"
        ]

    def tag_whole(self, rows: Sequence[Sequence[str]]) -> list[tuple[list[str], list[float]]]:
        """Each row's word tags and scores, every word tagged: a row cut at `max_length`
        subwords goes on in another window from its first cut word (one forward pass per
        round of windows)."""
        tagged: list[tuple[list[str], list[float]]] = [([], []) for _ in rows]
        pending = [(row, 0) for row, words in enumerate(rows) if words]
        while pending:
            windows = self.word_tags([rows[row][start:] for row, start in pending])
            later = []
            for (row, start), (tags, scores, kept) in zip(pending, windows, strict=True):
                kept = max(kept, 1)  # a first word past the cut alone: `O`, and on
                tagged[row][0].extend(tags[:kept])
                tagged[row][1].extend(scores[:kept])
                if start + kept < len(rows[row]):
                    later.append((row, start + kept))
            pending = later
        return tagged

    def word_tags(self, rows: Sequence[Sequence[str]]) -> list[tuple[list[str], list[float], int]]:
        """Each row's tag and score per word (each word's tag that of its first subword;
        `O` past the truncation, as the metrics count it) and how many words lie before the
        cut, in one forward pass."""
        encoded = encode_words(self.tokenizer, rows, self.max_length)
        firsts = [first_subwords(encoded.word_ids(i), len(words)) for i, words in enumerate(rows)]
        # Padded on the right whatever the tokenizer's side, so positions stay those of
        # `word_ids`; special tokens and padding are never a word's first subword.
        inputs = self.tokenizer.pad(
            {key: encoded[key] for key in encoded},
            padding_side="right",
            return_tensors="pt",
        ).to(self.device)
        with torch.no_grad():
            logits = self.model(**inputs).logits
        probabilities = logits.float().softmax(dim=-1).cpu()
        names = {int(k): str(v) for k, v in self.model.config.id2label.items()}
        results = []
        for row, first in enumerate(firsts):
            tags, scores = [], []
            for position in first:
                if position is None:  # past the truncation: missed, as the metrics count it
                    tags.append("O")
                    scores.append(0.0)  # never read: an `O` word is in no entity
                    continue
                best = int(probabilities[row, position].argmax())
                tags.append(names[best])
                scores.append(float(probabilities[row, position, best]))
            kept = next((i for i, position in enumerate(first) if position is None), len(first))
            results.append((tags, scores, kept))
        return results


def tag_texts(
    model: Any, tokenizer: Any, texts: Sequence[str], max_length: int | None = None
) -> list[list[dict[str, Any]]]:
    """The entities of each of `texts` as `lab.predict` finds them (see the module): for code
    outside lab, such as an exported model's card. `max_length`: the run's `data.max_length`
    (None: the tokenizer's own limit); a longer text is tagged in windows."""
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"data": {"max_length": max_length, "tokens_column": "tokens"}})
    tagger = TokenClassificationPredictor(model.eval(), tokenizer, cfg)
    return [row["entities"] for row in tagger.predict([{"text": text} for text in texts])]
