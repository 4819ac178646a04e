"""Optuna internals lab depends on.

Lab's sweep workers keep liveness stamps (host, pid, heartbeat) as trial system attributes
and re-open abandoned trials by id. Optuna's public API covers neither: system attributes are
written only through the storage (`Trial.set_system_attr` was removed), a `Study` does not
expose its storage, and neither `Trial` nor `FrozenTrial` exposes the storage-level trial id
that every storage call and `optuna.trial.Trial(study, trial_id)` take.

`tell` is `Study.tell` for lab's ask-and-tell loop: `GridSampler.after_trial` calls
`study.stop()` once the grid is covered, which raises `RuntimeError` outside
`Study.optimize` (lab never calls it: its workers run trials as separate runs). The trial's
state is stored before that (optuna sets it in a `finally`), and lab's loop stops by
`n_trials` anyway, so that one error is dropped.
"""

from __future__ import annotations

from typing import Any


def study_storage(study: Any) -> Any:
    """The storage (`optuna.storages.BaseStorage`) that `study` reads and writes."""
    return study._storage


def trial_id(trial: Any) -> int:
    """The storage-level id of a `Trial` or `FrozenTrial` (not its per-study `number`)."""
    return int(trial._trial_id)


def tell(study: Any, trial: Any, values: Any = None, state: Any = None) -> None:
    """`study.tell(trial, values, state)`, without the grid sampler's `study.stop()` error
    (see the module)."""
    try:
        study.tell(trial, values, state=state)
    except RuntimeError as err:
        if "Study.stop" not in str(err):
            raise
