"""The model card's usage code for a token classifier (NER, POS): `tag_texts` (lab's own way
of reading text: split into words as the run's data holds them, each word tagged by its first
subword, as the run trained) with the run's cut. The task YAML names `usage` as
`task.card_usage` (see `lab.run_dir.card_usage`).

transformers' `token-classification` pipeline (`aggregation_strategy="first"`) finds words
from the tokenizer's offsets: with a WordPiece tokenizer they are lab's words except where a
word holds punctuation inside (`Jean-Pierre`, `S&P`, `U.S.`: one word in the run's data and
to lab, several to the BERT pre-tokenizer, which splits at every punctuation mark, so an
entity came back in pieces, s31a F1); with a byte-level BPE (RoBERTa, GPT-2) or SentencePiece
(XLM-R, DeBERTa-v3) tokenizer it made words of a lone `▁` and entities of empty text (s22c
H1). The card says both in its note, for readers without lab.
"""

from __future__ import annotations

from omegaconf import DictConfig

from lab.run_dir.card_usage import HERE, LAB_IMPORT_NOTE, Snippet, call, head_class, imports


def usage(cfg: DictConfig) -> Snippet:
    """Loading the model and calling `tag_texts` with the run's `data.max_length`."""
    head = head_class(cfg)
    cut = cfg.data.get("max_length")
    arguments = ["model", "tokenizer", '["<your text>"]'] + ([f"max_length={cut}"] if cut else [])
    code = (
        f"{imports(head)}\n\n"
        f"{LAB_IMPORT_NOTE}\nfrom lab.tasks.token_predictor import tag_texts\n\n"
        f'model = {head}.from_pretrained("{HERE}")\n'
        f'tokenizer = AutoTokenizer.from_pretrained("{HERE}")\n'
        + call("entities", "tag_texts", *arguments)
    )
    note = (
        "\n`tag_texts` splits each text into words as the run's data holds them (punctuation at "
        "a word's edges a word of its own) and tags each word by its first subword, as the run "
        "was trained and as `lab.predict` does; each entity has its `type`, `text`, `start`, "
        '`end` and `score`. Without lab, transformers\' `pipeline("token-classification", '
        'aggregation_strategy="first")` gives the same entities with a WordPiece tokenizer '
        "(BERT, DistilBERT, ELECTRA, MiniLM) for words without punctuation inside; a word "
        "such as `Jean-Pierre`, `S&P` or `U.S.` is one word to lab (as the run's data holds "
        "it) but several to the BERT pre-tokenizer, so the pipeline may return its entity in "
        "pieces (`S&P` as `S`, `&`, `P`): use `tag_texts` for lab's entities exactly. With a "
        "byte-level BPE (RoBERTa, GPT-2) or SentencePiece (XLM-R, DeBERTa-v3) tokenizer the "
        "pipeline finds words otherwise and gives other entities.\n"
    )
    return code, note
