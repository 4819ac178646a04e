"""The optimizer and scheduler options (lab.training.optim): layer-wise learning-rate decay
computed by hand on tiny_bert, every optimizer YAML built and stepped, bitsandbytes refused
in words on a machine without CUDA before any weights load, the new schedules' curves."""

from __future__ import annotations

import logging
import math
from typing import Any

import pytest
import torch
from hydra.utils import instantiate

from lab.build import optimizer_factory
from lab.errors import ConfigError
from lab.training.optim import adamw, check_optimizer, warmup_scheduler, warmup_steps_of


def _tiny_bert(compose_cfg: Any, *overrides: str) -> tuple[Any, Any]:
    cfg = compose_cfg("model=tiny_bert", *overrides)
    torch.manual_seed(0)
    network = instantiate(cfg.model.network)
    return cfg, network(head=cfg.task.head, num_labels=2)


def test_layer_decay_learning_rates_by_hand(compose_cfg: Any) -> None:
    cfg, model = _tiny_bert(
        compose_cfg, "optimizer.lr=1e-3", "optimizer.layer_decay=0.5", "optimizer.fused=false"
    )
    optimizer = optimizer_factory(cfg)(model)
    lr_of = {
        name: group["lr"]
        for group in optimizer.param_groups
        for p in group["params"]
        for name, q in model.named_parameters()
        if p is q
    }
    # tiny_bert: embeddings, 2 blocks, pooler + classifier. lr * 0.5 ** (3 - layer).
    assert lr_of["bert.embeddings.word_embeddings.weight"] == pytest.approx(1e-3 * 0.5**3)
    assert lr_of["bert.embeddings.LayerNorm.bias"] == pytest.approx(1e-3 * 0.5**3)
    assert lr_of["bert.encoder.layer.0.attention.self.query.weight"] == pytest.approx(1e-3 / 4)
    assert lr_of["bert.encoder.layer.1.output.dense.bias"] == pytest.approx(1e-3 / 2)
    assert lr_of["bert.pooler.dense.weight"] == pytest.approx(1e-3)
    assert lr_of["classifier.weight"] == pytest.approx(1e-3)
    assert len(lr_of) == len(list(model.parameters()))
    decay = {
        name: group["weight_decay"]
        for group in optimizer.param_groups
        for p in group["params"]
        for name, q in model.named_parameters()
        if p is q
    }
    assert decay["bert.encoder.layer.0.attention.self.query.weight"] == 0.01
    assert decay["bert.encoder.layer.0.attention.self.query.bias"] == 0.0
    assert decay["bert.encoder.layer.0.output.LayerNorm.weight"] == 0.0
    # A scheduler scales each group from its own starting lr.
    scheduler = warmup_scheduler(optimizer, num_training_steps=10, name="linear")
    optimizer.step()
    scheduler.step()
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx(
        [g["initial_lr"] * 0.9 for g in optimizer.param_groups]
    )


def test_without_layer_decay_the_groups_are_the_two_of_before(compose_cfg: Any) -> None:
    _, model = _tiny_bert(compose_cfg)
    optimizer = adamw(model)
    assert [len(g["params"]) for g in optimizer.param_groups] == [
        sum(
            1 for n, _ in model.named_parameters() if n.endswith("weight") and "LayerNorm" not in n
        ),
        sum(1 for n, _ in model.named_parameters() if n.endswith("bias") or "LayerNorm" in n),
    ]
    assert all("lr" not in g or g["lr"] == 5e-5 for g in optimizer.param_groups)


@pytest.mark.parametrize(
    ("option", "kind"),
    [
        ("adamw", torch.optim.AdamW),
        ("sgd", torch.optim.SGD),
        ("adafactor", "Adafactor"),
    ],
)
def test_each_optimizer_option_builds_and_trains(compose_cfg: Any, option: str, kind: Any) -> None:
    cfg, model = _tiny_bert(compose_cfg, f"optimizer={option}", "optimizer.layer_decay=0.8")
    optimizer = optimizer_factory(cfg)(model)
    assert type(optimizer).__name__ == (kind if isinstance(kind, str) else kind.__name__)
    before = model.classifier.weight.detach().clone()
    batch = {"input_ids": torch.randint(5, 700, (4, 6)), "labels": torch.tensor([0, 1, 1, 0])}
    model(**batch).loss.backward()
    optimizer.step()
    assert not torch.equal(model.classifier.weight, before)
    top = max(g["lr"] for g in optimizer.param_groups)
    assert top == pytest.approx(cfg.optimizer.lr)
    assert min(g["lr"] for g in optimizer.param_groups) == pytest.approx(top * 0.8**3)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal without CUDA")
@pytest.mark.parametrize("option", ["adamw_8bit", "paged_adamw_8bit", "paged_adamw_32bit"])
def test_bitsandbytes_optimizers_are_refused_before_weights_load(
    compose_cfg: Any, option: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lab.build import build_model

    cfg = compose_cfg("model=tiny_bert", f"optimizer={option}")

    def no_weights(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("weights were loaded")

    monkeypatch.setattr("lab.training.models.head_from_config", no_weights)

    class Data:
        def model_kwargs(self) -> dict[str, Any]:
            return {"num_labels": 2}

    with pytest.raises(ConfigError) as caught:
        build_model(cfg, Data(), tokenizer=None)  # type: ignore[arg-type]
    message = str(caught.value)
    assert "bitsandbytes optimizer and needs a CUDA GPU; none is visible" in message
    assert f"bitsandbytes.optim.{cfg.optimizer.optimizer_class.rsplit('.', 1)[1]}" in message
    check_optimizer(compose_cfg("optimizer=adamw").optimizer)  # adamw passes


def _lrs(name: str, steps: int, **options: Any) -> list[float]:
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=1.0)
    scheduler = warmup_scheduler(optimizer, num_training_steps=steps, name=name, **options)
    rates = []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


def test_polynomial_schedule_by_hand() -> None:
    rates = _lrs("polynomial", 10, warmup_steps=2, power=2.0, lr_end=0.1)
    assert rates[:2] == pytest.approx([0.0, 0.5])
    for step in range(2, 10):
        remaining = 1 - (step - 2) / 8
        assert rates[step] == pytest.approx((1.0 - 0.1) * remaining**2 + 0.1)


def test_cosine_with_restarts_schedule_by_hand() -> None:
    rates = _lrs("cosine_with_restarts", 12, warmup_steps=0, num_cycles=2)
    for step, rate in enumerate(rates):
        progress = step / 12
        assert rate == pytest.approx(0.5 * (1 + math.cos(math.pi * ((2 * progress) % 1.0))))
    assert rates[6] == pytest.approx(1.0)  # the restart


def test_inverse_sqrt_schedule_by_hand() -> None:
    rates = _lrs("inverse_sqrt", 12, warmup_steps=4, timescale=8)
    assert rates[:4] == pytest.approx([0.0, 0.25, 0.5, 0.75])
    assert rates[4] == pytest.approx(1.0)  # the full rate when warmup ends
    for step in range(4, 12):
        assert rates[step] == pytest.approx(1 / math.sqrt((step - 4 + 8) / 8))


@pytest.mark.parametrize("option", ["polynomial", "cosine_with_restarts", "inverse_sqrt"])
def test_scheduler_options_compose_and_build(compose_cfg: Any, option: str) -> None:
    cfg = compose_cfg(f"scheduler={option}")
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    scheduler = instantiate(cfg.scheduler)(optimizer, num_training_steps=100)
    for _ in range(50):
        optimizer.step()
        scheduler.step()
    assert 0 < optimizer.param_groups[0]["lr"] < 1e-3


@pytest.mark.parametrize("ratio", [0.06, 0.1, 0.25])
def test_warmup_ratio_gives_hf_trainers_warmup_steps(ratio: float, tmp_path: Any) -> None:
    """`warmup_ratio` rounds up as HF Trainer does (0.06 of 6 steps: 1 step, where rounding to
    the nearest gave none); where HF's product is a whole number plus float error (0.07 x 100
    = 7.000000000000001: HF warms up 8 steps), lab takes the whole number."""
    from transformers import TrainingArguments

    hf = TrainingArguments(output_dir=str(tmp_path), warmup_steps=ratio, report_to=[])
    for steps in range(1, 200):
        exact = ratio * steps
        if abs(exact - round(exact)) < 1e-9:  # HF's float error can add a step here
            assert warmup_steps_of(ratio, steps) == round(exact)
        else:
            assert warmup_steps_of(ratio, steps) == hf.get_warmup_steps(steps)
    assert warmup_steps_of(0.1, 30) == 3
    hf07 = TrainingArguments(output_dir=str(tmp_path), warmup_steps=0.07, report_to=[])
    assert (warmup_steps_of(0.07, 100), hf07.get_warmup_steps(100)) == (7, 8)
    assert warmup_steps_of(0.06, 6) == 1
    rates = _lrs("linear", 6, warmup_ratio=0.06)
    assert rates[:2] == pytest.approx([0.0, 1.0])  # one warmup step, then the full rate


def test_a_warmup_as_long_as_the_run_is_warned_of_with_the_rate_it_reaches(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A recipe's warmup kept on a shorter run (s34a M1): the rate only rises; the warning's
    share is the last step's rate, read off the schedule itself."""
    cases: list[tuple[dict[str, Any], float, str]] = [
        (
            {"warmup_steps": 1000},
            5 / 1000,
            "scheduler.warmup_steps=1000 lasts the run's 6 optimizer steps: the learning rate "
            "only rises, to 0.5% of optimizer.lr at the last step; lower the warmup",
        ),
        (
            {"warmup_ratio": 1.0},
            5 / 6,
            "scheduler.warmup_ratio=1.0 (6 steps) lasts the run's 6 optimizer steps: the "
            "learning rate only rises, to 83.3% of optimizer.lr at the last step; lower the "
            "warmup",
        ),
    ]
    for options, last_rate, message in cases:
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="lab.training.optim"):
            rates = _lrs("linear", 6, **options)
        assert rates[-1] == pytest.approx(last_rate)
        assert [r.getMessage() for r in caplog.records] == [message]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="lab.training.optim"):
        _lrs("linear", 6, warmup_steps=5)  # the last step at the full rate: no warning
        _lrs("linear", 6, warmup_ratio=0.5)
    assert caplog.records == []
