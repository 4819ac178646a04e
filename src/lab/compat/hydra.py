"""Hydra internals lab depends on.

- `FileConfigSource`: the config source that reads YAML files from a folder lives in
  `hydra._internal`. Lab's `lab-groups` source (`hydra_plugins/lab_plugins/group_dirs.py`)
  serves `experiments/` and `sweeps/` as the `experiment` and `sweep` groups by subclassing
  it and its `_list_add_result`; Hydra's public `ConfigSource` base would mean copying its
  YAML loading and header parsing.
- `job_error`: a failed `JobReturn` keeps its exception in `_return_value`. The public
  `return_value` re-raises it and first writes "Error executing job ..." to stderr, which
  the sweeper must not print for a trial it handles (a pruned or failed trial).
"""

from __future__ import annotations

from typing import Any

from hydra._internal.core_plugins.file_config_source import FileConfigSource

__all__ = ["FileConfigSource", "job_error"]


def job_error(job: Any) -> BaseException:
    """The exception a failed Hydra job (`hydra.core.utils.JobReturn`) ended with."""
    error = job._return_value
    if not isinstance(error, BaseException):
        raise TypeError(f"the job did not fail: its return value is {error!r}")
    return error
