"""`DPOModule`: preference tuning (DPO, IPO, SimPO) of a causal LM against a reference.

The reference model, whose log-probabilities the DPO and IPO rewards are measured against, is
the policy as it was before training. It is obtained without a second copy where possible:

- under PEFT: the policy itself with its adapters disabled (`model.disable_adapter()`);
- otherwise: a frozen deep copy made when the module is built (kept out of the module's
  submodules, so checkpoints hold the policy only);
- `precompute_reference=true`: the reference log-probs of every pair of every split are
  computed once when fitting starts (from the policy, not yet trained, or its disabled
  adapters) and kept as buffers indexed by pair; no copy is made, and a resumed run restores
  them from its checkpoint instead of recomputing them from trained weights. Under DDP each
  rank computes every N-th batch of each split and the ranks add up their tables (each pair
  is filled by one rank, zeros elsewhere), so the work is shared, not repeated.
- a policy that was not built from the run's model config (`lab.eval` of a run's export,
  trained and with any adapter merged): the model the run started from, rebuilt by
  `start_model` (`lab.tasks.dpo.reference`); a copy of the given policy would be the trained
  model and every reward 0. Precomputed tables belong to fitting, so this reference answers
  live. The check lives here, not in `lab.eval`: only this head knows its metrics are
  relative to a second model, and generic tools stay free of head knowledge.

SimPO needs no reference. Batches hold the chosen sequences of every pair, then the rejected
ones (`lab.tasks.dpo.data.collate_pairs`); one forward pass scores both.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import torch
from torchmetrics import MeanMetric

from lab.tasks.base import OptimizerFactory, SchedulerFactory, TaskModule
from lab.tasks.dpo.data import INDEX
from lab.tasks.dpo.losses import (
    LOSSES,
    PreferenceLoss,
    SequenceLogps,
    preference_loss,
    sequence_logps,
)

if TYPE_CHECKING:
    from transformers import PreTrainedModel

    from lab.tasks.dpo.reference import StartModel

METRICS = (
    "rewards/chosen",
    "rewards/rejected",
    "rewards/margin",
    "rewards/accuracy",
    "logps/chosen",
    "logps/rejected",
)


class DPOModule(TaskModule):
    """Preference loss of the policy against the reference (see the module doc).

    Metric keys (train, val, test): `loss`, `rewards/chosen`, `rewards/rejected`,
    `rewards/margin`, `rewards/accuracy` (share of pairs whose chosen reward is higher),
    `logps/chosen`, `logps/rejected` (summed completion log-probs of the policy).

    Args:
        loss: `sigmoid` (DPO; conservative DPO with `label_smoothing`), `ipo` or `simpo`.
        beta: DPO/SimPO inverse temperature; the IPO regulariser τ.
        label_smoothing: share of preference labels taken as flipped (sigmoid, simpo).
        simpo_gamma: SimPO's target reward margin.
        precompute_reference: reference log-probs computed once before training.
        split_sizes / reference_batches: from the data module (pairs per split, and its pairs
            in order), for `precompute_reference`.
        reference_model: an explicit reference (kept frozen) instead of one derived from the
            policy; for code that builds the module itself (not a config key).
        start_model: builds the model the run started from (`task.module.start_model`), used
            as the reference when `model` is not that model as built (see the module doc).
    """

    progress_bar_metrics = ("rewards/accuracy",)
    reference_ready: torch.Tensor  # a buffer, with precompute_reference

    def __init__(
        self,
        model: PreTrainedModel,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        *,
        loss: str = "sigmoid",
        beta: float = 0.1,
        label_smoothing: float = 0.0,
        simpo_gamma: float = 0.5,
        precompute_reference: bool = False,
        split_sizes: dict[str, int] | None = None,
        reference_batches: Callable[..., Iterable[dict[str, torch.Tensor]]] | None = None,
        reference_model: torch.nn.Module | None = None,
        start_model: StartModel | None = None,
    ) -> None:
        from lab.training.adapters import is_peft_model

        super().__init__(model, optimizer, scheduler)
        if loss not in LOSSES:
            raise ValueError(f"task.module.loss={loss!r}; choose one of {list(LOSSES)}")
        self.loss_kind = loss
        self.beta = beta
        self.label_smoothing = label_smoothing
        self.simpo_gamma = simpo_gamma
        self.needs_reference = loss != "simpo"
        self.peft = is_peft_model(model)
        if (
            reference_model is None
            and self.needs_reference
            and not self.peft
            and start_model is not None
            and not start_model.built(model)
        ):
            reference_model = start_model.build()  # a trained policy: measure from the start
            precompute_reference = False
        self.precompute = precompute_reference and self.needs_reference
        self.reference_batches = reference_batches
        # A plain attribute in a tuple, not a submodule: not in checkpoints, not under DDP.
        self._copy: tuple[torch.nn.Module, ...] = ()
        if reference_model is None and self.needs_reference and not self.peft:
            reference_model = None if self.precompute else copy.deepcopy(model)
        if reference_model is not None:
            self._copy = (reference_model.eval().requires_grad_(False),)
        if self.precompute:
            for stage, size in (split_sizes or {}).items():
                self.register_buffer(f"reference_{stage}", torch.zeros(size, 2))
            self.register_buffer("reference_ready", torch.zeros((), dtype=torch.bool))
        self.metrics = torch.nn.ModuleDict(
            {
                stage: torch.nn.ModuleDict({_key(n): MeanMetric() for n in METRICS})
                for stage in ("val", "test")
            }
        )

    # ----------------------------------------------------------------- reference
    @contextlib.contextmanager
    def _reference(self) -> Iterator[torch.nn.Module]:
        """The reference model, in eval mode without gradients (dropout off: a fixed target)."""
        if self._copy:
            reference = self._copy[0].to(self.device)
            with torch.no_grad():
                yield reference
            return
        was_training = self.model.training
        self.model.eval()
        adapters = self.model.disable_adapter() if self.peft else contextlib.nullcontext()
        try:
            with torch.no_grad(), adapters:
                yield self.model
        finally:
            self.model.train(was_training)

    def reference_logps(self, batch: dict[str, torch.Tensor], stage: str) -> torch.Tensor:
        """[2 x pairs] summed completion log-probs of the reference (chosen rows first)."""
        if self.precompute:
            table: torch.Tensor = getattr(self, f"reference_{stage}")
            rows = table[batch[INDEX]]
            return torch.cat([rows[:, 0], rows[:, 1]])
        with self._reference() as reference:
            return self._logps(reference, batch).total

    def on_fit_start(self) -> None:
        """Fill the precomputed reference tables (not on resume: restored with the checkpoint).

        Each of N ranks computes every N-th batch; a sum across ranks completes the tables.
        """
        if not self.precompute or bool(self.reference_ready):
            return
        if self.reference_batches is None:
            raise RuntimeError("precompute_reference needs the data module's reference_batches")
        trainer = self._trainer
        replicas, rank = (trainer.world_size, trainer.global_rank) if trainer else (1, 0)
        for name, table in self.named_buffers():
            if not name.startswith("reference_") or name == "reference_ready":
                continue
            stage = name.removeprefix("reference_")
            table.zero_()
            for batch in self.reference_batches(stage, replicas=replicas, rank=rank):
                batch = {k: v.to(self.device) for k, v in batch.items()}
                with self._reference() as reference:
                    logps = self._logps(reference, batch).total
                pairs = logps.shape[0] // 2
                table[batch[INDEX]] = torch.stack([logps[:pairs], logps[pairs:]], dim=1)
            if replicas > 1 and trainer is not None:
                # Every pair was filled by exactly one rank (zeros elsewhere): the sum is exact.
                table.copy_(trainer.strategy.reduce(table, reduce_op="sum"))
        self.reference_ready.fill_(True)

    # ----------------------------------------------------------------- loss
    @staticmethod
    def _logps(model: Any, batch: dict[str, torch.Tensor]) -> SequenceLogps:
        logits = model(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False
        ).logits
        return sequence_logps(logits, batch["labels"])

    def pair_loss(
        self, batch: dict[str, torch.Tensor], stage: str
    ) -> tuple[PreferenceLoss, SequenceLogps]:
        """Per-pair losses and rewards of a batch, and the policy's log-probs."""
        policy = self._logps(self.model, batch)
        pairs = policy.total.shape[0] // 2
        chosen = SequenceLogps(policy.total[:pairs], policy.tokens[:pairs])
        rejected = SequenceLogps(policy.total[pairs:], policy.tokens[pairs:])
        ref_chosen = ref_rejected = None
        if self.needs_reference:
            reference = self.reference_logps(batch, stage)
            ref_chosen, ref_rejected = reference[:pairs], reference[pairs:]
        result = preference_loss(
            self.loss_kind,
            chosen,
            rejected,
            ref_chosen,
            ref_rejected,
            beta=self.beta,
            label_smoothing=self.label_smoothing,
            simpo_gamma=self.simpo_gamma,
        )
        return result, policy

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        result, policy = self.pair_loss(batch, "train")
        loss = result.losses.mean()
        pairs = result.losses.shape[0]
        # One call: with gradient accumulation every value is its optimizer step's mean.
        means = {name: values.mean() for name, values in _pair_metrics(result, policy).items()}
        self.log_train({"loss": loss, **means}, pairs)
        return loss

    def before_export(self, tokenizer: Any) -> None:
        """The exported generation config answers as lab.predict does for a DPO run: greedy,
        `DEFAULT_MAX_NEW_TOKENS`, stopping where the chat template ends a turn."""
        from lab.tasks.sft.predictor import DEFAULT_MAX_NEW_TOKENS, save_chat_generation_settings

        save_chat_generation_settings(self.model, tokenizer, DEFAULT_MAX_NEW_TOKENS)

    def evaluation_step(self, batch: dict[str, torch.Tensor], stage: str) -> None:
        result, policy = self.pair_loss(batch, stage)
        pairs = result.losses.shape[0]
        self.log_eval_loss(stage, result.losses.mean(), pairs)
        metrics: Any = self.metrics[stage]
        for name, values in _pair_metrics(result, policy).items():
            # Means over all pairs of every rank (torchmetrics sums across processes).
            metrics[_key(name)].update(values.float(), weight=torch.ones_like(values.float()))

    def evaluation_metrics(self, stage: str) -> dict[str, torch.Tensor]:
        metrics: Any = self.metrics[stage]
        values = {}
        for name in METRICS:
            values[f"{stage}/{name}"] = metrics[_key(name)].compute()
            metrics[_key(name)].reset()
        return values


def _pair_metrics(result: PreferenceLoss, policy: SequenceLogps) -> dict[str, torch.Tensor]:
    pairs = result.losses.shape[0]
    logps = policy.total.detach()
    return {
        "rewards/chosen": result.chosen_rewards,
        "rewards/rejected": result.rejected_rewards,
        "rewards/margin": result.chosen_rewards - result.rejected_rewards,
        "rewards/accuracy": (result.chosen_rewards > result.rejected_rewards).float(),
        "logps/chosen": logps[:pairs],
        "logps/rejected": logps[pairs:],
    }


def _key(name: str) -> str:
    return name.replace("/", "_")  # ModuleDict keys cannot hold dots; slashes read as paths
