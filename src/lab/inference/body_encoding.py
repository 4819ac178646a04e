"""`lab.serve`'s check that a JSON request body is UTF-8, answered as lab.predict answers a row.

FastAPI decodes a JSON body itself and answers one that is not UTF-8 with HTTP 400 "There was
an error parsing the body" (s31g-3): no byte, no place, and not the 422 every other bad input
gets. This ASGI middleware reads the body first (whole: `lab.serve.BodyLimit`, outside it, has
bounded its size already) and answers such a body with a 422 naming the first bad byte and its
place in the words of lab.predict's error row for the same line (`lab.inference.rows.bad_byte`,
`utf8_message`): `not valid UTF-8 (byte 0xe9 at column 18); send the body as UTF-8`, with the
line where the body has several. Bodies FastAPI does not read as JSON (a form) pass unchecked.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from lab.inference.rows import bad_byte, utf8_message

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

SEND_UTF8 = "send the body as UTF-8"


def body_problem(body: bytes) -> str | None:
    """Why `body` is not UTF-8, as lab.predict says it of a line (its line named where it is
    not the first), or None."""
    text = body.decode("utf-8", "surrogateescape")  # each bad byte a lone surrogate
    for number, line in enumerate(text.split("\n"), start=1):
        problem = bad_byte(line)
        if problem:
            where = "at column" if number == 1 else f"at line {number}, column"
            return utf8_message(problem.replace("at column", where, 1), SEND_UTF8)
    return None


def read_as_json(scope: Scope) -> bool:
    """Whether FastAPI reads this request's body as JSON: no content type, or
    `application/json` / `application/<anything>+json`, as its request handler decides."""
    declared = dict(scope.get("headers", [])).get(b"content-type")
    if not declared:
        return True
    kind = declared.decode("latin-1").split(";", 1)[0].strip().lower()
    main, _, sub = kind.partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


class Utf8Body:
    """ASGI middleware: a JSON request body that is not UTF-8 gets 422 naming its first bad
    byte (`body_problem`); any other request goes on, its body replayed as it came."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not read_as_json(scope):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        problem = body_problem(b"".join(m.get("body", b"") for m in messages))
        if problem:
            await _refuse(send, problem)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


async def _refuse(send: Send, problem: str) -> None:
    detail = [{"type": "not_utf8", "loc": ["body"], "msg": problem}]
    payload = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]
    await send({"type": "http.response.start", "status": 422, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
