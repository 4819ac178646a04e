"""One preference pair: its prompt and two completions, normalised, rendered and tokenized.

Rows come in the shapes people have (TRL's preference formats):

- strings: `prompt`, `chosen`, `rejected` are texts. With a chat template they become a user
  turn and an assistant turn; without one they are concatenated as plain text, the
  completion followed by the end-of-sequence token (as TRL does for non-conversational data).
- message lists: `chosen` / `rejected` are lists of `{role, content}`. When both start with
  the same turns (UltraFeedback binarized stores the whole conversation under each), those
  shared turns are the prompt; otherwise `prompt` (a string: one user turn, or a message
  list) comes first. Message lists are checked as SFT checks its chats
  (`lab.tasks.sft.chat.as_messages`: roles `system` / `user` / `assistant`, text contents),
  and each side's own turns must hold an assistant turn.

A row that is not a pair raises `ChatError` naming its field; a pair that prefers nothing
(chosen equal to rejected, an empty side or empty assistant turn) raises `NoPreference`, which
the data module counts and leaves out (`data.on_tie=drop`) or refuses.

The training module and the predictor render prompts the same way (`prompt_ids`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from lab.tasks.sft.chat import ChatError, EmptyAnswer, as_messages

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

Messages = list[dict[str, str]]


class Pair(NamedTuple):
    """A prompt and its two completions, as message lists (chat) or texts (plain)."""

    prompt: Messages | str
    chosen: Messages | str
    rejected: Messages | str


class Encoded(NamedTuple):
    """Token ids of prompt+chosen and prompt+rejected, and how many lead tokens are prompt."""

    chosen: list[int]
    rejected: list[int]
    prompt_length: int


class NoPreference(ChatError):
    """A pair that prefers nothing: chosen equal to rejected, or an empty side (an empty text,
    an empty assistant turn, no turns of its own). Public preference sets hold some; the data
    module leaves such a pair out or refuses it per `data.on_tie`."""


def make_pair(prompt: Any, chosen: Any, rejected: Any, chat: bool, system: Any = None) -> Pair:
    """The pair of one row.

    `chat`: whether the tokenizer has a chat template (strings become turns). `system`: the
    row's system prompt (`data.system_column`, Orca's `system`), the prompt's first turn
    where it is text and the prompt has no system turn of its own; empty: none. Raises
    `NoPreference`, or `ChatError` for a row that is not a pair; `column` is the field at fault
    (`prompt`, `chosen`, `rejected` or `system`), which the data module maps to its configured
    column.
    """
    pair = _pair(prompt, chosen, rejected, chat)
    if system is None or (isinstance(system, str) and not system.strip()):
        return pair
    if not isinstance(system, str):
        raise ChatError(f"a system prompt is text, got {system!r:.60}", "system")
    if isinstance(pair.prompt, str):
        raise ChatError("a system prompt needs the chat template (this run has none)", "system")
    if pair.prompt and pair.prompt[0]["role"] == "system":
        return pair  # the row's own system turn
    return pair._replace(prompt=[{"role": "system", "content": system}, *pair.prompt])


def _pair(prompt: Any, chosen: Any, rejected: Any, chat: bool) -> Pair:
    """`make_pair` without a system prompt."""
    if isinstance(chosen, (list, tuple)) and isinstance(rejected, (list, tuple)):
        return _message_pair(prompt, chosen, rejected)
    if isinstance(chosen, str) and isinstance(rejected, str):
        for column, value in (("chosen", chosen), ("rejected", rejected)):
            if not value.strip():
                raise NoPreference("chosen and rejected must be non-empty", column)
        if chosen == rejected:
            raise NoPreference("chosen equals rejected", "chosen")
        if chat:
            return Pair(
                _prompt_turns(prompt, "prompt must be a non-empty string or a message list"),
                [{"role": "assistant", "content": chosen}],
                [{"role": "assistant", "content": rejected}],
            )
        if not isinstance(prompt, str) or not prompt.strip():
            raise ChatError(f"prompt must be a non-empty string, got {prompt!r:.60}", "prompt")
        return Pair(prompt, chosen, rejected)
    for column, value in (("chosen", chosen), ("rejected", rejected)):
        # The side at fault, where one is (a null, a number): not always the chosen column.
        if not isinstance(value, (str, list, tuple)):
            found = "null" if value is None else f"{type(value).__name__} {value!r:.60}"
            raise ChatError(
                f"{column} is {found}; a pair needs both chosen and rejected, as strings or "
                "as lists of {role, content} messages",
                column,
            )
    raise ChatError(
        "chosen and rejected must both be strings or both be lists of {role, content} "
        f"messages, got {type(chosen).__name__} and {type(rejected).__name__}",
        "chosen",
    )


def _message_pair(prompt: Any, chosen: Any, rejected: Any) -> Pair:
    """Both sides as message lists, checked as SFT checks its chats (`as_messages`: known
    roles, text contents, no empty assistant turn); their shared leading turns, else `prompt`,
    are the prompt, and what follows on each side must hold an assistant turn."""
    sides: dict[str, Messages] = {}
    empty: NoPreference | None = None
    for column, value in (("chosen", chosen), ("rejected", rejected)):
        try:
            sides[column] = as_messages(value, column)
        except EmptyAnswer as err:  # reported after the other side's worse faults, if any
            empty = empty or NoPreference(str(err), column)
    if empty is not None:
        raise empty
    chosen, rejected = sides["chosen"], sides["rejected"]
    shared = 0
    while shared < min(len(chosen), len(rejected)) and chosen[shared] == rejected[shared]:
        shared += 1
    if shared == len(chosen) == len(rejected):
        raise NoPreference("chosen equals rejected", "chosen")
    turns = chosen[:shared] or _prompt_turns(
        prompt,
        "chosen and rejected share no leading turns, so the prompt must be a string or a "
        "message list",
    )
    for column, other, completion in (
        ("chosen", "rejected", chosen[shared:]),
        ("rejected", "chosen", rejected[shared:]),
    ):
        if not completion:
            raise NoPreference(
                f"{column} has no turns of its own: it is the start of {other}", column
            )
        if not any(m["role"] == "assistant" for m in completion):
            raise ChatError(f"{column} has no assistant turn after the prompt", column)
    return Pair(turns, chosen[shared:], rejected[shared:])


def _prompt_turns(prompt: Any, wanted: str) -> Messages:
    """`prompt` as turns: a string is one user turn; a message list is checked (`as_messages`)."""
    if isinstance(prompt, str) and prompt.strip():
        return [{"role": "user", "content": prompt}]
    if isinstance(prompt, (list, tuple)) and prompt:
        try:
            return as_messages(prompt, "prompt")
        except EmptyAnswer as err:
            raise NoPreference(str(err), "prompt") from None
    raise ChatError(f"{wanted}, got {prompt!r:.60}", "prompt")


def prompt_ids(tokenizer: PreTrainedTokenizerBase, prompt: Messages | str) -> list[int]:
    """The prompt's token ids as generation starts from them (chat: with the assistant
    header the template adds for a reply)."""
    if isinstance(prompt, str):
        return list(tokenizer(prompt)["input_ids"])
    text = tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
    # The rendered text already holds the template's special tokens (BOS): add none again.
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def encode_pair(tokenizer: PreTrainedTokenizerBase, pair: Pair) -> Encoded:
    """Token ids of both sides with the prompt part measured (not truncated).

    The completion starts where the tokenized prompt and the tokenized prompt+completion part
    (templates and BPE merges can make them differ at the seam); both sides keep the shorter
    shared part as prompt, so they are scored after the same context, as TRL does.
    """
    prompt = prompt_ids(tokenizer, pair.prompt)
    sides = []
    for completion in (pair.chosen, pair.rejected):
        if isinstance(pair.prompt, str) and isinstance(completion, str):
            ids = list(tokenizer(pair.prompt + completion)["input_ids"])
            if tokenizer.eos_token_id is not None and ids[-1:] != [tokenizer.eos_token_id]:
                ids.append(tokenizer.eos_token_id)
        else:
            assert isinstance(pair.prompt, list) and isinstance(completion, list)
            text = tokenizer.apply_chat_template(pair.prompt + completion, tokenize=False)
            ids = list(tokenizer(text, add_special_tokens=False)["input_ids"])
        sides.append(ids)
    shared = min(_common_prefix(prompt, ids) for ids in sides)
    return Encoded(sides[0], sides[1], shared)


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
