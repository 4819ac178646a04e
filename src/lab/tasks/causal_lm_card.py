"""The model card's usage code for a causal LM trained on plain text: the transformers
`text-generation` pipeline continuing a prompt greedily, as the run's validation samples did.
The task YAML names `usage` as `task.card_usage` (see `lab.run_dir.card_usage`).
"""

from __future__ import annotations

from omegaconf import DictConfig

from lab.run_dir.card_usage import HERE, Snippet, arguments, call


def usage(cfg: DictConfig) -> Snippet:
    """The pipeline with the samples' `task.module.sample_max_new_tokens` and beams."""
    module = cfg.task.module
    generation = arguments(
        {
            "max_new_tokens": module.get("sample_max_new_tokens"),
            "num_beams": module.get("num_beams"),
        }
    )
    code = (
        "from transformers import pipeline\n\n"
        f'generator = pipeline("text-generation", model="{HERE}")\n'
        + call("text", "generator", '"<your prompt>"', *generation, "do_sample=False")
        + '[0]["generated_text"]'
    )
    note = "\nAs the run's samples (`task.module.sample_max_new_tokens`), greedily.\n"
    return code, note
