"""SQuAD v1.1-shaped questions on real English text, for memory and speed runs without SQuAD.

    python benchmarks/synthetic_squad.py --out DIR [--train 1500 --test 500 --seed 0]

Writes `train.jsonl` and `validation.jsonl` in the Hub's `rajpurkar/squad` columns (`id`,
`title`, `context`, `question`, `answers` = {"text": [...], "answer_start": [...]}), the files
`data=squad data.path=DIR` reads (lab carves its validation split from train and tests on
`validation`, as on the Hub). Contexts are IMDB reviews (`../shared/data/imdb/train.csv.gz`,
read in place, never copied) cut to SQuAD v1.1's paragraph lengths: a log-normal with median
110 and mean about 120 words, capped at 650, so a few contexts need two or three 384-token
windows. Each context gets 2 to 8 questions (4.6 on average, as in SQuAD); an answer is a span
of 1 to 5 words of the context at its right `answer_start`; its question is a wh-word and 4 to 9
words taken just before the answer.

What this is for: tensor shapes, window counts, batch lengths and row counts like SQuAD's. The
questions are word salad: EM/F1 on these rows mean nothing (and must never be reported as
QA quality); they only show that both implementations decode and score the same way.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import math
import random
import re
from collections.abc import Iterator
from pathlib import Path

IMDB = Path(__file__).resolve().parents[2] / "shared/data/imdb/train.csv.gz"
MEDIAN_WORDS = 110  # SQuAD v1.1 paragraphs: median ~110 words, mean ~120, tail to ~650
MEAN_WORDS = 120
MAX_WORDS = 650
MIN_WORDS = 25
SIGMA = math.sqrt(2 * math.log(MEAN_WORDS / MEDIAN_WORDS))  # log-normal with that mean
# Questions per paragraph: SQuAD v1.1 has 87,599 questions on 18,896 paragraphs (4.6 each).
QUESTIONS = (2, 3, 4, 5, 6, 7, 8)
QUESTION_WEIGHTS = (1, 2, 3, 3, 2, 1, 1)  # mean 4.6
WH_WORDS = ("What", "Who", "When", "Where", "Which", "Why", "How")
WORD = re.compile(r"\S+")


def review_words(path: Path) -> Iterator[str]:
    """The words of every review in `path` (csv.gz with a `text` column), in file order."""
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            yield from row["text"].replace("<br />", " ").split()


def paragraph_lengths(rng: random.Random) -> Iterator[int]:
    """Word counts with SQuAD v1.1's paragraph length distribution."""
    while True:
        words = round(rng.lognormvariate(math.log(MEDIAN_WORDS), SIGMA))
        yield min(max(words, MIN_WORDS), MAX_WORDS)


def question_for(context: str, rng: random.Random, qid: str, title: str) -> dict[str, object]:
    """One question on `context`: a 1-5 word answer span and a wh-question from nearby words."""
    spans = [(m.start(), m.group()) for m in WORD.finditer(context)]
    first = rng.randrange(0, len(spans))
    length = min(rng.randint(1, 5), len(spans) - first)
    start = spans[first][0]
    last_start, last_word = spans[first + length - 1]
    text = context[start : last_start + len(last_word)]
    before = [w for _, w in spans[max(0, first - 12) : first]] or [w for _, w in spans[:6]]
    cue = before[-rng.randint(4, 9) :]
    question = f"{rng.choice(WH_WORDS)} {' '.join(cue)}?"
    return {
        "id": qid,
        "title": title,
        "context": context,
        "question": question,
        "answers": {"text": [text], "answer_start": [start]},
    }


def generate(
    source: Path, questions: int, rng: random.Random, prefix: str
) -> list[dict[str, object]]:
    """`questions` rows on consecutive paragraphs cut from the reviews of `source`."""
    words, rows = review_words(source), list[dict[str, object]]()
    for paragraph, length in enumerate(paragraph_lengths(rng)):
        chunk = [w for _, w in zip(range(length), words, strict=False)]
        if len(chunk) < length:
            raise SystemExit(f"{source} ran out of text after {len(rows)} questions")
        context, title = " ".join(chunk), f"{prefix}-paragraph-{paragraph}"
        for q in range(rng.choices(QUESTIONS, QUESTION_WEIGHTS)[0]):
            rows.append(question_for(context, rng, f"{prefix}-{paragraph}-{q}", title))
            if len(rows) == questions:
                return rows
    raise AssertionError("unreachable")


def write(out: Path, train: int, test: int, seed: int = 0, source: Path = IMDB) -> Path:
    """Write `train.jsonl` and `validation.jsonl` (the test split of `data=squad`) to `out`."""
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    rows = generate(source, train + test, rng, "q")
    # Test questions come from paragraphs after the training ones (as SQuAD's dev articles
    # are not in train); one paragraph may straddle the cut, as it may in lab's validation.
    for name, part in (("train", rows[:train]), ("validation", rows[train:])):
        with (out / f"{name}.jsonl").open("w") as handle:
            for row in part:
                handle.write(json.dumps(row) + "\n")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--train", type=int, default=1500, help="training questions")
    parser.add_argument("--test", type=int, default=500, help="test questions (validation.jsonl)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--source", type=Path, default=IMDB, help="IMDB-style csv.gz")
    args = parser.parse_args()
    write(args.out, args.train, args.test, args.seed, args.source)
    contexts = {
        json.loads(line)["context"] for line in (args.out / "train.jsonl").read_text().splitlines()
    }
    words = sorted(len(c.split()) for c in contexts)
    print(
        f"wrote {args.out}: {args.train} + {args.test} questions; train paragraphs "
        f"{len(words)}, words median {words[len(words) // 2]}, "
        f"mean {sum(words) / len(words):.0f}, max {words[-1]}"
    )


if __name__ == "__main__":
    main()
