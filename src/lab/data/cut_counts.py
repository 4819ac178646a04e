"""Rows cut at a head's truncation length: counted as a split is tokenized, said once for all.

A text longer than `data.max_length` tokens (seq2seq: a source longer than
`data.max_source_length`, a target longer than `data.max_target_length`) loses its tokens past
the cut. Training said nothing of it: on a file of long documents, 43 of 80 train rows were cut
at 64 tokens without a word in the console or `train.log`, and a seq2seq model trained on cut
targets was scored against the full references, a ceiling the user never heard of. Only
`lab.inspect` showed the share beforehand. Now a head built on `CutCountingDataModule` says it,
in one line for all splits once they are tokenized (a seq2seq head: one for sources, one for
targets; the NER head says one per split, `lab.tasks.token_cut.cut_note`):

    data.max_length=64 cuts 43 of 80 train rows and 3 of 10 validation rows (their tokens past
    the cut are not read); a longer data.max_length keeps them, up to the model's positions

leaving out the splits where no row is cut, and nothing where none is. Where the setting is
already the model's limit (its tokenizer's `model_max_length`: 512 for BERT), no longer value
exists, and the line says so instead (`at_limit_advice`):

    ...; 512 tokens is the model's limit (data.max_length cannot be longer: its tokenizer's
    model_max_length), so it cannot read these rows whole; data.truncation_side=left reads
    their last 512 tokens instead, or a model with more positions reads more of them

(`data.truncation_side=left` offered where the head takes it and the run does not use it).

**How a row is known to be cut.** A fast tokenizer (the tokenizers library) keeps the tokens a
truncation removed on each row's encoding: `BatchEncoding.encodings[i].overflowing` is non-empty
exactly when row i was cut (checked against the untruncated lengths for single texts, text
pairs cut `longest_first`, `text_target=` and `truncation_side=left`). Reading it copies the cut
tokens into Python objects: under 1% of the tokenizer's CPU time on IMDB-like reviews at 256
tokens (25 ms for 5,000 rows against 3.1 s of CPU tokenizing them, bert-base's vocabulary), lost
in the noise of a whole map over 25,000 such rows (9.4-11.5 s with it, 9.9-10.8 s without).
A slow (Python) tokenizer keeps no encodings: there a row that fills the limit is counted
(`FILLS`: cut, or exactly that long), and the line says "up to".

**Where the count lives.** In a column of the tokenized split (`INPUTS`, `TARGETS`: 0 whole,
1 cut, 2 fills the limit), so a split read back from the datasets cache still gives its count:
a head adds `CUT_FLAGS` to its `fingerprint_parts`, as caches written before lack the column.
`_tokenize_split` reads the counts off the Arrow column and removes it before anything else sees
the split: the samplers, the collator and the model never get it. The run's resume fingerprints
are those of the raw rows (`DataModule.split_fingerprints`), which this does not touch.

**Streamed train split** (`data.streaming=true`): its rows are tokenized as training reads them
(`lab.data.streaming.Encoder` calls `tokenize` outside `_tokenize_split`, so no column is
written) and nothing is said for it: a count at the end of training would come too late to act
on, and one over the first rows is what `lab.inspect` gives. Its validation and test splits are
read into memory and counted. `lab.eval` reads its rows as each of the three splits; the line
is said once.

**A seq2seq target cut under lab.eval.** In `lab.train`, `task.module.max_new_tokens` defaults
to `data.max_target_length`, so the target line says a longer setting also lengthens the
generations. A run's `config.yaml` holds that length resolved, so `lab.eval` generates at the
run's `task.module.max_new_tokens` whatever `data.max_target_length=` it is given: there the
cut changes the loss only, and the line says the length generations stop at and the setting
that changes it (`lab.eval_build` hands the data module `task.module`'s settings:
`module_settings`):

    data.max_target_length=4 cuts 24 of 24 test targets (the loss reads their first 4 tokens;
    generations are scored against the full references); a longer data.max_target_length
    keeps them, up to the model's positions (generations do not follow it in lab.eval: they
    stop at task.module.max_new_tokens=16, the run's unless given;
    task.module.max_new_tokens=<n> changes it)
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from lab.data.datamodule import DataModule
from lab.data.splits import LONE_FILE

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import BatchEncoding, PreTrainedTokenizerBase

log = logging.getLogger(__name__)

INPUTS = "cut_inputs"  # column: whether the row's input (its text; a seq2seq source) was cut
TARGETS = "cut_targets"  # column: whether the row's seq2seq target was cut
CUT_FLAGS = "cut flags"  # a head's cache-key part: its tokenized splits hold the columns
WHOLE, CUT, FILLS = 0, 1, 2  # a row's flag: not cut, cut, fills the limit (slow tokenizer)


def cut_flags(encoded: BatchEncoding, max_length: int) -> list[int]:
    """Per row of a truncating tokenizer call's output (`max_length`: its limit): `CUT` where
    the row was cut, `WHOLE` where not; for a slow tokenizer, which keeps no encodings, `FILLS`
    where the row has `max_length` tokens (cut, or exactly that long)."""
    encodings = encoded.encodings
    if encodings is None:
        return [FILLS if len(ids) >= max_length else WHOLE for ids in encoded["input_ids"]]
    return [CUT if encoding.overflowing else WHOLE for encoding in encodings]


def flag_counts(dataset: Dataset, column: str) -> tuple[int, int]:
    """(rows `CUT`, rows that `FILLS` the limit) of `dataset`'s flag `column`, on the Arrow
    column (no Python list of 25,000 flags)."""
    import pyarrow.compute as pc

    flags = dataset.with_format("arrow")[column]
    cut, fills = (int(pc.sum(pc.equal(flags, code)).as_py() or 0) for code in (CUT, FILLS))
    return cut, fills


def cut_line(
    key: str,
    limit: int,
    counts: tuple[int, int],
    rows: int,
    what: str,
    why: str,
    also: str = "",
    advice: str = "",
) -> str | None:
    """The line on a split's cut rows, or None when no row is cut: `key` (`data.max_length`)
    at `limit` cuts `counts` (`flag_counts`) of `rows` `what` (`train rows`), `why` saying what
    the cut costs; `also` ends the line (what else the longer setting changes); `advice`, where
    given, replaces the advice of a longer setting (`at_limit_advice`: at the model's limit)."""
    return joined_cut_line(key, limit, [(counts, rows, what)], why, also, advice)


def joined_cut_line(
    key: str,
    limit: int,
    splits: list[tuple[tuple[int, int], int, str]],
    why: str,
    also: str = "",
    advice: str = "",
) -> str | None:
    """`cut_line` for several splits in one line (`cuts 5 of 1600 train rows and 1 of 200
    validation rows`): `splits` holds each one's (counts, rows, what); those with no row cut
    are left out, and None where none is left."""
    shown = [
        f"{'up to ' if fills else ''}{cut + fills} of {rows} {what}"
        for (cut, fills), rows, what in splits
        if cut + fills
    ]
    if not shown:
        return None
    if any(fills for (_, fills), _, _ in splits):  # a slow tokenizer: `limit` tokens count
        why = f"counted where they fill the {limit} tokens, as this tokenizer does not say; {why}"
    listed = ", ".join(shown[:-1]) + f" and {shown[-1]}" if len(shown) > 1 else shown[0]
    return f"{key}={limit} cuts {listed} ({why}); {advice or longer_advice(key, also)}"


def generation_note(max_new_tokens: object = None) -> str:
    """The end of a seq2seq target line under `lab.eval`: the run's config holds
    `task.module.max_new_tokens` resolved, so the generations do not follow
    `data.max_target_length` there; `max_new_tokens`: the length they stop at (None: not
    known, the setting named without it)."""
    key = "task.module.max_new_tokens"
    stop = f"{key}={max_new_tokens}" if max_new_tokens is not None else key
    return (
        f" (generations do not follow it in lab.eval: they stop at {stop}, the run's unless "
        f"given; {key}=<n> changes it)"
    )


def longer_advice(key: str, also: str = "") -> str:
    """What keeps cut rows below the model's limit: a longer `key`."""
    return f"a longer {key} keeps them, up to the model's positions{also}"


def model_length(tokenizer: PreTrainedTokenizerBase) -> int | None:
    """The model's limit as its tokenizer records it (`model_max_length`: 512 for BERT);
    None where it records none (transformers' stand-in is 1e30)."""
    limit = getattr(tokenizer, "model_max_length", None)
    return int(limit) if isinstance(limit, int | float) and limit < 1e6 else None


def at_limit_advice(key: str, limit: int, noun: str, left: str | None) -> str:
    """What a cut line says where `key`=`limit` is the model's own limit, so no longer value
    exists: the model cannot read these `noun` whole; `left`: the setting that keeps each
    one's last tokens instead (`data.truncation_side=left`), where the head has it and the run
    does not use it already."""
    helps = [f"{left} reads their last {limit} tokens instead"] if left else []
    helps.append("a model with more positions reads more of them")
    return (
        f"{limit} tokens is the model's limit ({key} cannot be longer: its tokenizer's "
        f"model_max_length), so it cannot read these {noun} whole; {', or '.join(helps)}"
    )


def split_rows(split: str, noun: str = "rows") -> str:
    """`train rows`; lab.eval of a lone file (`LONE_FILE`): `rows of the file`."""
    return f"{noun} of the file" if split == LONE_FILE else f"{split} {noun}"


def input_why(tokenizer: PreTrainedTokenizerBase) -> str:
    """What an input cut costs, by the side the tokenizer cuts (`data.truncation_side`)."""
    if getattr(tokenizer, "truncation_side", "right") == "left":
        return "their tokens before the cut are not read: data.truncation_side=left"
    return "their tokens past the cut are not read"


def target_why(limit: int, training: bool, evaluating: bool = False) -> str:
    """What a seq2seq target cut costs: the references generations are scored against are not
    cut, so a cut target caps the score (`training`: the train split's targets). Under
    `lab.eval` (`evaluating`) the generation length does not follow the cut, which then
    changes the loss only."""
    if evaluating:
        return (
            f"the loss reads their first {limit} tokens; generations are scored against the "
            "full references"
        )
    if training:
        return (
            f"the model learns their first {limit} tokens only, and generations are scored "
            "against the full references: the cut caps the score"
        )
    return (
        f"the loss reads their first {limit} tokens; generations, at most "
        "task.module.max_new_tokens tokens, are scored against the full references: the cut "
        "caps the score"
    )


class CutCountingDataModule(DataModule):
    """A `DataModule` whose head marks the rows its truncation cuts and has the splits' counts
    said in one line per flag column (module doc). The head calls `mark_cuts` in `tokenize`
    after each truncating tokenizer call, adds `CUT_FLAGS` to `fingerprint_parts`, and names
    in `cut_keys` the attribute holding each column's limit (in `cut_nouns`, what its lines
    call the rows).
    """

    # flag column -> the attribute (and `data.` key) of its truncation length
    cut_keys: ClassVar[dict[str, str]] = {INPUTS: "max_length"}
    # flag column -> what its lines call the rows (`train rows`, `train sources`)
    cut_nouns: ClassVar[dict[str, str]] = {INPUTS: "rows"}
    _marking = False  # True while `_tokenize_split` maps a split (streamed batches are not)
    #: Set by `lab.eval` (`lab.eval_build`) before setup: the task module's settings the
    #: evaluation runs with (`task.module`, plain values); None when training. A target line
    #: names the generation length from it (module doc).
    module_settings: dict[str, Any] | None = None

    def __init__(self, tokenizer: PreTrainedTokenizerBase, **kwargs: Any) -> None:
        super().__init__(tokenizer, **kwargs)
        # flag column -> (lab's split, its counts, its rows) of each split tokenized so far
        self._counted: dict[str, list[tuple[str, tuple[int, int], int]]] = {}

    def mark_cuts(
        self,
        out: dict[str, Any] | BatchEncoding,
        column: str,
        encoded: Any,
        group_sizes: Sequence[int] | None = None,
    ) -> None:
        """Add flag `column` (`INPUTS` / `TARGETS`) to the tokenized batch `out`, from the
        truncating tokenizer call `encoded` (a `BatchEncoding`), while a split is mapped.
        `group_sizes`: where a row is several of `encoded`'s sequences (a multiple-choice
        question's pairs), how many each row has; the row is flagged as its most cut one."""
        if not self._marking:
            return
        flags = cut_flags(encoded, int(getattr(self, self.cut_keys[column])))
        if group_sizes is not None:
            starts = list(itertools.accumulate(group_sizes, initial=0))
            flags = [max(flags[a:b], default=WHOLE) for a, b in itertools.pairwise(starts)]
        out[column] = flags

    def cut_note(self, column: str, counted: list[tuple[str, tuple[int, int], int]]) -> str | None:
        """The one line for flag `column` over lab's splits `counted` (each: split, its
        `flag_counts`, its rows), or None when no row is cut."""
        key = self.cut_keys[column]
        limit = int(getattr(self, key))
        noun = self.cut_nouns.get(column, "rows")
        splits = [
            (counts, rows, split_rows(self.split_name(name), noun))
            for name, counts, rows in counted
        ]
        advice = self.limit_advice(f"data.{key}", limit, noun)
        if column == TARGETS:
            # lab.eval: `evaluation` is set on other data and the run's train or validation
            # split, `module_settings` on every evaluation (the run's own test split too).
            evaluating = self.evaluation is not None or self.module_settings is not None
            training = any(name == "train" for name, _, _ in counted) and not evaluating
            if evaluating:
                also = generation_note((self.module_settings or {}).get("max_new_tokens"))
            else:
                also = " (task.module.max_new_tokens follows it unless set)"
            why = target_why(limit, training, evaluating)
            return joined_cut_line(f"data.{key}", limit, splits, why, also, advice)
        why = input_why(self.tokenizer)
        return joined_cut_line(f"data.{key}", limit, splits, why, advice=advice)

    def limit_advice(self, key: str, limit: int, noun: str) -> str:
        """`at_limit_advice` where `limit` is the model's (`model_length`), else ""
        (the advice of a longer setting). `data.truncation_side=left` is offered where the
        head takes that setting (a constructor argument) and it is not already left."""
        model = model_length(self.tokenizer)
        if limit != model:  # below it a longer setting helps (over it, training refuses it)
            return ""
        import inspect

        takes_side = "truncation_side" in inspect.signature(type(self)).parameters
        side = getattr(self.tokenizer, "truncation_side", "right")
        left = "data.truncation_side=left" if takes_side and side != "left" else None
        return at_limit_advice(key, limit, noun, left)

    def setup(self, stage: str | None = None) -> None:
        """`DataModule.setup`, then one line per flag column for every split its tokenizing
        counted (said too where a later split fails: the cut may be why)."""
        try:
            super().setup(stage)
        finally:
            counted, self._counted = self._counted, {}
            for column, splits in counted.items():
                line = self.cut_note(column, splits)
                if line:
                    log.warning(line)

    def _tokenize_split(self, name: str, dataset: Dataset) -> Dataset:
        self._marking = True
        try:
            encoded = super()._tokenize_split(name, dataset)
        finally:
            self._marking = False
        marked = [column for column in self.cut_keys if column in encoded.column_names]
        noted = self.noted_splits is None or name in self.noted_splits
        for column in marked if noted else ():  # said together once setup has every split
            splits = self._counted.setdefault(column, [])
            named = {self.split_name(split) for split, _, _ in splits}
            if self.split_name(name) not in named:  # lab.eval: one set of rows, 3 splits
                splits.append((name, flag_counts(encoded, column), len(encoded)))
        # The flags are for this count only: the model and the collator never see them.
        return encoded.remove_columns(marked) if marked else encoded
