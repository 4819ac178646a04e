"""Build the tiny WordPiece tokenizer of `model=tiny_bert` (src/lab/assets/tiny_bert).

Trained on the sentiment test fixtures authored in this repository, so tests and debug runs
need no download. The committed files are the output of one run; the `tokenizers` trainer
breaks ties between equally frequent merges in hash order, so another run may number some
tokens differently. The golden test values depend on these ids: after re-running, re-record
them (`pytest --record-golden`) and commit both:

    python scripts/make_tiny_tokenizer.py
"""

from __future__ import annotations

import csv
from pathlib import Path

from tokenizers import BertWordPieceTokenizer
from transformers import BertTokenizer

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src/lab/assets/tiny_bert"
VOCAB_SIZE = 2000  # model=tiny_bert's embedding table has 2048 rows


def corpus() -> list[str]:
    """The fixture sentiment rows (tests/fixtures/sentiment/*.csv), header included."""
    texts: list[str] = []
    for path in sorted((ROOT / "tests/fixtures/sentiment").glob("*.csv")):
        with path.open() as handle:
            texts += [" ".join(row) for row in csv.reader(handle)]
    return texts


def main() -> None:
    """Train the WordPiece vocabulary and save a transformers tokenizer folder."""
    trainer = BertWordPieceTokenizer(lowercase=True)
    trainer.train_from_iterator(corpus(), vocab_size=VOCAB_SIZE, min_frequency=1)
    tokenizer = BertTokenizer(vocab=trainer.get_vocab(), do_lower_case=True, model_max_length=512)
    OUT.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(OUT)
    print(f"wrote {OUT} ({len(tokenizer)} tokens)")


if __name__ == "__main__":
    main()
