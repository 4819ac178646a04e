"""No host read of a device value on an ordinary training step (a GPU sync each).

On a GPU, `.item()`, `float()`, `bool()` (an `if` on a tensor) of a device tensor wait for
every queued kernel: the CPU stops running ahead, and the step costs CPU time + GPU time
instead of the larger of the two. An H200 run of BERT-base (issue 20) showed lab at 0.78x HF
Trainer's samples/s with one such read per step, Lightning's conversion of progress-bar
metrics to numbers after every batch. These tests count, on the CPU, the reads that would be
syncs on a GPU, per optimizer step, during real lab runs: besides the model's own (transformers'
mask check, which HF Trainer pays too) only the progress bar's redraws and the logger's
writes may read, every `refresh_rate` / `log_every_n_steps` steps.
"""

from __future__ import annotations

import collections
import traceback
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import lightning as L
import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from lab.tasks.sft.module import SFTModule
from lab.training.progress import ProgressBar

FIXTURES = Path(__file__).parent / "fixtures"
READS = ("item", "__bool__", "__float__", "__int__", "tolist", "numpy")
# Reads made by code that HF Trainer runs as well (the model's forward) or on CPU-only
# tensors (the samplers' index lists): not lab's or Lightning's per-step cost.
NOT_OURS = ("/transformers/", "/torch/utils/data/", "/lab/data/samplers.py")


class _ReadCounter(L.Callback):
    """Counts reads of tensor values per optimizer step, from step 2 on (past set-up)."""

    def __init__(self) -> None:
        self.per_step: collections.Counter[int] = collections.Counter()
        self.where: dict[int, list[str]] = collections.defaultdict(list)
        self.trainer: L.Trainer | None = None
        self._originals: dict[str, Any] = {}

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.trainer = trainer
        for name in READS:
            original = getattr(torch.Tensor, name)
            self._originals[name] = original
            setattr(torch.Tensor, name, self._counting(name, original))

    def _counting(self, name: str, original: Any) -> Any:
        def read(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
            trainer = self.trainer
            if trainer is not None and trainer.global_step >= 2:
                frames = traceback.extract_stack()[:-1]
                caller = frames[-1].filename
                if not any(part in f.filename for f in frames[-8:] for part in NOT_OURS):
                    step = trainer.global_step
                    self.per_step[step] += 1
                    self.where[step].append(f"{name} at {Path(caller).name}:{frames[-1].lineno}")
            return original(tensor, *args, **kwargs)

        return read

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        for name, original in self._originals.items():
            setattr(torch.Tensor, name, original)
        self.trainer = None


def _steps_with_reads(compose_cfg: Any, *overrides: str) -> dict[int, list[str]]:
    from lab.train import run

    counter = _ReadCounter()
    cfg = compose_cfg(
        *overrides,
        "trainer.max_steps=23",
        "trainer.max_epochs=-1",
        "+trainer.limit_val_batches=0",
        "trainer.log_every_n_steps=10",
        "logger=csv",
        "~callbacks.model_checkpoint",
        "~callbacks.last_checkpoint",
    )
    try:
        run(cfg, callbacks=[counter])
    finally:
        counter.on_train_end(None, None)  # type: ignore[arg-type]  # restore torch.Tensor
    return {step: counter.where[step] for step in counter.per_step}


@pytest.mark.slow
@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param(("model=tiny_bert",), id="text_classification"),
        pytest.param(
            ("model=tiny_llama", "task=sft", "data=chat", f"data.path={FIXTURES / 'sft_task'}"),
            id="sft",
        ),
    ],
)
def test_training_steps_read_device_values_only_to_redraw_or_log(
    compose_cfg: Any, overrides: tuple[str, ...]
) -> None:
    steps = _steps_with_reads(compose_cfg, *overrides)
    # Steps are counted after the optimizer step: the bar redraws after batches 10 and 20
    # (steps 10, 20), the logger writes at steps 10 and 20, and the fit ends at step 23.
    allowed = {10, 20, 23}
    assert set(steps) <= allowed, {s: w for s, w in steps.items() if s not in allowed}
    assert steps, "the redraws and log writes read the loss: the counter saw nothing"


def test_progress_bar_shows_the_training_loss_it_reads_at_a_redraw() -> None:
    """train/loss is not a Lightning progress-bar metric (converted after every batch); the
    bar takes it from the callback metrics when it draws, as a number, while fitting (the
    redraw at a validation's end included), not in a stand-alone validate or test."""

    class _Trainer:
        def __init__(self) -> None:
            self.state = SimpleNamespace(fn="fit")
            self.loggers: list[Any] = []
            self.callback_metrics = {"train/loss": torch.tensor(0.25)}
            self.progress_bar_metrics = {"val/acc": 0.5}

    trainer = _Trainer()
    assert ProgressBar().get_metrics(trainer, None) == {"train/loss": 0.25, "val/acc": 0.5}  # type: ignore[arg-type]
    trainer.state.fn = "validate"  # a stand-alone validate or test: no training loss
    assert ProgressBar().get_metrics(trainer, None) == {"val/acc": 0.5}  # type: ignore[arg-type]


def test_a_batch_without_target_tokens_trains_on_zero_with_zero_gradients() -> None:
    """The SFT loss of a batch whose labels are all ignored: 0 and finite zero gradients for
    every parameter (no nan, still in the graph), chosen without a branch on a device value."""
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=50, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2,
    )  # fmt: skip
    model = LlamaForCausalLM(config)
    ids = torch.randint(0, 50, (2, 6))

    class _Alone:
        def _attached(self) -> bool:
            return False

    for labels, zero in ((torch.full((2, 6), -100), True), (ids.clone(), False)):
        output = model(input_ids=ids, labels=labels)
        loss = SFTModule._mean_over_ranks(_Alone(), output, labels)  # type: ignore[arg-type]
        model.zero_grad()
        loss.backward()
        grads = [p.grad for p in model.parameters()]
        assert all(g is not None and torch.isfinite(g).all() for g in grads)
        if zero:
            assert loss.item() == 0.0
            assert all(float(g.abs().max()) == 0.0 for g in grads)  # type: ignore[union-attr]
        else:
            assert loss.item() == pytest.approx(output.loss.item())
            assert max(float(g.abs().max()) for g in grads) > 0  # type: ignore[union-attr]
