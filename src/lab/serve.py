"""`python -m lab.serve`: an HTTP endpoint for a trained run's model (FastAPI + uvicorn).

    python -m lab.serve run=<run dir>                           # http://127.0.0.1:8000
    python -m lab.serve run=<run dir> host=0.0.0.0 port=9000 max_batch_size=16

Routes:
- `POST /predict`: one input (`{"text": "..."}`; the fields are the head's, e.g. the run's
  text column, see `/docs`) or a batch (`{"inputs": [{...}, {...}]}`); returns the same
  result fields as `lab.predict` (one object, or `{"predictions": [...]}`).
- `GET /health`: status, run directory, head.
- `GET /docs` (and `/openapi.json`): the OpenAPI page, with the request schema.

Requests are validated before the model sees them: a missing, empty or whitespace-only
field, a text over `max_text_length` characters, a wrong type, or a batch over
`max_batch_size` get HTTP 422 with a message naming the field.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoint's annotations at run
# time, and the request types are built inside `create_app`, where string annotations would
# not resolve.

import threading
from typing import Annotated, Any

from lab.config.cli import parse_options, run_tool
from lab.errors import LabError
from lab.inference.predictors import Predictor, predict_rows, predictor_for
from lab.run_dir.runs import open_run

OPTIONS = {
    "run": "run directory written by python -m lab.train (required)",
    "host": "interface to listen on (default 127.0.0.1; 0.0.0.0 for all)",
    "port": "TCP port (default 8000)",
    "max_batch_size": "most inputs in one request (default 32)",
    "max_text_length": "most characters in one text field (default 10000)",
    "device": "cpu, cuda, cuda:1... (default: cuda when available)",
}
USAGE = "python -m lab.serve run=<run dir> [host=127.0.0.1] [port=8000] [max_batch_size=32]"


def create_app(
    predictor: Predictor,
    *,
    max_batch_size: int = 32,
    max_text_length: int = 10_000,
    description: str = "",
) -> Any:
    """The FastAPI app serving `predictor` (request schema built from its input fields)."""
    from fastapi import Body, FastAPI
    from pydantic import (
        AfterValidator,
        BaseModel,
        ConfigDict,
        Discriminator,
        Field,
        StringConstraints,
        Tag,
        create_model,
    )

    text = Annotated[
        str,
        StringConstraints(min_length=1, max_length=max_text_length),
        AfterValidator(_not_blank),
    ]
    item_fields: Any = {name: (text, ...) for name in predictor.fields}
    Item = create_model(
        "PredictInput", __config__=ConfigDict(extra="forbid", strict=True), **item_fields
    )

    class Batch(BaseModel):
        model_config = ConfigDict(extra="forbid")
        inputs: list[Item] = Field(min_length=1, max_length=max_batch_size)  # type: ignore[valid-type]

    app = FastAPI(title="lab model server", description=description)
    lock = threading.Lock()  # one forward pass at a time: tokenizers and models are not re-entrant

    def run_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        with lock:
            return predict_rows(predictor, rows)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "fields": list(predictor.fields),
            "outputs": list(predictor.outputs),
        }

    # One input or a batch, told apart by the `inputs` key, so a bad request gets the errors
    # of the form it meant, not of both.
    Request = Annotated[
        Annotated[Item, Tag("single")] | Annotated[Batch, Tag("batch")],  # type: ignore[valid-type]
        Discriminator(lambda v: "batch" if isinstance(v, dict) and "inputs" in v else "single"),
    ]

    @app.post("/predict")
    def predict(request: Annotated[Request, Body()]) -> dict[str, Any]:  # type: ignore[valid-type]
        if isinstance(request, Batch):
            rows = [item.model_dump() for item in request.inputs]  # type: ignore[attr-defined]
            return {"predictions": run_rows(rows)}
        return run_rows([request.model_dump()])[0]  # type: ignore[attr-defined]

    return app


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or only whitespace")
    return value


def main(argv: list[str]) -> int:
    """Console entry point: load the run's model, then serve until interrupted."""
    import uvicorn

    from lab.training.console import tame_library_output

    values, _ = parse_options(argv, OPTIONS, required=("run",), usage=USAGE)
    try:
        port = int(values.get("port", 8000))
        max_batch_size = int(values.get("max_batch_size", 32))
        max_text_length = int(values.get("max_text_length", 10_000))
    except ValueError as err:
        raise LabError(f"port, max_batch_size and max_text_length must be integers: {err}") from err
    if max_batch_size < 1 or max_text_length < 1:
        raise LabError("max_batch_size and max_text_length must be at least 1")
    tame_library_output()
    run = open_run(values["run"])
    predictor = predictor_for(run, values.get("device"))
    app = create_app(
        predictor,
        max_batch_size=max_batch_size,
        max_text_length=max_text_length,
        description=f"{run.head} from {run.directory}",
    )
    app.state.run = str(run.directory)
    host = values.get("host", "127.0.0.1")
    print(f"Serving {run.directory} ({run.head}) on http://{host}:{port} (docs: /docs)")
    uvicorn.run(app, host=host, port=port, log_level="info")
    return 0


if __name__ == "__main__":
    run_tool(main)
