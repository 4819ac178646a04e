"""ShareGPT chats (`conversations`: a list of `{from, value}`) as `{role, content}` messages,
for `lab.tasks.sft.chat`'s `sharegpt` format (ShareGPT dumps; SlimOrca, OpenHermes)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lab.tasks.sft.chat_errors import ChatError

# ShareGPT's speakers (`from`) as roles; lower-cased before lookup.
SHAREGPT_ROLES = {
    "system": "system",
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "model": "assistant",
    "chatgpt": "assistant",
}


# Function-calling dumps' speakers (glaive, OpenHermes-FC, xLAM in ShareGPT form).
TOOL_SPEAKERS = frozenset({"function_call", "observation", "function_response", "tool"})


def from_sharegpt(value: Any) -> Any:
    """A ShareGPT conversation (`[{from, value}, ...]`) as `{role, content}` messages; a value
    that is not such a list is handed on as it is, for `as_messages` to word."""
    if not isinstance(value, (list, tuple)):
        return value
    converted: list[Any] = []
    for i, turn in enumerate(value):
        if not isinstance(turn, Mapping) or "from" not in turn or "value" not in turn:
            raise ChatError(
                f"turn {i} is not a ShareGPT {{from, value}} mapping: {turn!r:.80}",
                "conversations",
            )
        role = SHAREGPT_ROLES.get(str(turn["from"]).lower())
        if role is None and str(turn["from"]).lower() in TOOL_SPEAKERS:
            raise ChatError(  # as a tool-call turn of `messages` data is refused
                f"turn {i} is from {turn['from']!r}, a function-calling turn; lab trains on "
                "the text of system, user and assistant turns: leave function-calling "
                "conversations out",
                "conversations",
            )
        if role is None:
            raise ChatError(
                f"turn {i} is from {turn['from']!r}; ShareGPT speakers read: "
                f"{', '.join(SHAREGPT_ROLES)}",
                "conversations",
            )
        converted.append({"role": role, "content": turn["value"]})
    return converted
