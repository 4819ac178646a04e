"""s31g's deployment findings: an ONNX card says its results are the PyTorch weights' and
gives the graph's own main metric where it differs (int8: s31g-1); the card's softmax does not
overflow on a confident model's logits (s31g-7)."""

from __future__ import annotations

from typing import Any

import numpy as np

from lab.run_dir.model_card import onnx_results_note
from lab.tasks.text_classification.card import SOFTMAX


def _report(form: str, pytorch: float, graph: float) -> dict[str, Any]:
    return {
        "main_metric": "test/acc",
        "form": form,
        "models": {
            "pytorch": {"metrics": {"test/acc": pytorch}},
            form: {"metrics": {"test/acc": graph}},
        },
    }


def test_an_int8_card_gives_the_graphs_own_score_beside_the_pytorch_results() -> None:
    assert onnx_results_note(_report("onnx-int8", 0.595, 0.545)) == (
        "\n\nThese are the metrics of the PyTorch weights this graph (`onnx-int8`) was exported "
        "from. **This graph scores `test/acc` 0.5450** on the same test rows (the PyTorch "
        "weights: 0.5950; CPU deployment, below)."
    )
    assert onnx_results_note(_report("onnx", 0.595, 0.595)) == (
        "\n\nThese are the metrics of the PyTorch weights this graph (`onnx`) was exported "
        "from; the graph scores the same (CPU deployment, below)."
    )


def test_the_cards_softmax_holds_for_logits_past_floats_exp_range() -> None:
    logits = np.array([[100.0, 0.0], [1.0, 2.0]], dtype=np.float32)
    namespace: dict[str, Any] = {"np": np, "logits": logits}
    exec(f"scores = {SOFTMAX}", namespace)  # the card's two lines, as a reader runs them
    expected = np.exp(logits - logits.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    assert np.isfinite(namespace["scores"]).all()
    np.testing.assert_allclose(namespace["scores"], expected)
    assert namespace["scores"][0, 0] == 1.0


def test_a_batch_over_the_limit_is_refused_naming_the_setting() -> None:
    """s31g-3: pydantic's "List should have at most 32 items after validation" named no
    setting; the 422 names max_batch_size as a text's names max_text_length, and the OpenAPI
    schema still says maxItems."""
    from fastapi.testclient import TestClient

    from helpers.fixed_tag_ner import fixed_tag_tagger
    from lab.serve import create_app

    client = TestClient(create_app(fixed_tag_tagger("O"), max_batch_size=2))
    reply = client.post("/predict", json={"inputs": [{"text": "a"}] * 3})
    assert reply.status_code == 422
    assert [(e["loc"], e["msg"]) for e in reply.json()["detail"]] == [
        (
            ["body", "inputs"],
            "List should have at most 2 items, not 3 (the server's max_batch_size=2: start "
            "lab.serve with a larger max_batch_size=, or send the rows in several requests; "
            "lab.predict has no such limit)",
        )
    ]
    assert client.post("/predict", json={"inputs": [{"text": "a"}] * 2}).status_code == 200
    assert '"maxItems":2' in client.get("/openapi.json").text.replace(" ", "")
