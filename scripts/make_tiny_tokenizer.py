"""Build the tiny WordPiece tokenizer of `model=tiny_bert` (src/lab/assets/tiny_bert).

Trained on text authored in this repository (the demo set and the test fixtures), so tests and
debug runs need no download. Deterministic; re-run after changing that text:

    python scripts/make_tiny_tokenizer.py
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tokenizers import BertWordPieceTokenizer
from transformers import BertTokenizer

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src/lab/assets/tiny_bert"
VOCAB_SIZE = 2000  # model=tiny_bert's embedding table has 2048 rows


def corpus() -> list[str]:
    """Every text the repo authors: demo jsonl files and fixture csv files."""
    texts: list[str] = []
    for path in sorted((ROOT / "src/lab/data/demo").glob("*.jsonl")):
        texts += [json.loads(line)["text"] for line in path.read_text().splitlines() if line]
    for path in sorted((ROOT / "tests/fixtures").rglob("*.csv")):
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
