"""`SFTDataModule`: chat / instruction rows checked, rendered, masked, truncated, packed, batched.

Every row becomes a list of messages (`lab.tasks.sft.chat`), is rendered by the tokenizer's
chat template and tokenized; labels are the token ids on the assistant's tokens (a
`prompt_completion` row's: its completion's only) and -100 elsewhere (everywhere a target
with `train_on_prompt`), and -100 on each example's first token (no prediction crosses into
an example when rows are packed).

Rows longer than `max_length` are cut at `max_length` (the answer's end is lost); the share of
such rows is logged and kept in `truncated_share`. A row whose prompt alone takes `max_length`
tokens or more has no answer token left: `on_overlong=drop` drops it (counted, logged, kept in
`dropped`), `on_overlong=error` stops naming it. The prompt is what precedes the first
assistant turn for train rows (what the loss could start on), and the generation prompt of the
final assistant turn for validation / test rows (what the model is asked there).
`history_cut=oldest_turns` first leaves out a long row's oldest whole turns until it fits
(`lab.tasks.sft.history`); the rows and turns so cut are counted (`history_cuts`).

The split's one-line summary gives each count: the rows dropped for each reason
(`dropped_reasons`: empty answers, prompts of `max_length` tokens or more), the rows cut to
their latest turns, the rows truncated. A dropped row leaves the tokenizing `map` as a marker
row (its reason in `DROPPED`; no tokens), so the reasons can be counted from the cached split;
`setup` counts and removes them (the train stream's in `prepare_stream`).

Batches (the contract with `SFTModule`): `input_ids`, `attention_mask`, `labels`, right-padded;
packed training rows instead carry `position_ids` restarting per example and no
`attention_mask` (see `lab.tasks.sft.packing`), plus `use_cache=False` (a model building a
cache ignores restarting positions). Validation / test batches add `prompt_input_ids` and
`prompt_attention_mask` (left-padded generation prompts), `references` (the final assistant
turn's text) and `row_id` (each row's index in its split).

Streamed training rows (`data.streaming=true`) are named by the stream itself and packed as
they are read, `PACK_BATCH` examples at a time (`prepare_stream`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

from lab.data.datamodule import DataModule
from lab.data.padding import pad_rows
from lab.errors import ConfigError, DataError
from lab.tasks.sft.chat import (
    FORMAT_COLUMNS,
    FORMATS,
    ChatError,
    EmptyAnswer,
    completion_turns,
    detect_format,
    prompt_ids,
    render_chat,
    rendered_length,
    require_chat_template,
    split_final_answer,
    target_labels,
    to_messages,
)
from lab.tasks.sft.chat_columns import format_hint
from lab.tasks.sft.dropped_rows import (
    EMPTY,
    OVERLONG_PROMPT,
    counted,
    dropped_words,
    many_dropped_warning,
    overlong_fix,
)
from lab.tasks.sft.history import NONE, cut_oldest_turns, history_cut_problem
from lab.tasks.sft.packing import IGNORE, collate_packed, pack_rows
from lab.tasks.sft.turn_end import turn_end_problem

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedTokenizerBase

log = logging.getLogger(__name__)

ROW = "__sft_row__"  # each row's index in its split, so tokenization errors can name the row
OVERLONG = ("drop", "error")
PACK_BATCH = 1000  # examples packed together (one `datasets.map` batch)
DROPPED = "dropped"  # a dropped row's reason (`EMPTY`, `OVERLONG_PROMPT`); "" on rows kept
TURNS_CUT = "turns_cut"  # the oldest turns `history_cut` left out of a row


class SFTDataModule(DataModule):
    """Chat / instruction data for supervised fine-tuning (see the module doc).

    Args:
        format: `auto` (from the train columns) or one of `messages`, `prompt_completion`,
            `alpaca`, `sharegpt` (see `lab.tasks.sft.chat`).
        max_length: tokens per example; longer examples are truncated.
        on_overlong: `drop` or `error` for a row whose prompt alone fills `max_length`.
        on_empty: `drop` (counted) or `error` for a row with an empty assistant turn.
        train_on_prompt: labels on every token, not only the assistant's (the config reads it
            from `task.module.train_on_prompt`).
        packing: pack several training examples per row (`lab.tasks.sft.packing`).
        history_cut: `none` or `oldest_turns`: leave out a long row's oldest whole turns until
            it fits `max_length` (`lab.tasks.sft.history`).
        **kwargs: see `lab.data.datamodule.DataModule`.
    """

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        *,
        format: str = "auto",
        max_length: int = 1024,
        on_overlong: str = "drop",
        on_empty: str = "drop",
        train_on_prompt: bool = False,
        packing: bool = False,
        history_cut: str = NONE,
        **kwargs: Any,
    ) -> None:
        super().__init__(tokenizer, **kwargs)
        if format != "auto" and format not in FORMATS:
            raise ConfigError(f"data.format={format!r}; choose auto or one of {', '.join(FORMATS)}")
        if on_empty not in OVERLONG:
            raise ConfigError(f"data.on_empty={on_empty!r}; choose one of {', '.join(OVERLONG)}")
        if on_overlong not in OVERLONG:
            raise ConfigError(
                f"data.on_overlong={on_overlong!r}; choose one of {', '.join(OVERLONG)}"
            )
        if problem := history_cut_problem(history_cut):
            raise ConfigError(problem)
        if max_length < 2:
            raise ConfigError(f"data.max_length={max_length}: an example needs at least 2 tokens")
        require_chat_template(tokenizer)
        self.format = format
        self.max_length = max_length
        self.on_overlong = on_overlong
        self.on_empty = on_empty
        self.train_on_prompt = train_on_prompt
        self.packing = packing
        self.history_cut = history_cut or NONE
        if tokenizer.pad_token_id is None:  # Llama 3 has none; padding is masked out anyway
            tokenizer.pad_token = tokenizer.eos_token
        self._split = "train"  # the split being tokenized (set by `prepare_split`)
        self.dropped: dict[str, int] = {}
        self.truncated_share: dict[str, float] = {}
        self.dropped_reasons: dict[str, dict[str, int]] = {}  # split: {EMPTY: n, OVERLONG: n}
        self.history_cuts: dict[str, tuple[int, int]] = {}  # split: (rows cut, turns left out)

    # ----------------------------------------------------------------- checks
    def describe_labels(self, train: Dataset) -> None:
        """Settle `format=auto` from the train split's columns."""
        if self.format == "auto":
            try:
                self.format = detect_format(train.column_names)
            except ChatError as err:
                source = self.source_of("train")
                raise DataError(f"{f'{source}: ' if source else ''}{err}") from None
            log.info("chat data format: %s (from the train columns)", self.format)

    def check_split(self, name: str, dataset: Dataset) -> None:
        """The format's columns must be there; rows are checked as they are tokenized."""
        wanted = {f"data.format={self.format}": c for c in FORMAT_COLUMNS[self.format]}
        self.require_columns(name, dataset, wanted, hint=format_hint(dataset.column_names))

    def prepare_split(self, name: str, dataset: Dataset) -> Dataset:
        """Number the rows (tokenization errors name them) and note which split is next."""
        self._split = name
        return dataset.add_column(ROW, list(range(len(dataset))))  # type: ignore[no-any-return]

    # ----------------------------------------------------------------- tokenization
    def fingerprint_parts(self) -> tuple[Any, ...]:
        # Evaluation rows carry prompts and references, and another overlong rule.
        # The chat template is not part of the tokenizer's own fingerprint (its vocabulary).
        evaluation = self._split != "train"
        template = self.tokenizer.chat_template
        options: tuple[Any, ...] = (self.format, self.max_length, self.on_overlong)
        options += (self.on_empty, self.train_on_prompt, self.history_cut)
        # "dropped rows kept": the output's shape since dropped rows became marker rows.
        # prompt_completion rows are labelled on their completion only since s30a F2: their
        # splits cached before (every assistant turn labelled) are not reused.
        only = ("completion turns only",) if self.format == "prompt_completion" else ()
        return (*options, evaluation, template, "dropped rows kept", *only)

    def tokenize(self, batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        columns = [c for c in batch if c != ROW]
        if ROW in batch:
            split, numbers = self._split, batch[ROW]
        else:  # a batch of the train stream (lab.data.streaming), which names its rows itself
            split, numbers = "train", list(range(len(batch[columns[0]])))
        evaluation = split != "train"
        out: dict[str, list[Any]] = {
            "input_ids": [], "labels": [], "truncated": [], DROPPED: [], TURNS_CUT: [],
        }  # fmt: skip
        if evaluation:
            out.update(prompt_input_ids=[], reference=[], row_id=[])

        def add(ids: list[int], labels: list[int], dropped: str, cut: int, **more: Any) -> None:
            out["input_ids"].append(ids[: self.max_length])
            out["labels"].append(labels[: self.max_length])
            out["truncated"].append(len(ids) > self.max_length)
            out[DROPPED].append(dropped)
            out[TURNS_CUT].append(cut)
            if evaluation:
                out["prompt_input_ids"].append(more.get("prompt", []))
                out["reference"].append(more.get("reference", ""))
                out["row_id"].append(row_id)

        for i, row_id in enumerate(numbers):
            row = {c: batch[c][i] for c in columns}
            cut = 0
            try:
                messages = to_messages(row, self.format)
                trained = completion_turns(row, self.format)  # prompt_completion: completion
                ids, mask = render_chat(self.tokenizer, messages, trained)
                if self.history_cut != NONE and len(ids) > self.max_length:
                    messages, cut = cut_oldest_turns(messages, self.fits, keep_answer=True)
                    if cut:
                        ids, mask = render_chat(self.tokenizer, messages, trained)
                if evaluation:
                    asked, reference = split_final_answer(messages)
                    prompt = prompt_ids(self.tokenizer, asked)
            except EmptyAnswer as err:
                if self.on_empty == "error":
                    raise DataError(
                        f"{self.where(split, row_id, err.column)}: {err} (data.on_empty=drop "
                        "skips such rows)"
                    ) from None
                add([], [], EMPTY, 0)
                continue
            except ChatError as err:
                raise DataError(f"{self.where(split, row_id, err.column)}: {err}") from None
            prompt_length = len(prompt) if evaluation else mask.index(1)
            if prompt_length >= self.max_length:
                if self.on_overlong == "error":
                    cut_words = f" after leaving out its {cut} oldest turns" if cut else ""
                    raise DataError(
                        f"{self.where(split, row_id)}: the prompt is {prompt_length} tokens"
                        f"{cut_words}, no answer token fits in data.max_length={self.max_length};"
                        " raise data.max_length or set data.on_overlong=drop to skip such rows"
                    )
                add([], [], OVERLONG_PROMPT, cut)
                continue
            labels = target_labels(ids, mask, self.train_on_prompt)  # lab.inspect shows these
            if evaluation:
                add(ids, labels, "", cut, prompt=prompt, reference=reference)
            else:
                add(ids, labels, "", cut)
        return out

    def fits(self, messages: list[dict[str, str]]) -> bool:
        """Whether the conversation renders to at most `max_length` tokens (the test
        `history_cut` leaves out turns by)."""
        return rendered_length(self.tokenizer, messages) <= self.max_length

    def setup(self, stage: str | None = None) -> None:
        """Tokenize (`DataModule.setup`), count and remove the dropped rows, report them and
        the cut and truncated ones, pack train."""
        if self.datasets:
            return
        super().setup(stage)
        from datasets import Dataset

        if problem := turn_end_problem(self.tokenizer):
            log.warning(problem)

        for name, dataset in list(self.datasets.items()):
            if not isinstance(dataset, Dataset):  # streamed: no counts up front
                continue
            table = dataset.with_format("arrow")
            reasons = table[DROPPED].to_pylist()
            kept_rows = [i for i, reason in enumerate(reasons) if not reason]
            self.dropped_reasons[name] = {
                reason: reasons.count(reason) for reason in (EMPTY, OVERLONG_PROMPT)
            }
            self.dropped[name] = len(reasons) - len(kept_rows)
            if not kept_rows:
                raise DataError(self.empty_split_message(name))
            if self.dropped[name]:
                dataset = dataset.select(kept_rows)
            self.datasets[name] = dataset = dataset.remove_columns(DROPPED)
            kept = len(dataset)
            cuts = [n for n in dataset.with_format("arrow")[TURNS_CUT].to_pylist() if n]
            self.history_cuts[name] = (len(cuts), sum(cuts))
            truncated = sum(dataset.with_format("arrow")["truncated"].to_pylist())
            self.truncated_share[name] = truncated / kept
            log.info(self.summary(name, kept, truncated))
            read = self.raw_sizes.get(name, kept + self.dropped[name])
            counts = self.dropped_reasons[name]
            if warning := many_dropped_warning(
                name, counts, read, kept, self.max_length, self.history_cut
            ):
                log.warning(warning)
        if self.packing and isinstance(self.datasets.get("train"), Dataset):
            self.datasets["train"] = self.pack(self.datasets["train"])

    def summary(self, name: str, kept: int, truncated: int) -> str:
        """The split's one line: examples; rows dropped, by reason; rows cut to their latest
        turns (`history_cut`); rows truncated, as shares of the examples and of the rows read
        (lab.inspect's shares are of the rows read: 88.2% here and 62.5% there, of the same
        rows, read as a contradiction, s26b M5)."""
        read = self.raw_sizes.get(name, kept + self.dropped[name])
        line = f"sft {name}: {counted(kept, 'example')}, {self.dropped[name]} dropped"
        if self.dropped[name]:
            line += f" ({dropped_words(self.dropped_reasons[name], self.max_length)})"
        if self.history_cut != NONE:
            rows, turns = self.history_cuts[name]
            lost = counted(turns, "oldest turn")
            line += f", {counted(rows, 'row')} lost {lost} (data.history_cut={self.history_cut})"
        share = 100 * truncated / kept
        return (
            f"{line}, {truncated} truncated ({share:.1f}% of the examples, "
            f"{100 * truncated / max(1, read):.1f}% of the {read} rows read)"
        )

    def prepare_stream(self, stream: Any) -> Any:
        """A streamed train split is packed as it is read, `PACK_BATCH` examples at a time."""
        stream = stream.filter(lambda row: not row[DROPPED]).remove_columns(DROPPED)
        if not self.packing:
            return stream
        return stream.map(
            pack_rows,
            batched=True,
            batch_size=PACK_BATCH,
            fn_kwargs={"max_length": self.max_length},
            remove_columns=["input_ids", "labels", "truncated", TURNS_CUT],
        )

    def pack(self, dataset: Dataset) -> Dataset:
        """Training examples packed into rows of at most `max_length` tokens."""
        before = len(dataset)
        packed = dataset.map(
            pack_rows,
            batched=True,
            batch_size=PACK_BATCH,
            fn_kwargs={"max_length": self.max_length},
            remove_columns=dataset.column_names,
            desc="Packing train",
        )
        log.info("packed %d train examples into %d rows", before, len(packed))
        return packed

    def empty_split_message(self, name: str) -> str:
        counts = self.dropped_reasons.get(name, {})
        if counts and not counts.get(OVERLONG_PROMPT):
            return (
                f"the {self.split_name(name)} split has no examples left: every row has an "
                "empty answer (data.on_empty=drop)"
            )
        dropped = f" ({dropped_words(counts, self.max_length)})" if counts else ""
        return (
            f"the {self.split_name(name)} split has no examples left: every row was dropped"
            f"{dropped}, data.on_overlong=drop; {overlong_fix(self.history_cut)}"
        )

    # ----------------------------------------------------------------- batches
    def collate_fn(self) -> Callable[[list[dict[str, Any]]], Any]:
        """Right-padded model inputs; packed rows with restarting positions; evaluation rows
        with left-padded generation prompts and their references (see the module doc)."""
        pad = int(self.tokenizer.pad_token_id)
        padding = self.padding(self.max_length)  # rows, packed rows and prompts alike

        def collate(rows: list[dict[str, Any]]) -> dict[str, Any]:
            if "position_ids" in rows[0]:
                width = padding.width(max(len(r["input_ids"]) for r in rows))
                return {**collate_packed(rows, pad, width), "use_cache": False}
            sequences = [r["input_ids"] for r in rows]
            width = padding.width(max(len(s) for s in sequences))
            batch: dict[str, Any] = pad_sequences(sequences, pad, left=False, width=width)
            labels = pad_sequences([r["labels"] for r in rows], IGNORE, left=False, width=width)
            batch["labels"] = labels["input_ids"]
            if "prompt_input_ids" in rows[0]:
                prompt_rows = [r["prompt_input_ids"] for r in rows]
                prompt_width = padding.width(max(len(p) for p in prompt_rows))
                prompts = pad_sequences(prompt_rows, pad, left=True, width=prompt_width)
                batch["prompt_input_ids"] = prompts["input_ids"]
                batch["prompt_attention_mask"] = prompts["attention_mask"]
                batch["references"] = [r["reference"] for r in rows]
                batch["row_id"] = torch.tensor([r["row_id"] for r in rows], dtype=torch.long)
            return batch

        return collate

    def module_kwargs(self) -> dict[str, Any]:
        """The tokenizer, to decode generations."""
        return {"tokenizer": self.tokenizer}


def pad_sequences(
    sequences: list[list[int]], value: int, *, left: bool, width: int | None = None
) -> dict[str, torch.Tensor]:
    """`input_ids` (padded with `value`, on the left or right, to `width` or else the longest)
    and `attention_mask`."""
    width = width or max(len(s) for s in sequences)
    ids = pad_rows(sequences, width, value, left)
    mask = pad_rows([[1] * len(s) for s in sequences], width, 0, left)
    return {"input_ids": ids, "attention_mask": mask}
