"""Starting a W&B run that never takes its caller down, shared by every W&B run lab starts.

A training run's logger (`lab.training.loggers.ResilientWandbLogger`) and a sweep's summary
run (`lab.sweeps.wandb_summary`) both start their run through `start_wandb_run`:

* the mode: `auto` is online with credentials, offline without; `WANDB_MODE` wins
  (`resolve_wandb_mode`), and one that is not a W&B mode is disabled with one warning;
* an online start first checks, within `CONNECT_TIMEOUT` seconds, that the server (or the
  proxy in front of it) accepts a connection (`wandb_server_unreachable`): wandb itself would
  retry an unreachable server for `init_timeout` seconds, and a resumed run id for longer
  ("Failed to get resume status ...: context deadline exceeded" after ~100 s);
* a start that fails anyway falls back to offline, then disabled, with a warning each time;
  the folders a failed start left are removed, so one run leaves one folder;
* the same settings (`wandb_settings`): `init_timeout`, and silent, which also keeps the
  footer wandb's service prints at exit (in raw ANSI colours, terminal or not) off.

`unusable_directory` says why a W&B directory cannot be used, before anything is started.
"""

from __future__ import annotations

import errno
import logging
import netrc
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)

WANDB_HOST = "api.wandb.ai"
# Seconds a TCP connection to W&B's server may take before the run goes on offline.
CONNECT_TIMEOUT = 3.0
# Seconds wandb may take to start a run once the server answered (wandb's default is 90).
INIT_TIMEOUT = 30.0
# Each mode falls back to the ones after it.
MODES = ("online", "offline", "disabled")
# Every mode wandb's settings accept (wandb refuses any other WANDB_MODE, in every mode).
WANDB_MODES = (*MODES, "shared", "dryrun", "run")

T = TypeVar("T")


def wandb_credentials_present() -> bool:
    """True when W&B can authenticate without asking: an API key in the env or ~/.netrc."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators(WANDB_HOST) is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def resolve_wandb_mode(mode: str) -> str:
    """`auto` -> `online` with credentials, else `offline`; `WANDB_MODE` in the env wins.

    A `WANDB_MODE` that is not a W&B mode (`off`, or empty) makes every start fail, offline
    included (wandb reads the environment whatever mode it is given): one warning, and
    `disabled` at once, the one mode wandb starts in regardless (s27c M4).
    """
    env_mode = os.environ.get("WANDB_MODE")
    if env_mode is not None and env_mode not in WANDB_MODES:
        log.warning(
            "WANDB_MODE=%r in the environment is not a W&B mode (%s); continuing with W&B "
            "disabled (unset it, or set WANDB_MODE=disabled to say so)",
            env_mode,
            ", ".join(MODES),
        )
        return "disabled"
    if env_mode:
        return env_mode
    if mode == "auto":
        return "online" if wandb_credentials_present() else "offline"
    return mode


def wandb_settings(init_timeout: float = INIT_TIMEOUT) -> Any:
    """The `wandb.Settings` of every run lab starts.

    Silent: lab says itself what a user needs (the mode, where an offline run is, how to sync
    it). Without it wandb's service prints a footer when the process exits ("wandb: Find logs
    at: ...") with ANSI colour codes even when the output is a file or a pipe.
    """
    import wandb

    return wandb.Settings(init_timeout=init_timeout, silent=True)


def unusable_directory(path: str) -> str | None:
    """Why W&B cannot write under `path` (created if missing), or None when it can."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # Created and deleted at once: `mkdir` succeeds on an existing directory that is
        # read-only (a read-only mount, another user's folder).
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        if folder.exists() and not folder.is_dir():  # mkdir says "File exists": say what it is
            return os.strerror(errno.ENOTDIR)
        return err.strerror or str(err)
    return None


def wandb_server_unreachable(timeout: float = CONNECT_TIMEOUT) -> str | None:
    """Why W&B's server cannot be reached (a TCP connection within `timeout` seconds to
    its `base_url`, or to the proxy wandb would use for it), or None when it can."""
    import urllib.parse
    import urllib.request

    import wandb

    settings = wandb.setup().settings
    url = urllib.parse.urlsplit(settings.base_url)
    host = url.hostname or WANDB_HOST
    proxy = settings.https_proxy if url.scheme == "https" else settings.http_proxy
    if not proxy and not urllib.request.proxy_bypass(host):
        proxy = urllib.request.getproxies().get(url.scheme)
    target = urllib.parse.urlsplit(proxy) if proxy else url
    address = (target.hostname or host, target.port or (443 if target.scheme == "https" else 80))
    outcome: list[str | None] = []

    def connect() -> None:  # name lookup has no timeout of its own: bounded by join below
        try:
            socket.create_connection(address, timeout=timeout).close()
            outcome.append(None)
        except OSError as err:
            outcome.append(err.strerror or str(err))

    probe = threading.Thread(target=connect, daemon=True)
    probe.start()
    probe.join(timeout + 0.5)
    where = f"{address[0]}:{address[1]}" + (" (proxy)" if proxy else "")
    if not outcome:
        return f"{where}: no answer within {timeout:g} s"
    return f"{where}: {outcome[0]}" if outcome[0] else None


def start_wandb_run(
    start: Callable[[], T], arguments: dict[str, Any], connect_timeout: float = CONNECT_TIMEOUT
) -> T:
    """Call `start` (a `wandb.init` with `arguments`, read at each call) with lab's fallbacks.

    `arguments["mode"]` is edited in place: online only when the server accepts a connection
    within `connect_timeout` seconds, then, each time `start` raises, the next of offline and
    disabled, with a warning. Afterwards it holds the mode the run started in. Raises what
    the last start raised (a disabled start too failed).
    """
    if arguments.get("mode", "online") == "online":
        try:
            unreachable = wandb_server_unreachable(connect_timeout)
        except Exception as err:  # cannot tell (settings wandb cannot read): let it try
            log.debug("W&B server check skipped: %s", err)
            unreachable = None
        if unreachable:
            log.warning("W&B server unreachable (%s); continuing with W&B offline", unreachable)
            arguments["mode"] = "offline"
    with _invalid_env_mode_hidden():
        return _start_with_fallbacks(start, arguments)


@contextmanager
def _invalid_env_mode_hidden() -> Iterator[None]:
    """`WANDB_MODE` left out of the environment while wandb starts, when it is not a W&B mode:
    wandb reads it whatever mode it is given and refuses to start even disabled; the mode
    it stood for is already chosen (`resolve_wandb_mode`: disabled)."""
    env_mode = os.environ.get("WANDB_MODE")
    if env_mode is None or env_mode in WANDB_MODES:
        yield
        return
    del os.environ["WANDB_MODE"]
    try:
        yield
    finally:
        os.environ["WANDB_MODE"] = env_mode


def _start_with_fallbacks(start: Callable[[], T], arguments: dict[str, Any]) -> T:
    """`start`, then the fallbacks of `start_wandb_run` (its mode already chosen)."""
    mode = str(arguments.get("mode", "online"))
    fallbacks = list(MODES[MODES.index(mode) + 1 :] if mode in MODES else MODES[1:])
    released = False
    while True:
        before = _run_folders(arguments)
        try:
            return start()
        except Exception as err:  # wandb raises many types; none should end the caller
            if "is in use" in str(err) and not released and _release_run_id(arguments, True):
                # wandb's service still held the failed start's run id (its release raced
                # the failure): ended now, the same mode is tried once more.
                released = True
                _remove_run_folders_since(arguments, before)
                time.sleep(1.0)  # the ended service's port and files let go
                continue
            if not fallbacks:
                _remove_run_folders_since(arguments, before)
                raise
            mode = fallbacks.pop(0)
            log.warning("W&B could not start (%s); continuing with W&B %s", _said(err), mode)
            if mode != "disabled":  # a disabled run never reaches wandb's service
                # First: until then wandb's service writes into the failed run's folder.
                _release_run_id(arguments)
            _remove_run_folders_since(arguments, before)
            arguments["mode"] = mode


def _said(err: Exception) -> str:
    """`err` in one line: wandb's settings errors are pydantic's, several lines ending in a
    link; where `WANDB_MODE` in the environment is the value it refuses, that is said."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    text = ": ".join(line for line in lines if not line.startswith("For further information"))
    env_mode = os.environ.get("WANDB_MODE")
    if env_mode is not None and env_mode not in WANDB_MODES:
        text += f"; WANDB_MODE={env_mode!r} in the environment is not a W&B mode"
    return text or type(err).__name__


def _release_run_id(arguments: dict[str, Any], failed_run_active: bool = False) -> bool:
    """After a failed start with a chosen run id (a resumed run, a sweep's summary), end
    wandb's service process, unless another run of this process is active (with
    `failed_run_active`: unless the active run is another id than the failed one's). Whether
    it was ended.

    The service keeps a failed run's id until it exits, and refuses to start the fallback
    under it ("run ID ... is in use"). Ending it takes ~2 s (it gives up the failed run's
    requests); the fallback's start then starts a new one.
    """
    wandb = sys.modules.get("wandb")
    if not arguments.get("id") or wandb is None:
        return False
    active = getattr(wandb, "run", None)
    if active is not None and not (failed_run_active and active.id == arguments["id"]):
        return False
    try:
        wandb.teardown()
    except Exception as err:  # the fallback's start will say what is wrong, if anything
        log.debug("W&B service not ended: %s", err)
        return False
    return True


def _wandb_dir(arguments: dict[str, Any]) -> Path | None:
    save_dir = arguments.get("dir")
    return Path(save_dir) / "wandb" if save_dir else None


def _run_folders(arguments: dict[str, Any]) -> set[str]:
    folder = _wandb_dir(arguments)
    try:
        return {p.name for p in folder.iterdir()} if folder else set()
    except OSError:
        return set()


def _remove_run_folders_since(arguments: dict[str, Any], before: set[str]) -> None:
    """Remove the run folders a failed start created (wandb leaves them, empty or nearly),
    so the fallback's folder is the run's only one."""
    folder = _wandb_dir(arguments)
    for name in _run_folders(arguments) - before:
        if folder is not None and name.startswith(("run-", "offline-run-")):
            shutil.rmtree(folder / name, ignore_errors=True)
