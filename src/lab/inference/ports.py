"""Listening sockets of `lab.serve` and `lab.demo`: a busy port or an address this machine
does not have is refused in lab's words before the model loads."""

from __future__ import annotations

import contextlib
import errno
import socket

from lab.errors import LabError


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to `host:port` for the server; a port in use (another server?) or an
    address this machine does not have is a LabError, named, instead of uvicorn's exit 3
    after the start-up line; so is a port no socket has (0 asks for any free one)."""
    if not 0 <= port <= 65535:  # socket's OverflowError is no OSError: a traceback
        raise LabError(f"port must be between 1 and 65535 (0: any free port), got {port}")
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        listening = socket.socket(family, socket.SOCK_STREAM)
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind((host, port))
    except OSError as err:
        # A name that does not resolve or an address of another machine is the host's fault,
        # not the port's.
        host_fault = isinstance(err, socket.gaierror) or err.errno == errno.EADDRNOTAVAIL
        advice = (
            HOST_ADVICE
            if host_fault
            else "another server on that port? choose another with port=..."
        )
        raise LabError(f"cannot listen on {host}:{port}: {err.strerror or err} ({advice})") from err
    return listening


HOST_ADVICE = (
    "host= must be an address or name of this machine: 127.0.0.1 for this machine only, "
    "0.0.0.0 for every interface"
)


def require_free(host: str, port: int) -> None:
    """Refuse, before anything loads, a `host:port` that cannot be listened on (`lab.demo`:
    Gradio binds it itself later, and said so only after the model had loaded, with advice
    of its own, `GRADIO_SERVER_PORT`)."""
    with contextlib.closing(bind(host, port)):
        pass
