"""The model card's usage code for multiple choice: transformers has no multiple-choice
pipeline, so the card pairs the context with each ending, cut as the run cut them, and scores
them with the Auto class. The task YAML names `usage` as `task.card_usage` (see
`lab.run_dir.card_usage`).
"""

from __future__ import annotations

from omegaconf import DictConfig

from lab.run_dir.card_usage import HERE, Snippet, cut, cut_note, head_class, imports


def usage(cfg: DictConfig) -> Snippet:
    """One question's endings scored with the run's cut (`data.max_length`)."""
    head = head_class(cfg)
    code = f"""import torch
{imports(head)}

model = {head}.from_pretrained("{HERE}").eval()
tokenizer = AutoTokenizer.from_pretrained("{HERE}")
context, prefix = "<the context>", "<the start of the ending, or empty>"
endings = ["<ending 1>", "<ending 2>"]
inputs = tokenizer(
    [context] * len(endings),
    [" ".join(part for part in (prefix, ending) if part) for ending in endings],
    {cut(cfg)},
    padding=True,
    return_tensors="pt",
)
with torch.no_grad():  # one question: [1, endings, tokens] -> one score per ending
    scores = model(**{{k: v.unsqueeze(0) for k, v in inputs.items()}}).logits[0]
probabilities = scores.softmax(-1)"""
    note = "\ntransformers has no multiple-choice pipeline: pair and score the endings.\n"
    return code, note + cut_note(cfg, pair_of=("context", "prefix + ending"))
