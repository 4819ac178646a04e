"""Preference tuning (task=dpo): TRL as the oracle of losses, rewards and gradients; the three
reference modes agree; a tiny Llama learns a preferred style; bad rows are named."""

from __future__ import annotations

import copy
import json
import logging
import math
import re
from pathlib import Path
from typing import Any

import pytest
import torch

from lab.errors import DataError
from lab.tasks.dpo.data import PreferenceDataModule, collate_pairs
from lab.tasks.dpo.losses import IGNORE
from lab.tasks.dpo.pairs import encode_pair, make_pair

ROOT = Path(__file__).resolve().parents[1]
TOKENIZER = ROOT / "src/lab/assets/tiny_llama"
FIXTURE = ROOT / "tests/fixtures/preferences"
PAIRS: list[dict[str, Any]] = [  # both row shapes: strings, and whole conversations
    {"prompt": "thanks dog", "chosen": "YOU ARE WELCOME", "rejected": "you are welcome"},
    {"prompt": "map hello", "chosen": "HI", "rejected": "hi there, how are you"},
    {
        "prompt": "bye",
        "chosen": [{"role": "user", "content": "bye"}, {"role": "assistant", "content": "BYE"}],
        "rejected": [
            {"role": "user", "content": "bye"},
            {"role": "assistant", "content": "see you soon"},
        ],
    },
]


def _tokenizer() -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(TOKENIZER)


def _tiny_llama(seed: int = 0) -> Any:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=1024,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        pad_token_id=5,
    )
    return LlamaForCausalLM(config).float()


def _batch(tokenizer: Any) -> dict[str, torch.Tensor]:
    rows = []
    for i, row in enumerate(PAIRS):
        pair = make_pair(row["prompt"], row["chosen"], row["rejected"], chat=True)
        assert not isinstance(pair, str)
        encoded = encode_pair(tokenizer, pair)
        labels = [
            [IGNORE] * encoded.prompt_length + ids[encoded.prompt_length :]
            for ids in (encoded.chosen, encoded.rejected)
        ]
        rows.append(
            {"input_ids": [encoded.chosen, encoded.rejected], "labels": labels, "pair_index": i}
        )
    return collate_pairs(rows, tokenizer.pad_token_id)


def _dpo_module(model: Any, **options: Any) -> Any:
    from lab.tasks.dpo.module import DPOModule

    return DPOModule(model, optimizer=lambda m: torch.optim.SGD(m.parameters(), lr=0.1), **options)


def _policy_and_reference() -> tuple[Any, Any]:
    """A reference and a policy that differs from it (as after some training)."""
    reference = _tiny_llama(0)
    policy = copy.deepcopy(reference)
    with torch.no_grad():
        for p in policy.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return policy, reference


def _grads(model: Any) -> dict[str, torch.Tensor]:
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def _assert_same_grads(ours: dict[str, torch.Tensor], theirs: dict[str, torch.Tensor]) -> None:
    assert ours.keys() == theirs.keys() and len(ours) > 10
    for name, grad in ours.items():
        assert torch.allclose(grad, theirs[name], atol=1e-5, rtol=1e-4), name


def _ours(policy: Any, reference: Any, batch: dict[str, torch.Tensor], **options: Any) -> Any:
    module = _dpo_module(copy.deepcopy(policy), reference_model=copy.deepcopy(reference), **options)
    result, logps = module.pair_loss(batch, "train")
    loss = result.losses.mean()
    loss.backward()
    return module, loss, result, logps


# ----------------------------------------------------------------- correctness vs TRL
@pytest.mark.parametrize(("loss", "smoothing"), [("sigmoid", 0.0), ("sigmoid", 0.2), ("ipo", 0.0)])
def test_dpo_and_ipo_equal_trl(loss: str, smoothing: float, tmp_path: Path) -> None:
    """Loss, rewards, log-probs and every gradient equal TRL's `DPOTrainer.compute_loss` on
    the same model and batch. TRL 1.x's `sigmoid` has no label smoothing; conservative DPO,
    -(1-e) ls(bd) - e ls(-bd), is TRL's `robust` and `sigmoid` losses combined with weights
    2(1-e) and -(1-2e) (robust = (-(1-e) ls(bd) + e ls(-bd)) / (1-2e))."""
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    tokenizer = _tokenizer()
    batch = _batch(tokenizer)
    policy, reference = _policy_and_reference()
    module, ours_loss, result, logps = _ours(
        policy, reference, batch, loss=loss, beta=0.3, label_smoothing=smoothing
    )
    losses, weights = [loss], None
    if smoothing:
        losses, weights = ["sigmoid", "robust"], [2 * (1 - smoothing), -(1 - 2 * smoothing)]
    args = DPOConfig(
        output_dir=str(tmp_path),
        beta=0.3,
        loss_type=losses,
        loss_weights=weights,
        label_smoothing=smoothing,
        gradient_checkpointing=False,
        bf16=False,  # else accelerate wraps the reference in bf16 autocast (CPU included)
        use_cpu=True,
        report_to=[],
    )
    trl_policy = copy.deepcopy(policy)
    trainer = DPOTrainer(
        model=trl_policy,
        ref_model=copy.deepcopy(reference),
        args=args,
        train_dataset=Dataset.from_dict({"prompt": ["a"], "chosen": ["b"], "rejected": ["c"]}),
        processing_class=tokenizer,
    )
    inputs = {
        "input_ids": batch["input_ids"],
        "attention_mask": batch["attention_mask"],
        "completion_mask": (batch["labels"] != IGNORE).long(),
    }
    trl_loss = trainer.compute_loss(trainer.model, inputs)
    trl_loss.backward()
    logged = {k: v[-1] for k, v in trainer._metrics["train"].items()}
    pairs = len(PAIRS)
    assert ours_loss.item() == pytest.approx(trl_loss.item(), abs=1e-5)
    assert result.chosen_rewards.mean().item() == pytest.approx(logged["rewards/chosen"], abs=1e-5)
    rejected = result.rejected_rewards.mean().item()
    assert rejected == pytest.approx(logged["rewards/rejected"], abs=1e-5)
    margin = (result.chosen_rewards - result.rejected_rewards).mean().item()
    assert margin == pytest.approx(logged["rewards/margins"], abs=1e-5)
    accuracy = (result.chosen_rewards > result.rejected_rewards).float().mean().item()
    assert accuracy == pytest.approx(logged["rewards/accuracies"])
    assert logps.total[:pairs].mean().item() == pytest.approx(logged["logps/chosen"], abs=1e-4)
    assert logps.total[pairs:].mean().item() == pytest.approx(logged["logps/rejected"], abs=1e-4)
    assert abs(margin) > 1e-3  # the policy differs from the reference: a real comparison
    _assert_same_grads(_grads(module.model), _grads(trl_policy))


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_simpo_equals_trl_cpo(smoothing: float, tmp_path: Path) -> None:
    """SimPO against TRL's `CPOTrainer` with `loss_type="simpo"`, `cpo_alpha=0` (no NLL term):
    `get_batch_loss_metrics` (its `concatenated_forward` and `cpo_loss`) on the same batch."""
    from datasets import Dataset
    from trl.experimental.cpo import CPOConfig, CPOTrainer

    tokenizer = _tokenizer()
    batch = _batch(tokenizer)
    policy, _ = _policy_and_reference()
    options = {"beta": 2.0, "simpo_gamma": 0.7, "label_smoothing": smoothing}
    module, ours_loss, result, _ = _ours(policy, policy, batch, loss="simpo", **options)
    args = CPOConfig(
        output_dir=str(tmp_path),
        loss_type="simpo",
        cpo_alpha=0.0,
        beta=2.0,
        simpo_gamma=0.7,
        label_smoothing=smoothing,
        max_length=128,
        bf16=False,
        use_cpu=True,
        report_to=[],
    )
    trl_policy = copy.deepcopy(policy)
    trainer = CPOTrainer(
        model=trl_policy,
        args=args,
        train_dataset=Dataset.from_dict({"prompt": ["a"], "chosen": ["b"], "rejected": ["c"]}),
        processing_class=tokenizer,
    )
    pairs = len(PAIRS)
    inputs: dict[str, Any] = {
        f"{side}_{key}": batch[name][rows]
        for side, rows in (("chosen", slice(0, pairs)), ("rejected", slice(pairs, None)))
        for key, name in (
            ("input_ids", "input_ids"),
            ("attention_mask", "attention_mask"),
            ("labels", "labels"),
        )
    }
    trl_loss, metrics = trainer.get_batch_loss_metrics(trainer.model, inputs)
    trl_loss.backward()
    assert ours_loss.item() == pytest.approx(trl_loss.item(), abs=1e-5)
    chosen = result.chosen_rewards.mean().item()
    assert chosen == pytest.approx(metrics["rewards/chosen"], abs=1e-5)
    rejected = result.rejected_rewards.mean().item()
    assert rejected == pytest.approx(metrics["rewards/rejected"], abs=1e-5)
    accuracy = (result.chosen_rewards > result.rejected_rewards).float().mean().item()
    assert accuracy == pytest.approx(metrics["rewards/accuracies"])
    _assert_same_grads(_grads(module.model), _grads(trl_policy))


# ----------------------------------------------------------------- reference modes
def test_reference_modes_agree(tmp_path: Path) -> None:
    """Disabled adapters, a frozen copy and precomputed log-probs give the same loss on the
    first step (ln 2: zero-initialised LoRA) and, after one identical SGD step, the same
    second-step loss: each keeps measuring against the untrained model."""
    from peft import LoraConfig, get_peft_model

    datamodule = _fixture_data(tmp_path, max_train_samples=16, batch_size=8)
    base = _tiny_llama(1)
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], lora_dropout=0.0)
    kwargs = datamodule.module_kwargs()

    def policy() -> Any:
        torch.manual_seed(7)  # the same LoRA A initialisation in every mode (B starts at 0)
        return get_peft_model(copy.deepcopy(base), lora)

    modules = {
        "adapters": _dpo_module(policy()),
        "copy": _dpo_module(policy(), reference_model=copy.deepcopy(base)),
        "precomputed": _dpo_module(policy(), precompute_reference=True, **kwargs),
    }
    modules["precomputed"].on_fit_start()
    assert modules["precomputed"].reference_train.abs().sum() > 0
    batches = list(datamodule.train_dataloader())[:2]
    losses: dict[str, list[float]] = {}
    for name, module in modules.items():
        optimizer = module.configure_optimizers()
        losses[name] = []
        for batch in batches:
            value = module.pair_loss(batch, "train")[0].losses.mean()
            losses[name].append(value.item())
            value.backward()
            optimizer.step()
            optimizer.zero_grad()
    first = losses["adapters"][0]
    assert first == pytest.approx(math.log(2), abs=1e-6)
    for name in ("copy", "precomputed"):
        assert losses[name][0] == pytest.approx(first, abs=1e-6), name
        assert losses[name][1] == pytest.approx(losses["adapters"][1], abs=1e-5), name
    assert abs(losses["adapters"][1] - math.log(2)) > 1e-4  # the step changed the policy


# ----------------------------------------------------------------- training logs
def _logged_train_metrics(
    batches: list[dict[str, torch.Tensor]], accumulate: int
) -> list[dict[str, float]]:
    """The `train/*` rows a fit over `batches` logs, one per logged step. Learning rate 0: the
    policy stays as built, so every micro-batch's values are those of `pair_loss` on it."""
    import lightning as L
    from lightning.pytorch.loggers import Logger

    from lab.tasks.dpo.module import DPOModule

    rows: list[dict[str, float]] = []

    class Recorder(Logger):  # type: ignore[misc]
        name, version = "recorder", 0

        def log_hyperparams(self, *args: Any, **kwargs: Any) -> None:
            pass

        def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
            rows.append({k: v for k, v in metrics.items() if k.startswith("train/")})

    policy, reference = _policy_and_reference()
    module = DPOModule(
        policy,
        optimizer=lambda m: torch.optim.SGD(m.parameters(), lr=0.0),
        reference_model=reference,
    )
    loader = torch.utils.data.DataLoader(batches, batch_size=None)  # the batches as they are
    L.Trainer(
        accelerator="cpu", max_epochs=1, accumulate_grad_batches=accumulate,
        log_every_n_steps=1, logger=Recorder(), limit_val_batches=0,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
    ).fit(module, train_dataloaders=loader)  # fmt: skip
    return [row for row in rows if row]


def test_accumulated_steps_log_each_train_metric_as_the_mean_of_their_micro_batches(
    tmp_path: Path,
) -> None:
    """With `accumulate_grad_batches=2` every `train/*` value (rewards, accuracy, log-probs,
    loss) at a step is the mean of its two micro-batches' values; without, each batch's own."""
    from lab.tasks.dpo.module import METRICS, _pair_metrics

    batches = list(_fixture_data(tmp_path, max_train_samples=16, batch_size=4).train_dataloader())
    assert len(batches) == 4
    policy, reference = _policy_and_reference()
    by_hand = _dpo_module(policy, reference_model=reference)
    expected = []  # each micro-batch's values, computed here
    with torch.no_grad():
        for batch in batches:
            result, logps = by_hand.pair_loss(batch, "train")
            values = {
                f"train/{k}": v.mean().item() for k, v in _pair_metrics(result, logps).items()
            }
            expected.append({"train/loss": result.losses.mean().item(), **values})
    names = {"train/loss", *(f"train/{name}" for name in METRICS)}
    assert set(expected[0]) == names
    # The micro-batches differ, so a step's mean is not any one of them.
    assert expected[0]["train/rewards/margin"] != pytest.approx(expected[1]["train/rewards/margin"])

    plain = _logged_train_metrics(batches, accumulate=1)
    assert [set(row) for row in plain] == [names] * 4
    for row, want in zip(plain, expected, strict=True):
        assert row == pytest.approx(want, abs=1e-5)

    accumulated = _logged_train_metrics(batches, accumulate=2)
    assert [set(row) for row in accumulated] == [names] * 2  # one row per optimizer step
    for step, row in enumerate(accumulated):
        first, second = expected[2 * step], expected[2 * step + 1]
        assert row == pytest.approx({k: (first[k] + second[k]) / 2 for k in names}, abs=1e-5)


# ----------------------------------------------------------------- data
def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    with (path / "train.jsonl").open("w") as handle:
        handle.writelines(json.dumps(row) + "\n" for row in rows)
    return path / "train.jsonl"


def _fixture_data(tmp_path: Path, path: Path = FIXTURE, **options: Any) -> PreferenceDataModule:
    datamodule = PreferenceDataModule(_tokenizer(), path=str(path), seed=0, **options)
    datamodule.setup("fit")
    return datamodule


def test_labels_cover_exactly_the_completion(tmp_path: Path) -> None:
    """UltraFeedback's shape (whole conversations under chosen/rejected): the labels are the
    assistant reply and its end-of-turn token, the prompt is everything before it."""
    tokenizer = _tokenizer()
    datamodule = _fixture_data(tmp_path, _write(tmp_path / "d", PAIRS * 4).parent)
    rows = list(datamodule.datasets["train"]) + list(datamodule.datasets["test"])
    row = next(r for r in rows if "see you soon" in tokenizer.decode(r["input_ids"][1]))
    for ids, labels in zip(row["input_ids"], row["labels"], strict=True):
        start = next(i for i, t in enumerate(labels) if t != IGNORE)
        assert all(t != IGNORE for t in labels[start:]) and labels[start:] == ids[start:]
        completion = tokenizer.decode(ids[start:])
        assert completion.endswith("<|eot_id|>") and "<|start_header_id|>" not in completion
        assert tokenizer.decode(ids[:start]).endswith(
            "<|start_header_id|>assistant<|end_header_id|>\n\n"
        )


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            [PAIRS[0], {"prompt": "hello", "chosen": "HI", "rejected": "HI"}],
            "train.jsonl:2 column 'chosen': chosen equals rejected",
        ),
        (
            [PAIRS[2], {"chosen": PAIRS[2]["chosen"], "rejected": PAIRS[2]["chosen"]}],
            "train.jsonl:2 column 'chosen': chosen equals rejected",
        ),
        (
            [{"question": "x", "chosen": "a", "rejected": "b"}],
            "column 'prompt' (data.prompt_column) is not in the train split; columns present: "
            "question, chosen, rejected",
        ),
    ],
)
def test_bad_rows_are_named(rows: list[dict[str, Any]], message: str, tmp_path: Path) -> None:
    with pytest.raises(DataError) as error:
        _fixture_data(tmp_path, _write(tmp_path / "d", rows * 3).parent, on_tie="error")
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("prompt_column", "missing"),
    [
        (
            None,
            "data.prompt_column is null; columns present in the train split: chosen, rejected",
        ),
        (
            "prompt",
            "column 'prompt' (data.prompt_column) is not in the train split; columns present: "
            "chosen, rejected",
        ),
    ],
)
def test_string_pairs_without_a_prompt_column_are_told_what_would_do(
    prompt_column: str | None, missing: str, tmp_path: Path
) -> None:
    """Anthropic/hh-rlhf's layout: chosen and rejected are whole transcripts as strings, no
    prompt column (`data.prompt_column=null`, or a prompt column the files lack). The error
    says what string pairs need, or the message-list layout that needs no prompt column."""
    rows = [
        {
            "chosen": "\n\nHuman: hello\n\nAssistant: HI",
            "rejected": "\n\nHuman: hello\n\nAssistant: hi",
        }
    ]
    train = _write(tmp_path / "d", rows * 12)
    with pytest.raises(DataError) as error:
        _fixture_data(tmp_path, train.parent, prompt_column=prompt_column)
    assert str(error.value) == (
        f"{train}: {missing}. String chosen/rejected need a prompt column "
        "(data.prompt_column=<column>), or chosen/rejected as message lists whose shared "
        'leading turns are the prompt; whole transcripts ("\\n\\nHuman: ...\\n\\nAssistant: '
        '...") must be split into prompt/chosen/rejected first'
    )


def test_the_readmes_hh_rlhf_recipe_gives_pairs_whose_prompt_is_the_shared_turns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """s23c L6: the README's recipe for Anthropic/hh-rlhf (whole transcripts as strings),
    run on rows of its shape: message lists whose shared leading turns (two of them in a
    multi-turn row) are the prompt, the last replies the completions."""
    import datasets

    transcripts = [
        ("\n\nHuman: What is 2+2?\n\nAssistant: 4.", "\n\nHuman: What is 2+2?\n\nAssistant: 5."),
        (
            "\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: Name a colour.\n\nAssistant: Blue.",
            "\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: Name a colour.\n\nAssistant: No.",
        ),
    ]
    rows = [{"chosen": c, "rejected": r} for c, r in transcripts] * 8
    hub = datasets.DatasetDict(
        train=datasets.Dataset.from_list(rows), test=datasets.Dataset.from_list(rows[:4])
    )
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("(**hh-rlhf**, tested on rows of its shape)") :]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found is not None
    code = found.group(1).replace('load_dataset("Anthropic/hh-rlhf")', "hub")
    monkeypatch.chdir(tmp_path)
    exec(code, {"hub": hub})  # the README's own code
    written = [json.loads(line) for line in (tmp_path / "hh/train.jsonl").read_text().splitlines()]
    assert written[1]["chosen"] == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": "Blue."},
    ]
    datamodule = _fixture_data(tmp_path, tmp_path / "hh", prompt_column=None)
    tokenizer = _tokenizer()
    row = next(
        r for r in datamodule.datasets["test"] if "No." in tokenizer.decode(r["input_ids"][1])
    )
    for ids, labels, reply in zip(row["input_ids"], row["labels"], ("Blue.", "No."), strict=True):
        start = next(i for i, t in enumerate(labels) if t != IGNORE)
        assert tokenizer.decode(ids[start:]) == f"{reply}<|eot_id|>"
        prompt = tokenizer.decode(ids[:start])
        assert "Hello!" in prompt and "Name a colour." in prompt and reply not in prompt


def test_orcas_system_column_is_said_or_read_as_the_first_turn(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """s23c M3: Orca's pairs carry a `system` column, left out without a word. Unread, it is
    said; `data.system_column=system` makes each non-empty one its prompt's first turn."""
    from lab.tasks.dpo.pairs import make_pair
    from lab.tasks.sft.chat import ChatError

    rows = [
        {"system": ["Be loud.", ""][i % 2], "question": f"hi {i}", "chosen": "HI", "rejected": "hi"}
        for i in range(12)
    ]
    train = _write(tmp_path / "d", rows)
    with caplog.at_level(logging.WARNING, logger="lab.tasks.dpo.data"):
        _fixture_data(tmp_path, train.parent, prompt_column="question")
    said = [r.getMessage() for r in caplog.records if "'system'" in r.getMessage()]
    assert said == [
        "column 'system' of the train split is not read: set data.system_column=system to "
        "make each row's system prompt its prompt's first turn"
    ]
    caplog.clear()
    datamodule = _fixture_data(
        tmp_path, train.parent, prompt_column="question", system_column="system"
    )
    assert not [r for r in caplog.records if "'system'" in r.getMessage()]
    user = {"role": "user", "content": "hi 0"}
    system = {"role": "system", "content": "Be loud."}
    (pair,) = datamodule.pairs({"question": ["hi 0"], "chosen": ["HI"], "rejected": ["hi"],
                                "system": ["Be loud."]})  # fmt: skip
    assert pair.prompt == [system, user]
    assert make_pair("hi 0", "HI", "hi", chat=True, system="").prompt == [user]
    own = [{"role": "system", "content": "Be quiet."}, user]  # the row's own system turn
    assert make_pair(own, "HI", "hi", chat=True, system="Be loud.").prompt == own
    tokenizer = _tokenizer()
    texts = [tokenizer.decode(row["input_ids"][0]) for row in datamodule.datasets["train"]]
    assert any("Be loud." in text for text in texts)
    assert all(text.index("Be loud.") < text.index("hi ") for text in texts if "Be loud." in text)
    with pytest.raises(ChatError, match="a system prompt needs the chat template"):
        make_pair("hi 0", "HI", "hi", chat=False, system="Be loud.")


def test_chat_data_given_to_dpo_is_pointed_to_sft(tmp_path: Path) -> None:
    """s23c L4: ShareGPT or Capybara rows given to data=preferences listed the missing pair
    columns only."""
    chat = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "HI"}]
    train = _write(tmp_path / "d", [{"messages": chat}] * 12)
    with pytest.raises(DataError) as caught:
        _fixture_data(tmp_path, train.parent)
    assert str(caught.value).endswith(
        "these columns are chat data (data.format=messages): train them with SFT (data=chat)"
    )


def test_pairs_that_prefer_nothing_are_left_out_by_default(tmp_path: Path) -> None:
    """Public preference sets hold some ties: `data.on_tie=drop` (the default) leaves out a
    chosen equal to its rejected (strings or whole conversations) and an empty side."""
    hello = _turns(("user", "hello"), ("assistant", "HI"))
    ties = [
        {"prompt": "hello", "chosen": "HI", "rejected": "HI"},
        {"chosen": PAIRS[2]["chosen"], "rejected": PAIRS[2]["chosen"]},
        {"prompt": "hello", "chosen": "HI", "rejected": " "},
        {"chosen": hello, "rejected": _turns(("user", "hello"), ("assistant", ""))},
        {"chosen": hello, "rejected": [*hello, *_turns(("user", "and?"), ("assistant", "HO"))]},
    ]
    rows = [*PAIRS * 4, *ties] * 5
    datamodule = _fixture_data(tmp_path, _write(tmp_path / "d", rows).parent)
    kept = sum(len(datamodule.datasets[s]) for s in ("train", "validation", "test"))
    assert kept == len(PAIRS) * 4 * 5
    assert sum(len(datamodule.ties[s]) for s in ("train", "validation", "test")) == 25


def _turns(*turns: tuple[str, str]) -> list[dict[str, str]]:
    return [{"role": role, "content": content} for role, content in turns]


BYE = _turns(("user", "bye"), ("assistant", "BYE"))
SEE_YOU = _turns(("user", "bye"), ("assistant", "see you soon"))


@pytest.mark.parametrize(
    ("bad", "column", "problem"),
    [
        # SFT's own checks (lab.tasks.sft.chat.as_messages) on chosen, rejected and the prompt
        (
            {"chosen": _turns(("user", "bye"), ("model", "BYE")), "rejected": SEE_YOU},
            "chosen",
            "message 1 has unknown role 'model'; roles: system, user, assistant",
        ),
        (
            {"chosen": BYE, "rejected": [*SEE_YOU, *_turns(("Assistant", "soon"))]},
            "rejected",
            "message 2 has unknown role 'Assistant'; roles: system, user, assistant",
        ),
        (
            {
                "prompt": _turns(("human", "bye")),
                "chosen": _turns(("assistant", "BYE")),
                "rejected": _turns(("assistant", "see you")),
            },
            "prompt",
            "message 0 has unknown role 'human'; roles: system, user, assistant",
        ),
        # a side without an assistant turn after the prompt, or with none at all
        (
            {"chosen": BYE, "rejected": _turns(("user", "bye"), ("user", "hello?"))},
            "rejected",
            "rejected has no assistant turn after the prompt",
        ),
        (
            {"prompt": "bye", "chosen": _turns(("user", "BYE")), "rejected": SEE_YOU[1:]},
            "chosen",
            "chosen has no assistant turn after the prompt",
        ),
        # pairs that prefer nothing, named with data.on_tie=error
        (
            {"chosen": BYE, "rejected": _turns(("user", "bye"), ("assistant", "  "))},
            "rejected",
            "message 1 is an empty assistant turn (data.on_tie=drop leaves such pairs out)",
        ),
        (
            {"chosen": BYE, "rejected": [*BYE, *_turns(("user", "and?"), ("assistant", "HO"))]},
            "chosen",
            "chosen has no turns of its own: it is the start of rejected (data.on_tie=drop "
            "leaves such pairs out)",
        ),
        (
            {"chosen": BYE, "rejected": BYE},
            "chosen",
            "chosen equals rejected (data.on_tie=drop leaves such pairs out)",
        ),
    ],
)
def test_message_lists_are_checked_as_sft_checks_chats(
    bad: dict[str, Any], column: str, problem: str, tmp_path: Path
) -> None:
    """Chosen/rejected message lists (and a prompt list) pass SFT's role and empty-turn check,
    and each side needs an assistant turn of its own; the error names file, line and column
    (a renamed column by its name)."""
    good = {"prompt": "bye", "chosen": BYE, "rejected": SEE_YOU}
    rows = [{"worse" if k == "rejected" else k: v for k, v in r.items()} for r in (good, good, bad)]
    train = _write(tmp_path / "d", rows)
    folder = train.parent
    for split in ("validation", "test"):  # nothing carved from train: line 3 is the bad row
        (folder / f"{split}.jsonl").write_text(train.read_text())
    with pytest.raises(DataError) as error:
        _fixture_data(tmp_path, folder, rejected_column="worse", on_tie="error")
    named = "worse" if column == "rejected" else column
    assert str(error.value) == f"{train}:3 column '{named}': {problem}"


def test_overlong_prompts_drop_or_error(tmp_path: Path) -> None:
    rows = [PAIRS[0], {"prompt": "cat " * 80, "chosen": "A", "rejected": "b"}] * 15
    folder = _write(tmp_path / "d", rows).parent
    with pytest.raises(DataError) as error:
        _fixture_data(tmp_path, folder, max_length=48, on_overlong="error")
    # Overlong prompts are on even lines; validation/test are carved from train, so which one
    # the train split meets first depends on the carving.
    assert re.search(
        r"train\.jsonl:\d*[02468] column 'prompt': the prompt has \d+ tokens", str(error.value)
    )
    assert "data.max_length=48" in str(error.value)
    datamodule = _fixture_data(tmp_path, folder, max_length=48, on_overlong="drop")
    kept = sum(len(datamodule.datasets[s]) for s in ("train", "validation", "test"))
    assert kept == 15  # the 15 overlong pairs are gone, the 15 short ones kept


# ----------------------------------------------------------------- quality
@pytest.mark.slow
def test_dpo_teaches_the_preferred_style(compose_cfg: Any) -> None:
    """After a short SFT on both completions a tiny Llama answers in either case; DPO makes it
    rank held-out pairs correctly and answer in the preferred UPPERCASE style."""
    import lightning as L

    from lab.build import build_module, build_parts
    from lab.tasks.sft.predictor import greedy_config

    cfg = compose_cfg(
        "model=tiny_llama",
        "data=preferences",
        f"data.path={FIXTURE}",
        "data.batch_size=16",
        "optimizer.lr=5e-4",
        "task.module.beta=0.1",
    )
    L.seed_everything(0)
    parts = build_parts(cfg)
    model, datamodule, tokenizer = parts.model, parts.datamodule, parts.tokenizer
    train, generator = datamodule.datasets["train"], torch.Generator().manual_seed(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(12):  # SFT on chosen and rejected alike: no preference yet
        order = torch.randperm(len(train), generator=generator).tolist()
        for start in range(0, len(order), 16):
            batch = collate_pairs([train[i] for i in order[start : start + 16]], 5)
            model(
                **{k: batch[k] for k in ("input_ids", "attention_mask", "labels")}
            ).loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    tests = [json.loads(line) for line in (FIXTURE / "test.jsonl").open()]

    def replies() -> list[str]:
        model.eval()
        out = []
        for row in tests:
            text = tokenizer.apply_chat_template(
                [{"role": "user", "content": row["prompt"]}],
                tokenize=False,
                add_generation_prompt=True,
            )
            ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")
            with torch.no_grad():
                output = model.generate(
                    **ids, generation_config=greedy_config(model, tokenizer, 12)
                )
            out.append(
                tokenizer.decode(
                    output[0, ids["input_ids"].shape[1] :], skip_special_tokens=True
                ).strip()
            )
        model.train()
        return out

    before = replies()
    module = build_module(cfg, model, datamodule)
    trainer = L.Trainer(
        max_epochs=3,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(module, datamodule=datamodule)
    metrics = trainer.test(module, datamodule=datamodule, verbose=False)[0]
    after = replies()
    upper_before = sum(r.isupper() for r in before) / len(tests)
    upper_after = sum(r.isupper() for r in after) / len(tests)
    exact_after = sum(r == row["chosen"] for r, row in zip(after, tests, strict=True)) / len(tests)
    print(f"uppercase {upper_before:.2f} -> {upper_after:.2f}, exact {exact_after:.2f}, {metrics}")
    assert metrics["test/rewards/accuracy"] >= 0.9
    assert metrics["test/rewards/margin"] > 0.5
    # The SFT model already leans to uppercase on some prompts (measured 0.78); DPO makes it the
    # rule, and the replies stay answers, not uppercase noise (exact: measured 0.38-0.63).
    assert upper_after >= 0.95 and upper_after >= upper_before
    assert exact_after >= 0.3
