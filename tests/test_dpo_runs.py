"""Whole DPO runs (task=dpo): DDP on two CPU ranks gives the metrics of one process (LoRA with
disabled adapters as the reference, and precomputed reference tables shared between the
ranks); `lab.eval` of a run's export gives the test metrics recorded at train time (full
fine-tuning and LoRA); `lab.predict` and `lab.serve` answer chats with the run's model."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from lab.train import run

from conftest import http_json, serving, train_on_two_cpu_ranks

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests/fixtures/preferences"
RUN = [
    "model=tiny_llama",
    "data=preferences",
    f"data.path={FIXTURE}",
    "data.max_train_samples=32",  # 2 steps of 16 pairs an epoch
    # 15 validation and 31 test pairs in batches of 4: two ranks get 8 + 7 and 16 + 15 pairs,
    # and unequal numbers of reference batches, so a repeated pair or a mean of rank means
    # would change the metrics.
    "data.max_eval_samples=15",
    "data.max_test_samples=31",
    "data.eval_batch_size=4",
    "trainer.max_epochs=2",
    # 4 steps: no warmup (0.06 of them rounded up is one step), so the model trained here is
    # the one whose greedy answer to the chat tests below is not empty.
    "scheduler.warmup_ratio=0",
    "logger=csv",
]
MODES = {
    # Full fine-tuning, reference log-probs computed before training (no copy kept).
    "precomputed": ["task.module.precompute_reference=true", "optimizer.lr=1e-3"],
    # The reference is the policy with its adapters disabled; no dropout, whose masks would
    # differ between ranks (each has its own random stream) and one process.
    "lora": ["peft=lora", "peft.config.lora_dropout=0", "optimizer.lr=5e-3"],
}
Run = tuple[Path, dict[str, float]]


@pytest.fixture(scope="module")
def one_process(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Run]:
    """`mode -> (run dir, metrics)` of a one-process run, global batch 16 (trained once)."""
    from lab.config import compose_train_config

    runs: dict[str, Run] = {}

    def get(mode: str) -> Run:
        if mode not in runs:
            out = tmp_path_factory.mktemp(f"dpo_{mode}") / "run"
            cfg = compose_train_config([*RUN, *MODES[mode], "data.batch_size=16"], output_dir=out)
            runs[mode] = (out, run(cfg))
        return runs[mode]

    return get


def test_train_refuses_a_streamed_dpo_run_before_reading_any_pair(tmp_path: Path) -> None:
    """`data.streaming=true`: pairs are read whole, so `lab.train` ends in the `ConfigError`
    that `lab.validate` gives, recorded as the run's end, before a pair or weight is read."""
    from lab.config import compose_train_config
    from lab.errors import ConfigError

    out = tmp_path / "run"
    cfg = compose_train_config([*RUN, "data.streaming=true", "trainer.max_steps=2"], output_dir=out)
    with pytest.raises(ConfigError) as error:
        run(cfg)
    refusal = error.value
    assert str(refusal).startswith("data.streaming=true: this head (DPOModule) reads its pairs")
    record = json.loads((out / "record.json").read_text())
    assert record["status"] == f"failed: {refusal}"
    assert "data" not in record, "refused before the data was read"
    assert not (out / "checkpoints").exists()


def _best_checkpoint(run_dir: Path) -> dict[str, torch.Tensor]:
    (path,) = (run_dir / "checkpoints").glob("best*.ckpt")
    state: dict[str, torch.Tensor] = torch.load(path, weights_only=False)["state_dict"]
    return state


@pytest.mark.slow
@pytest.mark.parametrize("mode", list(MODES))
def test_ddp_on_two_cpu_ranks_gives_the_metrics_of_one_process(
    mode: str, one_process: Callable[[str], Run], tmp_path: Path
) -> None:
    train_on_two_cpu_ranks(*RUN, *MODES[mode], "data.batch_size=8", cwd=tmp_path)
    (run_dir,) = list((tmp_path / "out").glob("runs/*/*"))
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in (run_dir / "train_ddp_process_1.log").read_text()
    distributed = json.loads((run_dir / "metrics.json").read_text())
    single_dir, single = one_process(mode)
    assert distributed.keys() == single.keys()
    assert {"val/loss", "test/loss", "test/rewards/accuracy", "test/rewards/margin"} <= set(single)
    assert abs(single["test/rewards/margin"]) > 1e-3  # the policy moved from its reference
    for name, value in single.items():
        assert distributed[name] == pytest.approx(value, rel=1e-4, abs=1e-5), name
    if mode == "precomputed":
        # Each rank computed every 2nd batch; the tables the ranks added up hold every pair
        # (no row left at zero) and equal one process's.
        ours, alone = _best_checkpoint(run_dir), _best_checkpoint(single_dir)
        for split, pairs in (("train", 32), ("val", 15), ("test", 31)):
            table = ours[f"reference_{split}"]
            assert table.shape == (pairs, 2) and bool((table < 0).all()), split
            torch.testing.assert_close(table, alone[f"reference_{split}"], rtol=1e-5, atol=1e-5)


def test_each_rank_computes_its_share_of_the_reference_tables() -> None:
    """With N ranks, `on_fit_start` runs rank r's batches r, r + N, ... only (the data module's
    `ordered_batches(stage, replicas, rank)`) and sums the tables across ranks: rank 0's and
    rank 1's tables hold disjoint pairs and add up to one process's table."""
    from types import SimpleNamespace

    from lab.tasks.dpo.data import INDEX, PreferenceDataModule
    from lab.tasks.dpo.module import DPOModule
    from test_dpo import _tiny_llama

    datamodule = PreferenceDataModule(
        _tokenizer(),
        path=str(FIXTURE),
        seed=0,
        eval_batch_size=4,
        max_train_samples=16,
        max_eval_samples=7,
        max_test_samples=11,
    )
    datamodule.setup("fit")
    alone = [b[INDEX].tolist() for b in datamodule.ordered_batches("test")]
    assert len(alone) == 3 and sorted(i for batch in alone for i in batch) == list(range(11))
    model = _tiny_llama(0)
    tables, sums = [], []

    def reduce(table: torch.Tensor, reduce_op: str) -> torch.Tensor:
        sums.append(reduce_op)
        return table  # one process plays each rank: the test adds the tables up itself

    for rank in (None, 0, 1):
        module = DPOModule(
            model,
            optimizer=lambda m: torch.optim.SGD(m.parameters(), lr=0.1),
            precompute_reference=True,
            **datamodule.module_kwargs(),
        )
        if rank is not None:  # a stand-in for the DDP trainer of 2 ranks
            strategy = SimpleNamespace(reduce=reduce)
            trainer: Any = SimpleNamespace(world_size=2, global_rank=rank, strategy=strategy)
            module._trainer = trainer
        module.on_fit_start()
        assert bool(module.reference_ready)
        tables.append({s: getattr(module, f"reference_{s}") for s in ("train", "val", "test")})
    assert sums == ["sum"] * 6  # each rank, each of the 3 tables
    single, first, second = tables
    for split, table in single.items():
        assert bool((table < 0).all()), split  # every pair's summed log-probs
        filled = [set(t.nonzero()[:, 0].tolist()) for t in (first[split], second[split])]
        assert not filled[0] & filled[1] and filled[0] | filled[1] == set(range(len(table)))
        torch.testing.assert_close(first[split] + second[split], table, rtol=0, atol=0)
    # Rank 1 filled the pairs of batches 1, 3, ... of the one-process order.
    assert set(second["test"].nonzero()[:, 0].tolist()) == set(alone[1])


def _tokenizer() -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(ROOT / "src/lab/assets/tiny_llama")


# ----------------------------------------------------------------------------- after training
@pytest.mark.slow
@pytest.mark.parametrize("mode", list(MODES))
def test_lab_eval_of_the_export_gives_the_recorded_test_metrics(
    mode: str, one_process: Callable[[str], Run], tmp_path: Path
) -> None:
    """The export holds the trained weights only (LoRA merged in); `lab.eval` measures the
    rewards against the model the run started from, rebuilt from the run's config (for
    tiny_llama: its seeded initial weights), so they equal training's, not 0."""
    from lab.eval import main as evaluate

    run_dir, recorded = one_process(mode)
    target = tmp_path / "metrics.json"
    assert evaluate([f"run={run_dir}", f"output={target}"]) == 0
    metrics = json.loads(target.read_text())["metrics"]
    tested = {k: v for k, v in recorded.items() if k.startswith("test/")}
    assert metrics.keys() == tested.keys()
    assert tested["test/rewards/margin"] > 0.05  # far from the 0 of a trained reference
    for name, value in tested.items():
        assert metrics[name] == pytest.approx(value, rel=1e-5, abs=1e-5), name


@pytest.mark.slow
def test_lab_predict_and_lab_serve_answer_chats(
    one_process: Callable[[str], Run], tmp_path: Path
) -> None:
    """A DPO run's model answers `messages` through `lab.predict` and the OpenAI-style chat
    route of `lab.serve`: the model's own greedy continuation of the chat."""
    from transformers import AutoModelForCausalLM

    from lab.predict import main as predict
    from lab.tasks.sft.predictor import greedy_config

    run_dir, _ = one_process("precomputed")
    chat = [{"role": "user", "content": "thanks dog"}]
    tokenizer = _tokenizer()
    model = AutoModelForCausalLM.from_pretrained(run_dir / "model").eval()
    ids = tokenizer.apply_chat_template(chat, add_generation_prompt=True, return_tensors="pt")
    ids = ids if isinstance(ids, torch.Tensor) else ids["input_ids"]

    def greedy(tokens: int) -> str:
        with torch.no_grad():
            out = model.generate(ids, generation_config=greedy_config(model, tokenizer, tokens))
        return str(tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)).strip()

    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text(json.dumps({"messages": chat}) + "\n")
    assert predict([f"run={run_dir}", f"input={source}", f"output={target}"]) == 0
    (result,) = [json.loads(line) for line in target.read_text().splitlines()]
    assert result["completion"] and result["completion"] == greedy(128)  # max_new_tokens: 128
    # The export's own settings answer the same: greedy, 128 new tokens (s33a M1: it sampled).
    torch.manual_seed(0)
    with torch.no_grad():
        plain = model.generate(ids)
    assert (
        tokenizer.decode(plain[0, ids.shape[1] :], skip_special_tokens=True).strip()
        == (result["completion"])
    )
    with serving(run_dir) as (url, _):
        status, reply = http_json(
            f"{url}/v1/chat/completions", {"messages": chat, "max_tokens": 8, "temperature": 0}
        )
    assert status == 200, reply
    assert reply["choices"][0]["message"]["role"] == "assistant"
    assert reply["choices"][0]["message"]["content"].strip() == greedy(8)
    assert reply["usage"]["completion_tokens"] >= 1


@pytest.mark.slow
def test_a_run_without_a_chat_template_continues_prompts_as_plain_text(tmp_path: Path) -> None:
    """A DPO run on a model without a chat template trains its string pairs as plain text +
    EOS; `lab.predict` and `lab.serve` continue a `prompt` row the same way (its ids are the
    prompt ids of a trained pair) and refuse a `messages` row, which nothing can render (a 422
    from `lab.serve`)."""
    from fastapi.testclient import TestClient
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lab.config import compose_train_config
    from lab.inference.predictors import open_predictor
    from lab.predict import main as predict
    from lab.serve import create_app
    from lab.tasks.dpo.pairs import encode_pair, make_pair
    from lab.tasks.sft.predictor import greedy_config

    out = tmp_path / "run"
    overrides = ["model=tiny_gpt2", "data=preferences", f"data.path={FIXTURE}", "logger=csv"]
    # tiny_gpt2 has 512 positions, under data=preferences' default max_length of 1024.
    sizes = ["data.max_length=128", "data.max_train_samples=8", "data.max_eval_samples=4"]
    sizes.append("data.max_test_samples=4")
    run(compose_train_config([*overrides, *sizes, "trainer.max_epochs=1"], output_dir=out))
    tokenizer = AutoTokenizer.from_pretrained(out / "model")
    assert not tokenizer.chat_template
    model = AutoModelForCausalLM.from_pretrained(out / "model").eval()
    ids = tokenizer("thanks dog", return_tensors="pt")["input_ids"]
    trained = encode_pair(tokenizer, make_pair("thanks dog", "A", "b", chat=False))
    assert ids[0].tolist() == trained.chosen[: trained.prompt_length]
    with torch.no_grad():
        output = model.generate(ids, generation_config=greedy_config(model, tokenizer, 128))
    expected = str(tokenizer.decode(output[0, ids.shape[1] :], skip_special_tokens=True)).strip()
    assert expected

    refusal = (
        "field 'messages': this run's tokenizer has no chat template to render messages; give "
        "a plain 'prompt' (continued as text)"
    )
    chat = [{"role": "user", "content": "thanks dog"}]
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text(json.dumps({"prompt": "thanks dog"}) + "\n" + json.dumps({"messages": chat}))
    assert predict([f"run={out}", f"input={source}", f"output={target}"]) == 0
    results = [json.loads(line) for line in target.read_text().splitlines()]
    assert results == [
        {"line": 1, "completion": expected},
        {"line": 2, "error": f"{source}:2: {refusal}"},
    ]

    client = TestClient(create_app(open_predictor(str(out), None, "cpu")[2]))
    assert client.post("/predict", json={"prompt": "thanks dog"}).json() == {"completion": expected}
    reply = client.post("/predict", json={"messages": chat})
    assert reply.status_code == 422
    assert [e["msg"] for e in reply.json()["detail"]] == [refusal]
