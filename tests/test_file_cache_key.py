"""A local data file whose content changed while its mtime stayed is read afresh, not from
datasets' cache of the old content (s22b H1: `cp -p`, `rsync -a`, `touch -r`, a symlink
pointed at another file of the same mtime); an unchanged file is still read from the cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lab.data.file_cache_key import cache_name
from lab.data.sources import load_local
from lab.errors import DataError

NEW_YEAR_2020 = 1_577_836_800 * 10**9  # ns


def _write(path: Path, text: str) -> None:
    path.write_text(text)
    os.utime(path, ns=(NEW_YEAR_2020, NEW_YEAR_2020))  # as `touch -r` / `cp -p` leave it


def test_content_changed_under_the_same_mtime_is_read_again(tmp_path: Path) -> None:
    data = tmp_path / "reviews.csv"
    _write(data, "text,label\ngood,pos\nbad,neg\n")
    first = load_local(data)["train"]
    assert first["label"] == ["pos", "neg"]
    _write(data, "text,label\ngood,neg\nbad,pos\n")  # labels swapped: same size, same mtime
    swapped = load_local(data)["train"]
    assert swapped["label"] == ["neg", "pos"]
    again = load_local(data)["train"]  # unchanged since: the cache of the swapped rows
    assert again.cache_files == swapped.cache_files != first.cache_files


def test_a_symlink_pointed_at_another_file_of_the_same_mtime_reads_that_file(
    tmp_path: Path,
) -> None:
    old, new, link = tmp_path / "v1.csv", tmp_path / "v2.csv", tmp_path / "current.csv"
    _write(old, "text,label\ngood,pos\n")
    _write(new, "text,label\ngood,pos\nfine,pos\n")
    link.symlink_to(old)
    assert load_local(link)["train"].num_rows == 1
    link.unlink()
    link.symlink_to(new)
    assert load_local(link)["train"].num_rows == 2


def test_the_name_is_the_files_identity_in_any_order(tmp_path: Path) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    _write(first, "text\nx\n")
    _write(second, "text\ny\n")
    name = cache_name([str(first), str(second)])
    assert name is not None and name.startswith("lab-") and len(name) == 20
    assert cache_name([str(second), str(first)]) == name
    assert cache_name([str(tmp_path / "missing.csv")]) is None  # datasets' own key then


def test_an_unusable_datasets_cache_is_named_not_the_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """s22b M3: a cache folder that cannot be made was "could not read <data file>"."""
    import datasets.config

    data = tmp_path / "reviews.csv"
    _write(data, "text,label\ngood,pos\n")
    cache = data / "cache"  # under a file: NotADirectoryError
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)
    with pytest.raises(DataError) as refused:
        load_local(data)
    assert str(refused.value) == (
        f"the datasets cache {cache} cannot be used (NotADirectoryError: Not a directory): "
        "set HF_DATASETS_CACHE (or HF_HOME) to a folder you can write"
    )
