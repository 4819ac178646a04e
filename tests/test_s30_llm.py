"""s30a's LLM findings: chat data given to DPO is pointed to SFT before any row is read (F1);
a prompt_completion row trains its completion only, as TRL does (F2); a null side of a
preference pair is named by its own column (F5); DPO says how many pairs had a reply cut at
`data.max_length` (F6)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from lab.errors import DataError
from lab.tasks.dpo.pairs import make_pair
from lab.tasks.sft.chat import ChatError, completion_turns, render_chat, to_messages

ROOT = Path(__file__).resolve().parents[1]
TOKENIZER = ROOT / "src/lab/assets/tiny_llama"
TO_SFT = "these columns are chat data (data.format=messages): train them with SFT (data=chat)"


def _tokenizer() -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(TOKENIZER)


def _write(folder: Path, rows: list[dict[str, Any]], split: str = "train") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{split}.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def _turn(role: str, content: str) -> dict[str, str]:
    return {"role": role, "content": content}


# ------------------------------------------------------------------------------------ F1
def test_the_preflight_check_points_chat_data_given_to_dpo_to_sft(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """s30a F1: the pre-flight column check refused chat files given to data=preferences
    without the data module's hint; it now says what training says (one function: the hint
    the DPO head declares, `lab.tasks.dpo.columns.sft_hint`)."""
    from lab.build import build_datamodule
    from lab.config.rules import validate_config
    from lab.training.tokenizers import build_tokenizer

    chat = [_turn("user", "one two"), _turn("assistant", "1 2")]
    train = _write(tmp_path / "msgs", [{"messages": chat}] * 6)
    preferences = ["model=tiny_llama", "data=preferences", f"data.path={train.parent}"]
    with pytest.raises(DataError) as refused:
        validate_config(compose_cfg(*preferences))
    assert str(refused.value) == (
        f"{train}: columns 'chosen' (data.chosen_column), 'rejected' (data.rejected_column) are "
        f"not in the train split; columns present: messages; {TO_SFT}"
    )
    # The data module's own refusal (a Hub dataset, checked after loading) ends alike.
    cfg = compose_cfg(*preferences)
    with pytest.raises(DataError) as trained:
        build_datamodule(cfg, build_tokenizer(cfg)).setup("fit")
    assert str(trained.value).endswith(f"columns present: messages; {TO_SFT}")

    # TRL's prompt-completion columns: the format they fit is named.
    pc = _write(tmp_path / "pc", [{"prompt": "one", "completion": "1"}] * 6)
    with pytest.raises(DataError) as completion:
        validate_config(
            compose_cfg("model=tiny_llama", "data=preferences", f"data.path={pc.parent}")
        )
    assert str(completion.value).endswith(
        "columns present: prompt, completion; these columns are chat data "
        "(data.format=prompt_completion): train them with SFT (data=chat)"
    )
    # Columns that are no chat data get no hint.
    text = _write(tmp_path / "text", [{"text": "a", "label": 0}] * 6)
    with pytest.raises(DataError) as plain:
        validate_config(
            compose_cfg("model=tiny_llama", "data=preferences", f"data.path={text.parent}")
        )
    assert str(plain.value) == (
        f"{text}: columns 'chosen' (data.chosen_column), 'rejected' (data.rejected_column) are "
        "not in the train split; columns present: text, label"
    )


def test_chat_config_on_preference_pairs_still_names_dpo(compose_cfg: Any, tmp_path: Path) -> None:
    """The other way round (s30a: it worked, and still does): data=chat on pairs names DPO."""
    from lab.config.rules import validate_config

    pairs = _write(tmp_path / "pairs", [{"prompt": "p", "chosen": "A", "rejected": "b"}] * 6)
    with pytest.raises(DataError) as refused:
        validate_config(compose_cfg("model=tiny_llama", "data=chat", f"data.path={pairs.parent}"))
    assert str(refused.value).endswith(
        "; chosen and rejected are preference pairs: train them with DPO (data=preferences "
        "data.path=..., or data=ultrafeedback)"
    )


# ------------------------------------------------------------------------------------ F2
# check_pc_mask.py's row: a few-shot answer in the prompt, the completion after it.
FEW_SHOT = {
    "prompt": [
        _turn("user", "Digits for: two nine four"),
        _turn("assistant", "2 9 4"),
        _turn("user", "Digits for: seven eight six"),
    ],
    "completion": [_turn("assistant", "7 8 6")],
}


def _targets(tokenizer: Any, ids: list[int], flags: list[int]) -> str:
    return str(tokenizer.decode([i for i, keep in zip(ids, flags, strict=True) if keep]))


def test_a_prompt_completion_row_trains_its_completion_only() -> None:
    """s30a F2: the prompt's assistant turn was a target. TRL's completion mask (the tokens
    after the prompt rendered with its generation prompt), computed by hand here, is lab's."""
    tokenizer = _tokenizer()
    messages = to_messages(FEW_SHOT, "prompt_completion")
    assert completion_turns(FEW_SHOT, "prompt_completion") == 1
    ids, mask = render_chat(tokenizer, messages, completion_turns(FEW_SHOT, "prompt_completion"))
    prompt = tokenizer.apply_chat_template(
        FEW_SHOT["prompt"], tokenize=False, add_generation_prompt=True
    )
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    encoded = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    assert ids == encoded["input_ids"]
    hand = [int(start >= len(prompt)) for start, _ in encoded["offset_mapping"]]
    assert mask == hand
    assert _targets(tokenizer, ids, mask) == "7 8 6<|eot_id|>"
    # The same turns as `messages`: every assistant turn is trained, as documented.
    _, every = render_chat(tokenizer, messages, completion_turns(FEW_SHOT, "messages"))
    assert completion_turns({"messages": messages}, "messages") is None
    assert _targets(tokenizer, ids, every) == "2 9 4<|eot_id|>7 8 6<|eot_id|>"
    # Strings: one user turn, one assistant turn (a string completion is one message).
    assert completion_turns({"prompt": "a", "completion": "b"}, "prompt_completion") == 1


def test_the_sft_data_module_and_inspect_label_the_completion_only(tmp_path: Path) -> None:
    """Training's labels and lab.inspect's targets of such a row: the completion; with
    `train_on_prompt` every token but the first; after `history_cut` left out the oldest
    turn (the few-shot one), still the completion."""
    from datasets import Dataset

    from lab.tasks.sft.data import SFTDataModule
    from lab.tasks.sft.inspection import ChatRows
    from lab.tasks.sft.packing import IGNORE

    tokenizer = _tokenizer()
    folder = tmp_path / "pc"
    for split in ("train", "validation", "test"):
        _write(folder, [FEW_SHOT] * 4, split)

    def labels(**options: Any) -> tuple[list[int], list[int]]:
        datamodule = SFTDataModule(tokenizer, path=str(folder), batch_size=2, **options)
        datamodule.setup("fit")
        row = datamodule.datasets["train"][0]
        return row["input_ids"], row["labels"]

    ids, targets = labels()
    assert tokenizer.decode([t for t in targets if t != IGNORE]) == "7 8 6<|eot_id|>"
    ids, every = labels(train_on_prompt=True)
    assert every == [IGNORE, *ids[1:]]
    whole = len(ids)
    ids, cut = labels(history_cut="oldest_turns", max_length=whole - 5)
    assert len(ids) < whole - 5  # the few-shot turn left out
    assert tokenizer.decode([t for t in cut if t != IGNORE]) == "7 8 6<|eot_id|>"

    data = OmegaConf.create({"format": "auto", "max_length": 512})
    reader = ChatRows(data, tokenizer, Dataset.from_list([FEW_SHOT]))
    assert reader.targets_rule == (
        "the completion's assistant turns (task.module.train_on_prompt=false)"
    )
    _, parsed, _ = reader.read(FEW_SHOT)
    measured = reader.measure(parsed, "train")
    assert measured.targets is not None
    shown = [t for t in measured.targets.labels if t != IGNORE]
    assert tokenizer.decode(shown) == "7 8 6<|eot_id|>"


# ------------------------------------------------------------------------------------ F5
@pytest.mark.parametrize(
    ("row", "column", "found"),
    [
        ({"prompt": "p", "chosen": "A", "rejected": None}, "rejected", "null"),
        ({"prompt": "p", "chosen": None, "rejected": "b"}, "chosen", "null"),
        ({"prompt": "p", "chosen": "A", "rejected": 7}, "rejected", "int 7"),
    ],
)
def test_a_side_that_is_no_reply_is_named_by_its_own_column(
    row: dict[str, Any], column: str, found: str
) -> None:
    """s30a F5: a null rejected was blamed on column 'chosen'."""
    with pytest.raises(ChatError) as refused:
        make_pair(row["prompt"], row["chosen"], row["rejected"], chat=True)
    assert refused.value.column == column
    assert str(refused.value) == (
        f"{column} is {found}; a pair needs both chosen and rejected, as strings or as lists "
        "of {role, content} messages"
    )


def test_a_null_rejected_is_named_at_its_line_and_configured_column(tmp_path: Path) -> None:
    from lab.tasks.dpo.data import PreferenceDataModule

    rows: list[dict[str, Any]] = [
        {"prompt": f"p{i}", "chosen": "A", "worse": "b"} for i in range(8)
    ]
    rows[2]["worse"] = None
    train = _write(tmp_path / "d", rows)
    datamodule = PreferenceDataModule(
        _tokenizer(), path=str(train.parent), rejected_column="worse", seed=0
    )
    with pytest.raises(DataError) as refused:
        datamodule.setup("fit")
    assert str(refused.value) == (
        f"{train}:3 column 'worse': rejected is null; a pair needs both chosen and rejected, as "
        "strings or as lists of {role, content} messages"
    )


# ------------------------------------------------------------------------------------ F6
def test_dpo_says_how_many_pairs_had_a_reply_cut(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """s30a F6: replies cut at data.max_length were cut silently; SFT counts its truncated
    rows. The count is `lab.data.cut_counts`' line, in what a cut costs DPO; lab.inspect's
    `reply cut` fact is the same share of the rows it reads."""
    from datasets import Dataset

    from lab.tasks.dpo.data import PreferenceDataModule
    from lab.tasks.dpo.inspection import PairRows

    tokenizer = _tokenizer()
    rows = [{"prompt": f"say {i}", "chosen": "YES", "rejected": "no"} for i in range(10)]
    rows[3]["chosen"] = "A " * 200
    folder = tmp_path / "d"
    _write(folder, rows)
    _write(folder, rows[4:8], "validation")  # none cut: left out of the line
    _write(folder, rows[:4], "test")  # row 3 again: 1 of 4 test pairs cut

    def setup(max_length: int) -> PreferenceDataModule:
        datamodule = PreferenceDataModule(
            tokenizer, path=str(folder), max_length=max_length, seed=0
        )
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="lab.data.cut_counts"):
            datamodule.setup("fit")
        return datamodule

    datamodule = setup(64)
    lines = [r.getMessage() for r in caplog.records if "cuts" in r.getMessage()]
    assert lines == [
        "data.max_length=64 cuts 1 of 10 train pairs and 1 of 4 test pairs (a cut reply is "
        "scored on its first tokens only: its log-probability, and so its reward, is not the "
        "whole reply's); a longer data.max_length keeps them, up to the model's positions"
    ]
    assert "cut_inputs" not in datamodule.datasets["train"].column_names  # counted, then gone
    assert max(len(s) for row in datamodule.datasets["train"] for s in row["input_ids"]) == 64
    setup(512)
    assert not [r for r in caplog.records if "cuts" in r.getMessage()]  # nothing cut: no line

    data = OmegaConf.create(
        {"prompt_column": "prompt", "chosen_column": "chosen", "rejected_column": "rejected"}
    )
    data.max_length = 64
    reader = PairRows(data, tokenizer, Dataset.from_list(rows))
    facts = [reader.measure(reader.read(row)[1], "train").facts["reply cut"] for row in rows]
    assert facts == [i == 3 for i in range(10)]


# ------------------------------------------------------------------------------------ N8
def test_a_missing_train_split_names_the_splits_named_like_one(
    compose_cfg: Any, tmp_path: Path
) -> None:
    """s30c N8: UltraChat's Hub folder (train_sft, train_gen, ...) given to data=ultrafeedback
    (which reads train_prefs) named the splits present and no way on; the refusal now says how
    to read one as train, and that read meets the head's SFT hint."""
    from datasets import Dataset

    from lab.build import build_datamodule
    from lab.config.rules import validate_config
    from lab.training.tokenizers import build_tokenizer

    chat = {"prompt": "hi", "messages": [_turn("user", "hi"), _turn("assistant", "yo")]}
    (tmp_path / "data").mkdir()
    for split in ("train_sft", "test_sft", "train_gen", "test_gen"):
        Dataset.from_list([chat] * 4).to_parquet(tmp_path / f"data/{split}-00000-of-00001.parquet")
    base = ["model=tiny_llama", "data=ultrafeedback", f"data.path={tmp_path}"]
    cfg = compose_cfg(*base)
    expected = (
        "the dataset has no 'train_prefs' split; splits present: test_gen, test_sft, train_gen, "
        "train_sft; read one as train: data.splits.train=train_gen (or train_sft)"
    )
    # s31e N9: the split names are file names, so lab.validate refuses it too, in these words
    with pytest.raises(DataError) as validated:
        validate_config(cfg)
    assert str(validated.value) == expected
    with pytest.raises(DataError) as refused:
        build_datamodule(cfg, build_tokenizer(cfg)).setup("fit")
    assert str(refused.value) == expected
    with pytest.raises(DataError) as mapped:
        validate_config(compose_cfg(*base, "data.splits.train=train_sft"))
    assert str(mapped.value).endswith(f"columns present: prompt, messages; {TO_SFT}")
