"""Masked LM: BERT's masking statistics, whole words, masks fixed per validation row and seeded
per training batch, the loss against a hand cross-entropy, `task=masked_lm` on data configs of
other heads, and the two-step recipe (masked LM, then a classifier from its export)."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from lab.tasks.masked_lm.data import _numbered_words
from lab.tasks.masked_lm.masking import IGNORE, draw, mask_tokens, seeded_generator
from lab.tasks.masked_lm.module import MaskedLMModule

from conftest import FIXTURES

SENTIMENT = FIXTURES / "sentiment"
LM = FIXTURES / "lm"
CSV = (f"data.path={SENTIMENT}", "data.text_column=review", "data.label_column=sentiment")
MASK, VOCAB = 3, 1000


def _mask(ids: torch.Tensor, special: torch.Tensor, seed: int, **kw: Any) -> Any:
    draws = draw([seeded_generator(seed)], [ids.shape[1]] * len(ids), VOCAB)
    return mask_tokens(ids, special, 0.15, MASK, draws, **kw)


def test_masking_follows_berts_recipe() -> None:
    ids = torch.randint(10, VOCAB, (64, 512), generator=torch.Generator().manual_seed(0))
    special = torch.zeros_like(ids)
    special[:, 0] = special[:, -1] = 1  # [CLS] ... [SEP]
    masked, labels = _mask(ids, special, seed=1)
    targets = labels != IGNORE
    assert not targets[special == 1].any()  # special tokens are never targets
    assert torch.equal(labels[targets], ids[targets])  # labels are the original tokens
    assert torch.equal(masked[~targets], ids[~targets])  # non-targets are untouched
    share = targets.sum() / (special == 0).sum()
    assert float(share) == pytest.approx(0.15, abs=0.005)  # 32,640 tokens: sd 0.002
    n = int(targets.sum())
    to_mask = int((masked[targets] == MASK).sum()) / n
    kept = int((masked[targets] == ids[targets]).sum()) / n
    assert to_mask == pytest.approx(0.8, abs=0.015)
    assert kept == pytest.approx(0.1, abs=0.01)  # (a random token equal to the original: 1/1000)
    assert 1 - to_mask - kept == pytest.approx(0.1, abs=0.01)
    # Seeded: the same seed gives the same masks, another seed others.
    again, again_labels = _mask(ids, special, seed=1)
    assert torch.equal(again, masked) and torch.equal(again_labels, labels)
    assert not torch.equal(_mask(ids, special, seed=2)[1], labels)


def test_whole_word_masking_masks_every_piece_of_a_picked_word() -> None:
    # 2,000 words of 1 to 4 pieces in each of 8 rows (-1: a special token).
    lengths = torch.randint(1, 5, (8, 2000), generator=torch.Generator().manual_seed(0))
    rows = [
        torch.cat([torch.tensor([-1]), torch.arange(2000).repeat_interleave(r)]) for r in lengths
    ]
    width = max(len(r) for r in rows)
    word_ids = torch.stack(
        [torch.nn.functional.pad(r, (0, width - len(r)), value=-1) for r in rows]
    )
    special = (word_ids == -1).long()
    ids = torch.randint(10, VOCAB, word_ids.shape, generator=torch.Generator().manual_seed(1))
    _, labels = _mask(ids, special, seed=3, word_ids=word_ids)
    targets = labels != IGNORE
    for row in range(8):
        picked: dict[int, bool] = {}
        for word, target in zip(word_ids[row].tolist(), targets[row].tolist(), strict=True):
            if word >= 0:
                assert picked.setdefault(word, target) == target, f"word {word} split"
        share = sum(picked.values()) / len(picked)
        assert share == pytest.approx(0.15, abs=0.03)  # words, not tokens, are picked at p
    assert not targets[special == 1].any()


def test_words_are_numbered_across_rows_and_pair_texts(compose_cfg: Any) -> None:
    from hydra.utils import instantiate

    tokenizer = instantiate(compose_cfg("model=tiny_bert").model.tokenizer)
    encoded = tokenizer(["unbelievable movie"], ["second part"])
    tokens = encoded.tokens(0)
    numbers = _numbered_words(encoded.word_ids(0), encoded.sequence_ids(0), start=10)
    by_word: dict[int, str] = {}
    for token, number in zip(tokens, numbers, strict=True):
        if number >= 0:
            by_word[number] = by_word.get(number, "") + token.removeprefix("##")
    # The pair's words 0 and 1 are new words, not the first text's again.
    assert by_word == {10: "unbelievable", 11: "movie", 12: "second", 13: "part"}
    assert [n for t, n in zip(tokens, numbers, strict=True) if t in ("[CLS]", "[SEP]")] == [-1] * 3


def _datamodule(compose_cfg: Any, *overrides: str) -> Any:
    from hydra.utils import instantiate

    from lab.build import build_datamodule

    cfg = compose_cfg("task=masked_lm", "model=tiny_bert", *overrides)
    return cfg, build_datamodule(cfg, instantiate(cfg.model.tokenizer))


def test_any_data_config_gives_blocks_of_its_text(compose_cfg: Any) -> None:
    from lab.tasks.masked_lm.data import MaskedLMDataModule

    # A classification data config (labels ignored) and a causal-LM one (block_size).
    cfg, data = _datamodule(compose_cfg, "data=csv", *CSV, "data.max_length=16")
    assert isinstance(data, MaskedLMDataModule) and cfg.data.mlm_probability == 0.15
    with (SENTIMENT / "train.csv").open(newline="") as handle:
        texts = [row["review"] for row in csv.DictReader(handle)]
    tokens = sum(len(data.tokenizer(t)["input_ids"]) for t in texts)
    train = data.datasets["train"]
    # One tokenization batch: full blocks of 16, the tail kept.
    assert [len(r) for r in train["input_ids"]] == [16] * (tokens // 16) + [tokens % 16]
    validation = data.datasets["validation"]
    assert validation["block"] == list(range(len(validation)))
    _, lm = _datamodule(compose_cfg, "data=text", f"data.path={LM}", "data.block_size=32")
    assert set(len(r) for r in lm.datasets["train"]["input_ids"][:-1]) == {32}


def test_mlm_probability_is_a_data_key_with_a_range(compose_cfg: Any) -> None:
    from lab.config.rules import validate_config
    from lab.errors import ConfigError

    cfg = compose_cfg("task=masked_lm", "data=imdb", "data.mlm_probability=0.3")
    assert cfg.data.mlm_probability == 0.3 and cfg.data.whole_word_mask is False
    with pytest.raises(ConfigError, match=r"data\.mlm_probability=1\.5 is out of range"):
        validate_config(compose_cfg("task=masked_lm", "data=imdb", "data.mlm_probability=1.5"))


def _module(cfg: Any, data: Any) -> MaskedLMModule:
    from lab.build import build_model, build_module

    torch.manual_seed(0)
    module = build_module(cfg, build_model(cfg, data, data.tokenizer), data)
    assert isinstance(module, MaskedLMModule)
    return module.eval()


def test_validation_masks_are_fixed_per_block_and_the_loss_is_hand_cross_entropy(
    compose_cfg: Any,
) -> None:
    cfg, data = _datamodule(
        compose_cfg,
        "data=csv",
        *CSV,
        "data.max_length=16",
        "data.eval_batch_size=3",
        "data.whole_word_mask=true",
    )
    module = _module(cfg, data)
    collate = data.collate_fn()
    rows = [data.datasets["validation"][i] for i in range(len(data.datasets["validation"]))]
    together = module.masked(collate(rows), training=False)
    for index, row in enumerate(rows):  # alone, in another batch: the same masks
        alone = module.masked(collate([row]), training=False)
        width = alone["labels"].shape[1]
        assert torch.equal(alone["labels"][0], together["labels"][index, :width])
    # The split's loss: cross-entropy over every target token of every batch (not a mean of
    # batch means), and perplexity its exponential.
    logits, labels = [], []
    with torch.no_grad():
        for batch in data.val_dataloader():
            module.evaluation_step(batch, "val")
            inputs = module.masked(batch, training=False)
            targets = inputs["labels"] != IGNORE
            logits.append(module.model(**inputs).logits[targets])
            labels.append(inputs["labels"][targets])
        metrics = module.evaluation_metrics("val")
        hand = torch.nn.functional.cross_entropy(torch.cat(logits), torch.cat(labels))
    assert float(metrics["val/loss"]) == pytest.approx(float(hand), rel=1e-5)
    assert float(metrics["val/perplexity"]) == pytest.approx(math.exp(float(hand)), rel=1e-5)


def test_a_split_whose_fixed_masks_pick_nothing_is_a_data_error_not_a_nan(
    compose_cfg: Any,
) -> None:
    """A validation split too short for any mask (s33e F1: val/loss nan, then "training
    diverged ... lower optimizer.lr", exit 0): a data error naming the split and the setting;
    Lightning's sanity check, which sees 2 batches of the split, only gets nan."""
    from types import SimpleNamespace

    from lab.errors import DataError

    cfg, data = _datamodule(compose_cfg, "data=csv", *CSV, "data.max_length=16")
    module = _module(cfg, data)
    module.mlm_probability = 1e-9  # no token of any row is picked
    for sanity in (True, False):
        module._trainer = SimpleNamespace(sanity_checking=sanity)  # type: ignore[assignment]
        with torch.no_grad():
            for batch in data.val_dataloader():
                module.evaluation_step(batch, "val")
        if sanity:
            values = module.evaluation_metrics("val")
            assert set(values) == {"val/loss", "val/perplexity", "val/accuracy"}
            assert all(math.isnan(float(v)) for v in values.values())
            continue
        with pytest.raises(DataError) as caught:
            module.evaluation_metrics("val")
    assert str(caught.value) == (
        "the validation split's fixed masks picked no token to score (its rows are too short "
        "for data.mlm_probability=1e-09): its loss and perplexity would be nan; give the "
        "validation split more text"
    )


def test_training_masks_are_seeded_per_batch_and_survive_a_checkpoint(compose_cfg: Any) -> None:
    cfg, data = _datamodule(compose_cfg, "data=csv", *CSV, "data.max_length=16")
    batch = next(iter(data.train_dataloader()))
    first, second = _module(cfg, data), _module(cfg, data)
    draws = [first.masked(batch, training=True)["labels"] for _ in range(3)]
    assert not torch.equal(draws[0], draws[1])  # dynamic: each batch masked anew
    assert torch.equal(second.masked(batch, training=True)["labels"], draws[0])  # same seed
    checkpoint: dict[str, Any] = {}
    first.on_save_checkpoint(checkpoint)
    assert checkpoint["masked_lm_batches_masked"] == 3
    resumed = _module(cfg, data)
    resumed.on_load_checkpoint({"masked_lm_batches_masked": 2})  # continues the sequence
    assert torch.equal(resumed.masked(batch, training=True)["labels"], draws[2])


@pytest.mark.slow
def test_a_classifier_starts_from_the_masked_lm_export(compose_cfg: Any, tmp_path: Path) -> None:
    """The recipe: masked LM on the data's text, then `model.pretrained=<run>/model`."""
    from hydra.utils import instantiate
    from transformers import AutoModelForMaskedLM

    from lab.build import build_datamodule, build_model
    from lab.inference.predictors import predict_rows, predictor_for
    from lab.run_dir.runs import open_run
    from lab.train import run

    mlm_dir = tmp_path / "mlm"
    mlm = compose_cfg(
        "task=masked_lm",
        "model=tiny_bert",
        "data=csv",
        *CSV,
        "data.max_length=32",
        "data.batch_size=4",
        "trainer.max_epochs=2",
        "optimizer.lr=1e-3",
        output_dir=mlm_dir,
    )
    metrics = run(mlm)
    assert metrics["test/perplexity"] == pytest.approx(math.exp(metrics["test/loss"]), rel=1e-4)
    assert 0.0 <= metrics["test/accuracy"] <= 1.0
    exported = AutoModelForMaskedLM.from_pretrained(mlm_dir / "model")
    # Step 2 at step 0: the classifier's encoder is the masked LM's, weight for weight.
    cls = compose_cfg("model=bert", f"model.pretrained={mlm_dir / 'model'}", "data=csv", *CSV)
    tokenizer = instantiate(cls.model.tokenizer)
    classifier = build_model(cls, build_datamodule(cls, tokenizer), tokenizer)
    encoder = classifier.bert.state_dict()
    mlm_encoder = exported.bert.state_dict()
    assert mlm_encoder and set(mlm_encoder) <= set(encoder)
    for name, tensor in mlm_encoder.items():
        assert torch.equal(encoder[name], tensor), name
    # The export serves fill-mask.
    predictor = predictor_for(open_run(mlm_dir), device="cpu")
    result = predict_rows(predictor, [{"text": "a [MASK] film"}, {"text": "no mask"}])
    assert len(result[0]["predictions"]) == 1 and len(result[0]["predictions"][0]) == 5
    assert "no mask token" in result[1]["error"]
    # lab.eval: the export on the run's test split gives the recorded numbers (fixed masks),
    # and other data is composed with the run's own task, not the data's default head.
    from lab.eval import evaluate, evaluation_config

    trained = open_run(mlm_dir)
    again, _ = evaluate(trained, evaluation_config(trained, [], None))
    assert again["test/loss"] == pytest.approx(metrics["test/loss"], rel=1e-5)
    (mlm_dir / "overrides.yaml").write_text("- task=masked_lm\n- data=csv\n")  # as the CLI writes
    other = evaluation_config(trained, ["data=csv", *CSV, "data.max_length=32"], None)
    assert other.task.head == mlm.task.head
    assert other.data.mlm_probability == pytest.approx(0.15)


# --------------------------------------------------------------------------- package layout
def test_old_dotted_names_of_the_single_file_head_still_resolve() -> None:
    """Run directories written before the package name the classes by their old paths in
    config.yaml; `lab.eval` and `lab.train run=...` instantiate them by those names."""
    from hydra.utils import get_class, get_method

    import lab.tasks.masked_lm as package
    from lab.tasks.masked_lm import data, masking, module, predictor

    old = "lab.tasks.masked_lm."
    assert get_class(old + "MaskedLMDataModule") is data.MaskedLMDataModule
    assert get_class(old + "MaskedLMModule") is module.MaskedLMModule
    assert get_class(old + "FillMaskPredictor") is predictor.FillMaskPredictor
    assert get_method(old + "collate_blocks") is data.collate_blocks
    assert package.mask_tokens is masking.mask_tokens and package.IGNORE == -100
    assert {"MaskedLMModule", "seeded_generator", "draw"} <= set(dir(package))
    with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
        package.NoSuchThing  # noqa: B018


def test_guesses_are_tokens_of_the_tokenizer_only(compose_cfg: Any) -> None:
    """tiny_bert's embedding table has more rows than its tokenizer has tokens: a row that
    names no token would be a `null` guess and vanish from `filled_text`."""
    from hydra.utils import instantiate

    from lab.tasks.masked_lm.predictor import FillMaskPredictor

    cfg = compose_cfg("task=masked_lm", "model=tiny_bert", "data=text")
    tokenizer = instantiate(cfg.model.tokenizer)
    model = instantiate(cfg.model.network)(head=cfg.task.head).eval()
    assert model.config.vocab_size > len(tokenizer)
    with torch.no_grad():  # the untrained head's favourite rows: all beyond the tokenizer
        model.get_output_embeddings().bias[len(tokenizer) :] = 100.0
    predictor = FillMaskPredictor(model, tokenizer, cfg, top_k=3)
    mask = tokenizer.mask_token
    (result,) = predictor.predict([{"text": f"the {mask} {mask} river"}])
    assert len(result["predictions"]) == 2
    for guesses in result["predictions"]:
        assert len(guesses) == 3 and all(g["token"] in tokenizer.get_vocab() for g in guesses)
    filled = tokenizer.convert_tokens_to_ids([g[0]["token"] for g in result["predictions"]])
    assert all(i < len(tokenizer) for i in filled)


def test_filled_text_changes_the_masks_only_and_long_texts_are_refused(compose_cfg: Any) -> None:
    """`filled_text` was the decoded sequence: an unknown character ('.' in the tiny
    vocabulary) vanished and an uncased vocabulary lower-cased the rest. And masks past the
    model's length got no guess, without a word (600 masks in, 510 out)."""
    from hydra.utils import instantiate

    from lab.tasks.masked_lm.predictor import FillMaskPredictor

    cfg = compose_cfg("task=masked_lm", "model=tiny_bert", "data=text")
    tokenizer = instantiate(cfg.model.tokenizer)
    model = instantiate(cfg.model.network)(head=cfg.task.head).eval()
    predictor = FillMaskPredictor(model, tokenizer, cfg, top_k=2)
    mask = tokenizer.mask_token
    text = f"The OLD man talked to the {mask} tree every day… {mask}!"
    assert predictor.check({"text": text}) is None
    (result,) = predictor.predict([{"text": text}])
    # Both masks follow a space: a guess reads as its word (a "##" piece as its token).
    guessed = [(g[0]["token"], predictor.token_text(g[0]["token"])) for g in result["predictions"]]
    first = [text.lstrip() if text[:1].isspace() else token for token, text in guessed]
    assert result["filled_text"] == (
        f"The OLD man talked to the {first[0]} tree every day… {first[1]}!"
    )
    predictor.max_length = 16  # the model's positions, made short
    long = " ".join([f"word {mask}"] * 12)  # 24 words: masks past 16 tokens
    problem = predictor.check({"text": long})
    assert problem is not None and problem.startswith("field 'text' has 12 masks, ")
    assert problem.endswith("past the 16 tokens the model reads at once: shorten or split the text")


@pytest.mark.parametrize(
    ("model", "text", "tokens", "filled"),
    [
        # WordPiece: a continuation piece joins the word before it, without its "##" (it
        # was written as "in##ft"); a word's first token keeps the text's own spacing; a
        # continuation where a word starts is shown as the token, marks and all (s21e L4).
        ("tiny_bert", "in{m} the {m}", ["##ft", "is"], "inft the is"),
        ("tiny_bert", "{m} is {m}.", ["the", "##ort"], "the is ##ort."),
        ("tiny_bert", "{m} is", ["##ort"], "##ort is"),
        # Byte-level BPE: "Ġexp" is " exp" after a word, "exp" after a space or at the start.
        ("tiny_bart", "{m} and{m} or {m}", ["Ġexp", "Ġqu", "arden"], "exp and qu or arden"),
        ("tiny_bart", "g{m}", ["arden"], "garden"),
    ],
)
def test_filled_text_reads_each_guess_as_text(
    compose_cfg: Any, model: str, text: str, tokens: list[str], filled: str
) -> None:
    """A guess is a token; `filled_text` puts in its text as a decoder joins it to what comes
    before, whatever the tokenizer's family marks pieces with."""
    from hydra.utils import instantiate

    from lab.tasks.masked_lm.predictor import FillMaskPredictor

    cfg = compose_cfg("task=masked_lm", f"model={model}", "data=text")
    tokenizer = instantiate(cfg.model.tokenizer)
    assert all(token in tokenizer.get_vocab() for token in tokens)
    predictor = FillMaskPredictor(torch.nn.Linear(1, 1), tokenizer, cfg)
    assert predictor.fill(text.format(m=tokenizer.mask_token), tokens) == filled


def test_a_csv_of_text_alone_needs_no_label_setting(compose_cfg: Any, tmp_path: Path) -> None:
    """Masked LM reads no labels: a CSV without a label column was refused by the config
    check, naming the missing 'label' without the way out."""
    from lab.config.rules import validate_config

    notes = tmp_path / "notes.csv"
    notes.write_text("text\nthe old man talked to the tree\nthe river is long\n")
    cfg = compose_cfg("task=masked_lm", "model=tiny_bert", "data=csv", f"data.path={notes}")
    assert cfg.data.label_column is None
    validate_config(cfg)  # no DataError about 'label'
    labelled = compose_cfg("data=csv", f"data.path={notes}")  # classification still needs it
    assert labelled.data.label_column == "label"


def test_the_model_card_tags_have_no_none(compose_cfg: Any) -> None:
    """The head has no peft task type (null): the card's tags read `[lab]`, not `[lab, None]`."""
    from lab.run_dir.model_card import model_card

    cfg = compose_cfg("task=masked_lm", "model=tiny_bert", "data=text")
    card = model_card(cfg, {"command": "python -m lab.train task=masked_lm"}, {"test/loss": 1.0})
    assert "\ntags: [lab]\n" in card and "pipeline_tag: fill-mask" in card
    classifier = model_card(compose_cfg("model=tiny_bert"), {}, {"test/acc": 1.0})
    # peft's task type (SEQ_CLS) is no Hub tag: the Hub task is the pipeline tag's.
    assert "\ntags: [lab]\n" in classifier and "pipeline_tag: text-classification" in classifier
