"""A prompt over a decoder's context (`max_position_embeddings`: tiny_llama 1024, tiny_gpt2's
`n_positions` 512): one answer in one set of words wherever it is sent. `lab.predict` writes a
row `error`, `lab.serve`'s `/predict` and its chat API refuse it with 422, all with
`lab.inference.predictors.room_problem`'s message; shorter rows are answered.

No training: run directories written as `lab.train` leaves them, with random tiny weights.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lab.inference.predictors import open_predictor
from test_predict_options import write_run

from conftest import FIXTURES

SFT_RUN = ["model=tiny_llama", "data=chat", f"data.path={FIXTURES / 'sft_task'}"]
LM_RUN = ["model=tiny_gpt2", "data=text", f"data.path={FIXTURES / 'lm'}"]


def _results(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _serve(run: Path, *, chat: bool) -> Any:
    """A test client of `lab.serve`'s app for `run`: `/predict`, and the chat API if `chat`."""
    from fastapi.testclient import TestClient

    from lab.serve import create_app, mount_chat_api

    _, _, predictor = open_predictor(str(run), device="cpu")
    app = create_app(predictor)
    assert mount_chat_api(app, predictor, name="run") == chat
    return TestClient(app)


def test_an_sft_prompt_over_the_context_is_refused_alike_by_predict_and_serve(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """Was: `lab.predict` cut a 2,014-token prompt to `data.max_length` and generated past the
    1,024 positions (thousands of tokens with max_new_tokens=5000) where the chat API refused
    it."""
    from lab.predict import main

    run = write_run(tmp_path / "sft", compose_cfg(*SFT_RUN, "task.module.max_new_tokens=8"))
    # "six " is one token; the chat template adds 14 (2,014 and 1,019 tokens in all).
    full, near, short = "six " * 2000, "six " * 1005, "Digits for: one"
    fills = (
        "the prompt alone (2014 tokens) fills the model's context of 1024 tokens; shorten the "
        "conversation"
    )
    over = (
        "the prompt (1019 tokens) plus 8 new tokens is over the model's context of 1024 tokens; "
        "ask for at most 5 new tokens"
    )
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in (full, short, near)))
    assert main([f"run={run}", f"input={source}", f"output={target}"]) == 0
    rows = _results(target)
    assert rows[0] == {"line": 1, "error": f"{source}:1: {fills}"}
    assert rows[1]["line"] == 2 and isinstance(rows[1]["completion"], str)
    assert rows[2] == {
        "line": 3,
        "error": f"{source}:3: {over} (max_new_tokens=5) or shorten the conversation",
    }
    # max_new_tokens=5 is the number the message gives: that row is answered then.
    assert main([f"run={run}", f"input={source}", f"output={target}", "max_new_tokens=5"]) == 0
    assert "completion" in _results(target)[2]

    client = _serve(run, chat=True)
    reply = client.post("/predict", json={"inputs": [{"prompt": short}, {"prompt": full}]})
    assert reply.status_code == 422, reply.text
    assert [(e["loc"], e["msg"]) for e in reply.json()["detail"]] == [
        (["body", "inputs", 1], fills)
    ]
    chat = {"messages": [{"role": "user", "content": full}]}
    reply = client.post("/v1/chat/completions", json=chat)
    assert reply.status_code == 422, reply.text
    # No max_tokens was sent: the conversation is what does not fit (param `messages`).
    assert reply.json()["error"]["message"] == f"messages: {fills}"
    chat = {"messages": [{"role": "user", "content": near}]}
    reply = client.post("/v1/chat/completions", json=chat)
    assert reply.json()["error"]["message"] == f"messages: {over}"
    reply = client.post("/v1/chat/completions", json={**chat, "max_tokens": 8})
    assert reply.json()["error"]["message"] == f"max_tokens: {over}"
    assert client.post("/predict", json={"prompt": short}).status_code == 200


def test_a_causal_lm_prompt_past_the_position_table_is_a_row_error_and_a_422(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """Was: `IndexError: index out of range in self` as the row's error, and HTTP 200 with it
    from `lab.serve`. GPT-2's learned positions end at `n_positions` (512): prompt plus the
    32 new tokens (`task.module.sample_max_new_tokens`) must fit in them."""
    from lab.predict import main

    run = write_run(tmp_path / "lm", compose_cfg(*LM_RUN))
    # "the river " is 2 tokens (3,001 and 481 tokens in all).
    full, near, short = "the river " * 1500, "the river " * 240, "The cat"
    fills = (
        "the prompt alone (3001 tokens) fills the model's context of 512 tokens; shorten the prompt"
    )
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(json.dumps({"text": p}) + "\n" for p in (full, short, near)))
    assert main([f"run={run}", f"input={source}", f"output={target}"]) == 0
    rows = _results(target)
    assert rows[0] == {"line": 1, "error": f"{source}:1: {fills}"}
    assert rows[1]["line"] == 2 and rows[1]["generated_text"].startswith("The cat")
    assert rows[2] == {
        "line": 3,
        "error": f"{source}:3: the prompt (481 tokens) plus 32 new tokens is over the model's "
        "context of 512 tokens; ask for at most 31 new tokens (max_new_tokens=31) or shorten "
        "the prompt",
    }
    assert main([f"run={run}", f"input={source}", f"output={target}", "max_new_tokens=31"]) == 0
    assert _results(target)[2]["generated_text"].startswith(near)

    client = _serve(run, chat=False)
    reply = client.post("/predict", json={"text": "the river " * 400})
    assert reply.status_code == 422, reply.text
    assert [(e["loc"], e["msg"]) for e in reply.json()["detail"]] == [
        (
            ["body"],
            "the prompt alone (801 tokens) fills the model's context of 512 tokens; shorten "
            "the prompt",
        )
    ]
    assert client.post("/predict", json={"text": short}).status_code == 200
