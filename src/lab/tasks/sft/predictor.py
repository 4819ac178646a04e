"""`ChatPredictor`: what `lab.predict` and `lab.serve` do with an SFT run.

A row holds `messages` (a chat: a list of `{role, content}`, or that list as a JSON string, as
a CSV cell holds it) or `prompt` (a string, sent as one user turn). The exported tokenizer's
chat template renders the chat with the generation prompt, exactly as training rendered its
prompts, and the model completes the assistant turn greedily: `completion`.

A DPO run may have no chat template (its string pairs trained as plain text + EOS): its
`prompt` is continued as plain text, tokenized as those pairs' prompts were
(`lab.tasks.dpo.pairs.prompt_ids`), and a `messages` row is refused (nothing renders it).

A run trained with `data.history_cut=oldest_turns` has a long chat's oldest turns left out as
training left them out (`lab.tasks.sft.history`); the result of such a chat says so in
`truncated` (`lab.inference.cuts`), and `lab.predict` counts them (`notes`).

Inference-side only (torch, transformers): loading it does not load Lightning.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from lab.inference.cuts import TRUNCATED
from lab.inference.predictors import Generator, model_positions, present_fields, room_problem
from lab.tasks.dpo import pairs
from lab.tasks.sft.answered_rows import answered_chat, answered_pair
from lab.tasks.sft.chat import (
    ChatError,
    Message,
    as_messages,
    end_of_turn_id,
    prompt_ids,
    rendered_length,
)
from lab.tasks.sft.history import NONE, cut_oldest_turns

if TYPE_CHECKING:
    from omegaconf import DictConfig


def stop_ids(model: Any, tokenizer: Any) -> list[int]:
    """Where a generated answer ends: the tokenizer's EOS, the model's generation config's EOS
    ids (instruct models end a turn with their own token: Qwen's `<|im_end|>`, Llama 3's
    `<|eot_id|>`), and the token the chat template ends an assistant turn with (a ChatML
    template given to a base model: `<|im_end|>`, which neither of the others names)."""
    stops: list[int] = []
    model_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for ids in (tokenizer.eos_token_id, model_eos, end_of_turn_id(tokenizer)):
        for token in ids if isinstance(ids, list) else [ids]:
            if token is not None and int(token) not in stops:
                stops.append(int(token))
    return stops


def save_stops_in_generation_config(model: Any, tokenizer: Any) -> None:
    """Put `stop_ids` in the model's generation config before export, so `pipeline`,
    `generate` and `lab.serve`'s chat API stop where the trained turns end."""
    from lab.training.adapters import is_peft_model

    target = model.get_base_model() if is_peft_model(model) else model
    config = getattr(target, "generation_config", None)
    if config is not None:
        stops = stop_ids(target, tokenizer)
        config.eos_token_id = stops[0] if len(stops) == 1 else stops or None


def save_chat_generation_settings(model: Any, tokenizer: Any, max_new_tokens: int) -> None:
    """The export of a chat head (SFT, DPO) generates as lab.predict and lab.serve answer:
    it stops where the trained turns end (`save_stops_in_generation_config`), greedily, at
    most `max_new_tokens` new tokens (`lab.tasks.generation_settings`). Without the last two
    a `pipeline("text-generation")` call as the README shows sampled at transformers 5's
    pipeline default (`do_sample=True, temperature=0.7`): another answer on most seeds
    (s33a M1)."""
    from lab.tasks.generation_settings import save_generation_settings

    save_stops_in_generation_config(model, tokenizer)
    save_generation_settings(model, 1, max_new_tokens)


def greedy_config(model: Any, tokenizer: Any, max_new_tokens: int) -> Any:
    """A deterministic `GenerationConfig`: greedy, `max_new_tokens`, stopping at `stop_ids`,
    padding with the pad token.

    Built fresh rather than from the model's generation config, whose sampling settings (Qwen's
    temperature, top_p) would draw a warning under greedy decoding."""
    from transformers import GenerationConfig

    stops = stop_ids(model, tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (stops or [0])[0]
    return GenerationConfig(
        max_new_tokens=max_new_tokens,
        do_sample=False,
        num_beams=1,
        eos_token_id=stops or None,
        pad_token_id=pad,
    )


def chat_of(row: dict[str, Any]) -> list[Message] | str:
    """The row's chat as a list of `{role, content}`, or why it has none (a string).

    Messages are checked as training checks them (`lab.tasks.sft.chat.as_messages`)."""
    messages, prompt = row.get("messages"), row.get("prompt")
    if messages is not None and prompt is not None:
        # A CSV with both columns has a cell in each: an empty one is no value (as for
        # multiple choice's optional prefix), so a row filling one of them is read.
        messages, prompt = _unless_blank(messages), _unless_blank(prompt)
        if messages is not None and prompt is not None:
            return "give either 'messages' or 'prompt', not both"
        if messages is None and prompt is None:
            return "fields 'messages' and 'prompt' are both empty: give one"
    if prompt is not None:
        if not isinstance(prompt, str) or not prompt.strip():
            return "field 'prompt' must be a non-empty string"
        return [{"role": "user", "content": prompt}]
    if messages is None:
        return f"missing field 'messages' or 'prompt' (fields present: {present_fields(row)})"
    if isinstance(messages, str):  # a CSV cell, or a JSON string sent to lab.serve
        try:
            messages = json.loads(messages)
        except json.JSONDecodeError:
            return "field 'messages' holds text that is not a JSON list of messages"
    try:
        chat = as_messages(messages, "messages")
    except ChatError as err:
        return f"field 'messages': {err}"
    if not chat:
        return "field 'messages' is an empty list"
    if chat[-1]["role"] == "assistant":
        return "the last message is the assistant's: end with a user turn to get a completion"
    if chat[-1]["role"] == "system":
        return "the chat has only a system message: end with a user turn to get a completion"
    if not str(chat[-1]["content"]).strip():
        return "the last user message is empty: give it the question to answer"
    return chat


def _unless_blank(value: Any) -> Any:
    """`value`, or None for an empty or whitespace-only string (an empty CSV cell)."""
    return None if isinstance(value, str) and not value.strip() else value


#: New tokens per answer when the run's config sets none: a DPO run (its module scores pairs
#: and never generates, so `task.module` has no `max_new_tokens`). SFT's own default.
DEFAULT_MAX_NEW_TOKENS = 128


class ChatPredictor(Generator):
    """The assistant's next turn for a chat (`messages`) or a single `prompt`: `completion`.

    Greedy, at most `task.module.max_new_tokens` new tokens (an SFT run's; a DPO run has none
    and gets `DEFAULT_MAX_NEW_TOKENS`; `max_new_tokens=` of `lab.predict` / `lab.serve` sets
    either). The prompt is read whole, however it compares with the run's `data.max_length`
    (a training length): cut to its last tokens, a long chat lost the template's start (the
    BOS token, the first user header, a system turn) and the model read a malformed prompt
    (s26b H1). A prompt whose tokens plus the new tokens are over the model's context
    (`model_positions`) is refused by `check`, as the chat API refuses it
    (`lab.inference.predictors.room_problem`).

    A run trained with `data.history_cut=oldest_turns` (its config says) has a long chat's
    oldest whole turns left out first, as training left them out (`fitted`): a data row's
    until it fits `data.max_length` with its reference answer (as evaluation asked it), a
    request's until it fits with `max_new_tokens` of answer. Such a chat's result has
    `truncated`: `{"tokens": <the prompt whole>, "tokens_read": <as asked>, "turns_cut": n}`.
    """

    fields = ("prompt", "messages")  # `.txt` inputs: one prompt per line
    optional_fields = ("prompt", "messages")
    message_fields = ("messages",)
    outputs: tuple[str, ...] = ("completion",)
    settings = ("max_new_tokens",)  # an SFT run's (a DPO run's task.module has none)
    #: how a chat cut by `data.history_cut` was read, in lab.serve's log line on it
    cut_read = "their oldest turns left out (data.history_cut=oldest_turns), as in training"

    def __init__(self, model: Any, tokenizer: Any, cfg: DictConfig) -> None:
        super().__init__(model, tokenizer, cfg)
        configured = cfg.task.module.get("max_new_tokens")
        self.max_new_tokens = int(configured or DEFAULT_MAX_NEW_TOKENS)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.templated = bool(getattr(tokenizer, "chat_template", None))
        self.data_rows = False  # `read_data_rows`
        # A DPO run, or an SFT run from before the option, has no `data.history_cut`: none.
        self.history_cut = str(cfg.data.get("history_cut") or NONE)
        self.cuts = self.templated and self.history_cut != NONE
        if self.cuts:
            self.outputs = ("completion", TRUNCATED)
        self.cut_rows = self.cut_turns = 0  # chats cut by `history_cut` (`notes`)

    def read_data_rows(self) -> None:
        """Read rows as the run's data holds them (`lab.predict`): a conversation ending with
        its answer is asked again without it, the answer beside the completion as `reference`
        (`lab.tasks.sft.answered_rows`)."""
        self.data_rows = True
        self.outputs = ("completion", "reference", *((TRUNCATED,) if self.cuts else ()))

    def chat(self, row: dict[str, Any]) -> tuple[list[Message] | str, str | None]:
        """The row's chat to complete (or why it has none: a string) and its reference answer
        where the row is a data row that ends with one (`read_data_rows`)."""
        if self.data_rows:
            data = self.cfg.data
            chosen = data.get("chosen_column")  # a DPO run: its preference pairs' columns
            answered = (
                answered_pair(row, data.get("prompt_column"), chosen, data.get("system_column"))
                if chosen
                else None
            )
            answered = answered or answered_chat(row)
            if isinstance(answered, tuple):
                return answered
            if isinstance(answered, str):
                return answered, None
        return chat_of(row), None

    def plain_prompt(self, row: dict[str, Any], chat: Any) -> str | None:
        """What a run without a chat template continues: a row's `prompt`, or a data row's
        prompt of one user turn (a DPO pair of strings, the run's own prompt column); None
        for `messages`, which need a template."""
        if row.get("prompt") is not None:
            return str(row["prompt"])
        if row.get("messages") is None and isinstance(chat, list) and len(chat) == 1:
            return str(chat[0]["content"]) if chat[0]["role"] == "user" else None
        return None

    def check(self, row: dict[str, Any]) -> str | None:
        """Why `row` holds no chat to complete, or None."""
        chat, reference = self.chat(row)
        if isinstance(chat, str):
            return chat
        plain = None if self.templated else self.plain_prompt(row, chat)
        if not self.templated and plain is None:
            return (
                "field 'messages': this run's tokenizer has no chat template to render "
                "messages; give a plain 'prompt' (continued as text)"
            )
        if self.templated:
            # The template's own rules (no system turn, roles that alternate) are the
            # request's mistake too: refused here, not a failure inside `predict`. The room
            # asked is the prompt's as read: after `history_cut`'s cut.
            try:
                ids = prompt_ids(self.tokenizer, self.fitted(chat, reference)[0])
            except ChatError as err:
                return f"field 'messages': {err}"
        else:
            ids = pairs.prompt_ids(self.tokenizer, str(plain))
        # The whole prompt against the model's context, in the chat API's words: one input
        # gets one answer from lab.predict, /predict and /v1/chat/completions (no answer
        # generated past the positions the model has).
        return room_problem(
            model_positions(self.model), len(ids), self.max_new_tokens, option="max_new_tokens"
        )

    def fitted(
        self, chat: list[Message], reference: str | None
    ) -> tuple[list[Message], dict[str, int] | None]:
        """(the chat as the model is asked it, what was left out of it: None, or `{"tokens",
        "tokens_read", "turns_cut"}`). Whole, unless the run was trained with
        `data.history_cut=oldest_turns` and the chat does not fit `data.max_length`: with its
        reference answer (a data row, asked as evaluation asked it: training cut it so), or
        with `max_new_tokens` of answer (a request, whose answer is not written yet)."""
        if not self.cuts:
            return chat, None
        if reference is not None:
            answer = {"role": "assistant", "content": reference}

            def fits(messages: list[Message]) -> bool:
                return rendered_length(self.tokenizer, [*messages, answer]) <= self.max_length

        else:

            def fits(messages: list[Message]) -> bool:
                length = len(prompt_ids(self.tokenizer, messages)) + self.max_new_tokens
                return length <= self.max_length

        if fits(chat):
            return chat, None
        asked, turns = cut_oldest_turns(chat, fits)
        if not turns:
            return chat, None
        whole, read = prompt_ids(self.tokenizer, chat), prompt_ids(self.tokenizer, asked)
        return asked, {"tokens": len(whole), "tokens_read": len(read), "turns_cut": turns}

    def notes(self) -> list[str]:
        """How many chats lost their oldest turns to `data.history_cut`, if any."""
        if not self.cut_rows:
            return []
        chats = f"{self.cut_rows} chat{'' if self.cut_rows == 1 else 's'}"
        turns = f"{self.cut_turns} turn{'' if self.cut_turns == 1 else 's'}"
        return [
            f"{chats} ran past data.max_length={self.max_length} tokens: {turns}, the oldest, "
            "were left out (data.history_cut=oldest_turns), as in training "
            f"(each one's '{TRUNCATED}' field says how many tokens its prompt has, how many were "
            "read and how many turns were cut)"
        ]

    def prompt_ids(self, chat: list[Message] | str) -> list[int]:
        """The chat rendered by the template with the generation prompt, as token ids (as
        training renders evaluation prompts), whole (see the class). A string (a run without a
        chat template) is plain text, tokenized as DPO tokenizes the prompt of a string pair."""
        if isinstance(chat, str):
            return pairs.prompt_ids(self.tokenizer, chat)
        return prompt_ids(self.tokenizer, chat)

    def predict(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """The completion of each row's chat (without a template: of its plain `prompt`)."""
        chats = [self.chat(row) for row in rows]
        cuts: list[dict[str, int] | None] = [None] * len(rows)
        ids = []
        for index, (row, (chat, reference)) in enumerate(zip(rows, chats, strict=True)):
            if not self.templated:
                ids.append(self.prompt_ids(str(self.plain_prompt(row, chat))))
                continue
            asked, cuts[index] = self.fitted(chat, reference)  # type: ignore[arg-type]
            ids.append(self.prompt_ids(asked))
        width = max(len(i) for i in ids)
        pad = self.tokenizer.pad_token_id
        # Left padding: generation continues at the right edge of every row.
        input_ids = torch.tensor([[pad] * (width - len(i)) + i for i in ids], device=self.device)
        mask = torch.tensor(
            [[0] * (width - len(i)) + [1] * len(i) for i in ids], device=self.device
        )
        with torch.no_grad():
            output = self.model.generate(
                input_ids=input_ids,
                attention_mask=mask,
                generation_config=greedy_config(self.model, self.tokenizer, self.max_new_tokens),
            )
        texts = self.tokenizer.batch_decode(output[:, width:], skip_special_tokens=True)
        results: list[dict[str, Any]] = []
        for text, (_, reference), cut in zip(texts, chats, cuts, strict=True):
            results.append({"completion": str(text).strip()})
            if reference is not None:
                results[-1]["reference"] = reference
            if cut is not None:
                results[-1][TRUNCATED] = cut
        # Counted once the batch is done: a row retried alone is not counted twice.
        self.cut_rows += sum(cut is not None for cut in cuts)
        self.cut_turns += sum(cut["turns_cut"] for cut in cuts if cut is not None)
        return results
