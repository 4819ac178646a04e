"""`data.pad_to_multiple_of`: every head's collator pads a batch to its longest row rounded up
to the multiple, never above the head's limit (`data.max_length`, or the padded column's
own), with the right padding values; `auto` rounds to 64 on a CUDA GPU only.

Rows are written by hand (ids in the tiny vocabularies), so each padded width is worked out
here: multiple 8 rounds 11 to 16, and a limit of 12 caps that 16 at 12.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from lab.data.padding import AUTO_MULTIPLE, Padding, PadToWidth, resolve_multiple
from lab.errors import ConfigError

ASSETS = Path(__file__).resolve().parent.parent / "src" / "lab" / "assets"
IGNORE = -100


def _tokenizer(name: str) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(ASSETS / name))


def _ids(n: int, start: int = 10) -> list[int]:
    return list(range(start, start + n))


# --------------------------------------------------------------------------- the rule
@pytest.mark.parametrize(
    ("multiple", "limit", "longest", "width"),
    [
        (None, 256, 59, 59),  # no rounding: the longest row
        (64, 256, 59, 64),
        (64, 256, 121, 128),
        (64, 256, 256, 256),
        (64, 100, 64, 64),  # already a multiple
        (64, 100, 70, 100),  # 128 would pass max_length: the limit instead
        (64, 100, 100, 100),
        (8, None, 13, 16),  # no limit: plain rounding
    ],
)
def test_width_rounds_up_but_never_past_the_limit(
    multiple: int | None, limit: int | None, longest: int, width: int
) -> None:
    assert Padding(multiple, limit).width(longest) == width


def test_resolve_multiple() -> None:
    assert resolve_multiple("auto", on_cuda=True) == AUTO_MULTIPLE == 64
    assert resolve_multiple("auto", on_cuda=False) is None
    assert resolve_multiple(None, on_cuda=True) is None
    assert resolve_multiple(1, on_cuda=True) is None  # a multiple of 1 rounds nothing
    assert resolve_multiple(8, on_cuda=False) == 8  # an explicit value holds on CPU too
    for bad in ("64", "always", 0, -8, True, 2.5):
        with pytest.raises(ConfigError, match=r"data\.pad_to_multiple_of="):
            resolve_multiple(bad, on_cuda=True)  # type: ignore[arg-type]


def test_a_bad_value_fails_the_config_check(compose_cfg: Any) -> None:
    from lab.config.rules import validate_config

    assert compose_cfg("model=tiny_bert").data.pad_to_multiple_of == "auto"  # the default
    validate_config(compose_cfg("model=tiny_bert", "data.pad_to_multiple_of=64"))
    validate_config(compose_cfg("model=tiny_bert", "data.pad_to_multiple_of=null"))
    with pytest.raises(ConfigError, match=r"data\.pad_to_multiple_of='sometimes': use a positive"):
        validate_config(compose_cfg("model=tiny_bert", "data.pad_to_multiple_of=sometimes"))


def test_auto_is_64_on_a_cuda_gpu_and_no_rounding_on_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers import DataCollatorWithPadding

    from lab.tasks.text_classification.data import TextClassificationDataModule

    data = TextClassificationDataModule(_tokenizer("tiny_bert"), max_length=128)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert data.padding(128) == Padding(64, 128)
    assert isinstance(data.collate_fn(), PadToWidth)
    rows = [{"input_ids": _ids(n), "attention_mask": [1] * n, "label": 0} for n in (3, 70)]
    assert data.collate_fn()(rows)["input_ids"].shape == (2, 128)
    # A Trainer attached decides by its own device: CPU training on a GPU machine rounds nothing.
    cpu = SimpleNamespace(strategy=SimpleNamespace(root_device=torch.device("cpu")))
    data.trainer = cpu  # type: ignore[assignment]
    assert data.padding(128) == Padding(None, 128)
    data.trainer = None
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert data.padding(128) == Padding(None, 128)
    # On CPU the collator is Hugging Face's own, as before the option existed.
    assert type(data.collate_fn()) is DataCollatorWithPadding
    assert data.collate_fn()(rows)["input_ids"].shape == (2, 70)


# --------------------------------------------------------------------------- each head
@pytest.mark.parametrize(("max_length", "width"), [(128, 16), (12, 12)])
def test_sequence_classification_batch(max_length: int, width: int) -> None:
    from lab.tasks.text_classification.data import TextClassificationDataModule

    tokenizer = _tokenizer("tiny_bert")
    data = TextClassificationDataModule(tokenizer, max_length=max_length, pad_to_multiple_of=8)
    rows = [
        {"input_ids": _ids(n), "token_type_ids": [0] * n, "attention_mask": [1] * n, "labels": y}
        for n, y in ((4, 1), (11, 0))
    ]
    batch = data.collate_fn()(rows)
    pad = tokenizer.pad_token_id
    assert batch["input_ids"].tolist() == [
        _ids(4) + [pad] * (width - 4),
        _ids(11) + [pad] * (width - 11),
    ]
    assert batch["attention_mask"].tolist() == [
        [1] * 4 + [0] * (width - 4),
        [1] * 11 + [0] * (width - 11),
    ]
    assert batch["token_type_ids"].tolist() == [[0] * width] * 2
    assert batch["labels"].tolist() == [1, 0]


def test_token_classification_labels_are_padded_with_ignore() -> None:
    from lab.tasks.token_classification import TokenClassificationDataModule

    tokenizer = _tokenizer("tiny_bert")
    data = TokenClassificationDataModule(tokenizer, max_length=128, pad_to_multiple_of=8)
    labels = [[IGNORE, 1, 2, IGNORE], [IGNORE, *range(9), IGNORE]]
    rows = [
        {"input_ids": _ids(len(tags)), "attention_mask": [1] * len(tags), "labels": tags}
        for tags in labels
    ]
    batch = data.collate_fn()(rows)
    assert batch["input_ids"].shape == (2, 16)  # longest 11, rounded to 16
    assert batch["labels"].tolist() == [tags + [IGNORE] * (16 - len(tags)) for tags in labels]
    assert batch["attention_mask"].sum(dim=1).tolist() == [4, 11]


def test_seq2seq_sources_and_labels_each_get_their_own_width() -> None:
    from lab.tasks.seq2seq_data import ROW_ID, Seq2SeqDataModule

    tokenizer = _tokenizer("tiny_bart")
    data = Seq2SeqDataModule(
        tokenizer, max_source_length=20, max_target_length=10, pad_to_multiple_of=8
    )
    sources, targets = [_ids(5), _ids(13)], [_ids(3, 50), _ids(9, 50)]
    rows = [
        {"input_ids": s, "attention_mask": [1] * len(s), "labels": t, ROW_ID: i}
        for i, (s, t) in enumerate(zip(sources, targets, strict=True))
    ]
    batch = data.collate_fn()(rows)
    pad = tokenizer.pad_token_id
    # Sources: longest 13 rounded to 16 (under max_source_length=20).
    assert batch["input_ids"].tolist() == [s + [pad] * (16 - len(s)) for s in sources]
    assert batch["attention_mask"].sum(dim=1).tolist() == [5, 13]
    # Labels: longest 9 would round to 16, past max_target_length=10: padded to 10, with IGNORE.
    assert batch["labels"].tolist() == [t + [IGNORE] * (10 - len(t)) for t in targets]
    assert batch[ROW_ID].tolist() == [0, 1]


def test_question_answering_windows_drop_metadata_and_round() -> None:
    from lab.tasks.question_answering.data import QuestionAnsweringDataModule

    tokenizer = _tokenizer("tiny_bert")
    data = QuestionAnsweringDataModule(
        tokenizer, max_length=64, doc_stride=16, pad_to_multiple_of=8
    )
    rows = [
        {
            "input_ids": _ids(n),
            "token_type_ids": [0] * n,
            "attention_mask": [1] * n,
            "start_positions": 1,
            "end_positions": 2,
            "example_id": "q",
            "offset_mapping": [None] * n,
        }
        for n in (30, 37)
    ]
    batch = data.collate_fn()(rows)
    assert set(batch) == {
        "input_ids",
        "token_type_ids",
        "attention_mask",
        "start_positions",
        "end_positions",
    }
    assert batch["input_ids"].shape == (2, 40)
    assert batch["attention_mask"].sum(dim=1).tolist() == [30, 37]


def test_multiple_choice_pairs_share_one_rounded_width() -> None:
    from lab.tasks.multiple_choice.data import MultipleChoiceDataModule

    tokenizer = _tokenizer("tiny_bert")
    data = MultipleChoiceDataModule(
        tokenizer, ending_columns=["a", "b"], max_length=24, pad_to_multiple_of=8
    )
    lengths = [[5, 7], [9, 3]]
    rows = [
        {
            "input_ids": [_ids(n) for n in pair],
            "attention_mask": [[1] * n for n in pair],
            "labels": label,
        }
        for label, pair in enumerate(lengths)
    ]
    batch = data.collate_fn()(rows)
    assert batch["input_ids"].shape == (2, 2, 16)  # longest pair 9, rounded to 16
    assert batch["attention_mask"].sum(dim=2).tolist() == lengths
    assert batch["input_ids"][1, 0].tolist() == _ids(9) + [tokenizer.pad_token_id] * 7
    assert batch["labels"].tolist() == [0, 1]


def test_sft_rows_labels_and_left_padded_prompts() -> None:
    from lab.tasks.sft.data import SFTDataModule

    tokenizer = _tokenizer("tiny_llama")
    data = SFTDataModule(tokenizer, max_length=12, pad_to_multiple_of=8)
    pad = int(tokenizer.pad_token_id)
    rows = [
        {
            "input_ids": _ids(n),
            "labels": [IGNORE] * 2 + _ids(n - 2),
            "prompt_input_ids": _ids(p, 30),
            "reference": "r",
            "row_id": i,
        }
        for i, (n, p) in enumerate(((5, 3), (11, 6)))
    ]
    batch = data.collate_fn()(rows)
    # Rows: longest 11 would round to 16, past max_length=12: padded to 12.
    assert batch["input_ids"].tolist() == [_ids(5) + [pad] * 7, [*_ids(11), pad]]
    assert batch["attention_mask"].sum(dim=1).tolist() == [5, 11]
    assert batch["labels"].tolist() == [
        [IGNORE] * 2 + _ids(3) + [IGNORE] * 7,
        [IGNORE] * 2 + _ids(9) + [IGNORE],
    ]
    # Prompts: longest 6, rounded to 8, padding on the left.
    assert batch["prompt_input_ids"].tolist() == [[pad] * 5 + _ids(3, 30), [pad] * 2 + _ids(6, 30)]
    assert batch["prompt_attention_mask"].tolist() == [[0] * 5 + [1] * 3, [0] * 2 + [1] * 6]


def test_sft_packed_rows_round_and_the_padding_restarts_its_positions() -> None:
    from lab.tasks.sft.data import SFTDataModule

    tokenizer = _tokenizer("tiny_llama")
    data = SFTDataModule(tokenizer, max_length=32, pad_to_multiple_of=8)
    rows = [
        {"input_ids": _ids(5), "labels": _ids(5), "position_ids": [0, 1, 2, 0, 1]},
        {"input_ids": _ids(3), "labels": _ids(3), "position_ids": [0, 1, 2]},
    ]
    batch = data.collate_fn()(rows)
    assert batch["input_ids"].shape == (2, 8)
    assert batch["position_ids"].tolist() == [[0, 1, 2, 0, 1, 0, 1, 2], [0, 1, 2, 0, 1, 2, 3, 4]]
    assert batch["labels"][:, 5:].eq(IGNORE).all() and batch["labels"][1, 3:].eq(IGNORE).all()


def test_dpo_pairs_and_reference_batches_round_alike() -> None:
    from datasets import Dataset

    from lab.tasks.dpo.data import INDEX, PreferenceDataModule

    tokenizer = _tokenizer("tiny_llama")
    data = PreferenceDataModule(tokenizer, max_length=20, pad_to_multiple_of=8, eval_batch_size=2)
    rows = [
        {
            "input_ids": [_ids(c), _ids(r)],
            "labels": [[IGNORE, *_ids(c - 1)], [IGNORE, *_ids(r - 1)]],
            INDEX: i,
        }
        for i, (c, r) in enumerate(((5, 7), (9, 4)))
    ]
    batch = data.collate_fn()(rows)
    assert batch["input_ids"].shape == (4, 16)  # chosen, chosen, rejected, rejected; 9 -> 16
    assert batch["attention_mask"].sum(dim=1).tolist() == [5, 9, 7, 4]
    assert batch["labels"][0].tolist() == [IGNORE] + _ids(4) + [IGNORE] * 11
    data.datasets["validation"] = Dataset.from_list(rows)
    (reference,) = data.ordered_batches("val")
    assert all(torch.equal(reference[k], batch[k]) for k in batch)


def test_masked_lm_blocks_round_and_masks_do_not_depend_on_the_width() -> None:
    from lab.tasks.masked_lm.data import MaskedLMDataModule, collate_blocks
    from lab.tasks.masked_lm.module import MaskedLMModule

    tokenizer = _tokenizer("tiny_bert")
    data = MaskedLMDataModule(tokenizer, block_size=12, pad_to_multiple_of=8)
    rows = [
        {"input_ids": _ids(n), "special_tokens_mask": [1] + [0] * (n - 2) + [1], "block": i}
        for i, n in enumerate((5, 7))
    ]
    batch = data.collate_fn()(rows)
    assert batch["input_ids"].shape == (2, 8)
    assert batch["special_tokens_mask"].tolist() == [
        [1, 0, 0, 0, 1, 1, 1, 1],  # padding counts as special: never a target
        [1, 0, 0, 0, 0, 0, 1, 1],
    ]
    assert batch["attention_mask"].sum(dim=1).tolist() == [5, 7]
    longer = [{**rows[0], "input_ids": _ids(11), "special_tokens_mask": [0] * 11}, rows[1]]
    assert data.collate_fn()(longer)["input_ids"].shape == (2, 12)  # 16 capped at block_size

    module = MaskedLMModule(
        torch.nn.Linear(1, 1),  # type: ignore[arg-type]
        optimizer=lambda params: torch.optim.SGD(params, lr=0.1),  # type: ignore[arg-type]
        mlm_probability=0.5,
        mask_token_id=4,
        vocab_size=100,
        seed=3,
    )
    plain = module.masked(collate_blocks(rows, tokenizer.pad_token_id), training=False)
    rounded = module.masked(batch, training=False)
    assert rounded["labels"].shape == (2, 8)
    assert torch.equal(rounded["labels"][:, :7], plain["labels"])
    assert torch.equal(rounded["input_ids"][:, :7], plain["input_ids"])
    assert rounded["labels"][:, 7:].eq(IGNORE).all()


def test_a_quoted_number_is_named_as_text() -> None:
    """`data.pad_to_multiple_of='8'` is a string: the message shows it quoted, not as the
    integer it asks for."""
    from lab.data.padding import multiple_problem

    assert multiple_problem("8") is not None
    assert multiple_problem("8").startswith("data.pad_to_multiple_of='8': use a positive integer")  # type: ignore[union-attr]
    assert multiple_problem(0).startswith("data.pad_to_multiple_of=0: use")  # type: ignore[union-attr]
