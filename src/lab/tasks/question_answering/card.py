"""The model card's usage code for extractive question answering: `answer_questions` (this
package's own decoding, as transformers 5 has no question-answering pipeline) with the run's
windows and decoding settings. The task YAML names `usage` as `task.card_usage` (see
`lab.run_dir.card_usage`).
"""

from __future__ import annotations

from omegaconf import DictConfig

from lab.run_dir.card_usage import HERE, LAB_IMPORT_NOTE, Snippet, arguments, head_class, imports

DECODING = ("n_best_size", "max_answer_length", "null_score_diff_threshold")


def usage(cfg: DictConfig) -> Snippet:
    """Loading the model and calling `answer_questions` with the run's windows
    (`data.max_length`, `doc_stride`, SQuAD v2) and decoding (`task.module`)."""
    data, module, head = cfg.data, cfg.task.module, head_class(cfg)
    windows = arguments(
        {
            "max_length": data.get("max_length"),
            "doc_stride": data.get("doc_stride"),
            "version_2_with_negative": bool(data.get("version_2_with_negative")),
        }
    )
    decoding = arguments({key: module.get(key) for key in DECODING})
    code = (
        f"{imports(head)}\n\n"
        f"{LAB_IMPORT_NOTE}\nfrom lab.tasks.question_answering import answer_questions\n\n"
        f'model = {head}.from_pretrained("{HERE}")\n'
        f'tokenizer = AutoTokenizer.from_pretrained("{HERE}")\n'
        "answers = answer_questions(\n"
        '    model, tokenizer, ["<your question>"], ["<its context>"],\n'
        + "".join(f"    {', '.join(group)},\n" for group in (windows, decoding) if group)
        + ")"
    )
    note = (
        "\ntransformers 5 has no question-answering pipeline; `answer_questions` cuts long "
        "contexts into the run's windows and decodes spans as the run's evaluation did, with "
        "the run's settings above.\n"
    )
    return code, note
