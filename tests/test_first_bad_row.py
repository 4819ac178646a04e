"""A row error names the first bad line of its file, though validation and test were carved
from it (a seeded shuffle) and the splits are checked one after another."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from lab.errors import DataError
from lab.training.tokenizers import build_tokenizer

from conftest import FIXTURES

ROOT = Path(__file__).resolve().parent.parent
CHATS = FIXTURES / "sft_task" / "train.jsonl"  # 480 two- and four-turn chats


def _sft(path: Path, **options: Any) -> Any:
    from lab.tasks.sft.data import SFTDataModule

    cfg = OmegaConf.create({"model": OmegaConf.load(ROOT / "conf/model/tiny_llama.yaml")})
    cfg.model.tokenizer.pretrained_model_name_or_path = str(ROOT / "src/lab/assets/tiny_llama")
    options = {"val_fraction": 0.2, "test_fraction": 0.2, "batch_size": 4, **options}
    datamodule = SFTDataModule(build_tokenizer(cfg), path=str(path), **options)
    datamodule.setup("fit")
    return datamodule


def _chats_with_bad_lines(path: Path, bad_lines: set[int] | None, count: int = 60) -> Path:
    """`count` chats of the fixture, the user role written `prompter` (an unknown role) on
    `bad_lines` (1-based; None: every line)."""
    rows = [json.loads(line) for line in CHATS.read_text().splitlines()[:count]]
    for number, row in enumerate(rows, start=1):
        if bad_lines is None or number in bad_lines:
            row["messages"][0]["role"] = "prompter"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.mark.parametrize(
    ("bad_lines", "named"),
    [(None, 1), ({5}, 5), ({5, 11, 23, 37, 52}, 5), ({44, 58}, 44)],
    ids=["every_line", "line_5", "five_lines", "late_lines"],
)
def test_a_chat_file_is_named_at_its_first_bad_line(
    tmp_path: Path, bad_lines: set[int] | None, named: int
) -> None:
    path = _chats_with_bad_lines(tmp_path / "train.jsonl", bad_lines)
    with pytest.raises(DataError) as caught:
        _sft(path)
    assert str(caught.value) == (
        f"{path}:{named} column 'messages': message 0 has unknown role 'prompter'; "
        "roles: system, user, assistant"
    )


def test_a_subsampled_split_is_named_at_its_first_bad_line(tmp_path: Path) -> None:
    """`max_train_samples` shuffles the rows kept; a line left out is not named."""
    path = _chats_with_bad_lines(tmp_path / "train.jsonl", None)
    with pytest.raises(DataError, match=rf"{path}:1 column 'messages'"):
        _sft(path, max_train_samples=30)


def test_a_csv_check_names_the_first_bad_data_line(compose_cfg: Any, tmp_path: Path) -> None:
    """The same for a check made before tokenizing (an empty text cell), with the header
    counted as line 1."""
    from lab.build import build_datamodule

    lines = ["text,label"]
    for row in range(80):
        text = "" if row in (9, 30, 61, 77) else f"review number {row}"
        lines.append(f"{text},{row % 2}")
    path = tmp_path / "reviews.csv"
    path.write_text("\n".join(lines) + "\n")
    cfg = compose_cfg(
        "model=tiny_bert",
        "data=csv",
        f"data.path={path}",
        "data.text_column=text",
        "data.label_column=label",
    )
    with pytest.raises(DataError) as caught:
        build_datamodule(cfg, build_tokenizer(cfg)).setup("fit")
    assert str(caught.value) == f"{path}:11 column 'text': the cell is empty"


def test_empty_or_blank_texts_are_kept_and_said_once_per_split(
    compose_cfg: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A JSON `""` or `"   "` is text (a null is refused above): the rows are kept, and one
    warning per split names the first and the count."""
    import json
    import logging

    from lab.build import build_datamodule

    rows = [{"text": f"review number {i}", "label": i % 2} for i in range(40)]
    rows[6]["text"], rows[20]["text"], rows[30]["text"] = "", "  \t ", "\u00a0"
    path = tmp_path / "reviews.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    cfg = compose_cfg(
        "model=tiny_bert",
        "data=json",
        f"data.path={path}",
        "data.text_column=text",
        "data.label_column=label",
        "data.splits={train: train, validation: train, test: train}",
    )
    with caplog.at_level(logging.WARNING, logger="lab.tasks.text_classification.text_column"):
        datamodule = build_datamodule(cfg, build_tokenizer(cfg))
        datamodule.setup("fit")
    said = [r.getMessage() for r in caplog.records if "empty or only whitespace" in r.getMessage()]
    assert said[0] == (
        f"{path}:7 column 'text': the text is empty or only whitespace (3 rows of the train "
        "split, this the first); kept as empty inputs"
    )
    assert len(datamodule.datasets["train"]) == 40  # nothing dropped
