"""`turn_end_problem`: a chat template whose end of an assistant turn generation cannot stop
at (a ChatML template given to a base model: `<|im_end|>` is no special token of its
tokenizer), said at SFT data set-up with the override that fixes it."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lab.tasks.sft.chat import PROBE, ChatError, end_of_turn_id, render

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

# Marker-like text a chat template writes around turns: ChatML's `<|im_end|>`, Gemma's
# `<end_of_turn>`, Llama 3's `<|eot_id|>`.
_MARKER = re.compile(r"<\|?[A-Za-z_][\w.-]*\|?>")


def turn_end_problem(tokenizer: PreTrainedTokenizerBase) -> str | None:
    """Why generation cannot stop where the chat template ends an assistant turn, or None.

    It cannot when the template writes text there (a ChatML template given to a base model:
    `<|im_end|>`) that this tokenizer does not have as one special token: it is then several
    ordinary tokens, no stop id exists for it, and answers carry it. The message names the
    template's markers to add as special tokens."""
    if not getattr(tokenizer, "chat_template", None) or end_of_turn_id(tokenizer) is not None:
        return None
    turns = [
        {"role": "system", "content": "?"},
        {"role": "user", "content": "?"},
        {"role": "assistant", "content": PROBE},
    ]
    try:
        text = render(tokenizer, turns)
    except ChatError:
        try:  # a template without a system turn
            text = render(tokenizer, turns[1:])
        except ChatError:
            return None
    at = text.find(PROBE)
    after = text[at + len(PROBE) :].strip() if at >= 0 else ""
    if not after:
        return None  # nothing written after the turn: EOS ends it
    ids = tokenizer(after, add_special_tokens=False)["input_ids"]
    if ids and ids[0] == tokenizer.eos_token_id:
        return None
    special = {str(token) for token in tokenizer.all_special_tokens}
    markers = [m for m in dict.fromkeys(_MARKER.findall(text)) if m not in special]
    ending = after.split()[0]
    pieces = len(tokenizer(ending, add_special_tokens=False)["input_ids"])
    quoted = ", ".join(f'"{marker}"' for marker in markers)  # pasted inside '...' in a shell
    fix = (
        "add the template's markers as special tokens: '+model.add_special_tokens="
        f"{{additional_special_tokens: [{quoted}]}}'"
        if markers
        else "use a template that ends a turn with a special token of this tokenizer"
    )
    return (
        f"the chat template ends an assistant turn with {ending!r}, which this tokenizer reads "
        f"as {pieces} ordinary tokens, not one special token: generation cannot stop there, so "
        f"answers (exact_match, lab.predict, lab.serve) run on and carry that text; {fix}"
    )
