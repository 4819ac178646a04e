"""Write the synthetic preference set of the DPO tests (tests/fixtures/preferences).

The task: answer a greeting hidden among filler words ("cat hello sun" -> "hi there",
"thanks dog" -> "you are welcome"). Both completions give the right answer; the chosen one in
UPPERCASE, the rejected one in lowercase. A model tuned on both completions (SFT) answers in
either case; preference tuning must make it prefer the uppercase style. Validation and test
prompts are filler/greeting sequences that appear nowhere in train, so a model that ranks or
writes their completions in the preferred style has learnt the style, not the rows.

    python scripts/make_preference_fixture.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests/fixtures/preferences"
WORDS = ["red", "cat", "sun", "dog", "map", "tea", "box", "pen", "cup", "hat", "egg", "owl"]
ANSWERS = {"hello": "hi there", "thanks": "you are welcome", "bye": "see you soon"}
SIZES = {"train": 160, "validation": 16, "test": 32}
FILLERS = (1, 2)  # filler words around the greeting
SEED = 23


def prompt_words(rng: random.Random) -> tuple[str, ...]:
    words = [rng.choice(WORDS) for _ in range(rng.choice(FILLERS))]
    words.insert(rng.randrange(len(words) + 1), rng.choice(sorted(ANSWERS)))
    return tuple(words)


def row(words: tuple[str, ...], rng: random.Random) -> dict[str, str]:
    answer = next(ANSWERS[w] for w in words if w in ANSWERS)
    return {"prompt": " ".join(words), "chosen": answer.upper(), "rejected": answer}


def main() -> None:
    rng = random.Random(SEED)
    held_out: set[tuple[str, ...]] = set()
    while len(held_out) < SIZES["validation"] + SIZES["test"]:
        held_out.add(prompt_words(rng))
    ordered = sorted(held_out)
    rng.shuffle(ordered)
    splits = {"validation": ordered[: SIZES["validation"]], "test": ordered[SIZES["validation"] :]}
    train: list[tuple[str, ...]] = []
    while len(train) < SIZES["train"]:
        words = prompt_words(rng)
        if words not in held_out:
            train.append(words)
    splits["train"] = train
    OUT.mkdir(parents=True, exist_ok=True)
    for name, prompts in splits.items():
        with (OUT / f"{name}.jsonl").open("w") as handle:
            handle.writelines(json.dumps(row(words, rng)) + "\n" for words in prompts)
        print(f"{len(prompts)} rows -> {OUT / name}.jsonl")


if __name__ == "__main__":
    main()
