"""Warmup given as steps over the YAMLs' default ratio (HF Trainer's rule), and the readable
parameter-group names lab's optimizers carry: what Lightning's LearningRateMonitor writes to
metrics.csv, and resuming an optimizer state saved before groups had names."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
import torch
from hydra.utils import instantiate

from lab.build import optimizer_factory
from lab.training.optim import adamw

LAYER_DECAY_NAMES = [
    "embeddings/no_decay",
    "embeddings",
    "layer_0/no_decay",
    "layer_0",
    "layer_1/no_decay",
    "layer_1",
    "head/no_decay",
    "head",
]


def _rates(scheduler_cfg: Any, steps: int, first: int) -> list[float]:
    """The learning rate of a one-parameter SGD (lr 1) at steps 0..first-1 of `steps`."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = instantiate(scheduler_cfg)(optimizer, num_training_steps=steps)
    rates = []
    for _ in range(first):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


def test_warmup_steps_win_over_the_default_ratio(compose_cfg: Any) -> None:
    cfg = compose_cfg("scheduler=linear", "scheduler.warmup_steps=5")
    assert cfg.scheduler.warmup_ratio == 0.06  # the YAML's default is still set
    rates = _rates(cfg.scheduler, steps=100, first=7)
    # 5 warmup steps (not round(0.06 * 100) = 6), then linear decay to 0 at step 100.
    assert rates == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 94 / 95])


def test_zero_warmup_steps_means_the_ratio(compose_cfg: Any) -> None:
    cfg = compose_cfg("scheduler=linear", "scheduler.warmup_steps=0")
    rates = _rates(cfg.scheduler, steps=100, first=8)
    # round(0.06 * 100) = 6 warmup steps.
    assert rates == pytest.approx([0, 1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6, 1.0, 93 / 94])


def _tiny_bert(compose_cfg: Any, *overrides: str) -> tuple[Any, torch.nn.Module]:
    cfg = compose_cfg("model=tiny_bert", *overrides)
    torch.manual_seed(0)
    network = instantiate(cfg.model.network)
    return cfg, network(head=cfg.task.head, num_labels=2)


def _group_of(optimizer: torch.optim.Optimizer, model: torch.nn.Module) -> dict[str, str]:
    ids = {id(p): name for name, p in model.named_parameters()}
    return {ids[id(p)]: group["name"] for group in optimizer.param_groups for p in group["params"]}


def test_layer_decay_groups_are_named_by_layer(compose_cfg: Any) -> None:
    cfg, model = _tiny_bert(compose_cfg, "optimizer.lr=1e-3", "optimizer.layer_decay=0.5")
    optimizer = optimizer_factory(cfg)(model)
    assert [g["name"] for g in optimizer.param_groups] == LAYER_DECAY_NAMES
    lr = {g["name"]: g["lr"] for g in optimizer.param_groups}
    assert lr["embeddings"] == pytest.approx(1e-3 * 0.5**3)
    assert lr["layer_0/no_decay"] == pytest.approx(1e-3 * 0.5**2)
    assert lr["layer_1"] == pytest.approx(1e-3 * 0.5)
    assert lr["head"] == pytest.approx(1e-3)
    group = _group_of(optimizer, model)
    assert group["bert.embeddings.word_embeddings.weight"] == "embeddings"
    assert group["bert.embeddings.LayerNorm.bias"] == "embeddings/no_decay"
    assert group["bert.encoder.layer.0.attention.self.query.weight"] == "layer_0"
    assert group["bert.encoder.layer.1.output.LayerNorm.weight"] == "layer_1/no_decay"
    assert group["bert.pooler.dense.weight"] == "head"
    assert group["classifier.bias"] == "head/no_decay"


@pytest.mark.parametrize("option", ["adamw", "sgd", "adafactor"])
def test_without_layer_decay_the_groups_are_decay_and_no_decay(
    compose_cfg: Any, option: str
) -> None:
    cfg, model = _tiny_bert(compose_cfg, f"optimizer={option}")
    optimizer = optimizer_factory(cfg)(model)
    assert [g["name"] for g in optimizer.param_groups] == ["decay", "no_decay"]
    group = _group_of(optimizer, model)
    assert group["bert.encoder.layer.0.attention.self.query.weight"] == "decay"
    assert group["bert.encoder.layer.0.attention.self.query.bias"] == "no_decay"


def test_old_optimizer_state_without_names_resumes_and_keeps_the_names(
    compose_cfg: Any,
) -> None:
    _, model = _tiny_bert(compose_cfg)
    before = adamw(model, lr=1e-3, layer_decay=0.5)
    model(input_ids=torch.randint(5, 700, (2, 6)), labels=torch.tensor([0, 1])).loss.backward()
    before.step()
    # A checkpoint written before groups had names: torch compares group counts and sizes only.
    old = before.state_dict()
    for group in old["param_groups"]:
        del group["name"]
    after = adamw(model, lr=1e-3, layer_decay=0.5)
    after.load_state_dict(old)
    assert [g["name"] for g in after.param_groups] == LAYER_DECAY_NAMES
    weight = model.classifier.weight
    assert torch.equal(after.state[weight]["exp_avg"], before.state[weight]["exp_avg"])
    assert after.state[weight]["step"] == 1
    # A state saved with names loads as it is.
    again = adamw(model, lr=1e-3, layer_decay=0.5)
    again.load_state_dict(after.state_dict())
    assert [g["name"] for g in again.param_groups] == LAYER_DECAY_NAMES


def test_learning_rate_monitor_logs_the_group_names(compose_cfg: Any, tmp_path: Path) -> None:
    import lightning as L

    cfg, model = _tiny_bert(compose_cfg, "optimizer.lr=1e-3", "optimizer.layer_decay=0.5")

    class Module(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            loss: torch.Tensor = self.model(input_ids=batch[0], labels=batch[1]).loss
            return loss

        def configure_optimizers(self) -> Any:
            optimizer = optimizer_factory(cfg)(self.model)
            scheduler = instantiate(cfg.scheduler)(optimizer, num_training_steps=4)
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler}}

    data = torch.utils.data.TensorDataset(torch.randint(5, 700, (4, 6)), torch.tensor([0, 1] * 2))
    trainer = L.Trainer(
        max_steps=2,
        logger=L.pytorch.loggers.CSVLogger(tmp_path, name="", version=""),
        callbacks=[L.pytorch.callbacks.LearningRateMonitor(logging_interval="step")],
        log_every_n_steps=1,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
    )
    trainer.fit(Module(), torch.utils.data.DataLoader(data, batch_size=2))
    with (tmp_path / "metrics.csv").open() as handle:
        columns = next(csv.reader(handle))
    assert sorted(c for c in columns if c.startswith("lr-")) == sorted(
        f"lr-AdamW/{name}" for name in LAYER_DECAY_NAMES
    )
