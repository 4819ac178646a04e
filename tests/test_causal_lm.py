"""Causal LM: block packing by hand, perplexity as exp of the token-weighted loss, bad data,
tied weights in the optimizer, and a tiny GPT-2 trained on the fixture through `run(cfg)`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from lab.errors import DataError
from lab.tasks.causal_lm import CausalLMModule, chunk_into_blocks

from conftest import FIXTURES

LM = FIXTURES / "lm"


def test_documents_are_joined_with_eos_and_cut_into_full_blocks() -> None:
    assert chunk_into_blocks([[1, 2, 3], [4, 5]], 3, separator=0) == [[1, 2, 3], [0, 4, 5]]
    assert chunk_into_blocks([[1, 2], [], [3]], 2, separator=None) == [[1, 2]]  # [3] dropped


def test_datamodule_packs_blocks_with_labels_equal_to_inputs(compose_cfg) -> None:  # type: ignore[no-untyped-def]
    from hydra.utils import instantiate

    cfg = compose_cfg("model=tiny_gpt2", "data=text", f"data.path={LM}", "data.block_size=16")
    tokenizer = instantiate(cfg.model.tokenizer)
    datamodule = instantiate(cfg.data, tokenizer=tokenizer, _convert_="all")
    datamodule.setup("fit")
    train = datamodule.datasets["train"]
    tokens = sum(
        len(tokenizer(line)["input_ids"]) + 1
        for line in LM.joinpath("train.txt").read_text().splitlines()
    )
    assert len(train) == tokens // 16  # every full block, in one tokenization batch
    assert all(len(row["input_ids"]) == 16 for row in train)
    assert train[0]["labels"] == train[0]["input_ids"]
    assert tokenizer.eos_token_id in train[0]["input_ids"] + train[1]["input_ids"]


def test_a_split_shorter_than_a_block_is_refused(compose_cfg, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from hydra.utils import instantiate

    for split in ("train", "validation", "test"):
        (tmp_path / f"{split}.txt").write_text("the cat sat .\n\n")
    cfg = compose_cfg("model=tiny_gpt2", "data=text", f"data.path={tmp_path}", "data.block_size=64")
    datamodule = instantiate(cfg.data, tokenizer=instantiate(cfg.model.tokenizer), _convert_="all")
    with pytest.raises(DataError, match=r"train split has fewer than data\.block_size=64 tokens"):
        datamodule.setup("fit")


def test_perplexity_is_exp_of_the_token_weighted_mean_loss() -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    model = GPT2LMHeadModel(GPT2Config(vocab_size=16, n_embd=8, n_layer=1, n_head=1))
    module = CausalLMModule(model, optimizer=None, sample_prompt=None)  # type: ignore[arg-type]
    module.eval_loss["val"].update(torch.tensor(1.0), weight=10)
    module.eval_loss["val"].update(torch.tensor(2.0), weight=30)
    metrics = module.evaluation_metrics("val")
    assert float(metrics["val/loss"]) == pytest.approx(1.75)
    assert float(metrics["val/perplexity"]) == pytest.approx(math.exp(1.75))


def test_tied_weights_are_optimized_once() -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    from lab.training.optim import adamw

    model = GPT2LMHeadModel(GPT2Config(vocab_size=16, n_embd=8, n_layer=1, n_head=1))
    assert model.lm_head.weight is model.transformer.wte.weight
    optimizer = adamw(model)
    held = [id(p) for group in optimizer.param_groups for p in group["params"]]
    assert len(held) == len(set(held)) == len(list(model.parameters()))


@pytest.mark.slow
def test_tiny_gpt2_learns_the_fixture_and_exports_a_generator(compose_cfg) -> None:  # type: ignore[no-untyped-def]
    from transformers import pipeline

    from lab.train import run

    cfg = compose_cfg(
        "model=tiny_gpt2",
        "data=text",
        f"data.path={LM}",
        "data.block_size=32",
        "logger=csv",
        "trainer.max_epochs=5",
        "optimizer.lr=3e-3",
        "scheduler.warmup_ratio=0.0",
        "task.module.sample_prompt='the cat'",
    )
    metrics = run(cfg)
    run_dir = Path(cfg.paths.output_dir)
    # Untrained, perplexity is about the vocabulary size (1000); the fixture's templates
    # leave a handful of choices per position.
    assert metrics["test/perplexity"] < 20
    assert metrics["test/perplexity"] == pytest.approx(math.exp(metrics["test/loss"]), rel=1e-4)
    report = json.loads((run_dir / "test_report.json").read_text())
    assert report["prompt"] == "the cat" and report["sample"].startswith("the cat ")
    generate = pipeline("text-generation", model=str(run_dir / "model"))
    text = generate("the old man", max_new_tokens=5, do_sample=False)[0]["generated_text"]
    assert text.startswith("the old man ") and len(text.split()) > 3
