"""`lab.predict`'s input reading: Parquet rows streamed a row group at a time and numbered
from 1, and an unreadable Parquet file refused before any model loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.errors import DataError
from lab.inference.rows import count_rows, open_input, read_rows, row_place


def test_parquet_rows_are_read_in_order_and_numbered_from_one(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "in.parquet"
    texts = [f"review {i}" for i in range(2500)]  # several reading batches of 1024
    pq.write_table(pa.table({"text": texts, "id": list(range(2500))}), path, row_group_size=700)
    assert open_input(path) == path
    assert count_rows(path) == 2500
    rows = list(read_rows(path))
    assert [n for n, _ in rows] == list(range(1, 2501))
    assert rows[0][1] == {"text": "review 0", "id": 0}
    assert rows[-1][1] == {"text": "review 2499", "id": 2499}
    assert row_place(path, 3) == f"{path} row 3"
    assert row_place(tmp_path / "in.csv", 3) == f"{tmp_path / 'in.csv'}:3"


def test_an_unreadable_parquet_file_is_refused_in_words(tmp_path: Path) -> None:
    path = tmp_path / "in.parquet"
    path.write_text("text\nnot parquet at all\n")
    with pytest.raises(DataError, match=r"in\.parquet is not a readable Parquet file"):
        open_input(path)
    with pytest.raises(
        DataError, match=r"must end in one of \.jsonl, \.csv, \.tsv, \.txt, \.parquet"
    ):
        open_input(tmp_path / "in.xlsx")
