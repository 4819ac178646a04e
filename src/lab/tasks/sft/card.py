"""The model card's usage code for a chat model (SFT, and DPO, whose runs `lab.predict`
answers with the same `ChatPredictor`): the transformers `text-generation` pipeline on chat
messages, rendered with the exported chat template, answered greedily with the run's budget,
the prompt read whole (as `lab.predict` reads it), or, for a run trained with
`data.history_cut=oldest_turns`, a note that its long chats lost their oldest turns, which the
pipeline does not do for you.
The task YAMLs name `usage` as `task.card_usage` (see `lab.run_dir.card_usage`).
"""

from __future__ import annotations

from omegaconf import DictConfig

from lab.run_dir.card_usage import HERE, Snippet, max_length
from lab.tasks.sft.history import OLDEST_TURNS
from lab.tasks.sft.predictor import DEFAULT_MAX_NEW_TOKENS


def usage(cfg: DictConfig) -> Snippet:
    """The pipeline on one user message with `task.module.max_new_tokens` (lab.predict's
    default where the run has none: DPO), and a note on the prompt's length."""
    new = int(cfg.task.module.get("max_new_tokens") or DEFAULT_MAX_NEW_TOKENS)
    code = (
        "from transformers import pipeline\n\n"
        f'generator = pipeline("text-generation", model="{HERE}")\n'
        'messages = [{"role": "user", "content": "<your question>"}]\n'
        f"reply = generator(messages, max_new_tokens={new}, do_sample=False)\n"
        'answer = reply[0]["generated_text"][-1]["content"].strip()'
    )
    length = max_length(cfg)
    cut = cfg.data.get("history_cut") == OLDEST_TURNS
    trained = (
        f" (it trained on examples of at most {length} tokens, `data.max_length`; a longer "
        "prompt is read whole, within the model's context)"
        if length and not cut
        else ""
    )
    note = (
        "\nThe pipeline renders the messages with the exported chat template, as the run did; "
        f"the run answers greedily with at most {new} new tokens{trained}.\n"
    )
    if cut and length:
        note += (
            f"\nThe run fitted long chats to {length} tokens (`data.max_length`) by leaving out "
            "their oldest whole turns, keeping the system message and the latest user turn with "
            "its answer (`data.history_cut=oldest_turns`). The pipeline reads a chat whole: "
            "leave out the oldest turns of a longer chat yourself, or ask it through "
            "`lab.predict` / `lab.serve`'s `/predict`, which cut it as training did (a prompt "
            f"plus {new} new tokens within {length}).\n"
        )
    return code, note
