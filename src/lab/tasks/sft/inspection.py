"""How `python -m lab.inspect` measures SFT data (`rows:` in `conf/data/base/inspect/sft.yaml`).

Each row is read as the SFT data module reads it, with the same functions of
`lab.tasks.sft.chat`: made messages (`data.format`; auto: detected from the train columns),
rendered with the chat template and tokenized, the assistant's tokens marked, labelled as
training labels it (`target_labels`: the assistant's tokens, a prompt_completion row's
completion's only; every token with
`task.module.train_on_prompt`; cut at `data.max_length`; none for a row whose prompt fills it,
which training drops). With `data.history_cut=oldest_turns` a row over `data.max_length` is
measured as training reads it, its oldest turns left out (`lab.tasks.sft.history`): its
tokens, prompt and targets are the cut conversation's, and the fact `history cut` counts the
rows and turns left out. Imports no torch or Lightning: `lab.inspect` answers without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lab.data.inspection_rows import Measured, RowReader, Skip, Targets, TextSpec, as_skip
from lab.errors import ConfigError, DataError
from lab.tasks.sft.chat import (
    FORMAT_COLUMNS,
    EmptyAnswer,
    completion_turns,
    detect_format,
    render_chat,
    rendered_length,
    require_chat_template,
    target_labels,
    to_messages,
)
from lab.tasks.sft.history import NONE, cut_oldest_turns, history_cut_problem

if TYPE_CHECKING:
    from datasets import Dataset
    from omegaconf import DictConfig


class ChatRows(RowReader):
    """A conversation per row. The prompt is what precedes the first assistant token of a
    train row, and the last assistant turn's of a validation / test row (the turn generated
    there): the rows the head drops or refuses by `data.on_overlong`. Facts: `turns` (messages
    per row, system ones included) and `roles` (messages per role). Targets: the labels of
    each row training keeps (see the module doc)."""

    def __init__(self, data: DictConfig, tokenizer: Any, train: Dataset) -> None:
        require_chat_template(tokenizer)  # no chat template: the head's own refusal, in words
        self.format = str(data.get("format") or "auto")
        if self.format == "auto":
            try:
                self.format = detect_format(train.column_names)
            except ValueError as err:
                raise DataError(str(err)) from None
        if self.format not in FORMAT_COLUMNS:
            raise ConfigError(
                f"data.format={self.format!r}; choose auto or one of {', '.join(FORMAT_COLUMNS)}"
            )
        self.columns = tuple(FORMAT_COLUMNS[self.format])
        self.left_out = {
            "empty answer": "data.on_empty drops such rows or stops",
            "unreadable": "training stops at the first",
        }
        limit = data.get("max_length")
        key = "data.max_length" if limit else None
        self.specs = [TextSpec(f"chat ({self.format})", self.columns, limit, key)]
        self.train_on_prompt = bool(data.get("train_on_prompt"))  # ${task.module.train_on_prompt}
        # prompt_completion: the assistant turns of its prompt are context (chat.py's doc).
        completion = self.format == "prompt_completion"
        turns = "the completion's assistant turns" if completion else "the assistant's turns"
        self.targets_rule = (
            "every token but the first (task.module.train_on_prompt=true)"
            if self.train_on_prompt
            else f"{turns} (task.module.train_on_prompt=false)"
        )
        self.history_cut = str(data.get("history_cut") or NONE)
        if problem := history_cut_problem(self.history_cut):
            raise ConfigError(problem)
        self._tokenizer = tokenizer

    def read(self, row: dict[str, Any]) -> tuple[str, Any, dict[str, Any]]:
        try:
            messages = to_messages(row, self.format)
        except ValueError as err:  # the head's ChatError: a row it cannot use, column named
            raise as_skip(err, EmptyAnswer, "empty answer") from None
        roles: dict[str, int] = {}
        for message in messages:
            roles[message["role"]] = roles.get(message["role"], 0) + 1
        key = "\x1f".join(m["content"] for m in messages)
        trained = completion_turns(row, self.format)  # the turns training labels
        return key, (messages, trained), {"turns": len(messages), "roles": roles}

    def measure(self, parsed: Any, split: str) -> Measured:
        parsed, trained = parsed
        try:
            ids, mask = render_chat(self._tokenizer, parsed, trained)
            limit = self.specs[0].max_length
            turns = 0
            if self.history_cut != NONE and limit and len(ids) > limit:
                parsed, turns = cut_oldest_turns(
                    parsed,
                    lambda kept: rendered_length(self._tokenizer, kept) <= int(limit),
                    keep_answer=True,
                )
                if turns:
                    ids, mask = render_chat(self._tokenizer, parsed, trained)
        except ValueError as err:  # the template refuses the conversation
            raise Skip("unreadable", str(err)) from None
        starts = [i for i, m in enumerate(mask) if m and (i == 0 or not mask[i - 1])]
        answer = starts[0] if split == "train" else starts[-1]  # render_chat: never empty
        kept = not limit or answer < limit  # else training drops the row (data.on_overlong)
        # Summed over the rows measured: "history cut rows 8, turns 32" (the rows cut, the
        # turns), of the rows training keeps, as its line counts them (s27c L4).
        turns = turns if kept else 0
        cut_fact = {"history cut": {"rows": int(turns > 0), "turns": turns}}
        facts: dict[str, Any] = cut_fact if self.history_cut != NONE else {}
        targets = None
        if kept:
            cut = int(limit) if limit else len(ids)
            labels = target_labels(ids, mask, self.train_on_prompt)
            targets = Targets(ids[:cut], labels[:cut])
        return Measured({self.specs[0].name: len(ids)}, answer, facts, ids=[ids], targets=targets)
