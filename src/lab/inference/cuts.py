"""Inputs a predictor read cut, as training reads them: said per row, per file and per request.

A classifier reads a text's first `data.max_length` tokens, a seq2seq model its source's first
`data.max_source_length`, an NER run given words up to `data.max_length` subwords, a
multiple-choice run each (context, ending) pair's `data.max_length` tokens: as in training, the
rest is not read. A masked-LM run reads a text's first `data.max_length` tokens too (the model's
own limit where the run set none): training read blocks of joined rows, and guesses here see
no text past the cut. lab said so only in `lab.predict`'s summary of a classifier;
a seq2seq `lab.predict` and every `lab.serve` answer said nothing (s26b H2, H3), so a client
could not tell that 94% of its text was never read. Now:

- each result of a row read cut carries `truncated` (`TRUNCATED`), absent where the row was
  read whole: `{"tokens": 2014, "tokens_read": 128}` for a text (the input's tokens as the
  model would read it whole, special tokens included, and those it read), or
  `{"words": 300, "words_read": 250}` for NER's given words (the words past `words_read` are
  predicted `O`), or, for multiple choice, the list of the choices whose pair was cut, each
  with the counts of its pair: `[{"choice": 2, "tokens": 212, "tokens_read": 128}]`
  (`choice_cuts`; a pair is cut longest first, so the longer of context and ending lost
  tokens). The same field in `lab.predict`'s rows (a JSON cell of a CSV) and in
  `lab.serve`'s answers; absent, not `false`, so the results of rows read whole are as before;
- `lab.predict` prints one note on how many rows were cut (`cut_note`; multiple choice: and in
  how many pairs);
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
    '"words_read": 250}`: the words from `words_read` on are not read, tag null; multiple choice: '
    'the choices whose (context, ending) pair was cut, longest first, `[{"choice": 2, '
    '"tokens": 212, "tokens_read": 128}]`); absent where the input was read whole.'
)
#: a row's cut: one input's counts, or a multiple-choice row's cut pairs (`choice_cuts`)
Cut = dict[str, int] | list[dict[str, int]]


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


def choice_cuts(
    pairs: Sequence[dict[str, int] | None], counts: Sequence[int]
) -> list[list[dict[str, int]] | None]:
    """Multiple choice: `pairs` (`input_cuts` of every row's (context, ending) pairs, one
    row's after another; `counts`: each row's number of choices) as one cut per row: its cut
    pairs as `{"choice": <index>, "tokens": ..., "tokens_read": ...}`, or None where every
    pair was read whole. One list per row, as `probabilities` is, but of the cut pairs only:
    a row of 4 endings with one long one lists one entry, not three nulls."""
    rows: list[list[dict[str, int]] | None] = []
    start = 0
    for count in counts:
        cut = [
            {"choice": index, **pair}
            for index, pair in enumerate(pairs[start : start + count])
            if pair is not None
        ]
        rows.append(cut or None)
        start += count
    if start != len(pairs):
        raise ValueError(f"{len(pairs)} pairs for rows of {sum(counts)} choices")
    return rows


def with_cuts(results: list[dict[str, Any]], cuts: Sequence[Cut | None]) -> int:
    """Add `TRUNCATED` to the results of the rows `cuts` marks (in place); how many there are."""
    for result, cut in zip(results, cuts, strict=True):
        if cut is not None:
            result[TRUNCATED] = cut
    return sum(cut is not None for cut in cuts)


def cut_note(
    rows: int,
    setting: str,
    length: int,
    tokenizer: Any,
    *,
    pairs: int | None = None,
    read: str = "as in training",
) -> str:
    """`lab.predict`'s note on `rows` rows read cut at `setting`=`length` tokens, on the side
    the tokenizer cuts (`data.truncation_side=left` keeps a text's last tokens); `read` says
    how training read them. Multiple choice gives `pairs`, how many of those rows' (context,
    ending) pairs were cut: a pair is cut longest first, so the note says which text lost
    tokens."""
    left = getattr(tokenizer, "truncation_side", "right") == "left"
    side, end = ("before", "start") if left else ("past", "end")
    many = "" if rows == 1 else "s"
    if pairs is None:
        return (
            f"{rows} row{many} ran past {setting}={length} tokens: their tokens {side} the cut "
            f"were not read, {read} (each one's '{TRUNCATED}' field says how many tokens it has "
            "and how many were read)"
        )
    return (
        f"{rows} row{many} ran past {setting}={length} tokens in {pairs} (context, ending) "
        f"pair{'' if pairs == 1 else 's'}: each was cut longest first (tokens came off the "
        f"{end} of the longer of the two texts), {read} (each row's '{TRUNCATED}' field lists "
        "its choices cut, with how many tokens each pair has and how many were read)"
    )


def cut_log_line(
    results: Sequence[dict[str, Any]], predictor: Any, ids: Sequence[Any] = ()
) -> str | None:
    """`lab.serve`'s log line on a `/predict` request whose inputs `results` answer (`ids`:
    their own `id`s, None where not given), or None when no input was cut; the cut is the
    `predictor`'s `cut_setting` at its `max_length`, and what it leaves is the predictor's
    `cut_read` (as `cut_note`'s `read`; "as in training" where it has none). Never the text: a
    server log is no place for what clients send."""
    cut = [(i, result[TRUNCATED]) for i, result in enumerate(results) if TRUNCATED in result]
    if not cut:
        return None
    setting, length = predictor.cut_setting, predictor.max_length
    read = getattr(predictor, "cut_read", "as in training")
    shown = []
    for index, counts in cut:
        named = ids[index] if index < len(ids) else None
        which = f"input {index}" + (f" (id {named!r})" if named is not None else "")
        if isinstance(counts, list):  # multiple choice: its cut pairs
            pairs = ", ".join(f"choice {pair['choice']} ({_read(pair)})" for pair in counts)
            shown.append(f"{which}: {pairs}")
        else:
            shown.append(f"{which}: {_read(counts)}")
    return (
        f"/predict: {len(cut)} of {len(results)} input{'' if len(results) == 1 else 's'} cut "
        f"at {setting}={length}, {read} ({'; '.join(shown)})"
    )


def _read(counts: dict[str, int]) -> str:
    """`128 of 4558 tokens read` (NER's given words: `250 of 300 words read`)."""
    unit = "words" if "words" in counts else "tokens"
    return f"{counts[f'{unit}_read']} of {counts[unit]} {unit} read"
