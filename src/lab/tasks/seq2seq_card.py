"""The model card's usage code for an encoder-decoder (summarization, translation):
transformers 5 has no pipeline for them, so the card generates with the Auto class, with the
run's source prefix, cut, beams and length. The task YAML names `usage` as `task.card_usage`
(see `lab.run_dir.card_usage`).
"""

from __future__ import annotations

import json

from omegaconf import DictConfig

from lab.run_dir.card_usage import (
    HERE,
    Snippet,
    arguments,
    call,
    cut,
    cut_note,
    head_class,
    imports,
)


def usage(cfg: DictConfig) -> Snippet:
    """Tokenize with `data.source_prefix` and `data.max_source_length`, generate with
    `task.module`'s beams and new tokens, greedily."""
    head, module = head_class(cfg), cfg.task.module
    prefix = str(cfg.data.get("source_prefix") or "")
    # JSON's form of a string is a Python literal too, in the code's double quotes.
    source = f"{json.dumps(prefix, ensure_ascii=False)} + text" if prefix else "text"
    generation = arguments(
        {"num_beams": module.get("num_beams"), "max_new_tokens": module.get("max_new_tokens")}
    )
    code = (
        f"{imports(head)}\n\n"
        f'tokenizer = AutoTokenizer.from_pretrained("{HERE}")\n'
        f'model = {head}.from_pretrained("{HERE}")\n'
        'text = "<your text>"\n'
        + call(
            "inputs",
            "tokenizer",
            f"[{source}]",
            cut(cfg, "max_source_length"),
            'return_tensors="pt"',
        )
        + f"\nids = model.generate({', '.join(['**inputs', *generation, 'do_sample=False'])})\n"
        "generated = tokenizer.batch_decode(ids, skip_special_tokens=True)"
    )
    note = (
        "\ntransformers 5 has no summarization / translation pipeline: generate with the Auto "
        "class, with the run's source prefix (`data.source_prefix`), cut, beams and length.\n"
    )
    return code, note + cut_note(cfg, "max_source_length")
