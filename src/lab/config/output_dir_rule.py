"""`paths.output_dir=` on the command line is refused: it cannot move the run.

`paths.output_dir` is `${hydra:runtime.output_dir}`, the folder Hydra made for the run (under
`paths.output_root`, or `hydra.run.dir`) and wrote `.hydra/` and `train.log` into before lab
read the config. Set to another folder it split the run in two: checkpoints, `model/`,
`record.json` and W&B went there (a folder that may hold other runs, with no claim check),
while `train.log` and `.hydra/` stayed in Hydra's folder, and `lab.validate` named that one
(s33a M2). lightning-hydra-template's users set this very key. Hydra's own key moves the
whole run, with the checks that keep a folder to one run (`lab.run_dir.claim`), so the
refusal names it and `paths.output_root`. `compose_train_config(output_dir=...)` (tests,
notebooks) sets the key itself, after composing, and is not judged here.
"""

from __future__ import annotations

from omegaconf import DictConfig

from lab.config.deletion_rules import task_overrides
from lab.errors import ConfigError

KEY = "paths.output_dir"


def check_output_dir_override(cfg: DictConfig) -> None:
    """Refuse a command-line `paths.output_dir=<folder>` (see the module)."""
    for override in task_overrides():
        key, _, value = override.partition("=")
        if key.lstrip("+~") == KEY:
            raise ConfigError(
                f"{KEY}={value} would split the run: Hydra has made its folder already "
                f"({KEY} is that folder); use hydra.run.dir={value or '<folder>'} for this "
                "run's own folder, or paths.output_root=<folder> for a new "
                "runs/<date>/<time> folder under it"
            )
