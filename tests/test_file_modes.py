"""An export's files get the modes the user's umask gives any new file: transformers 5 writes
`model.safetensors` 0600, so teammates could read a run's config and tokenizer but not its
weights."""

from __future__ import annotations

import os
import stat
from importlib.resources import files
from pathlib import Path

from lab.run_dir.file_modes import share_like_umask


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_an_exported_models_weights_are_as_readable_as_its_other_files(tmp_path: Path) -> None:
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from lab.tasks.base import TaskModule

    config = BertConfig(
        vocab_size=2048, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=16,
    )  # fmt: skip
    module = TaskModule(BertForSequenceClassification(config), optimizer=None)  # type: ignore[arg-type]
    tokenizer = AutoTokenizer.from_pretrained(str(files("lab") / "assets" / "tiny_bert"))
    saved = os.umask(0o022)
    try:
        directory = module.export(tmp_path / "model", tokenizer)
    finally:
        os.umask(saved)
    modes = {path.name: _mode(path) for path in directory.iterdir()}
    assert modes["model.safetensors"] == modes["config.json"] == 0o644, modes
    assert _mode(directory) == 0o755


def test_nothing_is_made_stricter(tmp_path: Path) -> None:
    wide = tmp_path / "wide.txt"
    wide.write_text("x")
    wide.chmod(0o777)
    narrow = tmp_path / "narrow.txt"
    narrow.write_text("x")
    narrow.chmod(0o600)
    saved = os.umask(0o027)
    try:
        share_like_umask(tmp_path)
    finally:
        os.umask(saved)
    assert _mode(wide) == 0o777  # kept
    assert _mode(narrow) == 0o640  # 0o666 & ~0o027
