"""Under DDP a token head's ranks are weighed by their target tokens (`TaskModule.loss_weight_sum`,
`lab.training.rank_weights.token_count`): checked here, head by head, that the count is what
the model's mean training loss divides by (loss x count = the sum of the per-token losses
recomputed by hand), on a real batch of each head's fixture data. The weighting itself is
tested on 2 DDP ranks against one process (tests/test_scale.py, token classification)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from lab.build import build_parts
from lab.training.rank_weights import token_count

from conftest import FIXTURES

TWO_RANKS = SimpleNamespace(world_size=2, global_rank=0, global_step=0, current_epoch=0)

HEADS = {
    "token_classification": ["data=conll2003", f"data.path={FIXTURES / 'ner'}"],
    "causal_lm": ["model=tiny_gpt2", "data=text", f"data.path={FIXTURES / 'lm'}"],
    "seq2seq": ["model=tiny_bart", "data=xsum", f"data.path={FIXTURES / 'summaries'}"],
    "masked_lm": ["task=masked_lm", "data=text", f"data.path={FIXTURES / 'lm'}"],
}


def _first_batch(compose_cfg: Any, overrides: list[str]) -> tuple[Any, dict[str, torch.Tensor]]:
    cfg = compose_cfg("model=tiny_bert", *overrides, "data.batch_size=4", "seed=3")
    parts = build_parts(cfg)
    parts.module._trainer = TWO_RANKS  # what loss_weight_sum reads: the number of ranks
    batch = next(iter(parts.datamodule.train_dataloader()))
    return parts.module, {k: v for k, v in batch.items() if isinstance(v, torch.Tensor)}


def _token_loss_sum(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits.flatten(0, -2).float(), labels.flatten(), reduction="sum")


@pytest.mark.parametrize("head", list(HEADS))
def test_the_ranks_weight_is_what_the_training_loss_is_a_mean_over(
    compose_cfg: Any, head: str
) -> None:
    torch.manual_seed(0)
    module, batch = _first_batch(compose_cfg, HEADS[head])
    module.model.eval()  # no dropout: the model's loss and the one recomputed see one forward
    if head == "masked_lm":
        batch = module.masked(batch, training=True)
        count = token_count(TWO_RANKS, batch["labels"])  # as its training_step weighs
    else:
        batch = {k: v for k, v in batch.items() if not k.startswith("_")}
        count = module.loss_weight_sum(batch)
    assert count is not None and 0 < float(count) < batch["labels"].numel()
    with torch.no_grad():
        output = module.model(**batch)
    logits, labels = output.logits, batch["labels"]
    if head == "causal_lm":  # each token predicted from the ones before it
        logits, labels = logits[:, :-1], labels[:, 1:]
    expected = _token_loss_sum(logits, labels)
    assert float(output.loss) * float(count) == pytest.approx(float(expected), rel=1e-5)


def test_a_token_count_is_no_weight_in_one_process_and_skips_ignored_labels() -> None:
    labels = torch.tensor([[5, -100, 7, 8], [-100, -100, 2, -100]])
    assert token_count(SimpleNamespace(world_size=1), labels) is None
    assert token_count(None, labels) is None
    assert float(token_count(TWO_RANKS, labels)) == 4.0  # type: ignore[arg-type]
    assert float(token_count(TWO_RANKS, labels, shifted=True)) == 3.0  # type: ignore[arg-type]
    # The rows' heads: one process is no DDP; a head without a token loss weighs by rows.
    from lab.tasks.base import TaskModule

    assert TaskModule.loss_weight_sum(SimpleNamespace(), {"labels": labels}) is None  # type: ignore[arg-type]
