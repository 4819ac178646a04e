"""`python -m lab.demo`: a web page to try a trained run's model by hand (Gradio).

    python -m lab.demo run=<run dir>                  # http://127.0.0.1:7860
    python -m lab.demo run=<run dir> port=8080 host=0.0.0.0
    python -m lab.demo run=<run dir> share=true       # also a public gradio.live link

The page has one input box per field of the head's predictor (the same fields `lab.predict`
reads), the model's answer in the view that fits the head (bars of class probabilities, the
entities or the answer marked in the text, a number, generated text, or a chat box for a
`messages` predictor; see `lab.inference.demo_views`), the raw result, and beside them the
run's final metrics and its model card. It runs the exported model (`<run>/model`), exactly
what `lab.predict` and `lab.serve` run. Nothing leaves the machine unless `share=true`.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

from lab.config.cli import parse_options, run_tool
from lab.errors import LabError
from lab.inference import demo_views
from lab.inference.options import positive_int
from lab.inference.ports import require_free
from lab.inference.settings import GROUP as SETTINGS
from lab.run_dir.runs import TrainedRun, open_run
from lab.tool_flags import flag_option

if TYPE_CHECKING:  # torch, which predictors import, waits until the run is known to be usable
    from lab.inference.predictors import Predictor

OPTIONS = {
    "run": "run directory written by python -m lab.train (required; needs its exported model)",
    "host": "interface to listen on (default 127.0.0.1; 0.0.0.0 for all)",
    "port": "TCP port (default 7860)",
    "share": "true: also open a public gradio.live tunnel (default false)",
    "device": "cpu, cuda, cuda:1... (default: cuda when available)",
    "max_new_tokens": "most tokens generated per answer, for a generating head (default: the "
    "run's task.module.max_new_tokens, sample_max_new_tokens for causal_lm, 128 for dpo)",
    "task.module.<key>": "a setting the head's results read, e.g. extractive QA's "
    "task.module.null_score_diff_threshold=-2 (also task.predictor.<key>, e.g. masked LM's top_k)",
}
USAGE = "python -m lab.demo run=<run dir> [host=127.0.0.1] [port=7860] [share=false]"
DEFAULT_PORT = 7860


def build_app(run: TrainedRun, predictor: Predictor) -> Any:
    """The Gradio `Blocks` page of `run`, answering with `predictor`."""
    import gradio as gr

    from lab.inference.predictors import predict_rows

    view = demo_views.view_for(predictor)
    lock = threading.Lock()  # one forward pass at a time: tokenizers and models are not re-entrant

    def predict(row: dict[str, Any]) -> dict[str, Any]:
        with lock:
            result = predict_rows(predictor, [row])[0]
        if "error" in result:
            # Shown in the page; a user's bad input is no reason for a traceback on the console.
            raise gr.Error(str(result["error"]), print_exception=False)
        return result

    title = f"{run.directory.name}: {run.head}"
    with gr.Blocks(title=f"lab demo - {title}", analytics_enabled=False) as app:
        gr.Markdown(f"# {title}\nRun `{run.directory}` - the exported model in `model/`.")
        with gr.Row():
            with gr.Column(scale=3):
                if view == "chat":
                    _chat(predictor, predict)
                else:
                    _form(predictor, view, predict)
            with gr.Column(scale=2):
                gr.Markdown("## Metrics")
                gr.Markdown(demo_views.metrics_markdown(_metrics(run)), elem_id="metrics")
                with gr.Accordion("Model card", open=False):
                    gr.Markdown(_card(run), elem_id="model-card")
    return app


def _form(predictor: Predictor, view: str, predict: Any) -> None:
    """Input boxes, a submit button, the view's output and the raw result."""
    import gradio as gr

    boxes = []
    for field in predictor.fields:
        many = field in predictor.list_fields
        label = field + (" (one per line)" if many else "")
        label += " (optional)" if field in predictor.optional_fields else ""
        # One line grows with its text; Gradio submits on Enter only in a one-line box, and
        # a list field needs Enter for its next item.
        lines = 4 if many else 1
        boxes.append(gr.Textbox(label=label, lines=lines, max_lines=12, elem_id=f"input-{field}"))
    button = gr.Button("Submit", variant="primary", elem_id="submit")
    output = _output(view)
    with gr.Accordion("Raw result", open=False):
        raw = gr.JSON(elem_id="raw-result")

    def answer(*values: str) -> tuple[Any, dict[str, Any]]:
        row = demo_views.row_from_inputs(predictor, values)
        result = predict(row)
        return _shown(predictor, view, row, result), result

    # The button and Enter in a one-line box: one listener, so one API endpoint (`/answer`;
    # a listener per trigger listed `/answer` and `/answer_1`, the same function twice).
    gr.on(
        triggers=[button.click, *(box.submit for box in boxes)],
        fn=answer,
        inputs=boxes,
        outputs=[output, raw],
        api_name="answer",
    )


def _output(view: str) -> Any:
    import gradio as gr

    if view == "label":
        return gr.Label(label="Prediction", num_top_classes=demo_views.MAX_BARS, elem_id="result")
    if view == "spans":
        return gr.HighlightedText(label="Prediction", show_legend=True, elem_id="result")
    if view == "score":
        return gr.Number(label="Prediction", interactive=False, elem_id="result")
    if view == "text":
        return gr.Textbox(label="Prediction", lines=6, interactive=False, elem_id="result")
    return gr.JSON(label="Prediction", elem_id="result")


def _shown(predictor: Predictor, view: str, row: dict[str, Any], result: dict[str, Any]) -> Any:
    """The value of the view's output component for one result."""
    if view == "label":
        return demo_views.label_value(row, result)
    if view == "spans":
        spans = demo_views.result_spans(result)
        text = row[demo_views.span_field(predictor, row, spans)]
        return demo_views.highlighted(text, spans)
    if view == "score":
        return float(result["score"])
    if view == "text":
        return demo_views.generated_text(result)
    return result


def _chat(predictor: Predictor, predict: Any) -> None:
    import gradio as gr

    def reply(message: str, history: list[Any]) -> str:
        messages = demo_views.chat_messages(history, message)
        return demo_views.generated_text(predict({demo_views.CHAT_FIELD: messages}))

    gr.ChatInterface(
        reply,
        chatbot=gr.Chatbot(label="Chat", elem_id="chat"),
        textbox=gr.Textbox(placeholder="Your message", elem_id=f"input-{demo_views.CHAT_FIELD}"),
        analytics_enabled=False,
    )


def _metrics(run: TrainedRun) -> dict[str, Any]:
    path = run.directory / "metrics.json"
    try:
        return dict(json.loads(path.read_text())) if path.is_file() else run.recorded_metrics
    except (OSError, ValueError):
        return run.recorded_metrics


def _card(run: TrainedRun) -> str:
    path = run.model_dir / "README.md"
    if not path.is_file():
        return "_No model card in the export._"
    return demo_views.card_body(path.read_text(encoding="utf-8", errors="replace"))


def launch(app: Any, host: str, port: int, *, share: bool = False, block: bool = True) -> None:
    """Serve `app` on `host:port` (until interrupted when `block`; else `app.close()` ends it)."""
    try:
        app.launch(
            server_name=host,
            server_port=port,
            share=share,
            prevent_thread_lock=not block,
            quiet=True,
            show_error=True,
            ssr_mode=False,  # no Node.js server beside Python
            mcp_server=False,
            pwa=False,
        )
    except OSError as err:  # Gradio's "Cannot find empty port" is an OSError
        raise LabError(f"cannot listen on {host}:{port}: {err}") from err


def main(argv: list[str]) -> int:
    """Console entry point: load the run's model, then serve the page until interrupted."""
    from lab.training.console import tame_library_output

    values, settings = parse_options(
        argv, OPTIONS, required=("run",), passthrough=(SETTINGS,), usage=USAGE
    )
    try:
        port = int(values.get("port", DEFAULT_PORT))
    except ValueError as err:
        raise LabError(f"port must be an integer, got '{values['port']}'") from err
    if not 0 < port < 65536:
        raise LabError(f"port must be between 1 and 65535, got {port}")
    share = flag_option("share", values.get("share", "false"))
    max_new_tokens = positive_int(values, "max_new_tokens")
    host = values.get("host", "127.0.0.1")
    run = open_run(values["run"])
    run.require_model()  # before torch, Gradio and the model load: fails in a second
    require_free(host, port)
    from lab.inference.predictors import predictor_for
    from lab.inference.settings import settings_line

    tame_library_output()
    predictor = predictor_for(
        run, values.get("device"), max_new_tokens=max_new_tokens, settings=settings
    )
    app = build_app(run, predictor)
    print(f"Demo of {run.directory} ({run.head}) on http://{host}:{port}")
    if settings:
        print(settings_line(settings))
    launch(app, host, port, share=share)
    return 0


if __name__ == "__main__":
    run_tool(main)
