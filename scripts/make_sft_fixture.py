"""Write the synthetic instruction task of the SFT tests (tests/fixtures/sft_task).

The rule: number words become digits, one per word, in order ("three one four" -> "3 1 4"),
asked in one of a few phrasings. Every row is a `messages` chat: some open with a system
prompt, some are two user/assistant exchanges (the first a worked example, the second the
question), and the final assistant turn is the answer. Validation and test questions are word
sequences that appear nowhere in train (not even as a first turn), so a model that reaches the
answers has learnt the rule, not the rows. A tiny random Llama learns it in well under a
minute on one CPU core (tests/test_sft.py).

    python scripts/make_sft_fixture.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests/fixtures/sft_task"
WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
ASKS = [
    "Write in digits: {}",
    "Digits for: {}",
    "Convert to digits: {}",
]
SYSTEM = "You turn number words into digits."
SIZES = {"train": 480, "validation": 32, "test": 48}
LENGTHS = (3,)  # words per question
SEED = 17


def question(rng: random.Random) -> tuple[str, ...]:
    return tuple(rng.choice(WORDS) for _ in range(rng.choice(LENGTHS)))


def turn(words: tuple[str, ...], rng: random.Random) -> list[dict[str, str]]:
    """A user question and its answer."""
    answer = " ".join(str(WORDS.index(w)) for w in words)
    return [
        {"role": "user", "content": rng.choice(ASKS).format(" ".join(words))},
        {"role": "assistant", "content": answer},
    ]


def chat(words: tuple[str, ...], example: tuple[str, ...], rng: random.Random) -> dict:
    """One row: optional system prompt, optional worked example, then the question."""
    messages: list[dict[str, str]] = []
    if rng.random() < 0.3:
        messages.append({"role": "system", "content": SYSTEM})
    if rng.random() < 0.25:
        messages += turn(example, rng)
    messages += turn(words, rng)
    return {"messages": messages}


def main() -> None:
    rng = random.Random(SEED)
    held_out: set[tuple[str, ...]] = set()
    while len(held_out) < SIZES["validation"] + SIZES["test"]:
        held_out.add(question(rng))
    ordered = sorted(held_out)
    rng.shuffle(ordered)
    splits = {
        "validation": ordered[: SIZES["validation"]],
        "test": ordered[SIZES["validation"] :],
    }
    train: list[tuple[str, ...]] = []
    while len(train) < SIZES["train"]:
        words = question(rng)
        if words not in held_out:
            train.append(words)
    splits["train"] = train
    OUT.mkdir(parents=True, exist_ok=True)
    for name, questions in splits.items():
        # Worked examples come from train questions only, so no held-out answer is ever shown.
        rows = [chat(words, rng.choice(train), rng) for words in questions]
        with (OUT / f"{name}.jsonl").open("w") as handle:
            handle.writelines(json.dumps(row) + "\n" for row in rows)
        print(f"{len(rows)} rows -> {OUT / name}.jsonl")


if __name__ == "__main__":
    main()
