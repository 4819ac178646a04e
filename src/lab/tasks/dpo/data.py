"""`PreferenceDataModule`: preference pairs checked, tokenized with the chat template, batched.

Each row becomes prompt+chosen and prompt+rejected token ids; labels are the ids on the
completion tokens and -100 on the prompt (`lab.tasks.dpo.pairs` says how rows of each shape
are read). Bad rows fail before any model loads, named `file:line column '...'`: a missing
field, string pairs without a prompt column (the message says what would do), a message
list with an unknown role or no assistant turn of its own (checked as SFT checks its chats),
a prompt of `max_length` tokens or more (with `on_overlong=error`; `drop` leaves such rows
out and logs how many). A pair that prefers nothing (chosen equal to rejected,
or an empty side: an empty text or assistant turn; public preference sets have some) is left
out and counted with `on_tie=drop` (the default), or named with `on_tie=error`. Completions
that do not fit after their prompt are cut at `max_length` (both sides of the pair); a cut
reply is scored on its first tokens only, which changes its log-probability and so its reward,
so the pairs with a cut reply are counted and said in one line for all splits, as other heads
say their cut rows (`lab.data.cut_counts`):

    data.max_length=64 cuts 1 of 10 train pairs (a cut reply is scored on its first tokens
    only: its log-probability, and so its reward, is not the whole reply's); a longer
    data.max_length keeps them, up to the model's positions

Pairs are read whole, never streamed (`data.streaming=true` is refused with the reason
`cannot_stream` in `conf/task/dpo.yaml` gives): each split's pairs are numbered for
precomputed reference log-probs (`pair_index`) and its ties and overlong prompts counted, none
of which a stream of rows has.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from lab.data.cut_counts import (
    CUT,
    CUT_FLAGS,
    INPUTS,
    WHOLE,
    CutCountingDataModule,
    joined_cut_line,
    split_rows,
)
from lab.data.padding import Padding
from lab.errors import ConfigError, DataError
from lab.tasks.dpo.columns import sft_hint
from lab.tasks.dpo.losses import IGNORE
from lab.tasks.dpo.pairs import NoPreference, Pair, encode_pair, make_pair, prompt_ids
from lab.tasks.sft.chat import ChatError

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedTokenizerBase

log = logging.getLogger(__name__)

INDEX = "pair_index"  # each pair's position in its split: the key of precomputed references
STAGES = {"train": "train", "validation": "val", "test": "test"}
SYSTEM_COLUMN = "system"  # Orca's column of system prompts: said when not read (data.system_column)


class PreferenceDataModule(CutCountingDataModule):
    """Checks and tokenizes preference pairs (see the module doc).

    Args:
        prompt_column / chosen_column / rejected_column: the columns (strings or message
            lists; the prompt column may be absent, or null, when chosen and rejected hold the
            whole conversation; string pairs need it).
        system_column: a column of system prompts (Orca's `system`), each the first turn of
            its row's prompt where it is not empty (chat templates only); null: none read.
        optional_column_keys: the column keys whose column a split may lack (the list the
            pre-flight check of `lab.config.data_rules` reads too). Only `prompt_column` can
            be: string pairs still need it, and left out of the list it is always required.
        max_length: tokens per prompt+completion sequence; longer completions are cut.
        on_overlong: `drop` or `error` for rows whose prompt alone has `max_length` tokens.
        on_tie: `drop` or `error` for a pair that prefers nothing (chosen equal to rejected,
            or an empty chosen or rejected).
        **kwargs: see `lab.data.datamodule.DataModule`.
    """

    #: What the data line counts where pairs were left out (a tie, an overlong prompt).
    tokenized_unit = "pairs"

    cut_nouns: ClassVar[dict[str, str]] = {INPUTS: "pairs"}  # "cuts 1 of 10 train pairs"

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        *,
        prompt_column: str = "prompt",
        system_column: str | None = None,
        chosen_column: str = "chosen",
        rejected_column: str = "rejected",
        optional_column_keys: Sequence[str] = ("prompt_column",),
        max_length: int = 1024,
        on_overlong: str = "drop",
        on_tie: str = "drop",
        **kwargs: Any,
    ) -> None:
        super().__init__(tokenizer, **kwargs)
        if on_overlong not in ("drop", "error"):
            raise ConfigError(f"data.on_overlong={on_overlong!r}; choose drop or error")
        if on_tie not in ("drop", "error"):
            raise ConfigError(f"data.on_tie={on_tie!r}; choose drop or error")
        self.on_tie = on_tie
        self.ties: dict[str, list[int]] = {}
        self.prompt_column = prompt_column
        self.system_column = system_column
        self.chosen_column = chosen_column
        self.rejected_column = rejected_column
        self.prompt_optional = "prompt_column" in optional_column_keys
        self.max_length = max_length
        self.on_overlong = on_overlong
        self.chat = bool(getattr(tokenizer, "chat_template", None))
        self.overlong: dict[str, list[int]] = {}
        if tokenizer.pad_token is None:  # padding is masked out; any id will do
            tokenizer.pad_token = tokenizer.eos_token

    # ----------------------------------------------------------------- checks
    def check_split(self, name: str, dataset: Dataset) -> None:
        """Every row a valid pair (named when not); prompts of `max_length` tokens found."""
        columns = dataset.column_names
        wanted = {"data.chosen_column": self.chosen_column}
        wanted["data.rejected_column"] = self.rejected_column
        has_prompt = bool(self.prompt_column) and self.prompt_column in columns
        if self.prompt_column and (has_prompt or not self.prompt_optional):
            wanted["data.prompt_column"] = self.prompt_column
        if self.system_column:
            wanted["data.system_column"] = self.system_column
        self.require_columns(name, dataset, wanted, hint=sft_hint(columns))
        if name == "train" and SYSTEM_COLUMN in columns and SYSTEM_COLUMN not in wanted.values():
            log.warning(  # Orca's pairs: half of them carry a system prompt
                "column '%s' of the %s split is not read: set data.system_column=%s to make "
                "each row's system prompt its prompt's first turn",
                SYSTEM_COLUMN,
                self.split_name(name),
                SYSTEM_COLUMN,
            )
        if not has_prompt and len(dataset) and isinstance(dataset[0][self.chosen_column], str):
            raise DataError(self._no_prompt_column(name, columns))
        pairs = self.pairs(dataset[:], name, drop_ties=self.on_tie == "drop")
        self.ties[name] = [i for i, p in enumerate(pairs) if p is None]
        pairs = [p for p in pairs if p is not None]
        if not self.chat and any(isinstance(p.prompt, list) for p in pairs):
            raise ConfigError(
                f"the {self.split_name(name)} split holds chat messages but the tokenizer has "
                "no chat template; "
                "set model.chat_template (a Jinja string or file)"
            )
        tied = set(self.ties[name])
        rows = [i for i in range(len(dataset)) if i not in tied]
        sizes = [len(prompt_ids(self.tokenizer, p.prompt)) for p in pairs]
        lengths = dict(zip(rows, sizes, strict=True))
        self.overlong[name] = [i for i, n in lengths.items() if n >= self.max_length]
        if self.overlong[name] and self.on_overlong == "error":
            row = self.overlong[name][0]
            raise DataError(
                f"{self.where(name, row, self.prompt_column)}: the prompt has {lengths[row]} "
                f"tokens, data.max_length={self.max_length} leaves no room for a completion "
                f"({len(self.overlong[name])} such row(s) in the {self.split_name(name)} split; "
                "data.on_overlong=drop leaves them out)"
            )

    def _no_prompt_column(self, split: str, columns: list[str]) -> str:
        """Why string pairs without a prompt column cannot be read, and what would do."""
        source, named = self.source_of(split), self.split_name(split)
        missing = (
            f"column '{self.prompt_column}' (data.prompt_column) is not in the {named} split; "
            "columns present"
            if self.prompt_column
            else f"data.prompt_column is null; columns present in the {named} split"
        )
        return (
            f"{f'{source}: ' if source else ''}{missing}: {', '.join(columns)}. "
            "String chosen/rejected need a prompt column (data.prompt_column=<column>), or "
            "chosen/rejected as message lists whose shared leading turns are the prompt; whole "
            'transcripts ("\\n\\nHuman: ...\\n\\nAssistant: ...") must be split into '
            "prompt/chosen/rejected first"
        )

    def pairs(
        self, batch: dict[str, list[Any]], split: str | None = None, drop_ties: bool = False
    ) -> list[Any]:
        """The pairs of a batch of raw rows; a bad row raises `DataError` (named when `split`
        is given). With `drop_ties`, a pair that prefers nothing is None instead."""
        chosen, rejected = batch[self.chosen_column], batch[self.rejected_column]
        prompts = batch.get(self.prompt_column) or [None] * len(chosen)
        systems = batch[self.system_column] if self.system_column else [None] * len(chosen)
        pairs: list[Pair | None] = []
        for row, values in enumerate(zip(prompts, chosen, rejected, strict=True)):
            try:
                pairs.append(make_pair(*values, chat=self.chat, system=systems[row]))
            except NoPreference as err:
                if not drop_ties:
                    hint = "data.on_tie=drop leaves such pairs out"
                    raise DataError(f"{self._at(split, row, err)}: {err} ({hint})") from None
                pairs.append(None)
            except ChatError as err:
                raise DataError(f"{self._at(split, row, err)}: {err}") from None
        return pairs

    def _at(self, split: str | None, row: int, err: ChatError) -> str:
        """Where a row `make_pair` refused is (`make_pair` names its field: prompt, chosen or
        rejected; the user knows the field by its configured column)."""
        fields = {"prompt": self.prompt_column, "rejected": self.rejected_column}
        fields["system"] = str(self.system_column)
        column = fields.get(err.column or "", self.chosen_column)
        return self.where(split, row, column) if split else f"row {row}"

    def prepare_split(self, name: str, dataset: Dataset) -> Dataset:
        """Leave out overlong prompts (`on_overlong=drop`) and pairs that prefer nothing
        (`on_tie=drop`), and number the pairs."""
        import numpy as np
        from datasets.fingerprint import Hasher

        from lab.compat.datasets import fingerprint

        ties = set(self.ties.get(name, ()))
        if ties:
            log.warning(
                "%s split: left out %d of %d pairs that prefer nothing (chosen equal to "
                "rejected, or an empty side; data.on_tie=drop)",
                name,
                len(ties),
                len(dataset),
            )
        overlong = set(self.overlong.get(name, ()))
        if overlong:
            log.warning(
                "%s split: left out %d of %d pairs whose prompt has >= data.max_length=%d "
                "tokens (data.on_overlong=drop)",
                name,
                len(overlong),
                len(dataset),
                self.max_length,
            )
        dropped = overlong | ties
        if dropped:
            keep = [i for i in range(len(dataset)) if i not in dropped]
            if not keep:
                raise DataError(
                    f"the {self.split_name(name)} split has no pairs left: {len(overlong)} with "
                    "a prompt of "
                    f">= data.max_length={self.max_length} tokens, {len(ties)} that prefer "
                    "nothing (chosen equal to rejected, or an empty side)"
                )
            dataset = dataset.select(keep).flatten_indices()  # add_column needs a plain table
        return dataset.add_column(
            INDEX,
            np.arange(len(dataset), dtype=np.int64),
            new_fingerprint=Hasher.hash((fingerprint(dataset), INDEX)),
        )

    # ----------------------------------------------------------------- tokenization
    def fingerprint_parts(self) -> tuple[Any, ...]:
        return (
            self.prompt_column,
            *([("system", self.system_column)] if self.system_column else []),  # old keys stay
            self.chosen_column,
            self.rejected_column,
            self.max_length,
            getattr(self.tokenizer, "chat_template", None),
            CUT_FLAGS,  # the pairs with a cut reply, counted and said (lab.data.cut_counts)
        )

    def tokenize(self, batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        """`input_ids` and `labels`: [chosen ids, rejected ids] per pair; `pair_index`."""
        out: dict[str, list[Any]] = {"input_ids": [], "labels": [], INDEX: batch[INDEX]}
        cuts = []
        for pair in self.pairs(batch):
            encoded = encode_pair(self.tokenizer, pair)
            sides = [encoded.chosen[: self.max_length], encoded.rejected[: self.max_length]]
            out["input_ids"].append(sides)
            out["labels"].append(
                [[IGNORE] * encoded.prompt_length + ids[encoded.prompt_length :] for ids in sides]
            )
            # A prompt of max_length tokens was left out before: a cut is in a reply.
            longest = max(len(encoded.chosen), len(encoded.rejected))
            cuts.append(CUT if longest > self.max_length else WHOLE)
        if self._marking:  # a split being tokenized: its cut pairs counted, then the column goes
            out[INPUTS] = cuts
        return out

    def cut_note(self, column: str, counted: list[tuple[str, tuple[int, int], int]]) -> str | None:
        """The line on the pairs with a reply cut at `max_length`, over lab's splits `counted`
        (`CutCountingDataModule.cut_note`, in what a cut costs DPO: the reply's reward)."""
        splits = [
            (counts, rows, split_rows(self.split_name(name), self.cut_nouns[column]))
            for name, counts, rows in counted
        ]
        why = (
            "a cut reply is scored on its first tokens only: its log-probability, and so its "
            "reward, is not the whole reply's"
        )
        key = "data.max_length"
        advice = self.limit_advice(key, self.max_length, self.cut_nouns[column])
        return joined_cut_line(key, self.max_length, splits, why, advice=advice)

    def empty_split_message(self, name: str) -> str:
        return (
            f"the {self.split_name(name)} split has no pairs left: every prompt has >= "
            "data.max_length="
            f"{self.max_length} tokens; raise data.max_length"
        )

    def collate_fn(self) -> Callable[[list[dict[str, Any]]], Any]:
        """Rows [chosen of every pair, then rejected of every pair], right-padded."""
        pad, padding = self.tokenizer.pad_token_id, self.padding(self.max_length)

        def collate(rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
            return collate_pairs(rows, pad, padding)

        return collate

    def module_kwargs(self) -> dict[str, Any]:
        """Each split's size and its batches in order (for precomputed references)."""
        sizes = {STAGES[name]: len(ds) for name, ds in self.datasets.items()}
        return {"split_sizes": sizes, "reference_batches": self.ordered_batches}

    def ordered_batches(
        self, stage: str, replicas: int = 1, rank: int = 0
    ) -> Iterator[dict[str, torch.Tensor]]:
        """The pairs of the `stage` split (train/val/test) in batches of `eval_batch_size`, in
        order; with `replicas` > 1 only batches `rank`, `rank + replicas`, ... (a DDP rank's
        share: every pair is in exactly one rank's batches)."""
        name = {v: k for k, v in STAGES.items()}[stage]
        dataset, pad = self.datasets[name], self.tokenizer.pad_token_id
        padding = self.padding(self.max_length)  # as the policy's batches: the same shapes
        starts = range(0, len(dataset), self.eval_batch_size)
        for start in starts[rank::replicas]:
            rows = dataset.select(range(start, min(start + self.eval_batch_size, len(dataset))))
            yield collate_pairs(list(rows), pad, padding)


def collate_pairs(
    rows: list[dict[str, Any]], pad_id: int, padding: Padding | None = None
) -> dict[str, torch.Tensor]:
    """`input_ids`, `attention_mask`, `labels` [2 x pairs, longest or `padding.width` of it],
    chosen rows first, and `pair_index` [pairs]."""
    sequences = [row["input_ids"][side] for side in (0, 1) for row in rows]
    labels = [row["labels"][side] for side in (0, 1) for row in rows]
    width = (padding or Padding()).width(max(len(s) for s in sequences))
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    targets = torch.full((len(sequences), width), IGNORE, dtype=torch.long)
    for i, (seq, lab) in enumerate(zip(sequences, labels, strict=True)):
        ids[i, : len(seq)] = torch.tensor(seq)
        mask[i, : len(seq)] = 1
        targets[i, : len(lab)] = torch.tensor(lab)
    index = torch.tensor([int(row[INDEX]) for row in rows], dtype=torch.long)
    return {"input_ids": ids, "attention_mask": mask, "labels": targets, INDEX: index}
