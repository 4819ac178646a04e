"""Reviews with IMDB's length distribution, for throughput runs where IMDB is not at hand.

    python benchmarks/synthetic_imdb.py --tokenizer <dir> --out <dir> [--train 2000 --test 500]

Writes `train.csv.gz` and `test.csv.gz` (columns `text`, `label`) in the layout of
`../shared/data/imdb`, so `compare_trainers.py --imdb-dir <dir>` reads them as IMDB. Each review
is a run of whole-word tokens of the given tokenizer, so its token count is its word count, drawn
from a log-normal with IMDB's shape (median 174 words, mean about 230: most reviews are
shorter than 256 tokens, a long tail is not). Labels alternate. Speed depends on lengths, not on
words: never use these rows for accuracy.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import math
import random
from pathlib import Path

MEDIAN_WORDS = 174  # IMDB (Maas et al. 2011): 230 words on average, a right-skewed tail
SIGMA = math.sqrt(2 * math.log(230 / MEDIAN_WORDS))  # log-normal whose mean is 230


def words_of(tokenizer_dir: Path) -> list[str]:
    """The tokenizer's whole-word, alphabetic vocabulary entries (one token each)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    return sorted(t for t in tokenizer.get_vocab() if t.isalpha() and t.islower() and len(t) > 1)


def write_split(path: Path, rows: int, words: list[str], rng: random.Random) -> None:
    with gzip.open(path, "wt", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for i in range(rows):
            length = max(5, int(rng.lognormvariate(math.log(MEDIAN_WORDS), SIGMA)))
            writer.writerow([" ".join(rng.choices(words, k=length)), i % 2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokenizer", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--train", type=int, default=2000)
    parser.add_argument("--test", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    words = words_of(args.tokenizer)
    rng = random.Random(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    write_split(args.out / "train.csv.gz", args.train, words, rng)
    write_split(args.out / "test.csv.gz", args.test, words, rng)
    print(f"wrote {args.train} + {args.test} synthetic reviews ({len(words)} words) to {args.out}")


if __name__ == "__main__":
    main()
