"""`lab.predict`'s input reading: Parquet rows streamed a row group at a time and numbered
from 1, an unreadable Parquet file refused before any model loads, and the blank lines of a
text input skipped and counted for the summary (s21c L4)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from helpers.echo_predictor import Echo
from lab.errors import DataError, LabError
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


def test_blank_lines_are_no_rows_and_each_is_told(tmp_path: Path) -> None:
    """`on_blank` hears each blank (or white-space) line skipped, by its number; a CSV cell
    of quoted spaces is a row, not a blank line."""
    inputs = {
        "in.txt": ("good\n\n  \nbad\n\n", [1, 4], [2, 3, 5]),
        "in.jsonl": ('{"review": "a"}\n\n{"review": "b"}\n', [1, 3], [2]),
        "in.csv": ('review\ngood\n\n"  "\n', [2, 4], [3]),
    }
    for name, (text, rows, blank) in inputs.items():
        (tmp_path / name).write_text(text)
        heard: list[int] = []
        assert [n for n, _ in read_rows(tmp_path / name, "review", on_blank=heard.append)] == rows
        assert heard == blank, name


def test_predicts_summary_counts_the_blank_lines_it_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import lab.predict

    run = SimpleNamespace(head="AutoModelForSequenceClassification", model_dir=tmp_path / "model")
    monkeypatch.setattr(lab.predict, "open_predictor", lambda *a, **k: (run, None, Echo()))
    expected = {
        "in.txt": ("good\n\n  \nbad\nfine\n\n", "Predicted 3 of 3 rows (3 blank lines skipped)"),
        "in.csv": ("review\ngood\n\nbad\n", "Predicted 2 of 2 rows (1 blank line skipped)"),
        "in.jsonl": ('{"review": "good"}\n', "Predicted 1 of 1 rows"),
    }
    out = tmp_path / "out.jsonl"
    for name, (text, summary) in expected.items():
        (tmp_path / name).write_text(text)
        assert lab.predict.main(["run=x", f"input={tmp_path / name}", f"output={out}"]) == 0
        assert capsys.readouterr().out.splitlines()[0] == summary
    (tmp_path / "blank.txt").write_text("\n \n")
    with pytest.raises(LabError) as caught:
        lab.predict.main(["run=x", f"input={tmp_path / 'blank.txt'}", f"output={out}"])
    assert str(caught.value) == (
        f"{tmp_path / 'blank.txt'} has no rows to predict (2 blank lines skipped)"
    )
