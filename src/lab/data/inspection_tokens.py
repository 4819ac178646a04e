"""Tokens per row of a sequence `lab.inspect` measures, and the unknown tokens among them.

`token_lengths` tokenizes a split's measured rows as the head does (a pair, a list of words,
the longest of several endings) and gives each row's tokens, special tokens included. Given
a `TokenCount`, it also counts the unknown token (`[UNK]`) among the tokens of the text: a
share of them says the tokenizer does not cover the text (Chinese under an English WordPiece
vocabulary is all `[UNK]`), a mistake that otherwise shows only as a run that learns nothing.
A tokenizer that covers any text (byte-level BPE, byte fallback) is not counted
(`unknown_token_id`). The same `TokenCount` counts the ids a head's `RowReader` encodes (chats,
preference pairs).

`target_runs` turns a row's labels back into text, runs of tokens that are targets or not: what
`lab.inspect` shows of the training targets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lab.data.inspection_rows import IGNORE, ReadSplit, Targets, TextSpec, cell_text

if TYPE_CHECKING:
    from datasets import Dataset

# A letter no vocabulary of words holds (an Egyptian hieroglyph; a letter, so BERT's text
# cleaning keeps it): a tokenizer that splits it into pieces other than its unknown token
# covers any text.
_PROBE = "\U00013000"


@dataclass
class TokenCount:
    """Tokens counted over measured rows: `unknown` of them the unknown token, `total` every
    token but the special ones the tokenizer adds (`[CLS]`, `[SEP]`)."""

    unknown_id: int
    special_ids: frozenset[int]
    unknown: int = 0
    total: int = 0

    def add(self, ids: list[int]) -> None:
        """Count the tokens of one encoded row."""
        self.unknown += ids.count(self.unknown_id)
        self.total += sum(1 for i in ids if i not in self.special_ids)

    def share(self) -> float:
        """The unknown tokens' share of the counted ones (0.0 with none counted)."""
        return self.unknown / self.total if self.total else 0.0


def word_chars_limit(tokenizer: Any) -> int | None:
    """The longest word, in characters, a WordPiece tokenizer splits into pieces
    (`max_input_chars_per_word`, 100 for BERT's); a longer run of characters without a space
    (Thai, Japanese kana, a URL) becomes one unknown token. None for other tokenizers."""
    model = getattr(getattr(tokenizer, "backend_tokenizer", None), "model", None)
    limit = getattr(model, "max_input_chars_per_word", None)
    return int(limit) if isinstance(limit, int) else None


def unknown_token_id(tokenizer: Any) -> int | None:
    """The id of the tokenizer's unknown token, or None where text never becomes it: no such
    token, or a tokenizer that splits any character into known pieces (GPT-2's byte-level
    BPE names `<|endoftext|>` as its unknown token)."""
    unknown = getattr(tokenizer, "unk_token_id", None)
    if unknown is None:
        return None
    probe = tokenizer(_PROBE, add_special_tokens=False)["input_ids"]
    return int(unknown) if unknown in probe else None


def token_count(tokenizer: Any) -> TokenCount | None:
    """A `TokenCount` for `tokenizer`, or None where it has no unknown token to count."""
    unknown = unknown_token_id(tokenizer)
    if unknown is None:
        return None
    special = frozenset(int(i) for i in tokenizer.all_special_ids) - {unknown}
    return TokenCount(unknown, special)


def _choices(row_index: int, dataset: Dataset, spec: TextSpec) -> list[str]:
    if spec.choices is None:
        return []
    if isinstance(spec.choices, str):  # one column holding a list of endings
        return [str(c) for c in dataset[row_index][spec.choices] or []]
    return [str(dataset[row_index][c] or "") for c in spec.choices]


def token_lengths(
    tokenizer: Any, dataset: Dataset, spec: TextSpec, count: TokenCount | None = None
) -> list[int]:
    """Tokens per row of `spec` as the model sees them (special tokens included); with
    choices, the longest (first text, rest + choice) pair. `count` adds up the unknown tokens
    of every encoded text (each ending's pair, with choices)."""
    first = [cell_text(v, spec.lang) for v in dataset[spec.columns[0]]]
    if spec.words:
        words = [list(v or []) for v in dataset[spec.columns[0]]]
        return _lengths(tokenizer, words, None, count, is_split_into_words=True)
    every = range(len(dataset))
    rest = (
        [[cell_text(dataset[c][i], spec.lang) for c in spec.columns[1:]] for i in every]
        if len(spec.columns) > 1
        else None
    )
    if spec.choices is None:
        pairs = [" ".join(p for p in row if p) for row in rest] if rest is not None else None
        return _lengths(tokenizer, first, pairs, count)
    longest = [0] * len(dataset)
    endings = [_choices(i, dataset, spec) for i in range(len(dataset))]
    for k in range(max((len(e) for e in endings), default=0)):
        rows = [i for i, e in enumerate(endings) if k < len(e)]
        prefix = [" ".join(p for p in rest[i] if p) if rest else "" for i in rows]
        pairs = [f"{p} {endings[i][k]}".strip() for p, i in zip(prefix, rows, strict=True)]
        measured = _lengths(tokenizer, [first[i] for i in rows], pairs, count)
        for i, n in zip(rows, measured, strict=True):
            longest[i] = max(longest[i], n)
    return longest


def _lengths(
    tokenizer: Any,
    texts: list[Any],
    pairs: list[str] | None,
    count: TokenCount | None,
    **options: Any,
) -> list[int]:
    encoded = tokenizer(
        texts,
        pairs,
        return_attention_mask=False,
        return_token_type_ids=False,
        verbose=False,  # rows over the model's limit are what we are counting
        **options,
    )
    if count is not None:
        for ids in encoded["input_ids"]:
            count.add(ids)
    return [len(ids) for ids in encoded["input_ids"]]


def target_runs(tokenizer: Any, targets: Targets) -> list[tuple[str, bool]]:
    """`targets.ids` decoded in runs of consecutive tokens that are all targets (True) or all
    not; special tokens are kept, so the chat template's markers show. Decoding run by run
    can differ from decoding the whole at a run's edge (a space, a character split across
    byte-level tokens): the runs are for reading, the counts come from the labels."""
    runs: list[tuple[str, bool]] = []
    start = 0
    flags = [label != IGNORE for label in targets.labels]
    for end in range(1, len(flags) + 1):
        if end == len(flags) or flags[end] != flags[start]:
            text = tokenizer.decode(
                targets.ids[start:end],
                skip_special_tokens=False,
                clean_up_tokenization_spaces=False,
            )
            runs.append((str(text), flags[start]))
            start = end
    return runs


def target_stats(found: ReadSplit) -> dict[str, Any]:
    """A split's labelled rows (those training keeps), their tokens and targets, and the
    targets' share of the tokens."""
    tokens = found.labeled_tokens
    return {
        "rows": found.labeled_rows,
        "tokens": tokens,
        "targets": found.targets,
        "share": found.targets / tokens if tokens else 0.0,
    }


def target_example(tokenizer: Any, split: str, row: int, targets: Targets) -> dict[str, Any]:
    """One row's labels to show: its tokens, targets, their share, and its text in runs
    (`[text, true]` where the tokens are targets)."""
    tokens = len(targets.labels)
    return {
        "split": split,
        "row": row,
        "tokens": tokens,
        "targets": targets.count,
        "share": targets.count / tokens if tokens else 0.0,
        "runs": [[text, target] for text, target in target_runs(tokenizer, targets)],
    }
