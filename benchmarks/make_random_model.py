"""Save a randomly initialised classifier of a standard architecture, for throughput runs.

    python benchmarks/make_random_model.py --arch bert-base --tokenizer <dir> --out <dir>

Speed does not depend on weight values, so a random BERT-base has the compute of
bert-base-uncased (RoBERTa-base is the same encoder with a larger embedding table). Useful on
machines that cannot download weights; never use it for accuracy figures.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

ARCHITECTURES = {
    # for smoke runs of the scripts that use a model dir (gpu_check.sh --cpu-smoke)
    "tiny": {
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 64,
    },
    "bert-base": {
        "hidden_size": 768,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "intermediate_size": 3072,
    },
    "bert-large": {
        "hidden_size": 1024,
        "num_hidden_layers": 24,
        "num_attention_heads": 16,
        "intermediate_size": 4096,
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), default="bert-base")
    parser.add_argument("--tokenizer", type=Path, required=True, help="a BERT tokenizer folder")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    config = BertConfig(vocab_size=len(tokenizer), num_labels=2, **ARCHITECTURES[args.arch])
    BertForSequenceClassification(config).save_pretrained(args.out)
    tokenizer.save_pretrained(args.out)
    print(
        f"saved a random {args.arch} ({sum(p.numel() for p in BertForSequenceClassification(config).parameters()) / 1e6:.0f}M parameters) to {args.out}"
    )
    shutil.rmtree(args.out / ".cache", ignore_errors=True)


if __name__ == "__main__":
    main()
