"""The model card's usage code for a token classifier (NER, POS): the transformers
`token-classification` pipeline, words tagged by their first subword as the run trained them.
The task YAML names `usage` as `task.card_usage` (see `lab.run_dir.card_usage`).
"""

from __future__ import annotations

from omegaconf import DictConfig

from lab.run_dir.card_usage import HERE, Snippet


def usage(cfg: DictConfig) -> Snippet:
    """The pipeline with `aggregation_strategy="first"`, and why that strategy (the run's
    settings change nothing in it: the pipeline reads raw text)."""
    code = (
        "from transformers import pipeline\n\n"
        f'tag = pipeline("token-classification", model="{HERE}", aggregation_strategy="first")\n'
        'entities = tag(["<your text>"])'
    )
    note = (
        '\n`aggregation_strategy="first"` tags each word by its first subword, as the run was '
        "trained (and as `lab.predict` groups entities): other strategies split words.\n"
    )
    return code, note
