"""`POST /v1/chat/completions` in the OpenAI wire format, talked to by the real `openai`
client over loopback: answers equal the model's own greedy generation on the chat template,
streaming gives the same text, and bad requests get 422 naming the field."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from importlib.resources import files
from typing import Any

import pytest
import torch
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

from lab.inference.chat_api import ChatEngine, add_chat_routes

openai = pytest.importorskip("openai")

CHAT = [
    {"role": "system", "content": "You answer briefly."},
    {"role": "user", "content": "Name three colours."},
]


@pytest.fixture(scope="module")
def model_and_tokenizer() -> tuple[Any, Any]:
    tokenizer = AutoTokenizer.from_pretrained(str(files("lab") / "assets" / "tiny_llama"))
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=1024,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        bos_token_id=0,
        eos_token_id=4,
        pad_token_id=5,
    )
    return LlamaForCausalLM(config).eval(), tokenizer


@pytest.fixture(scope="module")
def base_url(model_and_tokenizer: tuple[Any, Any]) -> Iterator[str]:
    import uvicorn
    from fastapi import FastAPI

    model, tokenizer = model_and_tokenizer
    app = FastAPI()
    add_chat_routes(app, ChatEngine(model, tokenizer, max_new_tokens=12), model_name="tiny")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/v1"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def client(base_url: str) -> Any:
    return openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=60)


def _greedy(
    model: Any, tokenizer: Any, messages: list[dict[str, str]], new: int
) -> tuple[str, int, int]:
    ids = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )["input_ids"]
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=new, do_sample=False, pad_token_id=5)
    answer = out[0, ids.shape[1] :]
    return tokenizer.decode(answer, skip_special_tokens=True), ids.shape[1], answer.shape[0]


def test_an_answer_is_the_models_greedy_generation_on_the_chat_template(
    client: Any, model_and_tokenizer: tuple[Any, Any]
) -> None:
    expected, prompt_tokens, new_tokens = _greedy(*model_and_tokenizer, CHAT, 7)
    response = client.chat.completions.create(
        model="tiny", messages=CHAT, max_tokens=7, temperature=0
    )
    assert response.object == "chat.completion"
    assert response.model == "tiny"
    (choice,) = response.choices
    assert choice.message.role == "assistant"
    assert choice.message.content == expected
    assert choice.finish_reason == ("length" if new_tokens == 7 else "stop")
    assert response.usage.prompt_tokens == prompt_tokens
    assert response.usage.completion_tokens == new_tokens
    assert response.usage.total_tokens == prompt_tokens + new_tokens


def test_streaming_sends_the_same_text_in_chunks_then_the_finish_reason(
    client: Any, model_and_tokenizer: tuple[Any, Any]
) -> None:
    expected, prompt_tokens, new_tokens = _greedy(*model_and_tokenizer, CHAT, 10)
    stream = client.chat.completions.create(
        model="tiny",
        messages=CHAT,
        max_tokens=10,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == expected
    finishes = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finishes == ["length" if new_tokens == 10 else "stop"]
    assert chunks[-1].usage.completion_tokens == new_tokens
    assert chunks[-1].usage.prompt_tokens == prompt_tokens


def test_a_stop_string_cuts_the_answer_before_it(
    client: Any, model_and_tokenizer: tuple[Any, Any]
) -> None:
    full, _, _ = _greedy(*model_and_tokenizer, CHAT, 12)
    assert len(full) >= 4, full
    stop = full[2:4]
    response = client.chat.completions.create(
        model="tiny", messages=CHAT, max_tokens=12, stop=[stop]
    )
    assert response.choices[0].message.content == full[: full.find(stop)]
    assert response.choices[0].finish_reason == "stop"
    streamed = client.chat.completions.create(
        model="tiny", messages=CHAT, max_tokens=12, stop=stop, stream=True
    )
    assert (
        "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
        == full[: full.find(stop)]
    )


def test_a_stream_left_early_does_not_block_the_next_request(
    client: Any, model_and_tokenizer: tuple[Any, Any]
) -> None:
    """A client that reads two chunks and closes its stream: every later chat request hung
    (the abandoned generator held the engine's lock across its yields)."""
    stream = client.chat.completions.create(model="tiny", messages=CHAT, max_tokens=12, stream=True)
    for _, _chunk in zip(range(2), stream, strict=False):
        pass
    stream.close()
    expected, _, _ = _greedy(*model_and_tokenizer, CHAT, 5)
    answer = client.with_options(timeout=30).chat.completions.create(
        model="tiny", messages=CHAT, max_tokens=5
    )
    assert answer.choices[0].message.content == expected


def test_an_abandoned_generator_stops_generating_and_frees_the_engine(
    model_and_tokenizer: tuple[Any, Any],
) -> None:
    """In-process: a stream suspended after its first piece (never closed) leaves the engine
    free; closing it stops its generation at the next token."""
    engine = ChatEngine(*model_and_tokenizer, max_new_tokens=12)
    left = engine.stream(CHAT, {"max_tokens": 12})
    next(left)
    done: list[Any] = []
    worker = threading.Thread(target=lambda: done.append(engine.complete(CHAT, {"max_tokens": 3})))
    worker.start()
    worker.join(timeout=60)
    assert done and done[0].completion_tokens <= 3, "the second request waited for the first"
    left.close()
    assert engine.lock.acquire(timeout=30), "the closed stream's generation did not stop"
    engine.lock.release()


def test_content_as_text_parts_equals_content_as_a_string(client: Any) -> None:
    parts = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Name three "},
                {"type": "text", "text": "colours."},
            ],
        }
    ]
    plain = [{"role": "user", "content": "Name three colours."}]
    a = client.chat.completions.create(model="tiny", messages=parts, max_tokens=6)
    b = client.chat.completions.create(model="tiny", messages=plain, max_tokens=6)
    assert a.choices[0].message.content == b.choices[0].message.content


def test_the_model_list_names_the_served_model(client: Any) -> None:
    assert [model.id for model in client.models.list()] == ["tiny"]


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"messages": [{"role": "wizard", "content": "hi"}]}, "role 'wizard'"),
        ({"messages": []}, "messages"),
        ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools"),
        ({"n": 2}, "n"),
        ({"temperature": -1}, "temperature"),
        # What the model cannot read is refused, not dropped: other content parts, names,
        # tool messages (named by their role), unknown stream options.
        ({"messages": [{"role": "user", "content": [{"type": "image_url", "text": "a"}]}]}, "type"),
        ({"messages": [{"role": "user", "content": "hi", "name": "ann"}]}, "name"),
        (
            {"messages": [*CHAT, {"role": "tool", "content": "4", "tool_call_id": "1"}]},
            "role 'tool'",
        ),
        ({"stream_options": {"include_usage": True, "bogus": 1}}, "stream_options.bogus"),
        # The tiny Llama's context is 2,048 positions.
        ({"max_tokens": 5000}, "new tokens is over the model's context of 2048 tokens"),
    ],
)
def test_a_bad_request_is_refused_naming_the_field(
    client: Any, extra: dict[str, Any], named: str
) -> None:
    request = {"model": "tiny", "messages": CHAT, **extra}
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        client.chat.completions.create(**request)
    assert named in str(caught.value)


def test_a_prompt_over_the_context_limit_is_refused(model_and_tokenizer: tuple[Any, Any]) -> None:
    engine = ChatEngine(*model_and_tokenizer, max_context=8)
    with pytest.raises(ValueError, match="this server takes at most 8"):
        engine.prompt_ids(CHAT)
    # s30a F7: a model whose context is below the server's limit names its own first.
    small = ChatEngine(*model_and_tokenizer, max_context=8)
    small.positions = lambda: 6  # type: ignore[method-assign]
    length = len(
        small.tokenizer.apply_chat_template(CHAT, add_generation_prompt=True, return_dict=True)[
            "input_ids"
        ]
    )
    with pytest.raises(ValueError) as caught:
        small.prompt_ids(CHAT)
    assert str(caught.value) == (
        f"the prompt alone ({length} tokens) fills the model's context of 6 tokens; shorten "
        "the conversation"
    )
    # Against the model's own positions (2,048 for the tiny Llama): room left, or none at all.
    assert engine.room_problem(2000, 48) is None
    assert engine.room_problem(2000, 49) == (
        "the prompt (2000 tokens) plus 49 new tokens is over the model's context of 2048 "
        "tokens; ask for at most 48 new tokens"
    )
    assert engine.room_problem(2048, 1) == (
        "the prompt alone (2048 tokens) fills the model's context of 2048 tokens; shorten the "
        "conversation"
    )


def test_a_prompt_without_room_names_the_field_the_client_set(client: Any) -> None:
    """No `max_tokens` sent: the conversation is what does not fit (it named max_tokens)."""
    long_chat = [{"role": "user", "content": "hello " * 690}]
    for extra, param in (({}, "messages"), ({"max_tokens": 5}, "max_tokens")):
        with pytest.raises(openai.UnprocessableEntityError) as caught:
            client.chat.completions.create(model="tiny", messages=long_chat, **extra)
        error = caught.value.body
        assert error["param"] == param and error["message"].startswith(f"{param}: the prompt")


def test_only_decoder_models_with_a_chat_template_get_the_route(
    model_and_tokenizer: tuple[Any, Any],
) -> None:
    model, tokenizer = model_and_tokenizer
    assert ChatEngine.supports(model, tokenizer)
    no_template = AutoTokenizer.from_pretrained(str(files("lab") / "assets" / "tiny_gpt2"))
    no_template.chat_template = None
    assert not ChatEngine.supports(model, no_template)
