"""s30a's LLM findings: chat data given to DPO is pointed to SFT before any row is read (F1);
a prompt_completion row trains its completion only, as TRL does (F2); a null side of a
preference pair is named by its own column (F5); DPO says how many pairs had a reply cut at
`data.max_length` (F6)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lab.errors import DataError

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
