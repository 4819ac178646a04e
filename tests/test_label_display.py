"""Label names in any script, as figures, logs and cards show them: installed CJK / Thai /
emoji fonts as matplotlib's fallbacks, numbered ticks and one train.log line where no font has
a label's characters (no raw "Glyph ... missing" warnings), the class `f1_positive` scores named
in the run's log and in the model card, and the card's data with its configuration."""

from __future__ import annotations

import csv
import json
import logging
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import matplotlib
import pytest
import torch
import transformers as T
import yaml
from omegaconf import OmegaConf

from lab.log_records import is_file_only
from lab.run_dir import plot_fonts
from lab.run_dir.card_data import data_line
from lab.run_dir.model_card import model_card, write_model_card
from lab.run_dir.plot_fonts import (
    fallback_families,
    number_undrawable_ticks,
    undrawable_texts,
    undrawn_line,
)
from lab.run_dir.plots import write_run_plots
from lab.tasks.text_classification.module import (
    TextClassificationModule,
    plot_confusion_matrix,
    positive_class_line,
)

from conftest import FIXTURES, TINY_FIXTURE_RUN, lab_cli

matplotlib.use("Agg")
DEJAVU = str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf")
ZH_REPORT = {"labels": ["正面", "负面"], "confusion_matrix": [[3, 1], [0, 4]]}
CONFUSION = {
    "_target_": "lab.tasks.text_classification.module.plot_confusion_matrix",
    "_partial_": True,
}
PLOTS_LINE = (
    "plots: no installed font draws every character of '0: 正面', '1: 负面' "
    "(confusion_matrix.png): those characters are boxes, and the ticks they label are numbered "
    "(the class id on the confusion matrix); a font matplotlib finds draws them "
    "(lab.run_dir.plot_fonts lists the ones lab looks for, e.g. Noto Sans CJK, WenQuanYi, "
    "Noto Emoji)"
)
POSITIVE_LINE = "val/f1_positive and test/f1_positive are the F1 of class 1, '负面'"


# ------------------------------------------------------------------------ fallback fonts
def test_one_installed_usable_font_of_each_script_follows_the_users_family(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Stand-in font files: DejaVu (loads) under the names of CJK / Thai / emoji fonts, and a
    file FreeType refuses under the first CJK name (as a colour-bitmap font fails to scale)."""
    broken = tmp_path / "NotoSansCJKsc.otf"
    broken.write_bytes(b"not a font")
    installed = {
        "DejaVu Sans": DEJAVU,
        "Noto Sans CJK SC": str(broken),  # first of its group, but unusable: skipped
        "WenQuanYi Zen Hei": DEJAVU,
        "Noto Sans CJK JP": DEJAVU,  # listed before WenQuanYi: taken
        "Tahoma": DEJAVU,
        "Noto Color Emoji": DEJAVU,  # in no group (colour bitmaps): never taken
        "Segoe UI Emoji": DEJAVU,
        "Symbola": DEJAVU,
    }
    monkeypatch.setattr(plot_fonts, "installed_fonts", lambda: installed)
    assert fallback_families() == ["sans-serif", "Noto Sans CJK JP", "Tahoma", "Segoe UI Emoji"]
    with matplotlib.rc_context({"font.family": ["serif"]}):  # the user's style comes first
        assert fallback_families()[0] == "serif"
    # Set inside lab's plotting only, not for the process.
    with plot_fonts.plot_fonts() as families:
        assert matplotlib.rcParams["font.family"] == families
        assert families == ["sans-serif", "Noto Sans CJK JP", "Tahoma", "Segoe UI Emoji"]
    assert matplotlib.rcParams["font.family"] == ["sans-serif"]
    monkeypatch.setattr(plot_fonts, "installed_fonts", lambda: {"DejaVu Sans": DEJAVU})
    assert fallback_families() == ["sans-serif"]


def test_a_real_fallback_font_draws_what_the_first_lacks() -> None:
    """With a font that has the characters in the list (STIX, shipped with matplotlib, has
    U+24B6 where DejaVu Sans has none), the label is drawable and its ticks stay as they were."""
    import matplotlib.pyplot as plt

    report = {"labels": ["Ⓐ", "b"], "confusion_matrix": [[1, 0], [0, 1]]}
    with plot_fonts.plot_fonts(["sans-serif"]):
        figure: Any = plot_confusion_matrix(report)
        assert undrawable_texts(figure) == ["Ⓐ"]
    with plot_fonts.plot_fonts(["sans-serif", "STIXGeneral"]):
        figure = plot_confusion_matrix(report)
        assert number_undrawable_ticks(figure) == []
        assert [t.get_text() for t in figure.axes[0].get_xticklabels()] == ["Ⓐ", "b"]
    plt.close("all")


# ---------------------------------------------------------------- labels no font draws
def test_undrawable_class_names_get_their_ids_and_no_glyph_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import matplotlib.pyplot as plt

    monkeypatch.setattr(plot_fonts, "installed_fonts", lambda: {})  # as on a machine without
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # every warning shown, but for lab's filter inside
        with plot_fonts.plot_fonts():
            figure: Any = plot_confusion_matrix(ZH_REPORT)
            assert number_undrawable_ticks(figure) == ["0: 正面", "1: 负面"]
            figure.savefig(Path("/dev/null"), format="png")
    axis = figure.axes[0]
    assert [t.get_text() for t in axis.get_xticklabels()] == ["0: 正面", "1: 负面"]
    assert [t.get_text() for t in axis.get_yticklabels()] == ["0: 正面", "1: 负面"]
    assert axis.get_xticklabels()[0].get_rotation() == 45  # the head's styling is kept
    assert [w for w in caught if "Glyph" in str(w.message)] == []
    # The same figure outside lab's plotting: matplotlib's per-character warnings.
    with warnings.catch_warnings(record=True) as raw:
        warnings.simplefilter("always")
        figure = plot_confusion_matrix(ZH_REPORT)
        figure.savefig(Path("/dev/null"), format="png")
    glyphs = {str(w.message).split(" ")[1] for w in raw if "Glyph" in str(w.message)}
    assert glyphs == {str(ord(c)) for c in "正面负"}
    plt.close("all")


def test_a_run_figure_of_cjk_names_is_written_with_one_train_log_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    monkeypatch.setattr(plot_fonts, "installed_fonts", lambda: {})
    cfg = OmegaConf.create(
        {"optimized_metric": "val/acc", "task": {"report_plots": {"confusion_matrix": CONFUSION}}}
    )
    with caplog.at_level(logging.INFO, logger="lab.run_dir.plots"):
        written = write_run_plots(tmp_path, ZH_REPORT, cfg)
    assert written == [tmp_path / "plots" / "confusion_matrix.png"]
    (record,) = [r for r in caplog.records if r.name == "lab.run_dir.plots"]
    assert record.getMessage() == PLOTS_LINE
    assert is_file_only(record)  # train.log, not the console


def test_no_glyph_warning_reaches_stderr(tmp_path: Path) -> None:
    """In a process of its own: Python's warnings print to stderr unless lab silences them."""
    code = (
        "import sys; from pathlib import Path; from omegaconf import OmegaConf\n"
        "from lab.run_dir import plot_fonts; plot_fonts.installed_fonts = dict\n"
        "from lab.run_dir.plots import write_run_plots\n"
        f"cfg = OmegaConf.create({{'optimized_metric': 'val/acc', 'task': {{'report_plots': "
        f"{{'confusion_matrix': {CONFUSION!r}}}}}}})\n"
        f"print(write_run_plots(Path(sys.argv[1]), {ZH_REPORT!r}, cfg))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert (tmp_path / "plots" / "confusion_matrix.png").is_file()


def test_the_line_quotes_ten_texts_and_counts_the_rest() -> None:
    emoji = [f"{i}: {chr(0x1FAE0 + i)}" for i in range(12)]
    line = undrawn_line({"confusion_matrix": emoji[:8], "curves": ["val/f1_人名", *emoji[8:]]})
    assert line.startswith(
        "plots: no installed font draws every character of "
        + ", ".join(f"'{e}'" for e in emoji[:8])
        + " (confusion_matrix.png); 'val/f1_人名', '8: \U0001fae8', 3 more (curves.png): "
    )


# ------------------------------------------------------------------------- f1_positive
def test_a_two_class_run_says_once_which_class_f1_positive_scores(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert positive_class_line({0: "正面", 1: "负面"}) == POSITIVE_LINE
    assert positive_class_line({"0": "neg", "1": "pos"}) == (
        "val/f1_positive and test/f1_positive are the F1 of class 1, 'pos'"
    )
    assert positive_class_line({0: "a", 1: "b", 2: "c"}) is None
    sizes: dict[str, Any] = {
        "vocab_size": 50,
        "hidden_size": 16,
        "num_hidden_layers": 1,
        "intermediate_size": 32,
    }
    labels: dict[str, Any] = {"num_labels": 2, "id2label": {0: "正面", 1: "负面"}}
    config = T.BertConfig(**sizes, num_attention_heads=2, **labels)
    model = T.BertForSequenceClassification(config)
    module = TextClassificationModule(model, lambda m: torch.optim.SGD(m.parameters(), lr=0.1))
    logger = "lab.tasks.text_classification.module"
    with caplog.at_level(logging.INFO, logger=logger):
        module.setup("fit")
        module.setup("test")  # lab.train sets the module up again to test it
    assert [r.getMessage() for r in caplog.records if r.name == logger] == [POSITIVE_LINE]


# -------------------------------------------------------------------------- model card
def test_the_cards_results_name_the_class_of_f1_positive(compose_cfg: Any, tmp_path: Path) -> None:
    cfg = compose_cfg(*TINY_FIXTURE_RUN)
    metrics = {"test/acc": 0.5, "test/f1_positive": 1.0, "val/f1_positive": 0.25}
    card = model_card(cfg, {}, metrics, id2label={0: "正面", 1: "负面"})
    assert "| `test/f1_positive` (class 1: 负面) | 1.0000 |" in card.splitlines()
    assert "| `val/f1_positive` (class 1: 负面) | 0.2500 |" in card.splitlines()
    assert "| `test/acc` | 0.5000 |" in card.splitlines()
    piped = model_card(cfg, {}, metrics, id2label={0: "a", 1: "yes|no"})
    assert "| `test/f1_positive` (class 1: yes\\|no) | 1.0000 |" in piped.splitlines()
    three = model_card(cfg, {}, metrics, id2label={0: "a", 1: "b", 2: "c"})
    assert "| `test/f1_positive` | 1.0000 |" in three.splitlines()
    # The exported model's config.json names the labels of the card written beside it.
    (tmp_path / "model").mkdir()
    config = {"id2label": {"0": "正面", "1": "负面"}}
    (tmp_path / "model" / "config.json").write_text(json.dumps(config, ensure_ascii=False))
    written = write_model_card(tmp_path / "model", cfg, {}, metrics).read_text()
    assert "| `test/f1_positive` (class 1: 负面) | 1.0000 |" in written.splitlines()


def test_the_data_line_names_the_configuration_and_revision(compose_cfg: Any) -> None:
    local = compose_cfg(*TINY_FIXTURE_RUN, "data.hub_config=zh")
    assert data_line(local) == f"{local.data.path} (configuration zh)"
    card = model_card(local, {}, {"test/acc": 0.5})
    assert f"- **Data**: {local.data.path} (configuration zh)" in card.splitlines()
    # A local path names nothing on the Hub: no `datasets` or `model-index`.
    assert yaml.safe_load(card.split("---")[1]) == {
        "library_name": "transformers",
        "pipeline_tag": "text-classification",
        "tags": ["lab"],
    }
    assert data_line(compose_cfg(*TINY_FIXTURE_RUN)) == str(local.data.path)
    hub = compose_cfg("model=tiny_bert", "data=mnli")
    assert data_line(hub) == "nyu-mll/glue (configuration mnli)"
    pinned = compose_cfg("model=tiny_bert", "data=conll2003")
    assert data_line(pinned) == "eriktks/conll2003 (revision refs/convert/parquet)"


def test_a_hub_datasets_card_carries_its_id_and_a_model_index_with_the_config(
    compose_cfg: Any,
) -> None:
    from huggingface_hub import ModelCard

    cfg = compose_cfg("model=tiny_bert", "data=mnli", "data.hub_revision=refs/pr/1")
    metrics = {"test/acc": 0.75, "test/loss": 0.5, "test/mcc": 0.5, "val/acc": 0.8}
    card = model_card(cfg, {}, metrics)
    assert "- **Data**: nyu-mll/glue (configuration mnli, revision refs/pr/1)" in card
    front = yaml.safe_load(card.split("---")[1])
    assert front["datasets"] == ["nyu-mll/glue"]
    dataset = {
        "name": "nyu-mll/glue (mnli)",
        "type": "nyu-mll/glue",
        "config": "mnli",
        "revision": "refs/pr/1",
    }
    assert front["model-index"] == [
        {
            "name": "Bert from config on glue",
            "results": [
                {
                    "task": {"type": "text-classification"},
                    "dataset": dataset,
                    "metrics": [
                        {"type": "accuracy", "value": 0.75, "name": "test/acc"},
                        {"type": "matthews_correlation", "value": 0.5, "name": "test/mcc"},
                    ],
                }
            ],
        }
    ]
    # huggingface_hub reads it back (as `lab.push` and the Hub do).
    data: Any = ModelCard(card).data
    results = data.eval_results
    assert [(r.dataset_config, r.metric_type, r.metric_value) for r in results] == [
        ("mnli", "accuracy", 0.75),
        ("mnli", "matthews_correlation", 0.5),
    ]
    two = model_card(
        compose_cfg("model=tiny_bert", "data=sst2"), {}, {"test/f1_positive": 0.5},
        id2label={0: "negative", 1: "positive"},
    )  # fmt: skip
    (index,) = yaml.safe_load(two.split("---")[1])["model-index"]
    assert index["results"][0]["metrics"] == [
        {"type": "f1_positive", "value": 0.5, "name": "test/f1_positive (class 1: positive)"}
    ]
    untested = yaml.safe_load(model_card(cfg, {}, {"val/acc": 0.8}).split("---")[1])
    assert untested["datasets"] == ["nyu-mll/glue"] and "model-index" not in untested


# ---------------------------------------------------------------------- a real run
@pytest.mark.slow
def test_a_run_with_chinese_labels_names_its_classes(tmp_path: Path) -> None:
    """python -m lab.train on the fixture reviews labelled 正面 / 负面 (sorted: 负面 is id 1)."""
    data = tmp_path / "zh"
    data.mkdir()
    names = {"positive": "正面", "negative": "负面"}
    for split in ("train", "validation", "test"):
        with (FIXTURES / "sentiment" / f"{split}.csv").open(newline="") as handle:
            rows = [{**r, "sentiment": names[r["sentiment"]]} for r in csv.DictReader(handle)]
        with (data / f"{split}.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, ["review", "sentiment"])
            writer.writeheader()
            writer.writerows(rows)
    overrides = [o for o in TINY_FIXTURE_RUN if not o.startswith("data.path=")]
    result = lab_cli(
        "train", *overrides, f"data.path={data}", "trainer.max_epochs=1", "plots=true",
        "paths.output_root=out", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    screen = result.stdout + result.stderr
    (run_dir,) = (tmp_path / "out" / "runs").glob("*/*")
    log_file = (run_dir / "train.log").read_text(encoding="utf-8")
    assert "Glyph" not in screen and "Glyph" not in log_file
    # train.log only (the card names the class too): the console stays as a run's always is
    assert screen.count(POSITIVE_LINE) == 0 and log_file.count(POSITIVE_LINE) == 1
    assert (run_dir / "plots" / "confusion_matrix.png").is_file()
    # Where this machine has a CJK font, the figure draws the names and there is nothing to say.
    cjk = [f for f in fallback_families() if f in plot_fonts.FALLBACK_GROUPS[0]]
    assert (PLOTS_LINE in log_file) is not bool(cjk) and PLOTS_LINE not in screen
    card = (run_dir / "model" / "README.md").read_text(encoding="utf-8")
    (row,) = [line for line in card.splitlines() if line.startswith("| `test/f1_positive`")]
    assert row.startswith("| `test/f1_positive` (class 1: 负面) | ")
