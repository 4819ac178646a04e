"""Save a randomly initialised Llama-architecture causal LM with lab's tiny_llama tokenizer and
chat template, and optionally an SFT data folder long enough for a number of packed tokens.

    python benchmarks/make_random_llm.py --shape llama-1b --out /tmp/llm
    python benchmarks/make_random_llm.py --shape tiny --out /tmp/llm \
        --sft-from tests/fixtures/sft_task --sft-out /tmp/sft --sft-tokens 600000

`llama-1b` has the transformer of Llama-3.2-1B (hidden 2048, 16 layers, 32 query and 8
key/value heads, intermediate 8192, RoPE theta 500000, tied embeddings): 0.97B parameters
without the embedding table. Its vocabulary is the tokenizer's (965 tokens, rounded up to a
multiple of 64) instead of Llama 3's 128K, so the embedding and the output layer are small:
the compute per token is the 1B model's minus its 128K-way output layer. The folder loads with
`model=llama3_2_1b_instruct model.pretrained=<out>` (a Hub-style model config: tokenizer,
chat template and weights from the folder). Weights are random: speed and memory only, never
accuracy. Used by `gpu_check.sh` (part 3) on machines that cannot download weights.

`--sft-from` copies a folder of train/validation/test .jsonl chats to `--sft-out`, with the
train rows repeated until their chat-templated tokens reach `--sft-tokens`, so that a packed
run of N steps stays inside one epoch (no validation between the timed steps).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TOKENIZER = ROOT / "src" / "lab" / "assets" / "tiny_llama"

SHAPES: dict[str, dict[str, Any]] = {
    # conf/model/tiny_llama.yaml's shape: smoke runs (gpu_check.sh --cpu-smoke)
    "tiny": {
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 1024,
    },
    # meta-llama/Llama-3.2-1B's config.json, vocabulary and RoPE scaling aside
    "llama-1b": {
        "hidden_size": 2048,
        "intermediate_size": 8192,
        "num_hidden_layers": 16,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "head_dim": 64,
        "max_position_embeddings": 131072,
        "rope_theta": 500000.0,
        "rms_norm_eps": 1e-5,
    },
}
VOCAB_MULTIPLE = 64  # embedding rows padded as Hub models do (tensor-core friendly)


def build_config(shape: str, tokenizer: Any) -> Any:
    """The `LlamaConfig` of `shape` for `tokenizer` (vocabulary size and special token ids)."""
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=math.ceil(len(tokenizer) / VOCAB_MULTIPLE) * VOCAB_MULTIPLE,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,  # <|eot_id|>: generation stops after a turn
        pad_token_id=tokenizer.pad_token_id,
        **SHAPES[shape],
    )


def save_model(shape: str, tokenizer_dir: Path, out: Path, device: str) -> int:
    """Save a random model of `shape` (float32) and the tokenizer to `out`; the parameter count."""
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    config = build_config(shape, tokenizer)
    # Initialising 1B weights on a GPU takes a second; on one CPU core, half a minute.
    with torch.device(device):
        model = LlamaForCausalLM(config)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    shutil.rmtree(out / ".cache", ignore_errors=True)
    return sum(p.numel() for p in model.parameters())


def chat_tokens(tokenizer: Any, row: dict[str, Any]) -> int:
    """Tokens of one `messages` row rendered with the tokenizer's chat template."""
    text = tokenizer.apply_chat_template(row["messages"], tokenize=False)
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def write_sft_data(source: Path, out: Path, tokens: int, tokenizer_dir: Path) -> tuple[int, int]:
    """`source`'s splits copied to `out`, train repeated to >= `tokens`; (repeats, train rows)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    lines = (source / "train.jsonl").read_text().splitlines()
    per_pass = sum(chat_tokens(tokenizer, json.loads(line)) for line in lines)
    repeats = max(1, math.ceil(tokens / per_pass))
    out.mkdir(parents=True, exist_ok=True)
    (out / "train.jsonl").write_text("\n".join(lines * repeats) + "\n")
    for split in ("validation", "test"):
        shutil.copy(source / f"{split}.jsonl", out / f"{split}.jsonl")
    return repeats, len(lines) * repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="llama-1b")
    parser.add_argument("--tokenizer", type=Path, default=TOKENIZER, help="a tokenizer folder")
    parser.add_argument("--out", type=Path, required=True, help="the model folder to write")
    parser.add_argument("--device", default=None, help="where to initialise (default: cuda if any)")
    parser.add_argument("--sft-from", type=Path, help="a folder of train/validation/test .jsonl")
    parser.add_argument("--sft-out", type=Path, help="where the repeated SFT data goes")
    parser.add_argument("--sft-tokens", type=int, default=0, help="train tokens to reach")
    args = parser.parse_args()

    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    count = save_model(args.shape, args.tokenizer, args.out, device)
    print(f"saved a random Llama ({args.shape}, {count:,} parameters) to {args.out}")
    if args.sft_from is not None and args.sft_out is not None:
        repeats, rows = write_sft_data(args.sft_from, args.sft_out, args.sft_tokens, args.tokenizer)
        print(f"SFT data: {args.sft_from} train x{repeats} ({rows} rows) to {args.sft_out}")


if __name__ == "__main__":
    main()
