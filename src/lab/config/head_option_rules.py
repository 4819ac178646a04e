"""Head options whose valid values depend on the head, checked before anything loads.

`task.module.label_smoothing` means two things: for the classification heads (text, token,
multiple choice) the share of the target spread over the other classes, any value in [0, 1)
as HF's `label_smoothing_factor`; for DPO (conservative DPO, `sigmoid` and `simpo` losses) the
share of preference labels taken as flipped, which must stay below 0.5 (at 0.5 a pair's two
orders weigh the same and nothing is learned). `ranges.RANGES` holds the wider range for every
head; the DPO bound and DPO's loss names are here. (`task.module.loss=foo` reached the module's
constructor: a Hydra traceback.) SFT's `data.history_cut` is refused here too, in the words of
its data module (`lab.tasks.sft.history`, standard library only), before any data loads.
"""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from lab.errors import ConfigError
from lab.tasks.sft.history import history_cut_problem

# lab.tasks.dpo.losses.LOSSES' names (a test holds them equal; importing it would import torch)
DPO_LOSSES = {
    "sigmoid": "DPO",
    "ipo": "IPO",
    "simpo": "SimPO, reference-free",
}


def is_dpo(cfg: DictConfig) -> bool:
    """Whether the composed config trains with DPO's task module."""
    target = OmegaConf.select(cfg, "task.module._target_", default=None)
    return isinstance(target, str) and target.endswith(".DPOModule")


def check_head_options(cfg: DictConfig) -> None:
    """Refuse an SFT history cut lab does not have, a DPO loss name lab does not have, and a
    DPO label smoothing of 0.5 or more."""
    if problem := history_cut_problem(OmegaConf.select(cfg, "data.history_cut", default=None)):
        raise ConfigError(problem)
    if not is_dpo(cfg):
        return
    loss = OmegaConf.select(cfg, "task.module.loss", default="sigmoid")
    if loss not in DPO_LOSSES:
        valid = ", ".join(f"{name} ({meaning})" for name, meaning in DPO_LOSSES.items())
        raise ConfigError(f"task.module.loss={loss} is not valid; valid: {valid}")
    smoothing = OmegaConf.select(cfg, "task.module.label_smoothing", default=0.0)
    if isinstance(smoothing, (int, float)) and smoothing >= 0.5:
        raise ConfigError(
            f"task.module.label_smoothing={smoothing} is out of range for DPO; valid: a number "
            "in [0, 0.5) (the share of preference labels taken as flipped: at 0.5 both orders "
            "of a pair weigh the same)"
        )
