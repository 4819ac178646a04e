"""Configuration: composing lab's Hydra configs, resolvers, the command line, validation.

compose.py     compose `conf/train.yaml` from Python (tests, `lab.reproduce`, `lab.testing`)
paths.py       where the config tree and packaged assets live
resolvers.py   `${lab.*:...}` OmegaConf resolvers
cli.py         Hydra entry-point conveniences and the `key=value` parser of the run tools
rules.py       every rule checked before data or weights load (`lab.train`, `lab.validate`)
flatten.py     the one config-flattening helper (`a.b.c` keys)
"""

from lab.config.compose import compose_train_config

__all__ = ["compose_train_config"]
