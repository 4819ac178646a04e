"""s28 seq2seq findings: the target-cut line says the generation length lab.eval uses (M1),
and T5's translation prefix follows `data.source_lang` / `data.target_lang` (M2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from omegaconf import DictConfig, OmegaConf

from lab.config.languages import translate_prefix
from lab.data.cut_counts import TARGETS
from lab.data.datamodule import Evaluation

TINY = ("model=tiny_bart", "logger=csv", "callbacks=none")
# 24 of 24 test targets cut at 4 tokens, as in the finding (`lab.eval ... data.max_target_length=4`)
TEST_CUT = [("test", (24, 0), 24)]
CUT = "data.max_target_length=4 cuts 24 of 24 test targets"
EVAL_WHY = (
    "(the loss reads their first 4 tokens; generations are scored against the full references)"
)
LONGER = "a longer data.max_target_length keeps them, up to the model's positions"


def _datamodule(compose_cfg: Any, *overrides: str) -> Any:
    """The run's seq2seq data module, not set up (`cut_note` reads its settings only)."""
    from hydra.utils import instantiate

    cfg = compose_cfg(*TINY, "data=xsum", "data.max_target_length=4", *overrides)
    return instantiate(cfg.data, tokenizer=instantiate(cfg.model.tokenizer), _convert_="all")


# ----------------------------------------------------------------- M1: the target-cut line
def test_lab_eval_names_the_length_it_generates_and_the_setting_that_changes_it(
    compose_cfg: Any,
) -> None:
    """lab.eval (`module_settings` handed over by `lab.eval_build`): the run's config holds
    `task.module.max_new_tokens` resolved, so the line says generation stops there, not at
    `data.max_target_length`, and that the cut changes the loss only."""
    dm = _datamodule(compose_cfg)
    dm.module_settings = {"num_beams": 2, "max_new_tokens": 16}
    assert dm.cut_note(TARGETS, TEST_CUT) == (
        f"{CUT} {EVAL_WHY}; {LONGER} (generations do not follow it in lab.eval: they stop at "
        "task.module.max_new_tokens=16, the run's unless given; task.module.max_new_tokens=<n> "
        "changes it)"
    )
    # Other data (`evaluation` set) without the settings: the setting named, no number.
    dm.module_settings = None
    dm.evaluation = Evaluation("test", "choose another split")
    assert dm.cut_note(TARGETS, TEST_CUT) == (
        f"{CUT} {EVAL_WHY}; {LONGER} (generations do not follow it in lab.eval: they stop at "
        "task.module.max_new_tokens, the run's unless given; task.module.max_new_tokens=<n> "
        "changes it)"
    )


def test_lab_train_keeps_its_wording(compose_cfg: Any) -> None:
    """Training: `task.module.max_new_tokens` defaults to `data.max_target_length`, so a cut
    caps the score and the line says the length follows the setting."""
    dm = _datamodule(compose_cfg)
    counted = [("train", (3, 0), 10), *TEST_CUT]
    assert dm.cut_note(TARGETS, counted) == (
        "data.max_target_length=4 cuts 3 of 10 train targets and 24 of 24 test targets "
        "(the model learns their first 4 tokens only, and generations are scored against "
        f"the full references: the cut caps the score); {LONGER} (task.module.max_new_tokens "
        "follows it unless set)"
    )
    assert dm.cut_note(TARGETS, TEST_CUT) == (
        f"{CUT} (the loss reads their first 4 tokens; generations, at most "
        "task.module.max_new_tokens tokens, are scored against the full references: the cut "
        f"caps the score); {LONGER} (task.module.max_new_tokens follows it unless set)"
    )


# ----------------------------------------------------------------- M2: the translation prefix
@pytest.mark.parametrize(
    ("overrides", "prefix"),
    [
        ((), "translate English to Romanian: "),
        (("data.target_lang=de",), "translate English to German: "),
        (("data.source_lang=ro", "data.target_lang=en"), "translate Romanian to English: "),
        (("data.target_lang=de", "data.source_prefix='my prefix: '"), "my prefix: "),
        (("data.target_lang=de", "data.source_prefix=''"), ""),
    ],
)
def test_the_t5_prefix_follows_the_languages_unless_given(
    overrides: tuple[str, ...], prefix: str, compose_cfg: Any
) -> None:
    cfg = compose_cfg(*TINY, "data=wmt16_ro_en", *overrides)
    assert cfg.data.source_prefix == prefix
    # The run's config.yaml holds it resolved: what lab.predict, lab.serve and the card read.
    saved = OmegaConf.create(OmegaConf.to_yaml(cfg, resolve=True))
    assert saved.data.source_prefix == prefix


def test_language_names_and_codes_without_one() -> None:
    assert translate_prefix("en", "fr") == "translate English to French: "
    assert translate_prefix("DE", "pt-BR") == "translate German to Portuguese: "  # region tag
    # A code with no name is written as given (lab.config.languages: not refused).
    assert translate_prefix("en", "xx") == "translate English to xx: "
    assert translate_prefix("en", None) == ""  # not a language pair


def test_every_translation_data_config_builds_its_prefix_from_the_languages(
    compose_cfg: Any,
) -> None:
    """Every data config reading a `{language: text}` column (its `source_lang` set) names
    the languages the run reads, not those it was written for."""
    from lab.config.paths import conf_dir

    names = [
        path.stem
        for path in sorted((conf_dir() / "data").glob("*.yaml"))
        if OmegaConf.load(path).get("source_lang")
    ]
    assert "wmt16_ro_en" in names
    for name in names:
        cfg = compose_cfg(*TINY, f"data={name}", "data.source_lang=fr", "data.target_lang=de")
        assert cfg.data.source_prefix == "translate French to German: ", name


def test_predictor_and_card_use_the_prefix_of_the_languages(compose_cfg: Any) -> None:
    """`lab.predict` / `lab.serve` and the model card's code prepend the run's prefix: for
    `data.target_lang=de`, German's (the finding: the card said Romanian)."""
    from hydra.utils import instantiate

    from lab.tasks.seq2seq import Seq2SeqPredictor
    from lab.tasks.seq2seq_card import usage

    composed = compose_cfg(*TINY, "data=wmt16_ro_en", "data.target_lang=de")
    cfg = OmegaConf.create(OmegaConf.to_yaml(composed, resolve=True))  # as config.yaml holds it
    assert isinstance(cfg, DictConfig)
    predictor = Seq2SeqPredictor(None, instantiate(cfg.model.tokenizer), cfg)
    assert predictor.prefix == "translate English to German: "
    code, _ = usage(cfg)
    assert '["translate English to German: " + text]' in code
    assert "Romanian" not in code


# ----------------------------------------------------------------- M1 end to end (lab.eval)
def test_lab_eval_says_the_generation_length_of_its_own_and_other_settings(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A tiny run whose test targets are cut at 4 tokens: `lab.eval` of its own test split
    and with `data.max_target_length=2` says the run's `max_new_tokens` (4, resolved from
    the data setting at train time), and 3 where `task.module.max_new_tokens=3` is given."""
    import logging

    from lab.config import compose_train_config
    from lab.eval import main
    from lab.train import run

    from conftest import FIXTURES

    out = tmp_path / "run"
    overrides = [*TINY, "data=xsum", f"data.path={FIXTURES / 'summaries'}"]
    extra = ["data.max_target_length=4", "trainer.max_steps=1", "trainer.max_epochs=1"]
    run(compose_train_config([*overrides, *extra], output_dir=out))
    caplog.set_level(logging.WARNING)
    for args, setting, limit in (
        ((), "task.module.max_new_tokens=4", 4),
        (("data.max_target_length=2",), "task.module.max_new_tokens=4", 2),
        (("task.module.max_new_tokens=3",), "task.module.max_new_tokens=3", 4),
    ):
        caplog.clear()
        assert main([f"run={out}", *args, f"output={tmp_path / 'eval.json'}"]) == 0
        lines = [r.getMessage() for r in caplog.records if "cuts" in r.getMessage()]
        assert len(lines) == 1 and lines[0].startswith(f"data.max_target_length={limit} cuts ")
        assert lines[0].endswith(
            f"(generations do not follow it in lab.eval: they stop at {setting}, the run's "
            "unless given; task.module.max_new_tokens=<n> changes it)"
        ), lines[0]
