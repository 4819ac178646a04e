"""`python -m lab.serve`: an HTTP endpoint for a trained run's model (FastAPI + uvicorn).

    python -m lab.serve run=<run dir>                           # http://127.0.0.1:8000
    python -m lab.serve run=<run dir> host=0.0.0.0 port=9000 max_batch_size=16

Routes:
- `POST /predict`: one input (`{"text": "..."}`; the fields are the head's, e.g. the run's
  text column, see `/docs`) or a batch (`{"inputs": [{...}, {...}]}`); returns the same
  result fields as `lab.predict` (one object, or `{"predictions": [...]}`). An input may
  carry an `id` (a string or an integer), echoed in its result, as `lab.predict` does. An
  input read cut, as in training (a text past `data.max_length` tokens, a seq2seq source past
  `data.max_source_length`, NER's given words past the cut, a multiple-choice (context,
  ending) pair past `data.max_length`; a masked-LM text cut after its masks), has `truncated`
  in its result, e.g. `{"tokens": 2014, "tokens_read": 128}` (multiple choice: its choices
  cut, `[{"choice": 2, "tokens": 212, "tokens_read": 128}]`), absent where it was read whole;
  the server log has one line per request with such an input (`lab.inference.cuts`).
- `GET /health`: status, the input fields a request may give, the result fields.
- `POST /v1/chat/completions`, `GET /v1/models`: for a decoder with a chat template (task=sft,
  task=dpo runs), the OpenAI chat API, streaming or not (`lab.inference.chat_api`).
- `GET /docs` (and `/openapi.json`): the OpenAPI page, with the request schema.

Requests are validated before the model sees them: a body over `max_request_bytes` (1 MiB by
default) gets HTTP 413 before it is parsed; a missing, empty or whitespace-only field, a text
over `max_text_length` characters, a wrong type, or a batch over `max_batch_size` get HTTP 422
with a message naming the field; so does an input the head refuses (`Predictor.check`), and one
answer lists every bad row of a batch; a body not JSON, or not UTF-8, gets one naming where
(`lab.inference.body_encoding`). Error bodies quote at most a short excerpt of the input.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoint's annotations at run
# time, and the request types are built inside `create_app`, where string annotations would
# not resolve.

import json
import logging
import threading
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Annotated, Any

from lab.config.cli import parse_options, run_tool
from lab.errors import LabError
from lab.inference.body_encoding import Utf8Body
from lab.inference.cuts import CUT_FIELD, TRUNCATED, cut_log_line
from lab.inference.options import positive_int
from lab.inference.ports import bind
from lab.inference.predictors import Predictor, open_predictor, predict_rows
from lab.inference.request_schema import (
    FORM_TAGS,
    batch_type,
    id_type,
    message_list_type,
    short_error,
    text_dict_type,
    text_type,
    word_list_type,
)
from lab.inference.settings import GROUP as SETTINGS
from lab.inference.settings import settings_line

OPTIONS = {
    "run": "run directory written by python -m lab.train (required)",
    "host": "interface to listen on (default 127.0.0.1; 0.0.0.0 for all)",
    "port": "TCP port (default 8000)",
    "max_batch_size": "most inputs in one request (default 32)",
    "max_text_length": "most characters in one text field (default 10000)",
    "max_request_bytes": "largest request body in bytes (default 1048576 = 1 MiB; over it: 413)",
    "device": "cpu, cuda, cuda:1... (default: cuda when available)",
    "model": "pytorch (the run's model/, default), onnx or onnx-int8 (the run's ONNX export, "
    "run by onnxruntime on CPU), or a folder holding model.onnx",
    "max_new_tokens": "most tokens generated per /predict input and per chat answer without "
    "max_tokens, for a generating head (default: the run's task.module.max_new_tokens, "
    "sample_max_new_tokens for causal_lm, 128 for dpo)",
    "task.module.<key>": "a setting the head's results read, e.g. extractive QA's "
    "task.module.null_score_diff_threshold=-2 (also task.predictor.<key>, e.g. masked LM's top_k)",
}
USAGE = "python -m lab.serve run=<run dir> [host=127.0.0.1] [port=8000] [max_batch_size=32]"
MAX_REQUEST_BYTES = 1 << 20
ECHOED = "id"  # an input's own key, copied to its result
MAX_ERRORS = 20  # validation errors listed in one 422 body
NOT_JSON = {
    "type": "not_json",
    "loc": ["body"],
    "msg": "the body must be JSON sent as Content-Type: application/json "
    "(curl: -H 'Content-Type: application/json')",
}
DRAIN_BYTES = 64 << 20  # of a refused body, read and dropped so the client gets the 413
# uvicorn's server log (its access lines go to `uvicorn.access`): a cut input's line is shown
# beside the request's own, in the same form.
log = logging.getLogger("uvicorn.error")


def create_app(
    predictor: Predictor,
    *,
    max_batch_size: int = 32,
    max_text_length: int = 10_000,
    max_request_bytes: int = MAX_REQUEST_BYTES,
    description: str = "",
) -> Any:
    """The FastAPI app serving `predictor` (request schema built from its input fields)."""
    from fastapi import Body, FastAPI
    from fastapi import Request as HttpRequest
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from pydantic import (
        BaseModel,
        ConfigDict,
        Discriminator,
        Tag,
        ValidationError,
        create_model,
    )
    from starlette.concurrency import run_in_threadpool

    text = text_type(max_text_length)

    # A field with an alternative (NER's `text` or pre-split tokens) is optional here: the
    # predictor's `check` asks for exactly one of the two, answered by a 422 below.
    other = predictor.alternative_field or predictor.text_dict_field
    either = (predictor.fields[0], other) if other else ()

    def field_type(name: str) -> Any:
        # A list or chat field also takes its JSON string form (a CSV cell in `lab.predict`).
        kind: Any = text
        if name in predictor.list_fields or name == predictor.alternative_field:
            kind = word_list_type(name, max_text_length)
        elif name in predictor.message_fields:
            kind = message_list_type(name, max_text_length)
        elif name == predictor.text_dict_field:
            kind = text_dict_type(name, max_text_length)
        optional = name in predictor.optional_fields or name in either
        return (kind | None, None) if optional else (kind, ...)

    item_fields: Any = {name: field_type(name) for name in predictor.accepted_fields}
    if ECHOED not in item_fields:  # passed through to the result, as `lab.predict` does
        item_fields[ECHOED] = (id_type(ECHOED, max_text_length) | None, None)
    Item = create_model(
        "PredictInput", __config__=ConfigDict(extra="forbid", strict=True), **item_fields
    )

    class Batch(BaseModel):
        model_config = ConfigDict(extra="forbid")
        inputs: batch_type(Item, max_batch_size)  # type: ignore[valid-type]

    app = FastAPI(title="lab model server", description=description)
    app.add_middleware(Utf8Body)  # inside BodyLimit (added last, so outermost): a bounded body
    app.add_middleware(BodyLimit, limit=max_request_bytes)

    lock = threading.Lock()  # one forward pass at a time: tokenizers and models are not re-entrant

    def head_problems(rows: Sequence[tuple[int | None, dict[str, Any]]]) -> list[dict[str, Any]]:
        """What the head itself refuses in `rows` ((index in the batch or None, row)), as 422
        entries. Under the lock: `check` may tokenize (a prompt measured against the model's
        context), and a fast tokenizer another thread is using cannot be shared."""
        with lock:
            return [
                {"loc": ["body", *([] if index is None else ["inputs", index])], "msg": problem}
                for index, row in rows
                if (problem := predictor.check(row))
            ]

    def other_rows_problems(body: Any, errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """In a batch refused for some rows' form, the head's refusals of its other rows: one
        answer names every bad row, not the form's first and the head's after a resend."""
        inputs = body.get("inputs") if isinstance(body, dict) else None
        placed = {_row_index(e) for e in errors}
        if not isinstance(inputs, list) or len(inputs) > max_batch_size or -1 in placed:
            return []  # not a batch, or refused as a whole (too long, a key beside `inputs`)
        rows = []
        for index, raw in enumerate(inputs):
            if index in placed:
                continue
            try:
                row = Item.model_validate(raw).model_dump()
            except ValidationError:  # pragma: no cover - FastAPI reported it
                continue
            if ECHOED not in predictor.fields:
                row.pop(ECHOED, None)
            rows.append((index, row))
        return head_problems(rows)

    @app.exception_handler(RequestValidationError)
    async def short_errors(request: HttpRequest, error: RequestValidationError) -> JSONResponse:
        # FastAPI's default body repeats each bad input whole: 50 MB in, 50 MB out.
        if any(isinstance(e.get("input"), bytes) for e in error.errors()):
            # Not read as JSON (curl -d sends a form's content type): the raw bytes are no
            # input to quote, and the fix is the header.
            return JSONResponse(status_code=422, content={"detail": [NOT_JSON]})
        errors = [short_error(e) for e in error.errors()]
        if request.url.path == "/predict":  # in a worker thread: it waits for the model's lock
            errors += await run_in_threadpool(other_rows_problems, error.body, errors)
            errors.sort(key=_row_index)  # stable: a row's own errors keep their order
        shown = errors[:MAX_ERRORS]
        if len(errors) > MAX_ERRORS:
            shown.append({"msg": f"and {len(errors) - MAX_ERRORS} more errors"})
        return JSONResponse(status_code=422, content={"detail": shown})

    def run_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        with lock:
            return predict_rows(predictor, rows)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "fields": list(predictor.accepted_fields),
            "outputs": list(predictor.outputs),
        }

    # One input or a batch, told apart by the `inputs` key, so a bad request gets the errors
    # of the form it meant, not of both (`short_error` drops the tag from their location).
    single, batch_form = FORM_TAGS
    Request = Annotated[
        Annotated[Item, Tag(single)] | Annotated[Batch, Tag(batch_form)],  # type: ignore[valid-type]
        Discriminator(lambda v: batch_form if isinstance(v, dict) and "inputs" in v else single),
    ]

    @app.post("/predict", description=CUT_FIELD if TRUNCATED in predictor.outputs else "")
    def predict(request: Annotated[Request, Body()]) -> Any:  # type: ignore[valid-type]
        batch = isinstance(request, Batch)
        items = request.inputs if batch else [request]  # type: ignore[union-attr]
        rows = [item.model_dump() for item in items]
        ids = [row.pop(ECHOED, None) for row in rows] if ECHOED not in predictor.fields else []
        # What the head itself refuses (a chat ending with the assistant, neither field given) is
        # bad input too: 422 naming the row, as for a wrong type, not a 200 with an error.
        problems = head_problems(
            [(index if batch else None, row) for index, row in enumerate(rows)]
        )
        if problems:
            return JSONResponse(status_code=422, content={"detail": problems[:MAX_ERRORS]})
        results = run_rows(rows)
        line = cut_log_line(results, predictor, ids)
        if line is not None:
            log.info(line)
        for index, id_ in enumerate(ids):
            if id_ is not None:
                results[index] = {ECHOED: id_, **results[index]}
        return {"predictions": results} if batch else results[0]

    return app


def _row_index(error: dict[str, Any]) -> int:
    """Where a 422 entry sits in the body: its batch row, or -1 (the body or a single input)."""
    loc = error.get("loc", [])
    return loc[2] if len(loc) > 2 and loc[1] == "inputs" and isinstance(loc[2], int) else -1


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class BodyLimit:
    """ASGI middleware: a request body over `limit` bytes gets 413 before anything parses it.

    A declared `Content-Length` over the limit is refused unread when the client waits for
    leave to send (`Expect: 100-continue`, as curl does for large bodies); a chunked body is
    counted as it arrives. Nothing over `limit` bytes is ever held. A client that sends its
    whole body before reading the answer (urllib, requests) would see a broken pipe if the
    server stopped reading, so the rest of a refused body is read and dropped, up to
    `DRAIN_BYTES`; past that the connection is closed.
    """

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            if headers.get(b"expect", b"").lower() != b"100-continue":
                await _drain(receive, 0)
            await self._refuse(send)
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.limit:
                chunks.clear()
                if more:
                    await _drain(receive, size)
                await self._refuse(send)
                return
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        detail = f"request body over {self.limit} bytes (the server's max_request_bytes)"
        payload = json.dumps({"detail": detail}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


async def _drain(receive: Receive, seen: int) -> None:
    """Read and drop the rest of a refused body, up to `DRAIN_BYTES` in all."""
    while seen <= DRAIN_BYTES:
        message = await receive()
        if message["type"] != "http.request":
            return
        seen += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def mount_chat_api(app: Any, predictor: Predictor, *, name: str) -> bool:
    """Add `/v1/chat/completions` (OpenAI wire format, `lab.inference.chat_api`) when the
    served model is a decoder with a chat template; return whether it was added."""
    from lab.inference.chat_api import ChatEngine, add_chat_routes

    model, tokenizer = predictor.model, predictor.tokenizer
    if not ChatEngine.supports(model, tokenizer):
        return False
    max_new_tokens = int(getattr(predictor, "max_new_tokens", 256) or 256)
    engine = ChatEngine(model, tokenizer, max_new_tokens=max_new_tokens)
    add_chat_routes(app, engine, model_name=name)
    return True


def main(argv: list[str]) -> int:
    """Console entry point: load the run's model, then serve until interrupted."""
    import uvicorn

    values, settings = parse_options(
        argv, OPTIONS, required=("run",), passthrough=(SETTINGS,), usage=USAGE
    )
    try:
        port = int(values.get("port", 8000))
        max_batch_size = int(values.get("max_batch_size", 32))
        max_text_length = int(values.get("max_text_length", 10_000))
        max_request_bytes = int(values.get("max_request_bytes", MAX_REQUEST_BYTES))
    except ValueError as err:
        raise LabError(
            f"port, max_batch_size, max_text_length and max_request_bytes must be integers: {err}"
        ) from err
    if max_batch_size < 1 or max_text_length < 1 or max_request_bytes < 1:
        raise LabError("max_batch_size, max_text_length and max_request_bytes must be at least 1")
    max_new_tokens = positive_int(values, "max_new_tokens")
    host = values.get("host", "127.0.0.1")
    listening = bind(host, port)  # before the model loads: a busy port costs nothing
    run, model_dir, predictor = open_predictor(
        values["run"],
        values.get("model"),
        values.get("device"),
        max_new_tokens=max_new_tokens,
        settings=settings,
    )
    app = create_app(
        predictor,
        max_batch_size=max_batch_size,
        max_text_length=max_text_length,
        max_request_bytes=max_request_bytes,
        description=f"{run.head} from {model_dir or run.directory}"
        + (" (ONNX, onnxruntime)" if model_dir else ""),
    )
    app.state.run = str(run.directory)
    chat = mount_chat_api(app, predictor, name=run.directory.name)
    served = f"{model_dir}, ONNX on onnxruntime" if model_dir else str(run.directory)
    print(f"Serving {served} ({run.head}) on http://{host}:{port} (docs: /docs)", flush=True)
    if settings:
        print(settings_line(settings), flush=True)
    if chat:
        print(f"OpenAI-compatible chat API: http://{host}:{port}/v1 (model {run.directory.name!r})")
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="info"))
    server.run(sockets=[listening])
    return 0


if __name__ == "__main__":
    run_tool(main)
