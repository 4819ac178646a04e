"""`data.csv_quoting` from the config to every reader of local CSV/TSV files: the data module
(rows named by their line as the file was read), the config check of its value, streaming and
`lab.inspect` (`lab.data.csv_quotes`)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from lab.data.origins import csv_record_lines
from lab.errors import ConfigError, DataError
from lab.tasks.text_classification.data import TextClassificationDataModule


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    from transformers import AutoTokenizer

    from lab.config.paths import package_path

    return AutoTokenizer.from_pretrained(package_path("lab", "assets/tiny_bert"))


def _glue_tsv(path: Path, labels: dict[int, int] | None = None) -> Path:
    """60 rows of `sentence<TAB>label` without CSV quoting; rows 5 and 20 (lines 7 and 22)
    start with a quote character, and under CSV quoting merge lines 7-22 into one row."""
    lines = ["sentence\tlabel"]
    for row in range(60):
        text = f"plain sentence {row}"
        if row in (5, 20):
            text = f'" quoted start {row}'
        lines.append(f"{text}\t{(labels or {}).get(row, row % 2)}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_data_module_reads_quotes_as_text_and_names_lines_as_read(
    tokenizer: Any, tmp_path: Path
) -> None:
    data = _glue_tsv(tmp_path / "train.tsv", labels={40: 7})  # row 40: line 42
    module = TextClassificationDataModule(
        tokenizer, path=str(data), text_column="sentence", num_labels=2, csv_quoting="none"
    )
    with pytest.raises(DataError) as caught:
        module.setup()
    # Under CSV quoting the reader's count of records (45) disagrees with the loader's (60):
    # the row would be named "data row 41 (1-based, header not counted)".
    assert str(caught.value).startswith(f"{data}:42 column 'label': label 7 is outside")
    assert csv_record_lines(str(data), "\t", csv.QUOTE_NONE) == list(range(2, 62))

    clean = _glue_tsv(tmp_path / "clean.tsv")
    module = TextClassificationDataModule(
        tokenizer, path=str(clean), text_column="sentence", num_labels=2, csv_quoting="none"
    )
    module.setup()
    assert sum(len(module.datasets[s]) for s in ("train", "validation", "test")) == 60


def test_a_value_other_than_csv_or_none_is_refused_before_anything_loads(
    compose_cfg: Any, tmp_path: Path
) -> None:
    from lab.config.choices import check_choices

    data = _glue_tsv(tmp_path / "train.tsv")
    cfg = compose_cfg("data=sst2", f"data.path={data}", "data.csv_quoting=nope")
    with pytest.raises(ConfigError) as caught:
        check_choices(cfg)
    assert str(caught.value) == (
        "data.csv_quoting=nope is not valid; valid: csv, none (csv: cells quoted as CSV "
        "writers quote them; none: quotes are text, one row per line); did you mean "
        "data.csv_quoting=none?"
    )
    assert compose_cfg("data=sst2").data.csv_quoting == "csv"  # the default


def test_streaming_reads_csv_files_as_the_loader_does(tmp_path: Path) -> None:
    from lab.data.sources import Source
    from lab.data.streaming import open_splits

    data = _glue_tsv(tmp_path / "train.tsv")
    splits, origins = open_splits(Source(path=str(data), csv_quoting="none"))
    rows = list(splits["train"])
    assert len(rows) == 60
    assert rows[5]["sentence"] == '" quoted start 5'
    assert origins["train"].locate(40) == f"{data}:42"

    words = tmp_path / "words.csv"
    words.write_text("text,label\nNA,0\nnull,1\n,0\n")
    splits, _ = open_splits(Source(path=str(words)))
    assert [row["text"] for row in splits["train"]] == ["NA", "null", None]


def test_lab_inspect_reads_by_the_setting(compose_cfg: Any, tmp_path: Path) -> None:
    from lab.data.inspection import load_splits

    data = _glue_tsv(tmp_path / "train.tsv")
    cfg = compose_cfg("data=sst2", f"data.path={data}", "data.csv_quoting=none")
    splits, _ = load_splits(cfg.data)
    assert sum(len(split) for split in splits.values()) == 60
    cfg = compose_cfg("data=sst2", f"data.path={data}")
    with pytest.raises(DataError, match=r"train\.tsv:7: a quote .* data\.csv_quoting=none"):
        load_splits(cfg.data)
