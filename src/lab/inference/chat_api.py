"""`POST /v1/chat/completions`: a run's chat model behind the OpenAI wire format.

Existing OpenAI clients (the `openai` package, LangChain, curl scripts) talk to a fine-tuned
run by pointing their base URL at `lab.serve`:

    client = OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="unused")
    client.chat.completions.create(model="lab", messages=[{"role": "user", "content": "Hi"}])

The route exists for decoder-only models whose tokenizer has a chat template (task=sft and
task=dpo runs; a causal LM given `model.chat_template`). The prompt is the tokenizer's own
`apply_chat_template(messages, add_generation_prompt=True)`, as in training. Served:
`messages` (system/user/assistant; content a string or a list of text parts), `max_tokens`
(or `max_completion_tokens`), `temperature` (0: greedy), `top_p`, `seed`, `stop`, `stream`
(server-sent events, `chat.completion.chunk` objects, then `data: [DONE]`), `n=1`. Other
OpenAI fields (tools, logprobs, response_format...) are refused with 422 naming the field,
never silently ignored, except `model` (any name answers with the run's model) and `user`.
`GET /v1/models` lists the one model. The request's fields and their checks (one 422 in
OpenAI's error shape per bad request) are `lab.inference.chat_request`'s.

Why not vLLM or TGI: both need a GPU server of their own; this is the same process that
serves `/predict`, for trying a run out and for small deployments on a CPU.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoint's annotations at run
# time, and the request types are built inside `add_chat_routes` (see lab/serve.py).

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from transformers import StoppingCriteria

from lab.inference.predictors import model_positions, room_problem


@dataclass
class Completion:
    """One generated answer: its text, why it stopped, and the token counts."""

    text: str
    finish_reason: str  # "stop" (end of turn or a stop string) or "length"
    prompt_tokens: int
    completion_tokens: int


class ChatEngine:
    """Generates chat answers from `model` with `tokenizer`'s chat template.

    Args:
        model: a decoder-only Hugging Face model (anything with `generate`).
        tokenizer: its tokenizer; must have a chat template.
        max_new_tokens: the answer length when a request gives no `max_tokens`.
        max_context: prompt tokens allowed (longer prompts are refused, not cut).
    """

    def __init__(
        self, model: Any, tokenizer: Any, *, max_new_tokens: int = 256, max_context: int = 4096
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.max_new_tokens = max_new_tokens
        self.max_context = max_context
        # One generation at a time: models and tokenizers are not re-entrant.
        self.lock = threading.Lock()

    @staticmethod
    def supports(model: Any, tokenizer: Any) -> bool:
        """Whether `model` can answer chats: decoder-only and a chat template."""
        config = getattr(model, "config", None)
        decoder_only = config is not None and not getattr(config, "is_encoder_decoder", False)
        return (
            bool(getattr(tokenizer, "chat_template", None))
            and decoder_only
            and hasattr(model, "generate")
        )

    def prompt_ids(self, messages: list[dict[str, str]]) -> torch.Tensor:
        """The chat rendered by the tokenizer's template, ready for the assistant's turn."""
        rendered = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=True, return_dict=True
        )
        ids = torch.tensor([list(rendered["input_ids"])], dtype=torch.long)
        positions = self.positions()
        over = ids.shape[1] > self.max_context
        # The model's own context is the smaller bound: named first, so a user who shortens
        # the chat below the server's limit is not refused again (s30a F7).
        if over and positions is not None and positions < self.max_context:
            raise ValueError(room_problem(positions, ids.shape[1], 1))
        if over:
            raise ValueError(
                f"the conversation is {ids.shape[1]} tokens; this server takes at most "
                f"{self.max_context}"
            )
        return ids

    def positions(self) -> int | None:
        """The model's context length in tokens (`max_position_embeddings`, less a RoBERTa-
        style offset: `model_positions`), when it has one."""
        return model_positions(self.model)

    def room_problem(self, prompt_tokens: int, max_tokens: int | None) -> str | None:
        """Why a prompt of `prompt_tokens` cannot get `max_tokens` new tokens (default: the
        server's) within the model's context, or None (`lab.predict`'s rule and words)."""
        return room_problem(self.positions(), prompt_tokens, max_tokens or self.max_new_tokens)

    def _generate_kwargs(self, ids: torch.Tensor, options: dict[str, Any]) -> dict[str, Any]:
        device = next(self.model.parameters()).device
        temperature = options.get("temperature")
        sample = temperature is not None and temperature > 0
        kwargs: dict[str, Any] = {
            "input_ids": ids.to(device),
            "attention_mask": torch.ones_like(ids).to(device),
            "max_new_tokens": options.get("max_tokens") or self.max_new_tokens,
            "do_sample": sample,
            "pad_token_id": self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
        }
        if sample:
            kwargs["temperature"] = temperature
            if options.get("top_p") is not None:
                kwargs["top_p"] = options["top_p"]
        else:
            # Greedy: the model's own sampling defaults (generation_config) do not apply.
            kwargs.update(temperature=None, top_p=None, top_k=None)
        return kwargs

    def complete(self, messages: list[dict[str, str]], options: dict[str, Any]) -> Completion:
        """The whole answer at once."""
        pieces = list(self.stream(messages, options))
        text = "".join(piece for piece, _ in pieces)
        end = pieces[-1][1]  # `stream` always ends with (finish_reason, token counts)
        assert end is not None
        finish, (prompt_tokens, completion_tokens) = end
        return Completion(text, finish, prompt_tokens, completion_tokens)

    def stream(
        self, messages: list[dict[str, str]], options: dict[str, Any]
    ) -> Iterator[tuple[str, tuple[str, tuple[int, int]] | None]]:
        """Yield the answer's text piece by piece; the last item carries
        `(finish_reason, (prompt_tokens, completion_tokens))`, the others None.

        The lock (one generation at a time) is held by the generating thread, never across
        a `yield`: a client that leaves a streamed answer early leaves this generator
        suspended (the server does not close it), and had it held the lock, every later
        chat request would wait for ever. Generation stops at the next token once the
        generator is closed or collected, or a stop string is found."""
        from transformers import StoppingCriteriaList, TextIteratorStreamer

        ids = self.prompt_ids(messages)
        stops = [s for s in _as_list(options.get("stop")) if s]
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        kwargs = self._generate_kwargs(ids, options)
        cancelled = threading.Event()
        kwargs["stopping_criteria"] = StoppingCriteriaList([_Cancelled(cancelled)])
        result: dict[str, Any] = {}

        def generate() -> None:
            try:
                with self.lock:
                    if cancelled.is_set():  # left before its turn came
                        return
                    if options.get("seed") is not None:
                        torch.manual_seed(int(options["seed"]))
                    with torch.no_grad():
                        result["output"] = self.model.generate(**kwargs, streamer=streamer)
            except Exception as err:  # surfaced below, after the streamer ends
                result["error"] = err
            finally:
                streamer.end()  # (generate ends it too; a second end is harmless)

        worker = threading.Thread(target=generate, daemon=True)
        worker.start()
        text, sent, stopped = "", 0, False
        try:
            for piece in streamer:
                text += piece
                cut = _first_stop(text, stops)
                if cut is not None:
                    text, stopped = text[:cut], True
                # Hold back a tail that could still become a stop string.
                safe = len(text) if stopped else max(sent, len(text) - _longest(stops) + 1)
                if safe > sent:
                    yield text[sent:safe], None
                    sent = safe
                if stopped:
                    break
        finally:
            cancelled.set()  # after a stop string, or a client gone: no more tokens
        worker.join()
        if "error" in result:
            raise result["error"]
        if not stopped and len(text) > sent:
            yield text[sent:], None
        new_tokens = int(result["output"].shape[1] - ids.shape[1]) if "output" in result else 0
        limit = kwargs["max_new_tokens"]
        finish = "length" if not stopped and new_tokens >= limit else "stop"
        yield "", (finish, (int(ids.shape[1]), new_tokens))


class _Cancelled(StoppingCriteria):
    """A `generate` stopping criterion: stop every row once `event` is set."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
        return torch.full(
            (input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device
        )


def add_chat_routes(app: Any, engine: ChatEngine, *, model_name: str) -> None:
    """Mount `GET /v1/models` and `POST /v1/chat/completions` on the FastAPI `app`."""
    from fastapi import Request as HttpRequest
    from fastapi.responses import StreamingResponse
    from starlette.concurrency import run_in_threadpool

    from lab.inference.chat_request import error_response, parse_chat_request

    created = int(time.time())

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": model_name, "object": "model", "created": created, "owned_by": "lab"}],
        }

    @app.post("/v1/chat/completions", response_model=None)
    async def chat(http_request: HttpRequest) -> Any:
        # Parsed here, not by FastAPI: errors must come in OpenAI's shape
        # ({"error": {"message", "type", "param"}}), which its clients show to the user.
        request = parse_chat_request(await http_request.body())
        if isinstance(request, tuple):
            return error_response(*request)
        messages = []
        for message in request.messages:
            content = message.content
            if not isinstance(content, str):
                content = "".join(part.text for part in content)
            messages.append({"role": message.role, "content": content})
        options = {
            "max_tokens": request.max_completion_tokens or request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "seed": request.seed,
            "stop": request.stop,
        }
        try:
            ids = engine.prompt_ids(messages)  # refuse an over-long or unrenderable chat up front
        except Exception as err:
            return error_response(f"messages: {str(err).splitlines()[0][:300]}", "messages")
        wanted = request.max_completion_tokens or request.max_tokens
        room = engine.room_problem(int(ids.shape[1]), wanted)
        if room is not None:
            # The field the client set; with none, the conversation is what does not fit.
            param = (
                "max_completion_tokens"
                if request.max_completion_tokens
                else "max_tokens"
                if request.max_tokens
                else "messages"
            )
            return error_response(f"{param}: {room}", param)
        return await run_in_threadpool(_answer, request, messages, options)

    def _answer(request: Any, messages: list[dict[str, str]], options: dict[str, Any]) -> Any:
        ident = f"chatcmpl-{uuid.uuid4().hex}"
        stamp = int(time.time())
        if request.stream:
            usage_wanted = bool(request.stream_options and request.stream_options.include_usage)
            return StreamingResponse(
                _events(engine.stream(messages, options), ident, stamp, model_name, usage_wanted),
                media_type="text/event-stream",
            )
        answer = engine.complete(messages, options)
        return {
            "id": ident,
            "object": "chat.completion",
            "created": stamp,
            "model": model_name,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer.text},
                    "finish_reason": answer.finish_reason,
                    "logprobs": None,
                }
            ],
            "usage": _usage(answer.prompt_tokens, answer.completion_tokens),
        }


def _events(
    pieces: Iterator[tuple[str, Any]], ident: str, stamp: int, model: str, usage_wanted: bool
) -> Iterator[str]:
    """Server-sent events in OpenAI's streaming format."""
    import json

    def chunk(delta: dict[str, Any], finish: str | None, **extra: Any) -> str:
        body = {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": stamp,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
            **extra,
        }
        return f"data: {json.dumps(body)}\n\n"

    yield chunk({"role": "assistant", "content": ""}, None)
    for text, end in pieces:
        if text:
            yield chunk({"content": text}, None)
        if end is not None:
            finish, (prompt_tokens, completion_tokens) = end
            yield chunk({}, finish)
            if usage_wanted:
                body = {
                    "id": ident,
                    "object": "chat.completion.chunk",
                    "created": stamp,
                    "model": model,
                    "choices": [],
                    "usage": _usage(prompt_tokens, completion_tokens),
                }
                yield f"data: {json.dumps(body)}\n\n"
    yield "data: [DONE]\n\n"


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _first_stop(text: str, stops: list[str]) -> int | None:
    found = [i for i in (text.find(s) for s in stops) if i >= 0]
    return min(found) if found else None


def _longest(stops: list[str]) -> int:
    return max((len(s) for s in stops), default=1)
