"""The model card's usage code for a masked LM: the transformers `fill-mask` pipeline with the
run's `top_k` (`task.predictor.top_k`) and cut, and where its scores differ from lab.predict's.
The task YAML names `usage` as `task.card_usage` (see `lab.run_dir.card_usage`).
"""

from __future__ import annotations

from omegaconf import DictConfig

from lab.run_dir.card_usage import HERE, Snippet, cut_note, max_length


def usage(cfg: DictConfig) -> Snippet:
    """The pipeline on one text with a mask token, cut at `data.max_length`."""
    top_k = (cfg.task.get("predictor") or {}).get("top_k")
    length = max_length(cfg)
    cut = f'{{"truncation": True, "max_length": {length}}}' if length else '{"truncation": True}'
    code = (
        "from transformers import pipeline\n\n"
        f'fill = pipeline("fill-mask", model="{HERE}"{f", top_k={top_k}" if top_k else ""})\n'
        'text = f"<your text with a {fill.tokenizer.mask_token} in it>"\n'
        f"guesses = fill(text, tokenizer_kwargs={cut})"
    )
    note = (
        "\nWhere the model's output layer has rows no token names (an embedding table padded "
        "past the tokenizer, as ModernBERT's), the pipeline's guesses and scores count them; "
        "`lab.predict` leaves them out, so its scores are over the tokenizer's tokens only.\n"
    )
    return code, cut_note(cfg) + note
