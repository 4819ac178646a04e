"""A split of several local files (the Hub's shards, `data/train-00000-of-00002.jsonl`...).

* A row error names the shard's file and line (its row for Parquet), loaded whole or streamed
  (shuffled, across passes), as it does for one `train.jsonl` (s28a H1).
* The streamed shards keep the order, sharding and shuffle of datasets' own stream.
* A shard without a column the others have is refused before a row is read, naming it and the
  columns it has (s28a M2); an optional JSON key is not a missing column.
* Naming a bad JSON line, or deciding a JSON file has no rows, does not read the file whole
  (s28a M1).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from lab.data.origins import ROW_COLUMN, json_problem
from lab.data.sources import Source, load_local, origins_of
from lab.data.streaming import head_rows, numbered, open_splits
from lab.errors import DataError


def _jsonl(path: Path, rows: list[dict[str, Any]], blank_after: int | None = None) -> str:
    """`rows` as JSON Lines (a blank line after row `blank_after`: lines are not rows)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(row) + "\n" for row in rows]
    if blank_after is not None:
        lines.insert(blank_after + 1, "\n")
    path.write_text("".join(lines))
    return str(path)


def _shards(root: Path, count: int = 3, rows: int = 6, suffix: str = "jsonl") -> list[str]:
    """`count` Hub-named shards of `rows` rows whose text says where it is: `s<shard> r<row>`
    (0-based); a text shard 1 has a blank line after its row 2, so its lines and rows differ."""
    files = []
    for k in range(count):
        data = [{"text": f"s{k} r{i}", "label": i % 2} for i in range(rows)]
        path = root / "data" / f"train-{k:05d}-of-{count:05d}.{suffix}"
        if suffix == "jsonl":
            files.append(_jsonl(path, data, blank_after=2 if k == 1 else None))
        else:
            import pandas as pd

            path.parent.mkdir(parents=True, exist_ok=True)
            frame = pd.DataFrame(data)
            frame.to_csv(path, index=False) if suffix == "csv" else frame.to_parquet(path)
            if suffix == "csv" and k == 1:  # a blank line in a CSV shard too (pandas skips it)
                text = path.read_text().splitlines(keepends=True)
                path.write_text("".join([*text[:4], "\n", *text[4:]]))
            files.append(str(path))
    return files


def _where(text: str, files: list[str], suffix: str) -> str:
    """Where `text` (`s<k> r<i>`) is, as a user finds it."""
    shard, row = (int(part[1:]) for part in text.split())
    if suffix == "parquet":
        return f"{files[shard]} row {row + 1} (1-based)"
    line = row + 2 if suffix == "csv" else row + 1  # a CSV header is line 1
    return f"{files[shard]}:{line + (shard == 1 and row > 2)}"  # shard 1's blank line


@pytest.mark.parametrize("suffix", ["jsonl", "csv", "parquet"])
def test_a_row_of_a_loaded_shard_is_named_by_its_file(tmp_path: Path, suffix: str) -> None:
    files = _shards(tmp_path, suffix=suffix)
    loaded = load_local(tmp_path)
    origin = origins_of(loaded)["train"]
    assert origin.describe() == f"{tmp_path} split train"
    for index, text in enumerate(loaded["train"]["text"]):
        assert origin.locate(index) == _where(text, files, suffix)


def test_shards_whose_rows_cannot_be_counted_keep_the_split_wording(tmp_path: Path) -> None:
    files = _shards(tmp_path)
    loaded = load_local(tmp_path)
    origin = origins_of(loaded)["train"]
    Path(files[2]).write_text("")  # changed since: the counts no longer match the loader's
    assert origin.locate(13) == f"{tmp_path} split train row 14 (1-based)"


@pytest.mark.parametrize("suffix", ["jsonl", "csv", "parquet"])
def test_a_streamed_shuffled_row_is_named_by_its_file(tmp_path: Path, suffix: str) -> None:
    files = _shards(tmp_path, suffix=suffix)
    streams, origins = open_splits(Source(path=str(tmp_path)))
    stream = numbered(streams["train"], 0).shuffle(seed=3, buffer_size=4)
    for epoch in (0, 1):  # each pass reads the shards in another order
        stream.set_epoch(epoch)
        rows = list(stream)
        assert len(rows) == 18
        for row in rows:
            assert origins["train"].locate(row[ROW_COLUMN]) == _where(row["text"], files, suffix)


def test_streamed_shards_keep_datasets_order_and_sharding(tmp_path: Path) -> None:
    """The same rows in the same order as datasets' own stream of the files: a run's stream
    (and the batches a resume skips) is unchanged."""
    import datasets
    from datasets.distributed import split_dataset_by_node

    files = _shards(tmp_path, count=4)
    own = datasets.load_dataset("json", data_files={"train": files}, streaming=True)["train"]
    ours = open_splits(Source(path=str(tmp_path)))[0]["train"]
    assert ours.num_shards == own.num_shards == 4
    for seed, epoch in itertools.product((1, 2), (0, 3)):
        mixed = [s.shuffle(seed=seed, buffer_size=5) for s in (own, ours)]
        for stream in mixed:
            stream.set_epoch(epoch)
        assert [r["text"] for r in mixed[1]] == [r["text"] for r in mixed[0]]
        ranks = [split_dataset_by_node(s, rank=1, world_size=2) for s in mixed]
        assert [r["text"] for r in ranks[1]] == [r["text"] for r in ranks[0]]


def test_a_bad_label_in_a_streamed_shard_names_its_line(compose_cfg: Any, tmp_path: Path) -> None:
    """s28a H1: `<shard file>:<line>`, not `<folder> split train row <n>`."""
    from hydra.utils import instantiate

    from lab.build import build_datamodule

    files = []
    for k in range(2):
        rows = [{"text": f"review {k} {i}", "label": i % 2} for i in range(40)]
        if k == 1:
            rows[30]["label"] = 7
        files.append(_jsonl(tmp_path / "data" / f"train-{k:05d}-of-00002.jsonl", rows))
    for split in ("validation", "test"):
        _jsonl(tmp_path / "data" / f"{split}.jsonl", [{"text": "a", "label": 0}] * 4)
    cfg = compose_cfg(
        "model=tiny_bert",
        "data=json",
        f"data.path={tmp_path}",
        "data.streaming=true",
        "data.stream_sample_rows=10",
        "data.batch_size=8",
    )
    datamodule = build_datamodule(cfg, instantiate(cfg.model.tokenizer))
    with pytest.raises(DataError) as caught:
        list(itertools.islice(datamodule.train_dataloader(), 20))
    assert str(caught.value).startswith(f"{files[1]}:31 column 'label': label 7 is outside")


def test_a_bad_json_line_in_a_streamed_shard_is_named(tmp_path: Path) -> None:
    files = _shards(tmp_path)
    lines = Path(files[2]).read_text().splitlines(keepends=True)
    lines[4] = '{"text": "cut off\n'
    Path(files[2]).write_text("".join(lines))
    streams, origins = open_splits(Source(path=str(tmp_path)))
    with pytest.raises(DataError) as caught:
        head_rows(numbered(streams["train"], 0), None, origins["train"])
    assert str(caught.value) == (
        f"{files[2]}:5: not valid JSON (Unterminated string starting at column 10)"
    )


# ----------------------------------------------------------------------------- columns
@pytest.mark.parametrize("suffix", ["jsonl", "csv", "parquet"])
@pytest.mark.parametrize("streaming", [False, True])
def test_a_shard_without_the_label_column_is_named(
    tmp_path: Path, suffix: str, streaming: bool
) -> None:
    """s28a M2: not "the cell is empty" at some row of the split."""
    files = _shards(tmp_path, count=4, suffix=suffix)
    rows = [{"text": f"x {i}"} for i in range(3)]
    if suffix == "jsonl":
        _jsonl(Path(files[2]), rows)
    else:
        import pandas as pd

        frame = pd.DataFrame(rows)
        frame.to_csv(files[2], index=False) if suffix == "csv" else frame.to_parquet(files[2])
    with pytest.raises(DataError) as caught:
        open_splits(Source(path=str(tmp_path))) if streaming else load_local(tmp_path)
    rows_read = " in its first 1000 rows" if suffix == "jsonl" else ""
    assert str(caught.value) == (
        f"the train split's files have different columns: {files[2]} has text{rows_read}; "
        f"{files[0]} has text, label"
    )


@pytest.mark.parametrize("streaming", [False, True])
def test_a_header_naming_a_column_twice_is_refused(tmp_path: Path, streaming: bool) -> None:
    """s34b M1: pandas reads `text,label,text` as text, label, text.1 and lab took the first
    text without a word; a single file (no shards) is checked too."""
    (tmp_path / "train.csv").write_text("text,label,text\nfirst,0,second\nthird,1,fourth\n")
    with pytest.raises(DataError) as caught:
        open_splits(Source(path=str(tmp_path))) if streaming else load_local(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path / 'train.csv'}: its header names the column 'text' twice (text, label, "
        "text); pandas would read the second as 'text.1' and lab the first: give each column "
        "a name of its own"
    )
    (tmp_path / "train.csv").write_text("text,label,text_2\nfirst,0,second\n")
    assert load_local(tmp_path)["train"].column_names == ["text", "label", "text_2"]


def test_an_optional_json_key_is_not_a_missing_column(tmp_path: Path) -> None:
    files = _shards(tmp_path, count=2)
    _jsonl(Path(files[0]), [{"text": "a", "label": 0, "note": "first"}])
    rows = [{"text": "b", "label": 1}, {"text": "c", "label": 0, "note": "third"}]
    _jsonl(Path(files[1]), rows)  # its first row has no "note"; a later one has
    assert load_local(tmp_path)["train"]["note"] == ["first", None, "third"]
    stream = open_splits(Source(path=str(tmp_path)))[0]["train"]
    assert [row["text"] for row in stream] == ["a", "b", "c"]


# ----------------------------------------------------------------------------- memory
class _Counted:
    """A text handle that counts the characters handed out (by lines, reads and readlines)."""

    def __init__(self, handle: Any, counts: list[int]) -> None:
        self.handle, self.counts = handle, counts

    def __enter__(self) -> _Counted:
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.close()

    def __iter__(self) -> Any:
        for line in self.handle:
            self.counts[0] += len(line)
            yield line

    def read(self, size: int = -1) -> str:
        text = self.handle.read(size)
        self.counts[0] += len(text)
        return str(text)

    def readline(self) -> str:
        text = self.handle.readline()
        self.counts[0] += len(text)
        return str(text)

    def readlines(self) -> list[str]:
        lines = list(self.handle.readlines())
        self.counts[0] += sum(map(len, lines))
        return lines


def _big_jsonl(path: Path, bad_line: str) -> Path:
    """A JSON Lines file of ~4 MB whose line 3 is `bad_line`."""
    row = json.dumps({"text": "x" * 200, "label": 0}) + "\n"
    path.write_text(row * 2 + bad_line + "\n" + row * 20_000)
    return path


def test_a_bad_json_line_is_found_without_reading_the_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """s28a M1: the file was read whole (twice its size in memory) to name its bad line."""
    from lab.data import origins

    file = _big_jsonl(tmp_path / "train.jsonl", '{"text": "cut off')
    counts = [0]
    real = origins.open_text
    monkeypatch.setattr(origins, "open_text", lambda f: _Counted(real(f), counts))
    assert json_problem(str(file)) == (  # the line without its line break (s31g-5)
        f"{file}:3: not valid JSON (Unterminated string starting at column 10)"
    )
    assert counts[0] < 10_000  # the first lines, not the 4 MB
    listed = _big_jsonl(tmp_path / "list.jsonl", "[1, 2]")
    assert json_problem(str(listed)) == f"{listed}:3: a JSON list, not an object (one row per line)"


def test_json_documents_are_still_checked_whole(tmp_path: Path) -> None:
    array = tmp_path / "array.json"
    array.write_text('[\n{"text": "a"},\n{"text": "b",}\n]\n')
    assert json_problem(str(array)) == (
        f"{array}:3: not valid JSON (Expecting property name enclosed in double quotes, column 14)"
    )
    pretty = tmp_path / "pretty.json"
    pretty.write_text('{\n  "data": [\n    {"text": "a"}\n  ]\n}\n')
    assert json_problem(str(pretty)) is None


def test_a_json_file_with_rows_is_not_read_whole_to_say_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lab.data import load_problems
    from lab.data.load_problems import has_no_rows

    file = _big_jsonl(tmp_path / "train.jsonl", '{"text": "y"}')
    counts = [0]
    monkeypatch.setattr(
        load_problems,
        "open",
        lambda *a, **k: _Counted(open(*a, **k), counts),  # noqa: SIM115
        raising=False,
    )
    assert not has_no_rows("json", str(file))
    assert counts[0] <= 1 << 16  # one chunk
    for text, empty in [("", True), (" \n [ \n ] \n", True), ("[]x", False), ("[1]", False)]:
        (tmp_path / "t.json").write_text(text)
        assert has_no_rows("json", str(tmp_path / "t.json")) is empty, text


def test_rows_read_by_two_workers_are_named_by_their_file(tmp_path: Path) -> None:
    """Each dataloader worker reads whole shards, in its own order: the index still says which."""
    from torch.utils.data import DataLoader

    from lab.data.streaming import SOURCE_COLUMN, TrainStream, TrainStreamPlan

    files = _shards(tmp_path, count=4)
    streams, origins = open_splits(Source(path=str(tmp_path)))
    plan = TrainStreamPlan(
        [Source(path=str(tmp_path))],
        [numbered(streams["train"], 0)],
        [origins["train"]],
        ["text"],
        seed=5,
        shuffle_buffer=4,
    )

    def where(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        assert set(batch[SOURCE_COLUMN]) == {0}
        located = [origins["train"].locate(index) for index in batch[ROW_COLUMN]]
        return {"pair": [[t, w] for t, w in zip(batch["text"], located, strict=True)]}

    stream = TrainStream(plan.mixture(), where, ["text"], plan.origins)
    loader = DataLoader(stream, batch_size=None, num_workers=2)
    pairs = [row["pair"] for row in itertools.islice(loader, 24)]  # one pass
    assert len({text for text, _ in pairs}) == 24
    assert all(place == _where(text, files, "jsonl") for text, place in pairs)
