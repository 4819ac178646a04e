"""What a training step keeps alive (issue 20's memory target): `TaskModule.optimizer_step`
frees the gradients right after the optimizer steps, as HF Trainer does, instead of keeping
them through the next step's forward pass; with gradient accumulation they survive until the
stepping micro-batch, and the trained weights equal a plain PyTorch loop's."""

from __future__ import annotations

from typing import Any

import lightning as L
import pytest
import torch
import transformers as T

from lab.tasks.text_classification.module import TextClassificationModule

pytestmark = pytest.mark.slow  # trains a (tiny) model through Lightning

CONFIG: dict[str, Any] = {
    "vocab_size": 50,
    "hidden_size": 16,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 32,
    # No dropout: the Lightning run and the plain loop must compute the same numbers.
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
}


def _model() -> Any:
    torch.manual_seed(0)
    config = T.BertConfig(**{**CONFIG, "num_labels": 2, "id2label": {0: "a", 1: "b"}})
    return T.AutoModelForSequenceClassification.from_config(config)


def _batches(n: int) -> list[dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(1)
    return [
        {
            "input_ids": torch.randint(1, 50, (4, 6), generator=generator),
            "labels": torch.randint(0, 2, (4,), generator=generator),
        }
        for _ in range(n)
    ]


def _sgd(model: torch.nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)


class GradientsAfterBatch(L.Callback):
    """Per training batch: (optimizer steps so far, whether every gradient is None)."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, bool]] = []

    def on_train_batch_end(self, trainer: L.Trainer, module: Any, *args: Any) -> None:
        grads = [p.grad for p in module.parameters() if p.requires_grad]
        self.seen.append((trainer.global_step, all(g is None for g in grads)))


def _fit(module: TextClassificationModule, accumulate: int, batches: list[Any]) -> list[Any]:
    probe = GradientsAfterBatch()
    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=1,
        accumulate_grad_batches=accumulate,
        callbacks=[probe],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    loader: Any = torch.utils.data.DataLoader(batches, batch_size=None)  # type: ignore[arg-type]  # already batched
    trainer.fit(module, train_dataloaders=loader)
    return probe.seen


def test_gradients_are_freed_right_after_each_optimizer_step() -> None:
    seen = _fit(TextClassificationModule(_model(), _sgd), 1, _batches(3))
    # Every batch steps the optimizer, and no gradient outlives its step.
    assert seen == [(1, True), (2, True), (3, True)]


def test_accumulated_gradients_survive_until_the_step_and_match_a_plain_loop() -> None:
    batches = _batches(4)
    module = TextClassificationModule(_model(), _sgd)
    seen = _fit(module, 2, batches)
    # The first micro-batch of each pair keeps its gradient for the second; the step frees it.
    assert seen == [(0, False), (1, True), (1, False), (2, True)]

    # The same training by hand: loss / 2 per micro-batch (Lightning's accumulation scaling),
    # one step per pair, gradients freed after the step.
    model = _model().train()
    optimizer = _sgd(model)
    for first, second in zip(batches[::2], batches[1::2], strict=True):
        for batch in (first, second):
            (model(**batch).loss / 2).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    trained = dict(module.model.named_parameters())
    for name, expected in model.named_parameters():
        torch.testing.assert_close(trained[name], expected, rtol=0, atol=1e-6, msg=name)
