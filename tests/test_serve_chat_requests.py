"""A chat run's bad `messages`, answered by `lab.serve` as one readable 422 per mistake: on
`POST /predict` (`detail` entries located at the field, single input or batch row) and on the
OpenAI route `POST /v1/chat/completions` (OpenAI's error shape, `param` naming the place).

No training: the SFT predictor and the chat engine on a tiny random Llama with the tiny chat
tokenizer (the predictor's own checks run, as on a trained run).
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

import pytest
import torch

WANTED = (
    'field \'messages\' must be a non-empty list of {"role", "content"} objects (role: '
    "system, user, assistant; content: a string), or that list as a JSON string; "
)
OPENAI_WANTED = (
    'messages must be a non-empty list of {"role", "content"} objects (role: system, user, '
    'assistant; content: a string or a list of {"type": "text", "text"} parts); '
)
# A bad `messages` and what the message says after what a chat must be.
BAD = [
    ([], "found an empty list"),
    ("hi", "found text that is not JSON"),
    (3, "found a number"),
    ({"role": "user", "content": "x"}, "found an object"),
    ([{"role": "user"}], "message 0 has no 'content'"),
    ([{"role": "wizard", "content": "x"}], "message 0 has role 'wizard'"),
    ([{"role": "user", "content": "x"}, "x"], "message 1 is a string"),
    ([{"role": "user", "content": 3}], "message 0's content is a number"),
    ([{"role": None, "content": "x"}], "message 0's role is null"),
    (
        [{"role": "user", "content": "x", "name": "ann"}],
        "message 0 has other keys ('name'): only role and content",
    ),
    ("[]", "found an empty list"),  # the JSON string form is checked as its list
    ('[{"role": "wizard", "content": "x"}]', "message 0 has role 'wizard'"),
]


@pytest.fixture(scope="module")
def model_and_tokenizer() -> tuple[Any, Any]:
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(str(files("lab") / "assets" / "tiny_llama"))
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=1024, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=1, bos_token_id=0, eos_token_id=4,
        pad_token_id=5,
    )  # fmt: skip
    return LlamaForCausalLM(config).eval(), tokenizer


@pytest.fixture(scope="module")
def serve(model_and_tokenizer: tuple[Any, Any]) -> Any:
    """A test client of `lab.serve`'s app for an SFT run: `/predict` and the OpenAI route."""
    from fastapi.testclient import TestClient
    from omegaconf import OmegaConf

    from lab.serve import create_app, mount_chat_api
    from lab.tasks.sft.predictor import ChatPredictor

    cfg = OmegaConf.create({"data": {"max_length": 64}, "task": {"module": {"max_new_tokens": 2}}})
    predictor = ChatPredictor(*model_and_tokenizer, cfg)
    app = create_app(predictor, max_text_length=20)
    assert mount_chat_api(app, predictor, name="tiny")
    return TestClient(app)


def _detail(client: Any, body: Any) -> list[dict[str, Any]]:
    reply = client.post("/predict", json=body)
    assert reply.status_code == 422, reply.text
    return list(reply.json()["detail"])


@pytest.mark.parametrize(("messages", "found"), BAD)
def test_a_bad_messages_field_is_one_422_naming_what_a_chat_must_be(
    serve: Any, messages: Any, found: str
) -> None:
    error = {"type": "value_error", "msg": WANTED + found, "input": messages}
    assert _detail(serve, {"messages": messages}) == [{**error, "loc": ["body", "messages"]}]
    batch = {"inputs": [{"prompt": "ok"}, {"messages": messages}]}
    assert _detail(serve, batch) == [{**error, "loc": ["body", "inputs", 1, "messages"]}]


def test_good_messages_are_answered_in_either_form(serve: Any) -> None:
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    as_list = serve.post("/predict", json={"messages": chat})
    assert as_list.status_code == 200, as_list.text
    assert set(as_list.json()) == {"completion"}
    as_text = serve.post("/predict", json={"messages": json.dumps(chat)})
    assert as_text.json() == as_list.json()
    schema = serve.get("/openapi.json").json()["components"]["schemas"]  # the /docs page
    assert set(schema["ChatMessage"]["properties"]) == {"role", "content"}
    # The server's max_text_length (20 here) bounds each message's content.
    long = [{"role": "user", "content": "x" * 21}]
    assert _detail(serve, {"inputs": [{"messages": long}]}) == [
        {
            "type": "string_too_long",
            "msg": "field 'messages': message 0 has content over 20 characters (the server's "
            "max_text_length=20: start lab.serve with a larger max_text_length= for longer "
            "texts; lab.predict has no such limit)",
            "loc": ["body", "inputs", 0, "messages"],
            "input": long,
        }
    ]
    # What the head refuses of a well-formed chat still names the row.
    assert _detail(serve, {"messages": [{"role": "assistant", "content": "x"}]}) == [
        {
            "loc": ["body"],
            "msg": "the last message is the assistant's: end with a user turn to get a completion",
        }
    ]


def _openai_error(client: Any, body: Any) -> dict[str, Any]:
    reply = client.post("/v1/chat/completions", json=body)
    assert reply.status_code == 422, reply.text
    assert set(reply.json()) == {"error"}
    return dict(reply.json()["error"])


@pytest.mark.parametrize(
    ("messages", "param", "found"),
    [
        ([], "messages", "found an empty list"),
        ("hi", "messages", "found a string"),  # no JSON string form in OpenAI's API
        (3, "messages", "found a number"),
        (None, "messages", "found null"),
        ([{"role": "user"}], "messages.0.content", "message 0 has no 'content'"),
        ([{"role": "wizard", "content": "x"}], "messages.0.role", "message 0 has role 'wizard'"),
        (
            [
                {"role": "user", "content": "x"},
                {"role": "tool", "content": "4", "tool_call_id": "1"},
            ],
            "messages.1.role",
            "message 1 has role 'tool'",
        ),
        (
            [{"role": "user", "content": "x", "name": "ann"}],
            "messages.0.name",
            "message 0 has other keys ('name'): only role and content",
        ),
        ([{"role": "user", "content": 3}], "messages.0.content", "message 0's content is a number"),
        (
            [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}],
            "messages.0.content.0.type",
            "message 0 content part 0 has type 'image_url': only 'text'",
        ),
        (
            [{"role": "user", "content": [{"type": "text"}]}],
            "messages.0.content.0.text",
            "message 0 content part 0 has no 'text' string",
        ),
    ],
)
def test_the_openai_route_answers_a_bad_messages_with_one_error_in_its_shape(
    serve: Any, messages: Any, param: str, found: str
) -> None:
    assert _openai_error(serve, {"model": "tiny", "messages": messages}) == {
        "message": OPENAI_WANTED + found,
        "type": "invalid_request_error",
        "param": param,
        "code": None,
    }


def test_the_openai_route_names_a_body_that_is_not_a_request(serve: Any) -> None:
    reply = serve.post("/v1/chat/completions", content=b"{not json")
    assert reply.status_code == 422
    assert reply.json()["error"]["param"] is None
    assert reply.json()["error"]["message"].startswith("the request body is not JSON: ")
    assert _openai_error(serve, [1]) == {
        "message": "the request body: Input should be an object",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    assert _openai_error(serve, {"model": "tiny"})["message"] == "messages: Field required"


@pytest.mark.parametrize(
    ("extra", "message", "param"),
    [
        ({"max_tokens": "5"}, "max_tokens: Input should be a valid integer", "max_tokens"),
        ({"stream": "yes"}, "stream: Input should be a valid boolean", "stream"),
        ({"temperature": "0"}, "temperature: Input should be a valid number", "temperature"),
        (
            {"stream_options": {"include_usage": True}},
            "stream_options: only allowed when stream is true",
            "stream_options",
        ),
    ],
)
def test_the_openai_route_takes_no_value_of_another_type(
    serve: Any, extra: dict[str, Any], message: str, param: str
) -> None:
    """A string for a number or a flag is refused, not coerced ("yes" once started a stream);
    `stream_options` without a stream is refused as OpenAI refuses it."""
    chat = [{"role": "user", "content": "Digits for: one"}]
    assert _openai_error(serve, {"model": "tiny", "messages": chat, **extra}) == {
        "message": message,
        "type": "invalid_request_error",
        "param": param,
        "code": None,
    }


def test_a_chat_its_template_refuses_is_a_422_on_both_routes(
    model_and_tokenizer: tuple[Any, Any],
) -> None:
    """A template with rules of its own (Gemma's: no system turn) refuses a chat the request
    shape allows: one 422 with the template's words on `/predict` (it was a 500) and on the
    OpenAI route; a chat it accepts is answered."""
    import copy

    from fastapi.testclient import TestClient
    from omegaconf import OmegaConf

    from lab.serve import create_app, mount_chat_api
    from lab.tasks.sft.predictor import ChatPredictor

    model, tokenizer = model_and_tokenizer
    strict = copy.deepcopy(tokenizer)
    strict.chat_template = (
        "{% if messages[0]['role'] == 'system' %}"
        "{{ raise_exception('System role not supported') }}{% endif %}" + tokenizer.chat_template
    )
    cfg = OmegaConf.create({"data": {"max_length": 64}, "task": {"module": {"max_new_tokens": 2}}})
    predictor = ChatPredictor(model, strict, cfg)
    app = create_app(predictor, max_text_length=200)
    assert mount_chat_api(app, predictor, name="tiny")
    client = TestClient(app)
    chat = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    refused = "the chat template refused the conversation: System role not supported"

    assert _detail(client, {"messages": chat}) == [
        {"loc": ["body"], "msg": f"field 'messages': {refused}"}
    ]
    batch = {"inputs": [{"messages": chat[1:]}, {"messages": chat}]}
    assert _detail(client, batch) == [
        {"loc": ["body", "inputs", 1], "msg": f"field 'messages': {refused}"}
    ]
    openai = client.post("/v1/chat/completions", json={"model": "tiny", "messages": chat})
    assert openai.status_code == 422 and "System role not supported" in openai.text
    answered = client.post("/predict", json={"messages": chat[1:]})
    assert answered.status_code == 200 and "completion" in answered.json()
