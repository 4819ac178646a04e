"""A checkpoint serialized while the training thread goes on, and what it may rely on.

Serializing MiniLM's checkpoint (272 MB of weights and AdamW state) costs the training thread
0.25-1.4 s on the benchmark machine: the bytes go into page-cache pages the machine has to
find first. The last checkpoint of a fit is followed by nothing that changes the weights (the
test pass, the export and the plots only read them), so `lab.training.checkpoint_writer` can
write it in a thread while the test pass runs, provided nothing changes what it writes:

* `Snapshot` copies the checkpoint's containers (dicts, lists, the callbacks' and loops'
  states) and keeps its tensors by reference: no tensor is copied, so memory does not grow,
  and a callback that appends to its own state later does not race the pickler.
* The tensors themselves must stay unchanged until they are written. The training thread waits
  for the serialization before the next training batch (`lab.training.checkpoint_writer.
  SerializedBeforeTraining`), which is where the weights, the optimizer state and the buffers
  change. Whatever else could change them between a save and that batch runs in callbacks, so
  a fit serializes in the background only when every callback is known to leave the weights
  alone (`background_serialization_allowed`): Lightning's checkpointing, early stopping,
  summaries, progress bars, learning-rate monitor and timer, lab's own callbacks, and any
  callback whose class says `keeps_weights = True`. Stochastic weight averaging (which swaps
  its average into the model when training ends) or a callback of unknown kind makes every
  save synchronous, as before.
* As a last guard, each tensor's version counter (bumped by every in-place change) is read
  before and after the serialization: a change in between fails the publication (the previous
  checkpoint is kept and the error is raised at the next checkpoint operation), never a torn
  file.

The snapshot also answers, without reading the file back, the two questions `lab.training.fit`
asks right after the fit: the step the checkpoint was written at, and whether the model in
memory still holds its weights (same tensors, unchanged since: `unchanged_weights`).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    import lightning as L


def _tensors(value: Any) -> Iterator[torch.Tensor]:
    """The tensors in `value`'s dicts, lists and tuples, at any depth."""
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _tensors(item)


def _version(tensor: torch.Tensor) -> int | None:
    """`tensor`'s version counter; None for an inference tensor, which has none."""
    try:
        return int(tensor._version)
    except RuntimeError:
        return None


class Snapshot:
    """`checkpoint` with its containers copied and its tensors shared (see the module)."""

    def __init__(self, checkpoint: dict[str, Any]) -> None:
        tensors = {id(tensor): tensor for tensor in _tensors(checkpoint)}
        # deepcopy's memo maps an object's id to its copy: each tensor "copies" to itself.
        self.checkpoint: dict[str, Any] = copy.deepcopy(checkpoint, memo=dict(tensors))
        self._versions = [(tensor, _version(tensor)) for tensor in tensors.values()]
        self.step = self.checkpoint.get("global_step")
        state = self.checkpoint.get("state_dict")
        self._state: dict[str, tuple[torch.Tensor, int | None]] = (
            {
                name: (tensor, _version(tensor))
                for name, tensor in state.items()
                if isinstance(tensor, torch.Tensor)
            }
            if isinstance(state, dict)
            else {}
        )
        self._complete_state = isinstance(state, dict) and len(self._state) == len(state)

    def release(self) -> None:
        """Drop the references the serialization needed, once it is done. The weights'
        references stay for `unchanged_weights` where they are in host memory (where they
        cost nothing: they are the module's own tensors); accelerator tensors are let go, since
        Lightning moves the module to the CPU after the fit and a reference kept here would
        hold its old copy in accelerator memory."""
        self.checkpoint = {}
        self._versions = []
        if any(tensor.device.type != "cpu" for tensor, _ in self._state.values()):
            self._state, self._complete_state = {}, False

    def changed_tensors(self) -> int:
        """How many of the checkpoint's tensors were changed in place since the snapshot."""
        return sum(
            1
            for tensor, version in self._versions
            if version is not None and _version(tensor) != version
        )

    def unchanged_weights(self, state_dict: dict[str, Any], step: int) -> bool:
        """True when `state_dict` (a module's, now) is made of the very tensors this
        checkpoint's `state_dict` was written from, none changed since, at the same `step`;
        False when that is not known (the caller then compares with the file)."""
        if self.step != step or not self._complete_state or state_dict.keys() != self._state.keys():
            return False
        for name, current in state_dict.items():
            saved, version = self._state[name]
            if (
                not isinstance(current, torch.Tensor)
                or version is None
                or current.data_ptr() != saved.data_ptr()
                or current.dtype != saved.dtype
                or current.shape != saved.shape
                or current.stride() != saved.stride()
                or current.device != saved.device
                or _version(current) != version
            ):
                return False
        return True


# Lightning callbacks that never change the weights (they read metrics, time, write files).
_KNOWN_READ_ONLY = (
    "ModelCheckpoint",
    "EarlyStopping",
    "ModelSummary",
    "RichModelSummary",
    "LearningRateMonitor",
    "TQDMProgressBar",
    "RichProgressBar",
    "Timer",
    "DeviceStatsMonitor",
)


def keeps_weights(callback: L.Callback) -> bool:
    """True for a callback known not to change the model's weights or the optimizer's state:
    one of `_KNOWN_READ_ONLY` from Lightning, one of lab's, or one whose class sets
    `keeps_weights = True`."""
    kind = type(callback)
    if getattr(callback, "keeps_weights", None) is True:
        return True
    if kind.__module__.startswith("lab."):
        return True
    return kind.__module__.startswith("lightning.pytorch.callbacks") and any(
        base.__name__ in _KNOWN_READ_ONLY
        and base.__module__.startswith("lightning.pytorch.callbacks")
        for base in kind.__mro__
    )


def background_serialization_allowed(trainer: L.Trainer) -> bool:
    """True when this fit may serialize checkpoints in a thread: one process on one device,
    and every callback `keeps_weights`."""
    from lightning.pytorch.strategies import SingleDeviceStrategy

    callbacks: list[L.Callback] = trainer.callbacks  # type: ignore[attr-defined]
    return isinstance(trainer.strategy, SingleDeviceStrategy) and all(
        keeps_weights(callback) for callback in callbacks
    )
