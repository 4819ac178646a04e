"""One preference pair: its prompt and two completions, normalised, rendered and tokenized.

Rows come in the shapes people have (TRL's preference formats):

- strings: `prompt`, `chosen`, `rejected` are texts. With a chat template they become a user
  turn and an assistant turn; without one they are concatenated as plain text, the
  completion followed by the end-of-sequence token (as TRL does for non-conversational data).
- message lists: `chosen` / `rejected` are lists of `{role, content}`. When both start with
  the same turns (UltraFeedback binarized stores the whole conversation under each), those
  shared turns are the prompt; otherwise `prompt` (a string: one user turn, or a message
  list) comes first.

The training module and the predictor render prompts the same way (`prompt_ids`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

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


def is_messages(value: Any) -> bool:
    """A list of `{role, content}` dicts with string values."""
    return isinstance(value, list) and all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
        for m in value
    )


def make_pair(prompt: Any, chosen: Any, rejected: Any, chat: bool) -> Pair | str:
    """The pair of one row, or why it is not one (a sentence naming the column).

    `chat`: whether the tokenizer has a chat template (strings become turns).
    """
    if is_messages(chosen) and is_messages(rejected):
        shared = 0
        while shared < min(len(chosen), len(rejected)) and chosen[shared] == rejected[shared]:
            shared += 1
        if shared == len(chosen) == len(rejected):
            return "chosen equals rejected"
        if shared:
            return Pair(chosen[:shared], chosen[shared:], rejected[shared:])
        if isinstance(prompt, str) and prompt.strip():
            prompt = [{"role": "user", "content": prompt}]
        if not is_messages(prompt) or not prompt:
            return (
                "chosen and rejected share no leading turns, so the prompt must be a string "
                f"or a message list, got {prompt!r}"
            )
        return Pair(prompt, chosen, rejected)
    if isinstance(chosen, str) and isinstance(rejected, str):
        if not chosen.strip() or not rejected.strip():
            return "chosen and rejected must be non-empty"
        if chosen == rejected:
            return "chosen equals rejected"
        if chat:
            turns = _turns(prompt)
            if turns is None:
                return f"prompt must be a non-empty string or a message list, got {prompt!r}"
            return Pair(
                turns,
                [{"role": "assistant", "content": chosen}],
                [{"role": "assistant", "content": rejected}],
            )
        if not isinstance(prompt, str) or not prompt.strip():
            return f"prompt must be a non-empty string, got {prompt!r}"
        return Pair(prompt, chosen, rejected)
    return (
        "chosen and rejected must both be strings or both be lists of {role, content} "
        f"messages, got {type(chosen).__name__} and {type(rejected).__name__}"
    )


def _turns(prompt: Any) -> Messages | None:
    if isinstance(prompt, str) and prompt.strip():
        return [{"role": "user", "content": prompt}]
    if is_messages(prompt) and prompt:
        return list(prompt)
    return None


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
