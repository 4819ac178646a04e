"""Inputs a predictor read cut, as training reads them: said per row, per file and per request.

A classifier reads a text's first `data.max_length` tokens, a seq2seq model its source's first
`data.max_source_length`, an NER run given words up to `data.max_length` subwords: as in
training, the rest is not read. lab said so only in `lab.predict`'s summary of a classifier;
a seq2seq `lab.predict` and every `lab.serve` answer said nothing (s26b H2, H3), so a client
could not tell that 94% of its text was never read. Now:

- each result of a row read cut carries `truncated` (`TRUNCATED`), absent where the row was
  read whole: `{"tokens": 2014, "tokens_read": 128}` for a text (the input's tokens as the
  model would read it whole, special tokens included, and those it read), or
  `{"words": 300, "words_read": 250}` for NER's given words (the words past `words_read` are
  predicted `O`). The same field in `lab.predict`'s rows (a JSON cell of a CSV) and in
  `lab.serve`'s answers; absent, not `false`, so the results of rows read whole are as before;
- `lab.predict` prints one note on how many rows were cut (`cut_note`);
- `lab.serve` logs one line per request with a cut input (`cut_log_line`).

How a row is known to be cut: a fast tokenizer keeps the tokens a truncation removed on the
row's encoding (`encodings[i].overflowing`, as `lab.data.cut_counts` reads them); a slow one
keeps none, so a row that fills the limit is a candidate. Only the cut rows (or candidates) are
tokenized again, whole, for their count: rows read whole cost nothing more.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

TRUNCATED = "truncated"  # the result key of a row read cut
#: what `lab.serve`'s OpenAPI page (`/docs`) says of the field, on `/predict`
CUT_FIELD = (
    f"An input read cut, as in training, has `{TRUNCATED}` in its result, e.g. "
    '`{"tokens": 2014, "tokens_read": 128}` (NER\'s given words: `{"words": 300, '
    '"words_read": 250}`: the words from `words_read` on are predicted O); absent where the '
    "input was read whole."
)


def input_cuts(
    tokenizer: Any,
    encoded: Any,
    texts: Sequence[str],
    pairs: Sequence[str] | None = None,
) -> list[dict[str, int] | None]:
    """Per row of `encoded` (a truncating tokenizer call on `texts`, and `pairs` as its second
    texts): `{"tokens": <whole>, "tokens_read": <read>}` where the row was cut, else None."""
    # The tokens read, padding left out: a tokenizer configured without an attention mask
    # pads with its pad token alone.
    mask = encoded.get("attention_mask")
    if mask is None:
        pad = getattr(tokenizer, "pad_token_id", None)
        ids = encoded["input_ids"]
        mask = [[token != pad for token in row] for row in _lists(ids)]
    read = [int(sum(row)) for row in _lists(mask)]
    encodings = getattr(encoded, "encodings", None)
    if encodings is not None:
        maybe = [i for i, encoding in enumerate(encodings) if encoding.overflowing]
    else:  # a slow tokenizer: a row that fills the longest is a candidate
        longest = max(read, default=0)
        maybe = [i for i, length in enumerate(read) if length == longest]
    cuts: list[dict[str, int] | None] = [None] * len(read)
    if not maybe:
        return cuts
    # verbose=False: no "longer than the specified maximum sequence length" warning per row.
    whole = tokenizer(
        [texts[i] for i in maybe],
        [pairs[i] for i in maybe] if pairs is not None else None,
        verbose=False,
    )["input_ids"]
    for i, ids in zip(maybe, whole, strict=True):
        if len(ids) > read[i]:
            cuts[i] = {"tokens": len(ids), "tokens_read": read[i]}
    return cuts


def _lists(values: Any) -> list[list[Any]]:
    """A batch's rows as lists (a tensor's, or lists already)."""
    return values.tolist() if hasattr(values, "tolist") else list(values)


def with_cuts(results: list[dict[str, Any]], cuts: Sequence[dict[str, int] | None]) -> int:
    """Add `TRUNCATED` to the results of the rows `cuts` marks (in place); how many there are."""
    for result, cut in zip(results, cuts, strict=True):
        if cut is not None:
            result[TRUNCATED] = cut
    return sum(cut is not None for cut in cuts)


def cut_note(rows: int, setting: str, length: int, tokenizer: Any) -> str:
    """`lab.predict`'s note on `rows` rows read cut at `setting`=`length` tokens, on the side
    the tokenizer cuts (`data.truncation_side=left` keeps a text's last tokens)."""
    side = "before" if getattr(tokenizer, "truncation_side", "right") == "left" else "past"
    return (
        f"{rows} row{'' if rows == 1 else 's'} ran past {setting}={length} tokens: their "
        f"tokens {side} the cut were not read, as in training (each one's '{TRUNCATED}' "
        "field says how many tokens it has and how many were read)"
    )


def cut_log_line(
    results: Sequence[dict[str, Any]], predictor: Any, ids: Sequence[Any] = ()
) -> str | None:
    """`lab.serve`'s log line on a `/predict` request whose inputs `results` answer (`ids`:
    their own `id`s, None where not given), or None when no input was cut; the cut is the
    `predictor`'s `cut_setting` at its `max_length`. Never the text: a server log is no place
    for what clients send."""
    cut = [(i, result[TRUNCATED]) for i, result in enumerate(results) if TRUNCATED in result]
    if not cut:
        return None
    setting, length = predictor.cut_setting, predictor.max_length
    shown = []
    for index, counts in cut:
        unit = "words" if "words" in counts else "tokens"
        named = ids[index] if index < len(ids) else None
        which = f"input {index}" + (f" (id {named!r})" if named is not None else "")
        shown.append(f"{which}: {counts[f'{unit}_read']} of {counts[unit]} {unit} read")
    return (
        f"/predict: {len(cut)} of {len(results)} input{'' if len(results) == 1 else 's'} cut "
        f"at {setting}={length}, as in training ({'; '.join(shown)})"
    )
