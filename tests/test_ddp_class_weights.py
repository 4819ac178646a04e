"""Under DDP a class-weighted loss (`task.module.class_weights`) follows the global batch's
weighted mean at every step: each rank's loss is weighed by `its target weights' sum x ranks
/ the global sum` (one all-reduce of the sum per micro-batch), in the gradient and in the
logged `train/loss`, with label smoothing and for token classification too. The ranks'
plain average was up to 5.8e-4 off one process (s32d G2). Stand-in all-reduce and trainer
(`test_ddp_train_loss._module_on_rank_zero_of_two`); the 2-rank run against one process is
tests/test_scale.py's `test_ddp_class_weights_log_the_train_loss_of_one_process`."""

from __future__ import annotations

from typing import Any

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from transformers.modeling_outputs import TokenClassifierOutput

from lab.tasks.base import TaskModule
from lab.tasks.losses import ClassLoss, ClassLossTraining
from test_ddp_train_loss import _module_on_rank_zero_of_two

WEIGHTS = [1.0, 3.0, 0.5]
SMOOTHING = 0.1


class _Logits(torch.nn.Module):
    """A head whose logits are its input (a ModelOutput, as ClassLoss expects)."""

    def forward(self, logits: torch.Tensor) -> TokenClassifierOutput:
        return TokenClassifierOutput(logits=logits)


class _WeightedModule(ClassLossTraining, TaskModule):
    """A TaskModule training on `ClassLoss` with WEIGHTS and SMOOTHING."""

    def __init__(self) -> None:
        head: Any = _Logits()
        super().__init__(head, optimizer=lambda m: torch.optim.SGD(m.parameters()))
        self.class_loss = ClassLoss(3, WEIGHTS, SMOOTHING)

    def evaluation_step(self, batch: dict[str, torch.Tensor], stage: str) -> None:
        """Not used here."""

    def evaluation_metrics(self, stage: str) -> dict[str, torch.Tensor]:
        """Not used here."""
        return {}


def _ranks(shape: tuple[int, ...]) -> list[dict[str, torch.Tensor]]:
    """Two ranks' batches of `shape` labels (rows, or rows x tokens with some -100), whose
    class mixes differ, so that their weight sums do."""
    generator = torch.Generator().manual_seed(0)
    batches = []
    for rank in range(2):
        labels = torch.randint(0, 3, shape, generator=generator)
        if rank == 1:
            labels = torch.where(labels == 1, 0, labels)  # no heavy class on rank 1
        if len(shape) > 1:
            labels[:, -1 - rank :] = -100  # padding and sub-word tokens
        logits = torch.randn((*shape, 3), generator=generator, requires_grad=True)
        batches.append({"logits": logits, "labels": labels})
    return batches


def _weight_sum(labels: torch.Tensor) -> float:
    scored = labels[labels != -100]
    return float(torch.tensor(WEIGHTS)[scored].sum())


@pytest.mark.parametrize("shape", [(4,), (3, 5)], ids=["rows", "tokens"])
def test_each_rank_is_weighed_by_its_weight_sum_and_logs_the_global_mean(
    monkeypatch: pytest.MonkeyPatch, shape: tuple[int, ...]
) -> None:
    mine, peer = _ranks(shape)
    both = {key: torch.cat([mine[key], peer[key]]) for key in mine}
    # By hand: sum(w_y l) / sum(w_y) over both ranks' rows (torch divides a smoothed,
    # weighted loss by the target weights' sum too).
    global_loss = F.cross_entropy(
        both["logits"].reshape(-1, 3),
        both["labels"].reshape(-1),
        weight=torch.tensor(WEIGHTS),
        label_smoothing=SMOOTHING,
    )
    peer_loss = ClassLoss(3, WEIGHTS, SMOOTHING)(peer["logits"], peer["labels"])
    mine_sum, peer_sum = _weight_sum(mine["labels"]), _weight_sum(peer["labels"])
    assert mine_sum != peer_sum
    peer_scaled = peer_loss * peer_sum * 2 / (mine_sum + peer_sum)

    module = _WeightedModule()
    stand_in, _, _, reduced = _module_on_rank_zero_of_two(monkeypatch, {}, every=1)
    module._trainer = stand_in._trainer
    logged: list[tuple[str, torch.Tensor]] = []
    monkeypatch.setattr(module, "log", lambda name, value, **_: logged.append((name, value)))
    sent = [torch.tensor(peer_sum), peer_scaled.detach().reshape(1)]

    def all_reduce(tensor: torch.Tensor) -> None:
        reduced.append(tensor.clone())
        tensor.add_(sent[len(reduced) - 1])

    monkeypatch.setattr(torch.distributed, "all_reduce", all_reduce)
    backward: list[torch.Tensor] = []
    monkeypatch.setattr(
        L.LightningModule, "backward", lambda _, loss, *a, **k: backward.append(loss)
    )
    loss = module.training_step(mine, 0)
    module.backward(loss)

    scale = mine_sum * 2 / (mine_sum + peer_sum)
    assert reduced[0].item() == pytest.approx(mine_sum)  # the weight sum, then the value
    assert backward[0].item() == pytest.approx(loss.item() * scale, rel=1e-6)
    [(name, value)] = logged
    assert name == "train/loss"
    assert value.item() == pytest.approx(global_loss.item(), rel=1e-6)
    # DDP's average of the two ranks' gradients is the global loss's gradient.
    (backward[0] + peer_scaled).div(2).backward()
    expected = torch.autograd.grad(global_loss, [mine["logits"], peer["logits"]])
    got = [mine["logits"].grad, peer["logits"].grad]
    assert all(
        g is not None and torch.allclose(g, e, atol=1e-7)
        for g, e in zip(got, expected, strict=True)
    )


def test_the_weight_composes_with_a_partial_group_and_is_skipped_in_one_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An epoch's last accumulation group of 1 micro-batch (of 2) doubles the loss on top of
    the rank weight; one process (world size 1) has no collective and no weight."""
    mine, peer = _ranks((4,))
    mine_sum, peer_sum = _weight_sum(mine["labels"]), _weight_sum(peer["labels"])
    module = _WeightedModule()
    stand_in, epoch_loop, _, reduced = _module_on_rank_zero_of_two(monkeypatch, {}, every=1)
    trainer: Any = stand_in._trainer
    module._trainer = trainer
    logged: list[tuple[str, torch.Tensor]] = []
    monkeypatch.setattr(module, "log", lambda name, value, **_: logged.append((name, value)))

    def all_reduce(tensor: torch.Tensor) -> None:
        reduced.append(tensor.clone())
        tensor.add_(peer_sum if len(reduced) == 1 else 0.0)

    monkeypatch.setattr(torch.distributed, "all_reduce", all_reduce)
    backward: list[torch.Tensor] = []
    monkeypatch.setattr(
        L.LightningModule, "backward", lambda _, loss, *a, **k: backward.append(loss)
    )
    trainer.accumulate_grad_batches, trainer.num_training_batches = 2, 7
    epoch_loop.batch_idx = 6
    loss = module.training_step(mine, 6)
    module.backward(loss)
    scale = mine_sum * 2 / (mine_sum + peer_sum)
    assert backward[0].item() == pytest.approx(loss.item() * 2 * scale, rel=1e-6)

    trainer.world_size, trainer.accumulate_grad_batches = 1, 1
    reduced.clear()
    loss = module.training_step(mine, 0)
    module.backward(loss)
    assert reduced == [] and backward[1].item() == loss.item()


def test_a_rank_with_nothing_scored_adds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rank whose tokens are all -100 (its mean is nan) weighs 0: the logged value is the
    peer's, not nan."""
    mine, peer = _ranks((3, 5))
    mine["labels"] = torch.full_like(mine["labels"], -100)
    peer_loss = ClassLoss(3, WEIGHTS, SMOOTHING)(peer["logits"], peer["labels"])
    module = _WeightedModule()
    stand_in, _, _, reduced = _module_on_rank_zero_of_two(monkeypatch, {}, every=1)
    module._trainer = stand_in._trainer
    logged: list[tuple[str, torch.Tensor]] = []
    monkeypatch.setattr(module, "log", lambda name, value, **_: logged.append((name, value)))
    sent = [torch.tensor(_weight_sum(peer["labels"])), (peer_loss * 2).detach().reshape(1)]

    def all_reduce(tensor: torch.Tensor) -> None:
        reduced.append(tensor.clone())
        tensor.add_(sent[len(reduced) - 1])

    monkeypatch.setattr(torch.distributed, "all_reduce", all_reduce)
    module.training_step(mine, 0)
    assert logged[0][1].item() == pytest.approx(peer_loss.item(), rel=1e-6)
