"""`StartModel`: the model a DPO run started from, rebuilt from the run's model config.

Why it exists: the DPO and IPO rewards are measured against the policy *before* training. A
run keeps that model while it trains (a frozen copy, or the policy with its adapters
disabled), but its export holds only the trained weights, merged with any adapter. When
`lab.eval` hands an export to `DPOModule`, a copy of what it is given would be the trained
model itself, and every reward would be 0. `DPOModule` therefore gets this small factory
from its task YAML (`task.module.start_model`, interpolating `${model}` and `${seed}`) and,
when the policy it is given was not built from that model config, measures against the
model the config builds:

- `model.pretrained` weights (a Hub id or a directory, e.g. an SFT run's export), or
- for a model built from config (`model=tiny_llama`), its initial random weights: `lab.train`
  seeds (`seed`) right before it builds the tokenizer, the data and then the model, and none
  of those steps draws from torch's generator, so building the head under `torch.manual_seed(
  seed)` draws the same weights (checked in tests/test_dpo_runs.py against a run's recorded
  test metrics).

The same steps as `lab.build.build_model` follow, bar PEFT and quantization: the tokenizer's
new tokens get their mean embedding rows (`model.add_tokens`), the freezing options apply.
A run that trained a 4-bit base (`peft=qlora`) is therefore measured against the unquantized
base by `lab.eval` (rewards close to, not equal to, those of training).

The factory keeps a plain dict of the model config, not Hydra objects (principle 5): nothing
of it enters a checkpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from lab.errors import LabError

log = logging.getLogger(__name__)


class StartModel:
    """Builds the model a run started from (see the module doc).

    Args:
        model: the run's `model` config section (`${model}` in the task YAML).
        head: the Auto class of the head (`${task.head}`).
        seed: the run's seed (`${seed}`), which drew a from-config model's initial weights.
    """

    def __init__(self, model: Mapping[str, Any], head: str, seed: int) -> None:
        if isinstance(model, DictConfig):
            model = OmegaConf.to_container(model, resolve=True)  # type: ignore[assignment]
        self.model_config: dict[str, Any] = dict(model)
        self.head = str(head)
        self.seed = int(seed)

    @property
    def pretrained(self) -> str:
        """Where the starting weights come from: `model.pretrained`, "" for a from-config model."""
        return str(self.model_config.get("pretrained") or "")

    def built(self, policy: Any) -> bool:
        """Whether `policy` is this config's model as built (not loaded from somewhere else, as
        `lab.eval` loads a run's export). `from_pretrained` records where it loaded from in
        `name_or_path`; a head built from a config has an empty one."""
        return str(getattr(policy, "name_or_path", "") or "") == self.pretrained

    def build(self) -> Any:
        """The starting model, in eval mode."""
        from hydra.utils import instantiate

        from lab.training.freezing import prepare_model

        cfg = OmegaConf.create(self.model_config)
        tokenizer = None
        if cfg.get("add_tokens") or cfg.get("add_special_tokens"):
            from lab.training.tokenizers import build_tokenizer

            # The configured tokenizer with the tokens the run added: their ids and the
            # vocabulary size before, which decide the new embedding rows.
            tokenizer = build_tokenizer(OmegaConf.create({"model": cfg}))
        network = instantiate(cfg.network)
        with torch.random.fork_rng(devices=[]):  # the caller's random stream is left as it was
            torch.manual_seed(self.seed)
            try:
                model = network(head=self.head)
            except LabError as err:
                raise type(err)(
                    f"the DPO reference (the model this run started from) cannot be built: {err}"
                ) from err
        prepare_model(model, tokenizer, cfg)
        log.info(
            "reference model: the run's starting model rebuilt from its config (%s)",
            f"model.pretrained={self.pretrained}" if self.pretrained else f"seed={self.seed}",
        )
        return model.eval().requires_grad_(False)
