"""Build the tiny byte-level BPE tokenizer of `model=tiny_gpt2` (src/lab/assets/tiny_gpt2).

GPT-2's scheme (byte-level BPE, `<|endoftext|>` as BOS/EOS) trained on text authored in this
repository (the LM fixture and the built-in demo set), so tests need no download:

    python scripts/make_tiny_gpt2_tokenizer.py
"""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import ByteLevelBPETokenizer
from transformers import GPT2TokenizerFast

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src/lab/assets/tiny_gpt2"
VOCAB_SIZE = 1000  # model=tiny_gpt2's embedding table has 1024 rows
EOS = "<|endoftext|>"


def corpus() -> list[str]:
    texts = []
    for path in sorted((ROOT / "tests/fixtures/lm").glob("*.txt")):
        texts += path.read_text().splitlines()
    for path in sorted((ROOT / "src/lab/data/demo").glob("*.jsonl")):
        texts += [json.loads(line)["text"] for line in path.read_text().splitlines()]
    return texts


def main() -> None:
    trainer = ByteLevelBPETokenizer()
    trainer.train_from_iterator(corpus(), vocab_size=VOCAB_SIZE, special_tokens=[EOS])
    OUT.mkdir(parents=True, exist_ok=True)
    tokenizer = GPT2TokenizerFast(
        tokenizer_object=trainer._tokenizer,
        bos_token=EOS,
        eos_token=EOS,
        unk_token=EOS,
        model_max_length=512,
    )
    tokenizer.save_pretrained(OUT)
    print(f"{len(tokenizer)} tokens -> {OUT}")


if __name__ == "__main__":
    main()
