"""Build the tiny byte-level BPE tokenizer of `model=tiny_bart` (src/lab/assets/tiny_bart).

BART's scheme (GPT-2's byte-level BPE with `<s> ... </s>` around every sequence, `<pad>`,
`<unk>`, `<mask>`), trained on text authored in this repository: the general English of
`model=tiny_gpt2`'s corpus (the LM fixture and the built-in demo set, shared with
scripts/make_tiny_gpt2_tokenizer.py) plus the summarization and translation fixtures, so
seq2seq tests and pipelines need no download. Deterministic: the same files on every run.

    python scripts/make_tiny_seq2seq_tokenizer.py
"""

from __future__ import annotations

import json

from make_tiny_gpt2_tokenizer import ROOT
from make_tiny_gpt2_tokenizer import corpus as general_english
from tokenizers import ByteLevelBPETokenizer
from tokenizers.processors import RobertaProcessing
from transformers import BartTokenizerFast

OUT = ROOT / "src/lab/assets/tiny_bart"
VOCAB_SIZE = 1000  # model=tiny_bart's embedding table has 1024 rows
# BART's special tokens, with its ids for the first four (bos 0, pad 1, eos 2, unk 3).
SPECIAL = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]


def seq2seq_fixture_texts() -> list[str]:
    """Every text of the summarization and translation fixtures (sources and targets)."""
    texts: list[str] = []
    for path in sorted((ROOT / "tests/fixtures/summaries").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            texts += [row["document"], row["summary"]]
    for path in sorted((ROOT / "tests/fixtures/translation").glob("*.jsonl")):
        texts += [
            t
            for line in path.read_text().splitlines()
            for t in json.loads(line)["translation"].values()
        ]
    return texts


def main() -> None:
    """Train the BPE vocabulary and save a transformers (BART) tokenizer folder."""
    trainer = ByteLevelBPETokenizer()
    texts = general_english() + seq2seq_fixture_texts()
    trainer.train_from_iterator(texts, vocab_size=VOCAB_SIZE, special_tokens=SPECIAL)
    backend = trainer._tokenizer
    backend.post_processor = RobertaProcessing(
        ("</s>", backend.token_to_id("</s>")), ("<s>", backend.token_to_id("<s>"))
    )
    tokenizer = BartTokenizerFast(tokenizer_object=backend, model_max_length=512)
    OUT.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(OUT)
    print(f"{len(tokenizer)} tokens -> {OUT}")


if __name__ == "__main__":
    main()
