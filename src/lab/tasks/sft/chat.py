"""Chat rows: the three shapes people store, as messages; rendered with the tokenizer's own chat
template; the label mask of the assistant's tokens.

Row shapes (`data.format`, or detected from the columns in this order):

- `messages`: a list of `{role, content}` (roles `system`, `user`, `assistant`), multi-turn;
- `prompt_completion`: `prompt` and `completion`, each a string (a user turn / an assistant
  turn) or a list of messages (TRL's conversational prompt-completion);
- `alpaca`: `instruction`, optional `input` (appended after a blank line), `output`;
- `sharegpt`: `conversations`, a list of `{from, value}` (`from`: `human` / `user`, `gpt` /
  `assistant` / `model`, `system`), as ShareGPT dumps and many Hub sets built from them
  (SlimOrca, OpenHermes) store chats: read as `messages`.

The assistant mask needs no markers in the template: each assistant turn's characters are
found by rendering the conversation up to that turn twice, once ending with the generation
prompt (where the model starts writing) and once ending with the turn itself; the difference is
what the model writes, end-of-turn token included. The whole conversation is tokenized once and
every token that overlaps such a character span is an assistant token. This works for any
template that renders a conversation's first turns as a prefix of the whole (Llama 3, ChatML /
Qwen / SmolLM, Zephyr, Llama 2) and fails loudly otherwise.

A conversation the assistant opens (a greeting, as in some OpenAssistant / ShareGPT dumps) is
trained like any other: transformers renders no empty conversation, so the text before that
first turn (the template's generation prompt of nothing, e.g. its default system prompt and the
assistant header) is the template's rendering of a probe assistant turn up to the probe's text
(`opening`); what follows is the turn, as Hugging Face's `{% generation %}` mask has it. A
template that refuses such a conversation (roles must alternate, starting with the user's), or
fails on a row in any other way, names the row like every other bad row.

What is trained: every assistant turn of a `messages` / `sharegpt` row (a multi-turn chat
teaches every answer in it); the output of an `alpaca` row; only the `completion` of a
`prompt_completion` row (`completion_turns`): assistant turns inside its prompt (few-shot
answers, an earlier conversation) are context the completion follows, not targets, as TRL's
completion-only loss has them. The labels of a conversation (`target_labels`): its ids on the
trained assistant tokens (on every token with `train_on_prompt`), `IGNORE` elsewhere and on
its first token.

Pure functions of a tokenizer and rows (no Lightning, no datasets): the SFT and DPO data
modules, the predictors, `lab.inspect` and the tests share them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lab.errors import ConfigError
from lab.tasks.ignore import IGNORE
from lab.tasks.sft.chat_errors import ChatError, EmptyAnswer
from lab.tasks.sft.sharegpt import from_sharegpt

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

Message = dict[str, str]
# The text of the probe turn `opening` renders: plain ASCII, no edge whitespace (templates trim).
PROBE = "LAB_PROBE_ASSISTANT_TURN_7F3A"
FORMATS = ("messages", "prompt_completion", "alpaca", "sharegpt")
ROLES = ("system", "user", "assistant")
# The columns each format needs (alpaca's `input` is optional), in detection order.
FORMAT_COLUMNS: dict[str, tuple[str, ...]] = {
    "messages": ("messages",),
    "prompt_completion": ("prompt", "completion"),
    "alpaca": ("instruction", "output"),
    "sharegpt": ("conversations",),
}


def detect_format(columns: Iterable[str]) -> str:
    """The row format implied by a split's column names (see the module doc)."""
    present = set(columns)
    for name, needed in FORMAT_COLUMNS.items():
        if present.issuperset(needed):
            return name
    wanted = "; ".join(f"{name}: {', '.join(cols)}" for name, cols in FORMAT_COLUMNS.items())
    raise ChatError(
        f"cannot tell the chat format from the columns ({', '.join(sorted(present)) or 'none'});"
        f" expected the columns of one of: {wanted} (or set data.format){other_kind(present)}"
    )


def other_kind(columns: Iterable[str]) -> str:
    """What chat columns that fit no SFT format are, where a column says it: preference pairs
    (`chosen`, `rejected`: DPO's data) or prompts alone (no answer to train on)."""
    present = set(columns)
    if {"chosen", "rejected"} <= present:
        return (
            "; chosen and rejected are preference pairs: train them with DPO (data=preferences "
            "data.path=..., or data=ultrafeedback)"
        )
    if "prompt" in present and "completion" not in present:
        return (
            "; a prompt column alone holds no answers to train on (prompt-only sets are for "
            "online RL, which lab does not do)"
        )
    return ""


def as_messages(value: Any, column: str, role: str | None = None) -> list[Message]:
    """`value` as a list of messages: a string becomes one `role` turn; a list is checked.

    `role=None` means a string is not accepted (the `messages` column must be a list).
    """
    if isinstance(value, str) and role is not None:
        value = [{"role": role, "content": value}]
    if not isinstance(value, (list, tuple)):
        kind = "a string or a list of messages" if role else "a list of messages"
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        why = f"expected {kind}, found {type(value).__name__} {shown}"
        if isinstance(value, str) and value.lstrip().startswith("["):
            # A CSV cell (or a JSON string) holding the list as text: training reads the
            # columns as stored; JSON lines and Parquet store the list itself.
            why += " (a CSV file stores a list as text: write chat data as JSON lines or Parquet)"
        raise ChatError(why, column)
    messages, empty = [], None
    for i, message in enumerate(value):
        if not isinstance(message, Mapping) or "role" not in message or "content" not in message:
            raise ChatError(
                f"message {i} is not a {{role, content}} mapping: {message!r:.80}", column
            )
        speaker, content = message["role"], message["content"]
        if speaker not in ROLES:
            raise ChatError(
                f"message {i} has unknown role {speaker!r}; roles: {', '.join(ROLES)}", column
            )
        if message.get("tool_calls"):  # OpenAI's tool-call turn: its content is mostly empty
            raise ChatError(
                f"message {i} ({speaker}) is a tool call (tool_calls); lab trains on the text "
                f"of {', '.join(ROLES)} turns: leave tool-call conversations out",
                column,
            )
        if not isinstance(content, str):
            raise ChatError(f"message {i} ({speaker}) has content {content!r:.60}", column)
        if speaker == "assistant" and not content.strip() and empty is None:
            empty = i
        messages.append({"role": speaker, "content": content})
    # Every message is checked before an empty answer is: a row with an unknown role (or a
    # tool call) is refused, not dropped as empty.
    if empty is not None:
        raise EmptyAnswer(f"message {empty} is an empty assistant turn", column)
    return messages


def to_messages(row: Mapping[str, Any], format: str) -> list[Message]:
    """One row of `format` (see `FORMATS`) as a checked list of messages.

    Raises `ChatError` (naming the column) on an unknown role, a non-text content, an empty
    assistant turn or a conversation without any assistant turn.
    """
    if format in ("messages", "sharegpt"):
        column = "messages" if format == "messages" else "conversations"
        value = row[column] if format == "messages" else from_sharegpt(row[column])
        if isinstance(value, (list, tuple)) and not value:
            raise ChatError("the conversation is empty (no messages)", column)
        messages = as_messages(value, column)
        last_column = column
    elif format == "prompt_completion":
        prompt = as_messages(row["prompt"], "prompt", "user")
        completion = as_messages(row["completion"], "completion", "assistant")
        if not any(m["role"] == "assistant" for m in completion):
            raise ChatError("the completion has no assistant turn", "completion")
        messages, last_column = prompt + completion, "completion"
    elif format == "alpaca":
        instruction, extra, output = row["instruction"], row.get("input"), row["output"]
        for column, value in (("instruction", instruction), ("input", extra), ("output", output)):
            if value is not None and not isinstance(value, str):
                raise ChatError(f"expected text, found {value!r:.60}", column)
        if not instruction or not instruction.strip():
            raise ChatError("the instruction is empty", "instruction")
        if not output or not output.strip():
            raise EmptyAnswer("the output (the assistant turn) is empty", "output")
        user = f"{instruction}\n\n{extra}" if extra and extra.strip() else instruction
        return [{"role": "user", "content": user}, {"role": "assistant", "content": output}]
    else:
        raise ConfigError(f"data.format={format!r}; choose auto or one of {', '.join(FORMATS)}")
    if not any(m["role"] == "assistant" for m in messages):
        raise ChatError("the conversation has no assistant turn", last_column)
    return messages


def completion_turns(row: Mapping[str, Any], format: str) -> int | None:
    """How many of the last messages of the row's conversation (`to_messages`) are its
    completion, the only ones whose assistant turns are trained: a `prompt_completion` row's
    `completion` (see the module doc); None for the other formats, whose every assistant turn
    is trained. Counted from the end so that it holds after `history_cut` leaves out the
    oldest turns. For a row `to_messages` has read (and checked)."""
    if format != "prompt_completion":
        return None
    completion = row["completion"]
    return 1 if isinstance(completion, str) else len(completion)


def split_final_answer(messages: Sequence[Message]) -> tuple[list[Message], str]:
    """(the messages before the last assistant turn, that turn's text): what a model is asked
    at evaluation, and the reference answer."""
    for i in range(len(messages) - 1, -1, -1):
        if messages[i]["role"] == "assistant":
            return list(messages[:i]), messages[i]["content"]
    raise ChatError("the conversation has no assistant turn")


def require_chat_template(tokenizer: PreTrainedTokenizerBase) -> None:
    """Raise a `ConfigError` naming `model.chat_template` when the tokenizer has no template."""
    if not getattr(tokenizer, "chat_template", None):
        raise ConfigError(
            f"the tokenizer ({getattr(tokenizer, 'name_or_path', '') or type(tokenizer).__name__})"
            " has no chat template, which chat data needs; give one with model.chat_template="
            "<a Jinja template string or the path of a .jinja file>, or use an instruct model"
        )


def render(
    tokenizer: PreTrainedTokenizerBase,
    messages: Sequence[Message],
    add_generation_prompt: bool = False,
) -> str:
    """The conversation as text, by the tokenizer's own chat template.

    A template that refuses the conversation (e.g. roles must alternate) raises `ChatError`.
    """
    from jinja2 import TemplateError

    try:
        text = tokenizer.apply_chat_template(
            list(messages), tokenize=False, add_generation_prompt=add_generation_prompt
        )
    except TemplateError as err:
        raise ChatError(f"the chat template refused the conversation: {err}") from err
    except Exception as err:  # the template's own Python failing on this row's values
        raise ChatError(
            f"the chat template could not render the conversation: {type(err).__name__}: {err}"
        ) from err
    return str(text)


def opening(tokenizer: PreTrainedTokenizerBase) -> str:
    """The text before the first turn of a conversation the assistant opens: what the
    template writes ahead of a probe assistant turn's text (its generation prompt of an empty
    conversation, which transformers does not render)."""
    probe = render(tokenizer, [{"role": "assistant", "content": PROBE}])
    at = probe.find(PROBE)
    if at < 0:
        raise ChatError(
            "the chat template does not render the text of an assistant turn that opens a "
            "conversation, so that turn cannot be trained; start the conversation with a user "
            "turn or use a template that renders it (model.chat_template=...)"
        )
    return probe[:at]


def end_of_turn_id(tokenizer: PreTrainedTokenizerBase) -> int | None:
    """The special token the chat template writes right after an assistant turn's text
    (Llama 3's `<|eot_id|>`, ChatML's `<|im_end|>`, Gemma's `<end_of_turn>`): where a
    generated answer ends. None without a template, or when the template writes no special
    token there (the turn then ends at EOS, if at all)."""
    if not getattr(tokenizer, "chat_template", None):
        return None
    try:
        turns = [{"role": "user", "content": "?"}, {"role": "assistant", "content": PROBE}]
        text = render(tokenizer, turns)
    except ChatError:
        return None
    at = text.find(PROBE)
    after = text[at + len(PROBE) :] if at >= 0 else ""
    ids = tokenizer(after, add_special_tokens=False)["input_ids"] if after else []
    special = set(tokenizer.all_special_ids) | {
        int(i) for i, token in tokenizer.added_tokens_decoder.items() if token.special
    }
    return int(ids[0]) if ids and int(ids[0]) in special else None


def render_prompt(tokenizer: PreTrainedTokenizerBase, messages: Sequence[Message]) -> str:
    """`messages` followed by the template's generation prompt (`opening` when there are no
    messages): the text from which a model writes the next assistant turn."""
    if not messages:
        return opening(tokenizer)
    return render(tokenizer, messages, add_generation_prompt=True)


def assistant_spans(
    tokenizer: PreTrainedTokenizerBase,
    messages: Sequence[Message],
    text: str | None = None,
    first: int = 0,
) -> list[tuple[int, int]]:
    """Character spans `[start, end)` of every assistant turn from message `first` on in the
    rendered conversation (`text`, rendered here when not given): what the model writes,
    end-of-turn included."""
    text = render(tokenizer, messages) if text is None else text
    spans = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant" or i < first:
            continue
        before = render_prompt(tokenizer, messages[:i])
        through = render(tokenizer, messages[: i + 1])
        if not (text.startswith(before) and text.startswith(through)):
            raise ChatError(
                "the chat template does not render the first turns of a conversation as the "
                f"start of the whole (assistant turn {i}), so its assistant tokens cannot be "
                "told apart; use a template that does (model.chat_template=...)"
            )
        if len(through) <= len(before):
            raise ChatError(
                f"the chat template produces no text for assistant turn {i}; "
                "use a template that renders assistant turns (model.chat_template=...)"
            )
        spans.append((len(before), len(through)))
    return spans


def render_chat(
    tokenizer: PreTrainedTokenizerBase, messages: Sequence[Message], trained: int | None = None
) -> tuple[list[int], list[int]]:
    """(token ids of the whole conversation, 1 for every trained assistant token else 0).

    `trained`: only the assistant turns among the last `trained` messages are marked (a
    `prompt_completion` row's completion: `completion_turns`); None: every assistant turn.
    The ids are exactly `apply_chat_template(messages, tokenize=True)`'s. Raises `ChatError`
    when the template yields no assistant token.
    """
    if not getattr(tokenizer, "is_fast", False):
        raise ConfigError(
            f"{type(tokenizer).__name__} is a slow (Python) tokenizer; chat data needs a fast "
            "one (character offsets): load it with use_fast=True"
        )
    text = render(tokenizer, messages)
    first = 0 if trained is None else max(0, len(messages) - trained)
    spans = assistant_spans(tokenizer, messages, text, first)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = list(encoded["input_ids"])
    mask = [0] * len(ids)
    for index, (begin, end) in enumerate(encoded["offset_mapping"]):
        # A token belongs to a turn when it starts inside it or straddles its first character
        # (byte-level BPE may merge the template's last prompt character with the answer's).
        for start, stop in spans:
            if start <= begin < stop or begin < start < end:
                mask[index] = 1
                break
    if not any(mask):
        raise ChatError("the chat template yields no assistant tokens for this conversation")
    return ids, mask


def target_labels(ids: Sequence[int], mask: Sequence[int], train_on_prompt: bool) -> list[int]:
    """The labels of a conversation `render_chat` gave (`ids`, assistant `mask`): the ids of
    its assistant tokens (of every token with `train_on_prompt`) and `IGNORE` elsewhere, and
    `IGNORE` on the first token, which nothing predicts (so no prediction crosses into an
    example when rows are packed). Not truncated: the caller cuts ids and labels alike."""
    labels = [
        int(token) if keep or train_on_prompt else IGNORE
        for token, keep in zip(ids, mask, strict=True)
    ]
    if labels:
        labels[0] = IGNORE
    return labels


def prompt_ids(tokenizer: PreTrainedTokenizerBase, messages: Sequence[Message]) -> list[int]:
    """Token ids of `messages` followed by the template's generation prompt: the input from
    which a model writes the next assistant turn."""
    text = render_prompt(tokenizer, messages)
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def rendered_length(tokenizer: PreTrainedTokenizerBase, messages: Sequence[Message]) -> int:
    """Tokens of the conversation rendered whole (as many as `render_chat`'s ids)."""
    text = render(tokenizer, messages)
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])
