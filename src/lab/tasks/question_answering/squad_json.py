"""Original SQuAD JSON files, flattened into the Hub's row layout.

Files in the original layout (`{"data": [{"title", "paragraphs": [{"context", "qas": [...]}]}]}`)
become rows with the Hub's columns (`id`, `title`, `context`, `question`, `answers` =
{"text": [...], "answer_start": [...]}); a question marked `is_impossible` (SQuAD v2) gets
empty answer lists. `convert_squad_json` writes those rows as `<split>.jsonl` files into the
datasets cache, where the generic loader reads them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from pathlib import Path
from typing import Any

from lab.data.local_files import SPLIT_ALIASES
from lab.errors import DataError

log = logging.getLogger(__name__)

_SQUAD_HEAD = re.compile(rb'^(\xef\xbb\xbf)?\s*\{\s*"(data|version)"\s*:')  # optional BOM


def squad_json_rows(document: Any, source: str = "SQuAD JSON") -> list[dict[str, Any]]:
    """Flatten an original SQuAD JSON document into rows in the Hub's column layout.

    A question marked `is_impossible` (SQuAD v2) gets empty answer lists (its
    `plausible_answers` are not answers). Raises `DataError` naming the article, paragraph
    and question of a malformed entry.
    """
    if not isinstance(document, dict) or not isinstance(document.get("data"), list):
        raise DataError(f"{source}: expected an object with a 'data' list of articles")
    rows: list[dict[str, Any]] = []
    for a, article in enumerate(document["data"]):
        where = f"{source}: data[{a}]"
        if not isinstance(article, dict) or not isinstance(article.get("paragraphs"), list):
            raise DataError(f"{where} has no 'paragraphs' list")
        title = str(article.get("title", ""))
        for p, paragraph in enumerate(article["paragraphs"]):
            if not isinstance(paragraph, dict) or not isinstance(paragraph.get("context"), str):
                raise DataError(f"{where}.paragraphs[{p}] has no 'context' text")
            for q, qa in enumerate(paragraph.get("qas", [])):
                spot = f"{where}.paragraphs[{p}].qas[{q}]"
                missing = [k for k in ("id", "question") if k not in qa]
                if missing:
                    raise DataError(f"{spot} lacks {', '.join(missing)}; keys: {', '.join(qa)}")
                answers = [] if qa.get("is_impossible") else qa.get("answers", [])
                try:
                    texts = [str(x["text"]) for x in answers]
                    starts = [int(x["answer_start"]) for x in answers]
                except (KeyError, TypeError, ValueError) as err:
                    raise DataError(
                        f"{spot} (id {qa['id']}): each answer needs 'text' and an integer "
                        f"'answer_start' ({err!r})"
                    ) from err
                rows.append(
                    {
                        "id": str(qa["id"]),
                        "title": title,
                        "context": paragraph["context"],
                        "question": str(qa["question"]),
                        "answers": {"text": texts, "answer_start": starts},
                    }
                )
    return rows


def _open(path: Path, mode: str = "rb") -> Any:
    import gzip

    return gzip.open(path, mode) if path.name.endswith(".gz") else open(path, mode)


def is_squad_json(path: Path) -> bool:
    """Whether `path` is a .json(.gz) file in the original SQuAD layout (one object whose
    first key is `data` or `version`), as opposed to JSON lines of flattened rows."""
    name = path.name.lower().removesuffix(".gz")
    if not path.is_file() or not name.endswith(".json"):
        return False
    with _open(path) as handle:
        head = handle.read(4096)
    return bool(_SQUAD_HEAD.match(head))


def squad_json_files(path: str | Path) -> dict[str, Path]:
    """{split: file} of the SQuAD JSON files at `path`: the file itself (train), or a folder's
    files named after their split (`train.json`, `dev-v2.0.json`, `validation.json.gz`).
    Empty when `path` holds no SQuAD JSON (flattened files are left to the generic loader)."""
    root = Path(path).expanduser()
    if root.is_file():
        return {"train": root} if is_squad_json(root) else {}
    if not root.is_dir():
        return {}
    found: dict[str, Path] = {}
    for candidate in sorted(root.iterdir()):
        if not is_squad_json(candidate):
            continue
        split = SPLIT_ALIASES.get(re.split(r"[.\-_]", candidate.name, maxsplit=1)[0].lower())
        if split is None:
            raise DataError(
                f"{candidate} is SQuAD JSON but its name says no split; name it "
                f"train / dev / validation / test (.json), e.g. dev-v1.1.json"
            )
        if split in found:
            raise DataError(
                f"{root} has two files for the {split} split: {found[split].name} "
                f"and {candidate.name}"
            )
        found[split] = candidate
    if found and "train" not in found:
        raise DataError(f"{root} has SQuAD JSON files but no train file (train*.json)")
    others = [
        p.name
        for p in sorted(root.iterdir())
        if found and p.is_file() and p not in found.values() and _is_split_file(p)
    ]
    if others:
        raise DataError(
            f"{root} mixes SQuAD JSON ({', '.join(f.name for f in found.values())}) with other "
            f"data files ({', '.join(others)}); keep one format per folder"
        )
    return found


def _is_split_file(path: Path) -> bool:
    """A file the generic loader would read as a split (train.jsonl, dev.parquet, ...)."""
    split = SPLIT_ALIASES.get(re.split(r"[.\-_]", path.name, maxsplit=1)[0].lower())
    suffixes = {s.lower() for s in path.suffixes}
    return split is not None and bool(suffixes & {".csv", ".tsv", ".json", ".jsonl", ".parquet"})


def convert_squad_json(path: str | Path, cache_dir: str | Path) -> Path | None:
    """Flatten the SQuAD JSON files at `path` into `<split>.jsonl` files under `cache_dir`.

    Returns the folder (named by a hash of the files' bytes, so an edited file converts
    again and an unchanged one is converted once), or None when `path` holds no SQuAD JSON.
    """
    files = squad_json_files(path)
    if not files:
        return None
    digest = hashlib.sha256(b"lab-squad-json-v1")
    contents: dict[str, bytes] = {}
    for split, file in sorted(files.items()):
        with _open(file) as handle:
            contents[split] = handle.read()
        digest.update(split.encode() + b"\0" + contents[split])
    out = Path(cache_dir) / "lab_squad_json" / digest.hexdigest()[:20]
    if all((out / f"{split}.jsonl").exists() for split in files):
        return out
    out.mkdir(parents=True, exist_ok=True)
    for split, raw in contents.items():
        try:
            document = json.loads(raw.decode("utf-8-sig"))  # tolerate a byte-order mark
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise DataError(f"{files[split]} is not valid JSON: {err}") from err
        rows = squad_json_rows(document, str(files[split]))
        if not rows:
            raise DataError(f"{files[split]} has no questions")
        temporary = out / f".{split}.jsonl.{os.getpid()}"
        with open(temporary, "w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        os.replace(temporary, out / f"{split}.jsonl")  # atomic: concurrent runs never half-read
    log.info("converted SQuAD JSON %s to %s", path, out)
    return out


def load_squad_json(path: str | Path | None) -> Any:
    """The `DatasetDict` of the SQuAD JSON files at `path`, flattened (`convert_squad_json`,
    cached in datasets' cache) with each split's rows named by the user's file and question;
    None where `path` holds none (the caller reads it as other data).

    Training's QA data module and `lab.inspect` (the `source:` of the head's inspect
    declaration) read such files through this one function."""
    if not path:
        return None
    import datasets.config

    from lab.data.origins import Origin
    from lab.data.sources import load_source, set_origins

    converted = convert_squad_json(path, datasets.config.HF_DATASETS_CACHE)
    if converted is None:
        return None
    loaded = load_source(str(converted), None, None)
    # Errors name the user's JSON file and question, not lab's flattened copy.
    files = squad_json_files(path)
    set_origins(
        loaded,
        {s: Origin(str(files[s]), "rows", unit="question") for s in loaded if s in files},
    )
    return loaded
