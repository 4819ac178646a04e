"""Under DDP `train/*` is the mean over the ranks (the global batch's value), not rank 0's own
micro-batch: a 2-rank run logged rank 0's half-batch loss, up to 8% off the same global batch
in one process. One all-reduce per logged step, none on the steps the loggers skip. (The
2-rank run that checks it end to end, every step's train/loss against one process's, is
tests/test_scale.py's: one DDP run for the run directory, the metrics and the losses.)"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from lab.tasks.base import TaskModule


def _module_on_rank_zero_of_two(
    monkeypatch: pytest.MonkeyPatch, peer: dict[str, float], every: int
) -> tuple[TaskModule, SimpleNamespace, list[tuple[str, float]], list[torch.Tensor]]:
    """A TaskModule as rank 0 of 2 logs under a stand-in trainer: the other rank's values
    are `peer` (added by a stand-in all-reduce, which records each call's tensor)."""
    module = TaskModule(torch.nn.Linear(2, 2), optimizer=lambda m: torch.optim.SGD(m.parameters()))
    epoch_loop = SimpleNamespace(_batches_that_stepped=0, _should_accumulate=lambda: False)
    trainer = SimpleNamespace(
        accumulate_grad_batches=1,
        world_size=2,
        loggers=[object()],
        log_every_n_steps=every,
        fast_dev_run=False,
        fit_loop=SimpleNamespace(epoch_loop=epoch_loop),
    )
    module._trainer = trainer  # type: ignore[assignment]
    logged: list[tuple[str, float]] = []
    monkeypatch.setattr(module, "log", lambda name, value, **_: logged.append((name, float(value))))
    reduced: list[torch.Tensor] = []

    def all_reduce(tensor: torch.Tensor) -> None:
        # Values arrive in the order they were logged (dicts keep it).
        reduced.append(tensor.clone())
        tensor.add_(torch.tensor(list(peer.values())))

    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "all_reduce", all_reduce)
    return module, epoch_loop, logged, reduced


def test_logged_steps_log_the_mean_over_ranks_with_one_all_reduce(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    peer = {"loss": 0.5, "accuracy": 0.25}
    module, epoch_loop, logged, reduced = _module_on_rank_zero_of_two(monkeypatch, peer, every=2)
    mine = {"loss": torch.tensor(0.75), "accuracy": torch.tensor(1.0)}
    for step in range(4):  # Lightning logs steps 1 and 3 (the 2nd and 4th) with every=2
        epoch_loop._batches_that_stepped = step
        module.log_train(mine, batch_size=8)
    # Steps 0 and 2 (not logged): this rank's values as they are, no collective.
    # Steps 1 and 3: (0.75 + 0.5) / 2 and (1.0 + 0.25) / 2, both in one all-reduce.
    assert logged == [
        ("train/loss", 0.75), ("train/accuracy", 1.0),
        ("train/loss", 0.625), ("train/accuracy", 0.625),
        ("train/loss", 0.75), ("train/accuracy", 1.0),
        ("train/loss", 0.625), ("train/accuracy", 0.625),
    ]  # fmt: skip
    assert [t.tolist() for t in reduced] == [[0.75, 1.0], [0.75, 1.0]]
    # `logger=none`: nothing is written, so nothing is gathered.
    module._trainer.loggers = []  # type: ignore[union-attr]
    module.log_train(mine, batch_size=8)
    assert logged[-2:] == [("train/loss", 0.75), ("train/accuracy", 1.0)] and len(reduced) == 2


def test_a_batch_the_ranks_share_unevenly_weighs_them_by_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The last, partial global batch of 5 rows goes 3 + 2: rank 0's loss 0.75 (3 rows) and
    the peer's 0.5 (2 rows) give the global batch's 0.65, not (0.75 + 0.5) / 2, both in the
    logged value (on a step the loggers skip too) and in the gradient, whose scale multiplies
    gradient accumulation's `partial_group_scale`."""
    import lightning as L

    module, epoch_loop, logged, reduced = _module_on_rank_zero_of_two(monkeypatch, {}, every=2)
    peer = [torch.tensor(2.0), torch.tensor([0.5 * 2 * 2 / 5])]  # rows; weighted loss

    def all_reduce(tensor: torch.Tensor) -> None:
        reduced.append(tensor.clone())
        tensor.add_(peer[len(reduced) - 1])

    monkeypatch.setattr(torch.distributed, "all_reduce", all_reduce)
    sampler = SimpleNamespace(epoch=1, uneven_batch=lambda epoch: 6 if epoch == 1 else None)
    module._trainer.datamodule = SimpleNamespace(train_sampler=sampler)  # type: ignore[union-attr]
    epoch_loop.batch_idx = 6
    # An epoch of 7 batches in groups of 2: batch 6 is its last group's only micro-batch.
    module._trainer.accumulate_grad_batches = 2  # type: ignore[union-attr]
    module._trainer.num_training_batches = 7  # type: ignore[union-attr]
    backward: list[torch.Tensor] = []
    monkeypatch.setattr(
        L.LightningModule, "backward", lambda _, loss, *a, **k: backward.append(loss)
    )
    module.log_train({"loss": torch.tensor(0.75)}, batch_size=3)
    module.backward(torch.tensor(0.75))
    assert reduced[0].item() == 3.0  # the rows, then the weighted loss
    assert reduced[1].tolist() == pytest.approx([0.75 * 3 * 2 / 5])
    assert logged == [("train/loss", pytest.approx(0.65))]
    # 0.75 x 2 (the partial group: 1 micro-batch of 2) x 6/5 (3 of 5 rows on 2 ranks).
    assert backward[0].item() == pytest.approx(0.75 * 2 * 3 * 2 / 5)
    # A batch the ranks share evenly: no collective, no weight (step 0 is not logged).
    epoch_loop.batch_idx, epoch_loop._batches_that_stepped = 4, 0
    module.log_train({"loss": torch.tensor(0.75)}, batch_size=2)
    module.backward(torch.tensor(0.75))
    assert len(reduced) == 2 and logged[-1] == ("train/loss", 0.75)
    assert backward[1].item() == 0.75
