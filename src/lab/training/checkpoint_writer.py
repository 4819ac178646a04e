"""Checkpoint files that survive kills and crashes, without the training loop waiting on disk.

`AtomicCheckpointIO` writes each checkpoint to a hidden temporary file in the target directory
(`lab.run_dir.disk.temporary_path`), fsyncs it and renames it over the target, so the target
is always either the previous whole checkpoint or the new whole one. Lightning's own writer
stages the bytes in the system temp dir and moves them, which is a copy (not atomic)
whenever that dir is on another filesystem: a kill mid-copy would leave a truncated
`last.ckpt`. A write the OS refuses (full disk, read-only, ...) removes the temporary file,
keeps the previous checkpoint and raises a `DiskError` naming the checkpoint and the OS
reason (torch words a full disk as `[enforce fail at inline_container.cc:672]`).

**Publishing off the training thread.** Serializing a checkpoint into the page cache is
fast once pages are at hand (0.25 s for MiniLM's 272 MB of weights and AdamW state written
again on the benchmark machine; the first save of a process, below, is slower); the fsync
that makes it durable took 1.1-1.6 s there, and a run writes two per epoch (the best one and
`last.ckpt`). So in a single-process run the training thread only writes the bytes; a
publisher thread per checkpoint fsyncs and renames it while training goes on. What must see
the file waits for exactly what it needs:

* loading a checkpoint that is still being published reads its (complete) temporary file
  (the test pass after the last epoch loads the best checkpoint saved moments before), and so
  does `read_checkpoint`, lab's own look into one (its step, its weights) right after the fit;
* removing one, or writing the same target again, waits for its publication first (a late
  rename would otherwise bring back a removed file, or two writers share a temporary);
* `link_checkpoint` publishes a second name for a checkpoint just written (`last.ckpt` at the
  step the best one was saved: `lab.training.periodic_checkpoint`) as a hard link, so the
  same bytes are neither serialized nor synced twice;
* `wait_for_checkpoints()` waits for all and raises the first publication error; `lab.train`
  calls it before it records a run as completed, and the checkpoint saved on SIGTERM or
  SIGUSR1 calls it before the process exits. The threads are not daemons, so the
  interpreter waits for them too.

**Serializing off the training thread** (`serialize_in_background`, set by `lab.training.fit`
where no callback changes the weights): the publisher thread also writes the bytes, from a
`lab.training.checkpoint_snapshot.Snapshot` of the checkpoint (containers copied, tensors
shared). Those tensors must not change until it is done, so the training thread waits for
the bytes before its next batch (`SerializedBeforeTraining`), and so do a load of that
checkpoint and the next save; a hard link to it is made at once and published after its
bytes. The last checkpoint of a fit is then written while the test pass runs (MiniLM's first
save in a process took 0.9-1.4 s of the training thread on the benchmark machine).

With several processes (DDP) other ranks read the checkpoint right after Lightning's barrier,
so there the rank that writes publishes before returning, as before. A publication that
fails (an fsync refused by a full quota) keeps the previous checkpoint, removes the temporary
file and raises its `DiskError` at the next checkpoint operation or at the wait.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.fabric.utilities.cloud_io import _load as load_lightning_checkpoint
from lightning.pytorch import Callback

from lab.run_dir.disk import disk_error, release_failed_write, temporary_path
from lab.training.checkpoint_snapshot import Snapshot

log = logging.getLogger(__name__)


class _Publication:
    """One checkpoint on its way from its temporary file to its target name: serialized
    (by the caller, or first thing in this thread: `serialize`), then fsynced and renamed.
    A hard link's publication (`source`) waits for its source's bytes before its fsync."""

    def __init__(
        self,
        handle: IO[bytes],
        temporary: Path,
        target: Path,
        serialize: Snapshot | None = None,
        source: _Publication | None = None,
    ) -> None:
        self.handle = handle
        self.temporary = temporary
        self.target = target
        self.snapshot = serialize
        self.source = source
        self.error: BaseException | None = None
        self.serialized = threading.Event()  # the bytes are all in the temporary file
        if serialize is None and source is None:
            self.serialized.set()
        self.thread = threading.Thread(
            target=self._run, name=f"publish-{target.name}", daemon=False
        )

    def _run(self) -> None:
        try:
            try:
                if self.snapshot is not None:
                    try:
                        _serialize(self.snapshot, self.temporary, self.target)
                    finally:
                        self.snapshot.release()
                if self.source is not None:
                    self.source.serialized.wait()
                    if self.source.error is not None:
                        raise self.source.error
            except BaseException as err:
                self.error = err  # before the event: a link waiting for these bytes reads it
                self.handle.close()
                with contextlib.suppress(OSError):
                    self.temporary.unlink(missing_ok=True)
                raise
            finally:
                self.serialized.set()
            _sync_and_rename(self.handle, self.temporary, self.target)
        except BaseException as err:  # handed to the training thread, raised there
            self.error = err
        finally:
            with _lock:
                if _pending.get(self.target) is self:
                    del _pending[self.target]
                if self.error is not None:
                    _failed.append(self)


def _serialize(snapshot: Snapshot, temporary: Path, target: Path) -> None:
    """Write `snapshot` into the file `temporary`; refuse it if a tensor changed meanwhile.

    By path, not through the open handle: torch then writes the tensors' bytes from C++
    without Python's lock, where a Python file object takes the lock for every chunk and the
    test pass running meanwhile would wait for it (the handle still serves the fsync)."""
    try:
        torch.save(snapshot.checkpoint, str(temporary))
    except Exception as err:
        fault = disk_error(err, path=target)  # asked while the partial file fills the disk
        # torch's writer of that file lives on in the error's frames, the file open: its
        # blocks would stay taken after the unlink until the process ends, and the failed
        # run's record.json be refused on a full disk (s26 H2). Closed now, before the unlink.
        release_failed_write(err)
        if fault is not None:
            raise fault from err
        raise
    changed = snapshot.changed_tensors()
    if changed:
        raise RuntimeError(
            f"{target} was not written: {changed} of its tensors changed while it was being "
            "written in the background (a callback changed the weights after the checkpoint "
            "was taken: a callback that does so must not declare `keeps_weights = True`)"
        )


# Publications in flight, by target; finished ones that failed and are not yet reported.
_lock = threading.Lock()
_pending: dict[Path, _Publication] = {}
_failed: list[_Publication] = []
# The snapshot behind the latest checkpoint written in the background, under each of its
# names (its own and its hard links): what `written_step` and `holds_written_weights` read.
_written: dict[Path, Snapshot] = {}


def _sync_and_rename(handle: IO[bytes], temporary: Path, target: Path) -> None:
    """fsync and close `handle` (the temporary file), then rename it over `target`."""
    try:
        try:
            os.fsync(handle.fileno())
        finally:
            handle.close()
        with _lock:  # a reader resolving the name holds the lock: it sees one name or the other
            os.replace(temporary, target)
    except Exception as err:
        fault = disk_error(err, path=target)
        if fault is not None:
            raise fault from err
        raise
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)


def _raise_failures() -> None:
    """Raise the first error of a finished publication not reported yet."""
    with _lock:
        failed = _failed[:]
        _failed.clear()
    if failed:
        raise failed[0].error  # type: ignore[misc]


def _wait_for(target: Path) -> None:
    with _lock:
        publication = _pending.get(target)
    if publication is not None:
        publication.thread.join()
    _raise_failures()


def _wait_serialized(target: Path | None = None) -> None:
    """Wait until the bytes of `target` (None: of every checkpoint in flight) are all in
    their temporary file; the fsync and rename may still be going on."""
    with _lock:
        publications = list(_pending.values()) if target is None else [_pending.get(target)]
    for publication in publications:
        if publication is not None:
            publication.serialized.wait()


def wait_until_serialized() -> None:
    """Wait until no checkpoint is being serialized from the live tensors, then raise the
    first failed publication: called before anything changes the weights again."""
    _wait_serialized()
    _raise_failures()


def read_checkpoint(path: str | Path, **load: Any) -> Any:
    """`torch.load(path, **load)` of a checkpoint this process may still be publishing: its
    complete temporary file is read then (the best checkpoint of the last epoch, moments
    after it was written), once its bytes are all there. `mmap=True` works on either name."""
    target = Path(path)
    _wait_serialized(target)
    with _lock:
        publication = _pending.get(target)
        source = publication.temporary if publication is not None else target
    try:
        return torch.load(source, **load)
    except FileNotFoundError:
        if source == target:
            raise
        return torch.load(target, **load)  # renamed since the lookup: the target is whole


def written_step(path: str | Path) -> int | None:
    """The step of the checkpoint at `path` if this process wrote it in the background last
    (read from memory, not from the file); None otherwise."""
    snapshot = _written.get(Path(path))
    return int(snapshot.step) if snapshot is not None and snapshot.step is not None else None


def holds_written_weights(path: str | Path, state_dict: dict[str, Any], step: int) -> bool | None:
    """Whether `state_dict` holds the weights of the checkpoint at `path`, known without
    reading it when this process wrote it in the background last (`Snapshot.
    unchanged_weights`); None when unknown here."""
    snapshot = _written.get(Path(path))
    return None if snapshot is None else snapshot.unchanged_weights(state_dict, step)


def wait_for_checkpoints() -> None:
    """Wait until every checkpoint this process wrote is durable under its name; raise the
    first publication error (a `DiskError` for a disk fault)."""
    with _lock:
        publications = list(_pending.values())
    for publication in publications:
        publication.thread.join()
    _raise_failures()


def _several_processes() -> bool:
    return (
        torch.distributed.is_available()
        and torch.distributed.is_initialized()
        and torch.distributed.get_world_size() > 1
    )


class AtomicCheckpointIO(TorchCheckpointIO):
    """Save checkpoints with write-to-temp, fsync, rename in the same directory; the fsync
    and rename run in a thread when this is the only process, and so does the serialization
    when `serialize_in_background` is set (see the module docstring)."""

    def __init__(self, serialize_in_background: bool = False) -> None:
        super().__init__()
        self.serialize_in_background = serialize_in_background

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        target = Path(path)
        _wait_for(target)
        background = self.serialize_in_background and not _several_processes()
        if background:
            wait_until_serialized()  # one serialization at a time
        temporary = temporary_path(target)
        handle: IO[bytes] | None = None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle = temporary.open("wb")
            if background:
                try:
                    snapshot = Snapshot(checkpoint)
                except Exception as err:  # an object deepcopy refuses: written here instead
                    log.debug("%s serialized on the training thread: %s", target.name, err)
                    background = False
            if not background:
                torch.save(checkpoint, handle)
                handle.flush()
        except BaseException as err:
            # torch wraps the OS error of a failed write in a RuntimeError; say what it was
            # (asked while the partial file is there: it may be what fills the disk).
            fault = disk_error(err, path=target) if isinstance(err, Exception) else None
            # Also on a kill by an exception (SIGTERM, Ctrl-C): a partial file must not stay.
            if handle is not None:
                handle.close()
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
            if fault is not None:
                raise fault from err
            raise
        if _several_processes():
            _sync_and_rename(handle, temporary, target)
            return
        publication = _Publication(
            handle, temporary, target, serialize=snapshot if background else None
        )
        with _lock:
            _pending[target] = publication
            if background:
                _written.clear()
                _written[target] = snapshot
            else:
                _written.pop(target, None)
        publication.thread.start()

    def link_checkpoint(self, source: Any, path: Any) -> bool:
        """Publish `path` as a hard link to the checkpoint `source` (written at the same step:
        the same bytes), atomically as `save_checkpoint` publishes; False where the file
        system makes no hard link (the caller then saves as usual).

        `source` may still be in publication (or still being serialized): the link is then
        made to its temporary file (the same inode, which its own publisher fsyncs), under
        the lock its rename takes, and published once the source's bytes are all written.
        Saves serializing and syncing the same hundreds of MB twice per epoch."""
        target = Path(path)
        _wait_for(target)
        temporary = temporary_path(target)
        with _lock:
            publication = _pending.get(Path(source))
            linked = publication.temporary if publication is not None else Path(source)
            try:
                os.link(linked, temporary)
            except OSError as err:
                log.debug("no hard link %s -> %s (%s): saving it whole", target, linked, err)
                return False
        handle = temporary.open("rb")
        if _several_processes():
            _sync_and_rename(handle, temporary, target)
            return True
        published = _Publication(handle, temporary, target, source=publication)
        with _lock:
            _pending[target] = published
            if Path(source) in _written:
                _written[target] = _written[Path(source)]
            else:
                _written.pop(target, None)
        published.thread.start()
        return True

    def load_checkpoint(
        self,
        path: Any,
        map_location: Callable[..., Any] | None = lambda storage, loc: storage,
        weights_only: bool | None = None,
    ) -> dict[str, Any]:
        """Load `path`; one still being published is read from its complete temporary file."""
        _wait_serialized(Path(path))
        _raise_failures()
        source = None
        with _lock:
            publication = _pending.get(Path(path))
            if publication is not None:
                # Under the lock the rename cannot slip between lookup and open; a miss means
                # the rename is done (its thread has not yet said so) and the target is whole.
                with contextlib.suppress(FileNotFoundError):
                    source = publication.temporary.open("rb")
        if source is None:
            return super().load_checkpoint(path, map_location, weights_only)
        with source:
            return load_lightning_checkpoint(source, map_location, weights_only)  # type: ignore[no-any-return]

    def remove_checkpoint(self, path: Any) -> None:
        _wait_for(Path(path))
        _written.pop(Path(path), None)
        super().remove_checkpoint(path)

    def teardown(self) -> None:
        """Publications go on after the fit (they overlap the test pass); errors surface."""
        _raise_failures()


class SerializedBeforeTraining(Callback):
    """Before each training batch, waits for a checkpoint still being serialized from the
    live tensors (the batch changes them), and raises a publication that failed."""

    def on_train_batch_start(
        self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int
    ) -> None:
        wait_until_serialized()
