"""Local copies of Hub datasets as users end up with them, refused in words that say what
happened: a repository cloned without Git LFS (pointer files in place of the data) and a
split file of zero rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lab.errors import DataError

POINTER = (
    "version https://git-lfs.github.com/spec/v1\n"
    "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
    "size 3471\n"
)
ROWS = [{"sentence": f"a fine film {i}", "label": i % 2} for i in range(12)]


def _parquet(path: Path, rows: list[dict[str, Any]]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    schema = pa.schema([("sentence", pa.string()), ("label", pa.int64())])
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    return path


def _load(path: Path) -> Any:
    from lab.data.sources import load_local

    return load_local(str(path))


def test_a_git_lfs_pointer_is_named_as_one(tmp_path: Path) -> None:
    """Every data file of a clone without Git LFS is a 3-line pointer: training and the
    config rules (lab.validate) say so, with the two ways to get the data."""
    from lab.config.data_rules import peek_columns

    pointer = tmp_path / "data" / "train-00000-of-00001.parquet"
    pointer.parent.mkdir(parents=True)
    pointer.write_text(POINTER)
    expected = (
        f"{pointer} is a Git LFS pointer, not the data (the repository was cloned without Git "
        "LFS): run `git lfs install && git lfs pull` in the clone, or download the dataset with "
        "`hf download <repo id> --repo-type dataset --local-dir <dir>`"
    )
    for read in (_load, peek_columns):
        with pytest.raises(DataError) as refused:
            read(pointer if read is peek_columns else tmp_path)
        assert str(refused.value) == expected
    jsonl = tmp_path / "json" / "train.jsonl"  # a text format, too
    jsonl.parent.mkdir()
    jsonl.write_text(POINTER)
    with pytest.raises(DataError, match=r"train\.jsonl is a Git LFS pointer, not the data"):
        _load(jsonl.parent)


def test_a_parquet_split_of_zero_rows_is_named(tmp_path: Path) -> None:
    _parquet(tmp_path / "data" / "train-00000-of-00001.parquet", ROWS)
    empty = _parquet(tmp_path / "data" / "validation-00000-of-00001.parquet", [])
    with pytest.raises(DataError) as refused:
        _load(tmp_path)
    assert str(refused.value) == f"{empty} has no rows"
    with pytest.raises(DataError) as alone:
        _load(empty)
    assert str(alone.value) == f"{empty} has no rows"


def test_a_semicolon_separated_csv_is_named_as_one(compose_cfg: Any, tmp_path: Path) -> None:
    """A European spreadsheet's CSV (`text;label`): lab reads commas, so the header is one
    column; lab.train's config rules (a missing column; lab.inspect applies them first too)
    and its data module (a row of more cells, where a text holds a comma) both say what the
    file is and how to convert it."""
    from lab.build import build_datamodule
    from lab.config.rules import validate_config
    from lab.data.inspection import inspect_data
    from lab.training.tokenizers import build_tokenizer

    rows = "".join(f"a fine film {i};{i % 2}\n" for i in range(12))
    data = tmp_path / "semi.csv"
    data.write_text("text;label\n" + rows + "good, really good;1\n")
    advice = (
        "the header 'text;label' looks ';'-separated: lab reads .csv files as comma-separated "
        "and .tsv as tab-separated; save it with commas, e.g. pandas.read_csv(path, "
        "sep=';').to_csv(new_path, index=False)"
    )
    cfg = compose_cfg("model=tiny_bert", "data=csv", f"data.path={data}")
    with pytest.raises(DataError) as rules:
        validate_config(cfg)
    assert str(rules.value).endswith(f"columns present: text;label; {advice}")
    with pytest.raises(DataError) as reading:
        build_datamodule(cfg, build_tokenizer(cfg))
    assert str(reading.value) == f"{data}:14: 2 cells but the header has 1 ({advice})"
    with pytest.raises(DataError) as inspected:  # lab.train's first words, as lab.train
        inspect_data(cfg, build_tokenizer(cfg))
    assert str(inspected.value) == str(rules.value)
