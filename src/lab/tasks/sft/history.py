"""`data.history_cut`: a long chat made to fit `data.max_length` by leaving out its oldest turns.

Without it (`none`, the default) a validation / test row whose history alone fills
`data.max_length` is dropped, and a long training row is cut at its end (its later answers
lost). On long multi-turn chats that leaves the metrics resting on a few rows (s26b M6). Chat
SFT tools keep the recent context instead; `oldest_turns` does the same:

- the leading system message(s) are always kept;
- the rest of the conversation is read as turns: each starts at a user message and runs to the
  next one (a greeting the assistant opens with is a turn of its own);
- whole turns are left out, oldest first, until the rendered example fits `data.max_length`
  tokens; never a part of a message, so the chat template renders a well-formed conversation
  (its BOS, headers and system turn are rendered afresh, not sliced);
- the latest turn is kept whatever its length: the latest user message (and the answer to it,
  where the row has one). A row that still does not fit is treated as without the option:
  truncated at its end, or dropped when its prompt fills `data.max_length`.

"The example" is the conversation the model reads: a training or evaluation row whole (its
final answer included), and at `lab.predict` / `lab.serve` time a data row asked with its
reference answer, as evaluation asked it, or a request's prompt plus the answer's budget
(`task.module.max_new_tokens`), which stands in for the answer it does not have yet.

Pure functions of messages (no tokenizer here: the caller says what fits), shared by the data
module, the predictor and `lab.inspect`. Imports nothing heavy: the config rule reads
`history_cut_problem`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Message = dict[str, str]

NONE = "none"
OLDEST_TURNS = "oldest_turns"
HISTORY_CUTS = (NONE, OLDEST_TURNS)


def history_cut_problem(value: Any) -> str | None:
    """Why `value` is no `data.history_cut`, in words naming the valid ones; None if it is
    (None, for a config without the key, reads as `none`)."""
    if value is None or value in HISTORY_CUTS:
        return None
    return (
        f"data.history_cut={value}: use none (a row too long for data.max_length is cut at its "
        "end, or dropped when its prompt fills it) or oldest_turns (leave out the oldest turns "
        "until it fits, keeping the system message and the latest turn)"
    )


def turn_starts(messages: Sequence[Message]) -> tuple[int, list[int]]:
    """(how many leading system messages there are, the index where each turn after them
    starts): a turn starts at every user message, and at the first message after the system
    ones whatever its role (an opening greeting by the assistant)."""
    head = 0
    while head < len(messages) and messages[head]["role"] == "system":
        head += 1
    starts = [i for i in range(head, len(messages)) if i == head or messages[i]["role"] == "user"]
    return head, starts


def cut_oldest_turns(
    messages: Sequence[Message],
    fits: Callable[[list[Message]], bool],
    *,
    keep_answer: bool = False,
) -> tuple[list[Message], int]:
    """(`messages` with their oldest whole turns left out until `fits` says the rest fits,
    how many turns were left out); see the module doc.

    The leading system messages and the latest turn are never left out; with `keep_answer`,
    neither is the turn holding the last assistant message (a data row's answer, which a
    user message after it must not push out). `fits` is not asked about `messages` whole:
    the caller knows they do not fit. Where nothing fits, every turn that may go goes."""
    head, starts = turn_starts(messages)
    if len(starts) < 2:
        return list(messages), 0
    last = len(starts) - 1  # the turn always kept
    if keep_answer:
        answers = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
        if answers:
            last = min(last, max(n for n, start in enumerate(starts) if start <= answers[-1]))
    system = list(messages[:head])
    for cut in range(1, last + 1):
        kept = system + list(messages[starts[cut] :])
        if cut == last or fits(kept):
            return kept, cut
    return list(messages), 0  # last == 0: no turn may go
