"""The generation settings a run evaluated with, written into the exported model's
`generation_config.json`: a plain `model.generate(**inputs)` (or `pipeline`) on the export then
generates as lab's test pass and lab.predict did. Without them it generated greedily to
transformers' default length (20 tokens in all), whatever `task.module.num_beams` /
`max_new_tokens` the run was scored with (s28b L2).

lab generates deterministically (`do_sample=False`), so flags that act only when sampling
(temperature, top_p, ...) and, under greedy search, flags that act only in beam search
(`early_stopping`, `length_penalty`) changed nothing in its generations: they are set back to
transformers' defaults in the export. A pretrained BART carries `early_stopping=True` and
`length_penalty=2.0`; left beside `num_beams=1`, transformers refuses to save the config.
`max_length` is unset too: `max_new_tokens` takes precedence over it (and transformers warns
at every `generate` where both are set). Every other setting of the model's own config
(BART's `min_length`, `no_repeat_ngram_size`, forced tokens) is kept: lab's generations used
it too.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

log = logging.getLogger(__name__)

#: Flags that act only when sampling; lab never samples.
SAMPLING_ONLY = (
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "typical_p",
    "epsilon_cutoff",
    "eta_cutoff",
    "top_h",
)
#: Flags that act only in beam search; set back when `num_beams=1`.
BEAM_ONLY = ("early_stopping", "length_penalty")
#: Overridden by `max_new_tokens`, which lab always sets.
LENGTH_OVERRIDDEN = ("max_length",)


def save_generation_settings(model: Any, num_beams: int, max_new_tokens: int) -> None:
    """Put `num_beams`, `max_new_tokens` and `do_sample=False` into `model`'s generation
    config (a PEFT model's base model's), before it is saved.

    If transformers still finds the config invalid (a pretrained config with problems of its
    own), the model's config is left as it was and a warning says so: the export then saves
    what it would have saved before, and the model card's code passes the settings."""
    from transformers import GenerationConfig

    from lab.training.adapters import is_peft_model

    target = model.get_base_model() if is_peft_model(model) else model
    config = getattr(target, "generation_config", None)
    if config is None:
        return
    updated = copy.deepcopy(config)
    updated.num_beams = num_beams
    updated.max_new_tokens = max_new_tokens
    updated.do_sample = False
    default = GenerationConfig()
    unused = SAMPLING_ONLY + LENGTH_OVERRIDDEN + (BEAM_ONLY if num_beams == 1 else ())
    for flag in unused:
        if hasattr(default, flag) and hasattr(updated, flag):
            setattr(updated, flag, getattr(default, flag))
    try:
        updated.validate(strict=True)
    except ValueError as err:
        log.warning(
            "the exported generation_config.json keeps the model's own settings, not "
            "num_beams=%d, max_new_tokens=%d (transformers refuses the result: %s); pass them "
            "to generate() as the model card shows",
            num_beams,
            max_new_tokens,
            " ".join(str(err).split()),
        )
        return
    target.generation_config = updated
