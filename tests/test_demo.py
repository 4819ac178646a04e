"""`lab.demo`: the view each head's results get (no browser), and the real page in a headless
Chromium over loopback: an input typed and submitted shows the model's answer, the same as
`lab.predict`'s; a screenshot of each page is kept as a test artifact.

The browser tests need Debian's `chromium` and `chromium-driver` (`apt-get install chromium
chromium-driver`); without them they skip, saying so, except under CI (`CI` set), where a
missing browser fails the test. Screenshots go to pytest's tmp dir and are copied to
`$LAB_TEST_ARTIFACTS` (default `<system tmp>/lab-test-artifacts`); the path is printed.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

import pytest

from lab.errors import LabError
from lab.inference import demo_views
from lab.inference.predictors import Generator, Predictor
from lab.tasks.multiple_choice.predictor import MultipleChoicePredictor
from lab.tasks.question_answering.predictor import QuestionAnsweringPredictor
from lab.tasks.sft.predictor import ChatPredictor
from lab.tasks.token_predictor import TokenClassificationPredictor

from conftest import FIXTURES, TINY_FIXTURE_RUN, lab_cli, lab_command

ENTITIES = TokenClassificationPredictor.outputs
ROOT = Path(__file__).resolve().parent.parent
# Debian's packages `chromium` and `chromium-driver`, wherever PATH finds them.
CHROMIUM = Path(shutil.which("chromium") or "/usr/bin/chromium")
CHROMEDRIVER = Path(shutil.which("chromedriver") or "/usr/bin/chromedriver")
START_TIMEOUT = 120  # s for `lab.demo` to load its model and answer HTTP
ANSWER_TIMEOUT = 60  # s for the page to show the model's answer


def fake(fields: tuple[str, ...], outputs: tuple[str, ...], **extra: Any) -> SimpleNamespace:
    """A stand-in predictor: the declared attributes are all the views read."""
    return SimpleNamespace(
        fields=fields,
        outputs=outputs,
        list_fields=extra.pop("list_fields", ()),
        optional_fields=extra.pop("optional_fields", ()),
        **extra,
    )


# ----------------------------------------------------------------------- views, no browser
@pytest.mark.parametrize(
    ("predictor", "view"),
    [
        (fake(("review",), ("label", "probabilities")), "label"),  # single-label
        (fake(("text",), ("labels", "probabilities")), "label"),  # multi-label
        (fake(("text",), ("score",)), "score"),  # regression
        (fake(("text",), ENTITIES), "spans"),
        (fake(("question", "context"), QuestionAnsweringPredictor.outputs), "spans"),
        (fake(("ctx", "endings"), MultipleChoicePredictor.outputs), "label"),
        (fake(("text",), Generator.outputs), "text"),  # causal LM, summaries, translation
        (ChatPredictor, "chat"),  # SFT and DPO runs
        (fake(("text",), ("filled_text", "predictions")), "text"),  # masked LM
        (fake(("prompt",), ("completion",)), "text"),  # a completion without messages
        (fake(("text",), ("vector",)), "json"),  # a head the rules do not know
        (fake(("text",), ("score",), demo_view="json"), "json"),  # the predictor's choice
    ],
)
def test_view_follows_the_declared_fields_and_outputs(predictor: Any, view: str) -> None:
    assert demo_views.view_for(predictor) == view


def test_an_unknown_declared_view_is_refused() -> None:
    with pytest.raises(ValueError, match="demo_view must be one of chat, spans"):
        demo_views.view_for(fake(("text",), ("score",), demo_view="bars"))


def test_boxes_become_the_predictors_row() -> None:
    predictor = fake(
        ("context", "prefix", "endings"),
        MultipleChoicePredictor.outputs,
        list_fields=("endings",),
        optional_fields=("prefix",),
    )
    row = demo_views.row_from_inputs(predictor, ["She opened", "  ", "the door\n\n the box \n"])
    assert row == {"context": "She opened", "endings": ["the door", "the box"]}
    # A required field left empty stays in the row, so the predictor's check names it.
    assert demo_views.row_from_inputs(fake(("text",), ()), [None]) == {"text": ""}


def test_label_bars_are_the_most_likely_classes_named() -> None:
    result = {"label": "pos", "probabilities": {"neg": 0.25, "pos": 0.75}}
    assert demo_views.label_value({"text": "x"}, result) == {"pos": 0.75, "neg": 0.25}
    many = {f"c{i}": i / 100 for i in range(15)}
    top = demo_views.label_value({}, {"probabilities": many})
    assert list(top) == [f"c{i}" for i in range(14, 4, -1)]  # 10 bars, most likely first
    # Multiple choice: a list, named by the row's endings (index first: equal endings differ).
    row = {"context": "c", "endings": ["up", "up", "down"]}
    bars = demo_views.label_value(row, {"label": 2, "probabilities": [0.2, 0.1, 0.7]})
    assert bars == {"2: down": 0.7, "0: up": 0.2, "1: up": 0.1}
    assert demo_views.label_value({}, {"probabilities": [0.4, 0.6]}) == {"1": 0.6, "0": 0.4}


def test_entities_are_marked_in_the_text() -> None:
    text = "John flew to Cairo ."
    result = {
        "entities": [
            {"type": "LOC", "text": "Cairo", "start": 13, "end": 18, "score": 0.9},
            {"type": "PER", "text": "John", "start": 0, "end": 4, "score": 0.8},
        ]
    }
    spans = demo_views.result_spans(result)
    predictor = fake(("text",), ENTITIES)
    assert demo_views.span_field(predictor, {"text": text}, spans) == "text"
    assert demo_views.highlighted(text, spans) == [
        ("John", "PER"),
        (" flew to ", None),
        ("Cairo", "LOC"),
        (" .", None),
    ]


def test_the_answer_is_marked_in_the_context_not_the_question() -> None:
    row = {"question": "who made the puzzle", "context": "the puzzle was made by the staff"}
    result = {"answer": "the staff", "start": 23, "end": 32, "score": 0.5}
    predictor = fake(("question", "context"), QuestionAnsweringPredictor.outputs)
    spans = demo_views.result_spans(result)
    assert demo_views.span_field(predictor, row, spans) == "context"
    assert demo_views.highlighted(row["context"], spans) == [
        ("the puzzle was made by ", None),
        ("the staff", "answer"),
    ]
    no_answer = demo_views.result_spans({"answer": "", "start": 0, "end": 0, "score": 0.9})
    assert demo_views.highlighted(row["context"], no_answer) == [(row["context"], None)]


def test_overlapping_or_out_of_range_spans_never_repeat_text() -> None:
    spans = [(0, 4, "A", ""), (2, 6, "B", ""), (8, 99, "C", ""), (7, 7, "D", "")]
    pieces = demo_views.highlighted("abcdefghij", spans)
    assert pieces == [("abcd", "A"), ("efghij", None)]
    assert "".join(p for p, _ in pieces) == "abcdefghij"


def test_chat_history_becomes_the_messages_field() -> None:
    history = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "text", "text": "hello"}]},
        {"role": "user", "content": {"path": "cat.png"}},  # a file: no text, dropped
    ]
    assert demo_views.chat_messages(history, "how are you?") == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "how are you?"},
    ]
    assert demo_views.generated_text({"completion": "fine"}) == "fine"
    assert demo_views.generated_text({"generated_text": "the cat sat"}) == "the cat sat"


def test_metrics_table_and_card_body() -> None:
    metrics = {"model/params_total": 100258.0, "test/acc": 0.5, "val/acc": 0.25, "test/f1": 1 / 3}
    assert demo_views.metrics_markdown(metrics) == (
        "| metric | val | test |\n|---|---|---|\n| acc | 0.25 | 0.5 |\n| f1 |  | 0.3333 |\n\n"
        "- `model/params_total`: 100258"
    )
    assert "did not finish" in demo_views.metrics_markdown({})
    card = "---\npipeline_tag: text-classification\ntags: [lab]\n---\n\n# model on x\n\ntext\n"
    assert demo_views.card_body(card) == "# model on x\n\ntext\n"


def test_bad_options_are_refused_in_words(tmp_path: Path) -> None:
    from lab.demo import main

    with pytest.raises(LabError, match="share must be true or false, got 'maybe'"):
        main([f"run={tmp_path}", "share=maybe"])
    with pytest.raises(LabError, match="port must be an integer"):
        main([f"run={tmp_path}", "port=http"])
    with pytest.raises(LabError, match=r"unknown option 'prot'\. Did you mean port"):
        main([f"run={tmp_path}", "prot=80"])
    (tmp_path / "config.yaml").write_text("task:\n  head: transformers.AutoModel\n")
    (tmp_path / "record.json").write_text('{"status": "interrupted"}')
    with pytest.raises(LabError, match=r"has no exported model .*status: interrupted") as caught:
        main([f"run={tmp_path}"])
    # No checkpoint either (a pruned sweep trial keeps none): no advice to export from one.
    assert str(caught.value).endswith(
        "It has no checkpoint to export one from either: train it again"
    )
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"")
    with pytest.raises(LabError, match=r"Export one from a checkpoint: .* checkpoint=last$"):
        main([f"run={tmp_path}"])


def test_a_busy_port_is_refused_before_the_model_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Gradio found the port busy only after the model had loaded, having printed the page's
    address, with its own advice (GRADIO_SERVER_PORT) instead of lab's `port=`."""
    import socket

    import lab.inference.predictors

    def must_not_load(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the model loaded before the port was checked")

    monkeypatch.setattr(lab.inference.predictors, "predictor_for", must_not_load)
    (tmp_path / "config.yaml").write_text("task:\n  head: transformers.AutoModel\n")
    (tmp_path / "record.json").write_text('{"status": "finished"}')
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(LabError, match=rf"cannot listen on 127\.0\.0\.1:{port}: .*port="):
            from lab.demo import main

            main([f"run={tmp_path}", f"port={port}"])


def test_max_new_tokens_reaches_the_predictor_as_in_predict_and_serve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`lab.demo max_new_tokens=N` sets a generating run's length (a DPO run has no
    `task.module.max_new_tokens` of its own); a value below 1 is refused in words."""
    import socket

    import lab.inference.predictors
    from lab.demo import main

    seen: dict[str, Any] = {}

    class Loaded(Exception):
        pass

    def capture(*args: Any, **kwargs: Any) -> None:
        seen.update(kwargs)
        raise Loaded

    monkeypatch.setattr(lab.inference.predictors, "predictor_for", capture)
    (tmp_path / "config.yaml").write_text("task:\n  head: transformers.AutoModel\n")
    (tmp_path / "record.json").write_text('{"status": "finished"}')
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(LabError, match="max_new_tokens must be a positive integer, got"):
        main([f"run={tmp_path}", "max_new_tokens=0"])
    with pytest.raises(Loaded):
        main([f"run={tmp_path}", f"port={port}", "max_new_tokens=5"])
    assert seen["max_new_tokens"] == 5


@pytest.mark.slow
def test_a_run_without_an_exported_model_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(
        "task:\n  head: transformers.AutoModelForSequenceClassification\n"
    )
    (tmp_path / "record.json").write_text('{"status": "failed"}')
    result = lab_cli("demo", f"run={tmp_path}", timeout=120)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "has no exported model" in lines[0] and "status: failed" in lines[0]


# ---------------------------------------------------------------------- the real page
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium driven by Selenium (skipped, or failed under CI, without one)."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        reason = f"needs {' and '.join(missing)}: apt-get install chromium chromium-driver"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests; {reason}")
        pytest.skip(reason)
    pytest.importorskip("selenium", reason="needs selenium (pip install -e '.[dev]')")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI containers run as root, where the sandbox refuses to start
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(START_TIMEOUT)
    driver.set_script_timeout(ANSWER_TIMEOUT)
    yield driver
    driver.quit()


@contextmanager
def demo(run_dir: Path) -> Iterator[str]:
    """`python -m lab.demo run=<run_dir>` on a free loopback port until the block ends."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    process = subprocess.Popen(
        lab_command("demo", f"run={run_dir}", f"port={port}"),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert process.poll() is None, process.communicate(timeout=30)[0]
            assert time.monotonic() < deadline, f"lab.demo did not answer in {START_TIMEOUT} s"
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0]
    assert f"on http://127.0.0.1:{port}" in output, output


def keep_screenshot(driver: Any, tmp_path: Path, name: str) -> Path:
    """Save a screenshot in tmp_path and copy it to the artifacts folder (path printed)."""
    shot = tmp_path / name
    assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    folder = Path(os.environ.get("LAB_TEST_ARTIFACTS") or Path(tempfile.gettempdir()))
    folder = folder if "LAB_TEST_ARTIFACTS" in os.environ else folder / "lab-test-artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    kept = Path(shutil.copy(shot, folder / name))
    print(f"screenshot: {kept}")
    return kept


def predicted(run_dir: Path, row: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """`lab.predict`'s result for one row (the oracle the page must agree with)."""
    from lab.predict import main

    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text(json.dumps(row) + "\n")
    assert main([f"run={run_dir}", f"input={source}", f"output={target}"]) == 0
    return json.loads(target.read_text().splitlines()[0])  # type: ignore[no-any-return]


def wait_for(
    driver: Any, css: str, timeout: float = ANSWER_TIMEOUT, text: bool = True
) -> list[Any]:
    """The elements matching `css` once there is at least one (with text, when `text`),
    waiting at most `timeout` seconds."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def shown(d: Any) -> list[Any] | Literal[False]:
        found = d.find_elements(By.CSS_SELECTOR, css)
        return [e for e in found if e.text.strip() or not text] or False

    return WebDriverWait(driver, timeout).until(shown)


def train(out: Path, *overrides: str) -> Path:
    from lab.config import compose_train_config
    from lab.train import run

    run(compose_train_config(list(overrides), output_dir=out))
    return out


@pytest.mark.slow
def test_the_page_shows_the_classifiers_answer(
    browser: Any, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    run_dir = train(
        tmp_path_factory.mktemp("demo") / "sentiment", *TINY_FIXTURE_RUN, "trainer.max_epochs=1"
    )
    review = "a warm, funny and moving film"
    expected = predicted(run_dir, {"review": review}, tmp_path)
    with demo(run_dir) as url:
        browser.get(url)
        wait_for(browser, "#metrics td")  # the page is drawn by script after it loads
        test_acc = json.loads((run_dir / "metrics.json").read_text())["test/acc"]
        assert f"{test_acc:.4g}" in browser.find_element(By.ID, "metrics").text
        browser.find_element(By.CSS_SELECTOR, "#input-review textarea").send_keys(review)
        browser.find_element(By.ID, "submit").click()
        top = wait_for(browser, "#result [data-testid='label-output-value']")[0]
        assert top.text == expected["label"]
        bars = browser.find_elements(By.CSS_SELECTOR, "#result meter")
        shown = {b.get_attribute("aria-label"): float(b.get_attribute("value")) for b in bars}
        assert shown == pytest.approx(expected["probabilities"], abs=1e-6)
        keep_screenshot(browser, tmp_path, "demo_text_classification.png")


@pytest.mark.slow
def test_the_page_marks_the_entities_in_the_text(
    browser: Any, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    run_dir = train(
        tmp_path_factory.mktemp("demo") / "ner",
        "model=tiny_bert",
        "data=conll2003",
        f"data.path={FIXTURES / 'ner'}",
        "logger=csv",
        "trainer.max_epochs=1",
        "trainer.log_every_n_steps=1",
    )
    text = "John flew to Cairo ."
    expected = predicted(run_dir, {"text": text}, tmp_path)["entities"]
    with demo(run_dir) as url:
        browser.get(url)
        wait_for(browser, "#metrics td")  # the page is drawn by script after it loads
        box = browser.find_element(By.CSS_SELECTOR, "#input-text textarea")
        box.send_keys(text + Keys.ENTER)  # Enter submits a one-line box
        wait_for(browser, "#result .textfield .token")
        marked = browser.execute_script(HIGHLIGHTS_JS)
        keep_screenshot(browser, tmp_path, "demo_token_classification.png")
    assert "".join(piece for piece, _ in marked) == text  # the whole input, in order
    assert [(p, c) for p, c in marked if c] == [(e["text"], e["type"]) for e in expected]


class EchoChat(Predictor):
    """A chat predictor without a model, declared as the SFT head's `ChatPredictor`: it says
    how many messages it got and the last one, so the page shows whether history reached it."""

    fields = ChatPredictor.fields
    outputs = ChatPredictor.outputs
    optional_fields = ChatPredictor.optional_fields

    def __init__(self) -> None:  # no model, tokenizer or run config to keep
        pass

    def check(self, row: dict[str, Any]) -> str | None:
        return None if isinstance(row.get("messages"), list) else "messages must be a list"

    def predict(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {"completion": f"{len(r['messages'])} messages, last: {r['messages'][-1]['content']}"}
            for r in rows
        ]


class FindWord(Predictor):
    """A QA predictor without a model: the answer is the context's last word."""

    fields = ("question", "context")
    outputs = ("answer", "start", "end", "score")

    def __init__(self) -> None:
        pass

    def predict(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        results = []
        for row in rows:
            start = row["context"].rstrip().rfind(" ") + 1
            end = len(row["context"].rstrip())
            answer = row["context"][start:end]
            results.append({"answer": answer, "start": start, "end": end, "score": 0.5})
        return results


@contextmanager
def in_process(predictor: Predictor, tmp_path: Path) -> Iterator[str]:
    """`lab.demo`'s page for `predictor` (no run, no model), served from this process."""
    from omegaconf import OmegaConf

    from lab.demo import build_app, launch
    from lab.run_dir.runs import TrainedRun

    config = OmegaConf.create({"task": {"head": "transformers.AutoModel"}})
    app = build_app(TrainedRun(tmp_path, config, {}), predictor)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    launch(app, "127.0.0.1", port, block=False)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.close()


@pytest.mark.slow
def test_a_chat_predictor_gets_a_chat_box_with_its_history(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    with in_process(EchoChat(), tmp_path) as url:
        browser.get(url)
        box = wait_for(browser, "#input-messages textarea", text=False)[0]
        box.send_keys("hello there" + Keys.ENTER)
        assert wait_for(browser, "#chat [data-testid='bot']")[0].text == (
            "1 messages, last: hello there"
        )
        box.send_keys("and again" + Keys.ENTER)
        WebDriverWait(browser, ANSWER_TIMEOUT).until(
            lambda d: len(d.find_elements(By.CSS_SELECTOR, "#chat [data-testid='bot']")) == 2
        )
        replies = wait_for(browser, "#chat [data-testid='bot']")
        # The second turn saw the whole conversation: user, assistant, user.
        assert [r.text for r in replies] == [
            "1 messages, last: hello there",
            "3 messages, last: and again",
        ]
        keep_screenshot(browser, tmp_path, "demo_chat.png")


@pytest.mark.slow
def test_the_answer_is_marked_in_the_context_on_the_page(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    context = "the puzzle was made by the staff"
    with in_process(FindWord(), tmp_path) as url:
        browser.get(url)
        wait_for(browser, "#input-context textarea", text=False)
        browser.find_element(By.CSS_SELECTOR, "#input-question textarea").send_keys(
            "which staff made it?"
        )
        browser.find_element(By.CSS_SELECTOR, "#input-context textarea").send_keys(context)
        browser.find_element(By.ID, "submit").click()
        wait_for(browser, "#result .textfield .token")
        marked = browser.execute_script(HIGHLIGHTS_JS)
        keep_screenshot(browser, tmp_path, "demo_question_answering.png")
    assert marked == [["the puzzle was made by the ", None], ["staff", "answer"]]


class Length(Predictor):
    """A regression predictor without a model: the score is the text's length."""

    fields = ("text",)
    outputs = ("score",)

    def __init__(self) -> None:
        pass

    def predict(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"score": float(len(row["text"]))} for row in rows]


@pytest.mark.slow
def test_a_score_is_shown_and_a_bad_input_is_named(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with in_process(Length(), tmp_path) as url:
        browser.get(url)
        box = wait_for(browser, "#input-text textarea", text=False)[0]
        box.send_keys("   ")
        browser.find_element(By.ID, "submit").click()
        # The predictor's own check, in words, where the answer would be.
        assert wait_for(browser, "[data-testid='toast-text']")[0].text == "field 'text' is empty"
        box.send_keys("abcd")  # after the three spaces still there: 7 characters
        browser.find_element(By.ID, "submit").click()
        WebDriverWait(browser, ANSWER_TIMEOUT).until(
            lambda d: d.find_element(By.CSS_SELECTOR, "#result input").get_attribute("value")
        )
        assert browser.find_element(By.CSS_SELECTOR, "#result input").get_attribute("value") == "7"


# The (text, category) pieces of the HighlightedText as the page shows them: a marked piece's
# category is the legend entry of its colour (Gradio shows no inline category name here).
HIGHLIGHTS_JS = """
const legend = new Map([...document.querySelectorAll('#result .legend-item')]
  .map(item => [item.style.backgroundColor, item.textContent.trim()]));
return [...document.querySelectorAll('#result .textfield .token')].map(token => [
  token.querySelector('.text').textContent,
  token.classList.contains('highlighted') ? legend.get(token.style.backgroundColor) : null,
]);
"""


def test_the_button_and_enter_are_one_api_endpoint(tmp_path: Path) -> None:
    """Submit and Enter in a one-line box run the same function: one endpoint, `/answer`
    (a listener per trigger listed `/answer` and `/answer_1` to API clients)."""
    from omegaconf import OmegaConf

    from lab.demo import build_app
    from lab.run_dir.runs import TrainedRun

    config = OmegaConf.create({"task": {"head": "transformers.AutoModel"}})
    app = build_app(TrainedRun(tmp_path, config, {}), FindWord())
    endpoints = app.get_api_info()["named_endpoints"]
    assert list(endpoints) == ["/answer"]
    assert [p["label"] for p in endpoints["/answer"]["parameters"]] == ["question", "context"]
