"""What `lab.predict`, `lab.serve` and the demo do with a token-classification (NER) run.

`TokenClassificationPredictor` returns each row's entities with character spans. A row gives
either `text` (a string) or the run's tokens column (`data.tokens_column`: given words, the
test file's own form), and the two are read differently:

- Given words are tagged as training and the metrics tag them: encoded by the same function
  (`lab.tasks.token_words.encode_words`: `is_split_into_words`, truncated at `data.max_length`,
  a word the tokenizer reads as nothing read as the unknown token), each word's tag is that of
  its first subword, a word past the truncation is `O` (as the metrics count it: missed), and
  the tags are grouped into entities as the metrics read them. So a given word is one word
  whatever punctuation it holds (`U.S.`, `Jean-Pierre`, `1-0`, `S&P`), and `lab.predict`'s
  entities on the test file's words are those the run's test F1 scores.
- Text goes through transformers' token-classification pipeline (`aggregation_strategy="first"`),
  which finds the words itself: its tokenizer's pre-tokenization, where a word's punctuation
  makes words of their own (`U.S.` is four to BERT's tokenizer). The pipeline's own
  `is_split_into_words=True` is no cure for given words: it still decides which subword starts
  a word from the subword's text, not from the word it came from, and truncates at the
  tokenizer's own limit. A subword continues a word where it starts with the tokenizer's
  continuing prefix (`##`: `lab.compat.transformers`), not where its text is longer than the
  input it covers (the pipeline's rule, which NFD text under an accent-stripping tokenizer
  breaks). An entity's end is moved over what its word's last token leaves out
  of a character (the combining marks an accent-stripping tokenizer drops from NFD text), so
  its `text` is whole words of the input (`_pipeline_entities`).

This module imports neither Lightning nor the training code, so a predictor loads fast.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from lab.inference.predictors import Predictor
from lab.tasks.token_words import encode_words, first_subwords, word_entities

if TYPE_CHECKING:
    from omegaconf import DictConfig


class TokenClassificationPredictor(Predictor):
    """Entities with character spans: `type`, `text`, `start`, `end`, `score` for each row.

    A row gives `text` (a string) or the data's tokens column (a list of words): exactly one
    of them (`alternative_field`). For words, `start` / `end` are character offsets into the
    words joined with single spaces (the entity's `text` is that slice: its words so joined),
    and `score` is the mean over the entity's words of the probability of each word's tag on
    its first subword, the pipeline's score for `aggregation_strategy="first"`. Words are
    tagged by their first subword, as in training, and grouped as the metrics read the tags
    (an I-X after O or another type starts an entity, `lab.tasks.token_words.word_entities`);
    words past `data.max_length` subwords are predicted `O`, as the metrics count them. See
    the module for how text is read.
    """

    outputs = ("entities",)

    def __init__(self, model: Any, tokenizer: Any, cfg: DictConfig) -> None:
        from transformers import pipeline

        from lab.compat.transformers import WordStartPipeline

        super().__init__(model, tokenizer, cfg)
        self.tokens_field = str(cfg.data.get("tokens_column") or "tokens")
        self.alternative_field = self.tokens_field
        # Text only: "first" tags a word by its first subword, as training does ("simple"
        # grouping would split a word whose later subwords the model never learned to tag).
        # `WordStartPipeline`: a word's first subword is the one without `##`, also where the
        # tokenizer strips the accents of NFD text (the pipeline's own rule merged such a word
        # into the word before it).
        self.pipeline = pipeline(
            "token-classification",
            model=model,
            tokenizer=tokenizer,
            aggregation_strategy="first",
            device=self.device,
            pipeline_class=WordStartPipeline,
        )

    def predict(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """`entities` for each row (rows already passed `check`), in row order."""
        # `check` let through exactly one of them (an empty CSV cell of `text` is none).
        texts = {i: row["text"] for i, row in enumerate(rows) if row.get("text")}
        given = {i: list(row[self.tokens_field]) for i, row in enumerate(rows) if i not in texts}
        found: dict[int, list[dict[str, Any]]] = {}
        if texts:
            tagged = self.pipeline(list(texts.values()), batch_size=len(texts))
            for (index, text), entities in zip(texts.items(), tagged, strict=True):
                found[index] = _pipeline_entities(text, entities)
        if given:
            tagged_words = self.tag_words(list(given.values()))
            found.update(zip(given, tagged_words, strict=True))
        return [{"entities": found[i]} for i in range(len(rows))]

    def tag_words(self, rows: Sequence[Sequence[str]]) -> list[list[dict[str, Any]]]:
        """The entities of each row of given words (see the class), in one forward pass."""
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
        entities = []
        for row, (words, first) in enumerate(zip(rows, firsts, strict=True)):
            tags, scores = [], []
            for position in first:
                if position is None:  # past the truncation: missed, as the metrics count it
                    tags.append("O")
                    scores.append(0.0)  # never read: an `O` word is in no entity
                    continue
                best = int(probabilities[row, position].argmax())
                tags.append(names[best])
                scores.append(float(probabilities[row, position, best]))
            entities.append(word_entities(words, tags, scores))
        return entities


def _pipeline_entities(text: str, entities: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The pipeline's entities of `text` in the predictor's fields (in text order), each
    ending on a whole user-perceived character (`cluster_ends`), never past the next one's
    start.

    A tokenizer's offsets can end a word inside a character: one that strips accents (BERT
    uncased, the default MiniLM) drops the combining marks of NFD text (`Ñandú` as `N` U+0303
    `andu` U+0301) from every token, and BERT's cleaning drops format characters (the tag
    characters that end a subdivision flag), so a word's last token ends before them and the
    entity would be `Ñandu`. Thai and Devanagari signs (combining class 0: `unicodedata.
    combining` misses them), variation selectors and emoji modifiers are lost the same way. A
    grapheme cluster, not a list of mark categories, is the unit: it also holds a ZWJ with the
    pictograph it joins, and an entity is whole words. The next entity's start bounds the
    move where a tokenizer made a word of the marks alone (byte-level BPE pre-tokenizers: a
    mark is no letter to them) and tagged it as an entity of its own."""
    spans = sorted(entities, key=lambda entity: int(entity["start"]))
    ends = cluster_ends(text) if spans else []
    found = []
    for position, entity in enumerate(spans):
        start, end = int(entity["start"]), int(entity["end"])
        limit = int(spans[position + 1]["start"]) if position + 1 < len(spans) else len(text)
        whole = ends[bisect.bisect_left(ends, end)] if 0 < end < len(text) else end
        found.append(_pipeline_entity(text, entity, start, max(end, min(whole, limit))))
    return found


def cluster_ends(text: str) -> list[int]:
    """The end offset of each grapheme cluster of `text` (Unicode's user-perceived characters,
    UAX #29, as the `regex` module's `\\X` finds them), ascending; the last is `len(text)`."""
    import regex  # a dependency of transformers; `re` has no grapheme clusters

    return [cluster.end() for cluster in regex.finditer(r"\X", text)]


def _pipeline_entity(text: str, entity: dict[str, Any], start: int, end: int) -> dict[str, Any]:
    """One entity of the pipeline in the predictor's fields, spanning `start`:`end`. Its text is
    cut from the input by that span: the pipeline's `word` is decoded from subwords (lowercased
    by uncased tokenizers, accents stripped, spaces lost)."""
    return {
        "type": entity["entity_group"],
        "text": text[start:end],
        "start": start,
        "end": end,
        "score": float(entity["score"]),
    }
