"""Extractive question answering (SQuAD v1.1 and v2.0): context windows, n-best spans, EM/F1.

Rows hold a question, its context and the gold answers, as on the Hub (`id`, `title`,
`context`, `question`, `answers` = {"text": [...], "answer_start": [...]}); an empty answer
list marks an unanswerable question (SQuAD v2). Files in the original SQuAD JSON layout
(`{"data": [{"title", "paragraphs": [{"context", "qas": [...]}]}]}`) are flattened into that
form on load (`squad_json_rows`).

Preprocessing follows Hugging Face's `run_qa`: the question comes first and the context is cut
into windows of `max_length` tokens that overlap by `doc_stride` tokens, so a long context
gives several features. A training feature's target is the answer's first and last token
when the answer lies wholly inside the window, else the classification token (index 0), which
stands for "no answer here". Every feature also keeps its example id and its offset mapping
with non-context tokens masked (None), so predictions map back to character spans of the raw
context.

Postprocessing (`postprocess_predictions`) takes the `n_best_size` best start and end logits
of every window, keeps spans that lie in the context, end after they start and are at most
`max_answer_length` tokens long, and answers each question with the best-scoring span over
all of its windows. With `version_2_with_negative` the answer is "" when the smallest null
score (start + end logit of the classification token, over windows) beats the best span by
more than `null_score_diff_threshold`.

Evaluation gathers the logits of every feature from every rank (a torchmetrics `Metric`
whose states are concatenated under DDP), so each question is decoded from all its windows
even when they were split over ranks; every rank then decodes and scores the whole split.
Tokenizers must put the classification token first (BERT, RoBERTa, DeBERTa, MiniLM ...).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import numpy as np
import torch
from torchmetrics import Metric

from lab.data.datamodule import DataModule
from lab.data.sources import SPLIT_ALIASES, load_source
from lab.errors import ConfigError, DataError
from lab.tasks.base import OptimizerFactory, SchedulerFactory, TaskModule
from lab.tasks.squad_metrics import squad_scores

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)

CLS_INDEX = 0  # the classification token's position: the "no answer" target and null score
# Feature columns used by postprocessing only; the collator drops them before the model.
_METADATA_COLUMNS = ("example_id", "offset_mapping")


# --------------------------------------------------------------------------- SQuAD JSON
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


# --------------------------------------------------------------------------- windows
def answer_token_span(
    offsets: Sequence[Sequence[int]],
    sequence_ids: Sequence[int | None],
    start_char: int,
    end_char: int,
    context_id: int = 1,
) -> tuple[int, int]:
    """The first and last token of the answer chars [start_char, end_char) in one window.

    Returns (CLS_INDEX, CLS_INDEX) when the answer is not wholly inside the window's context
    tokens (a window that holds part of an answer must not teach a cut-off span).
    """
    context = [i for i, s in enumerate(sequence_ids) if s == context_id]
    if not context:
        return CLS_INDEX, CLS_INDEX
    first, last = context[0], context[-1]
    if not (offsets[first][0] <= start_char and offsets[last][1] >= end_char):
        return CLS_INDEX, CLS_INDEX
    start = first
    while start <= last and offsets[start][0] <= start_char:
        start += 1
    end = last
    while end >= first and offsets[end][1] >= end_char:
        end -= 1
    return start - 1, end + 1


def _answer_lists(value: Any) -> tuple[list[str], list[int]]:
    """(texts, starts) of an `answers` cell: a {"text", "answer_start"} mapping, or that
    mapping as a JSON string (CSV files)."""
    if isinstance(value, str):
        value = json.loads(value)
    if not isinstance(value, Mapping) or "text" not in value or "answer_start" not in value:
        raise ValueError('expected {"text": [...], "answer_start": [...]}')
    texts, starts = list(value["text"] or []), list(value["answer_start"] or [])
    if len(texts) != len(starts):
        raise ValueError(f"{len(texts)} texts but {len(starts)} answer_start values")
    return [str(t) for t in texts], [int(s) for s in starts]


class QAReferences:
    """One evaluation split as postprocessing needs it.

    (A plain class, not a dataclass: Hydra would read a dataclass passed to `instantiate`
    as a structured config.)

    Attributes:
        ids / questions / contexts: the raw examples, in split order.
        answers: the gold answer texts of each example (empty: unanswerable).
        features: the tokenized split, whose `example_id` and `offset_mapping` columns map
            each feature's tokens back to characters of its example's context.
    """

    def __init__(
        self,
        ids: list[str],
        questions: list[str],
        contexts: list[str],
        answers: list[list[str]],
        features: Dataset,
    ) -> None:
        self.ids = ids
        self.questions = questions
        self.contexts = contexts
        self.answers = answers
        self.features = features


class _QACollator:
    """Drops the postprocessing columns, then pads dynamically (a class: workers pickle it)."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase) -> None:
        from transformers import DataCollatorWithPadding

        self.pad = DataCollatorWithPadding(tokenizer)

    def __call__(self, rows: list[dict[str, Any]]) -> Any:
        return self.pad([{k: v for k, v in r.items() if k not in _METADATA_COLUMNS} for r in rows])


class QuestionAnsweringDataModule(DataModule):
    """Splits question + context into overlapping windows and labels answer token spans.

    Args:
        id_column / question_column / context_column / answers_column: the columns.
        max_length: tokens per window (question, context part and special tokens).
        doc_stride: tokens shared by consecutive windows of one context.
        version_2_with_negative: the data has unanswerable questions (SQuAD v2): score them
            and let postprocessing answer "" (passed on to the task module).
        **kwargs: see `lab.data.datamodule.DataModule`; `path` may also hold SQuAD JSON.
    """

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        *,
        id_column: str = "id",
        question_column: str = "question",
        context_column: str = "context",
        answers_column: str = "answers",
        max_length: int = 384,
        doc_stride: int = 128,
        version_2_with_negative: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(tokenizer, **kwargs)
        if not getattr(tokenizer, "is_fast", False):
            raise ConfigError("question answering needs a fast tokenizer (offset mappings)")
        if not 0 <= doc_stride < max_length:
            raise ConfigError(
                f"data.doc_stride={doc_stride} must be at least 0 and below "
                f"data.max_length={max_length} (it is the overlap of consecutive windows)"
            )
        self.id_column = id_column
        self.question_column = question_column
        self.context_column = context_column
        self.answers_column = answers_column
        self.max_length = max_length
        self.doc_stride = doc_stride
        self.version_2_with_negative = version_2_with_negative
        self.references: dict[str, QAReferences] = {}
        self._raw: dict[str, Dataset] = {}

    # ----------------------------------------------------------------- loading
    def load_raw(self) -> DatasetDict:
        """The Hub's flattened rows; SQuAD JSON under `path` is flattened first (cached)."""
        if self.path:
            import datasets.config

            converted = convert_squad_json(self.path, datasets.config.HF_DATASETS_CACHE)
            if converted is not None:
                return load_source(str(converted), None, None)
        return super().load_raw()

    def setup(self, stage: str | None = None) -> None:
        """Load, check and tokenize; evaluation features get their row numbers."""
        if self.datasets:
            return
        super().setup(stage)
        for name, raw in self._raw.items():
            features = self.datasets[name]
            # Evaluation batches carry each feature's row number, so gathered logits find
            # their offsets and example again, whichever rank or batch they came from.
            features = features.add_column("feature_index", list(range(len(features))))
            self.datasets[name] = features
            self.references[name] = QAReferences(
                ids=[str(i) for i in raw[self.id_column]],
                questions=list(raw[self.question_column]),
                contexts=list(raw[self.context_column]),
                answers=[_answer_lists(a)[0] for a in raw[self.answers_column]],
                features=features,
            )
        self._raw = {}

    # ----------------------------------------------------------------- checks
    def check_split(self, name: str, dataset: Dataset) -> None:
        columns = {
            "data.id_column": self.id_column,
            "data.question_column": self.question_column,
            "data.context_column": self.context_column,
            "data.answers_column": self.answers_column,
        }
        self.require_columns(name, dataset, columns)
        seen: dict[str, int] = {}
        unanswerable = 0
        for row, (qid, question, context, answers) in enumerate(
            zip(
                dataset[self.id_column],
                dataset[self.question_column],
                dataset[self.context_column],
                dataset[self.answers_column],
                strict=True,
            )
        ):
            where = f"{name} row {row} (id {qid})"
            if not context or not str(context).strip():
                raise DataError(f"{where}: empty context ('{self.context_column}')")
            if not question or not str(question).strip():
                raise DataError(f"{where}: empty question ('{self.question_column}')")
            if name != "train" and str(qid) in seen:
                raise DataError(
                    f"{where}: id also used by row {seen[str(qid)]}; ids must be unique"
                )
            seen[str(qid)] = row
            try:
                texts, starts = _answer_lists(answers)
            except (ValueError, TypeError) as err:
                raise DataError(f"{where}: bad '{self.answers_column}' value: {err}") from err
            unanswerable += not texts
            for text, start in zip(texts, starts, strict=True):
                found = context[start : start + len(text)] if 0 <= start <= len(context) else None
                if found != text:
                    raise DataError(
                        f"{where}: answer {text!r} is not at answer_start {start} of its context "
                        + (
                            f"(found {found!r})"
                            if found is not None
                            else f"(out of range: the context has {len(context)} characters)"
                        )
                    )
        if unanswerable and not self.version_2_with_negative:
            log.warning(
                "the %s split has %d unanswerable questions but data.version_2_with_negative "
                "is false: they are scored as wrong whatever is predicted (use data=squad_v2 or "
                "data.version_2_with_negative=true)",
                name,
                unanswerable,
            )
        if name != "train":
            self._raw[name] = dataset  # for postprocessing, see setup

    # ----------------------------------------------------------------- tokenization
    def fingerprint_parts(self) -> tuple[Any, ...]:
        return (
            self.id_column,
            self.question_column,
            self.context_column,
            self.answers_column,
            self.max_length,
            self.doc_stride,
            CLS_INDEX,
        )

    def tokenize(self, batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        # Leading spaces of some SQuAD questions would only use up window room.
        questions = [str(q).lstrip() for q in batch[self.question_column]]
        self._check_question_room(questions, batch[self.id_column])
        encoded = self.tokenizer(
            questions,
            batch[self.context_column],
            truncation="only_second",
            max_length=self.max_length,
            stride=self.doc_stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
        )
        example_of = encoded.pop("overflow_to_sample_mapping")
        all_offsets = encoded.pop("offset_mapping")
        starts, ends, example_ids, masked_offsets = [], [], [], []
        for i, offsets in enumerate(all_offsets):
            row = example_of[i]
            sequence_ids = encoded.sequence_ids(i)
            texts, answer_starts = _answer_lists(batch[self.answers_column][row])
            if texts:  # SQuAD trains on the first gold answer
                start, end = answer_token_span(
                    offsets, sequence_ids, answer_starts[0], answer_starts[0] + len(texts[0])
                )
            else:
                start = end = CLS_INDEX
            starts.append(start)
            ends.append(end)
            example_ids.append(str(batch[self.id_column][row]))
            masked_offsets.append(
                [list(o) if s == 1 else None for o, s in zip(offsets, sequence_ids, strict=True)]
            )
        encoded["start_positions"] = starts
        encoded["end_positions"] = ends
        encoded["example_id"] = example_ids
        encoded["offset_mapping"] = masked_offsets
        return dict(encoded)

    def _check_question_room(self, questions: list[str], ids: list[Any]) -> None:
        # The tokenizer aborts the process (a Rust panic) when a question leaves no more
        # room for the context than doc_stride; say which question instead.
        room = self.max_length - self.tokenizer.num_special_tokens_to_add(pair=True)
        lengths = [
            len(ids_) for ids_ in self.tokenizer(questions, add_special_tokens=False)["input_ids"]
        ]
        for qid, length in zip(ids, lengths, strict=True):
            if room - length <= self.doc_stride:
                raise DataError(
                    f"question id {qid} has {length} tokens, which leaves "
                    f"{max(room - length, 0)} tokens of context per window: need more than "
                    f"data.doc_stride={self.doc_stride}; raise data.max_length "
                    f"(now {self.max_length}) or lower data.doc_stride"
                )

    def collate_fn(self) -> Callable[[list[dict[str, Any]]], Any]:
        return _QACollator(self.tokenizer)

    def module_kwargs(self) -> dict[str, Any]:
        """The evaluation splits' raw examples and windows, and whether questions may be
        unanswerable (both for postprocessing)."""
        return {
            "references": dict(self.references),
            "version_2_with_negative": self.version_2_with_negative,
        }


# --------------------------------------------------------------------------- postprocessing
class Window(NamedTuple):
    """One feature's logits with its example id and (masked) offset mapping."""

    example_id: str
    offsets: Sequence[Sequence[int] | None]
    start_logits: Sequence[float] | np.ndarray
    end_logits: Sequence[float] | np.ndarray


def best_span(
    window: Window, n_best_size: int = 20, max_answer_length: int = 30
) -> tuple[float, int, int] | None:
    """(score, start token, end token) of the window's best valid span, or None.

    Candidates pair each of the `n_best_size` best starts with each of the `n_best_size`
    best ends; valid spans lie in the context (offset not None), end at or after their
    start and are at most `max_answer_length` tokens long. Score = start + end logit.
    """
    start_logits = np.asarray(window.start_logits, dtype=np.float64)
    end_logits = np.asarray(window.end_logits, dtype=np.float64)
    count = min(len(start_logits), len(window.offsets))
    if count == 0:
        return None
    in_context = np.array([window.offsets[i] is not None for i in range(count)])
    starts = np.argsort(-start_logits[:count], kind="stable")[:n_best_size]
    ends = np.argsort(-end_logits[:count], kind="stable")[:n_best_size]
    s, e = starts[:, None], ends[None, :]
    valid = in_context[s] & in_context[e] & (e >= s) & (e - s + 1 <= max_answer_length)
    if not valid.any():
        return None
    scores = np.where(valid, start_logits[s] + end_logits[e], -np.inf)
    i, j = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return float(scores[i, j]), int(starts[i]), int(ends[j])


class Answer(NamedTuple):
    """A question's decided answer: text, character span in its context, probability.

    `score` is the span's probability within its window (softmax of the start logits times
    softmax of the end logits, as `transformers`' QA pipeline reports); "" has span (0, 0)
    and, for v2 abstentions, the null probability.
    """

    text: str
    start: int
    end: int
    score: float


def postprocess_predictions(
    windows: Iterable[Window], contexts: Mapping[str, str], **options: Any
) -> dict[str, str]:
    """Each question's answer text (id -> text); `options` as for `decide_answers`."""
    answers = decide_answers(windows, contexts, **options)
    return {qid: answer.text for qid, answer in answers.items()}


def decide_answers(
    windows: Iterable[Window],
    contexts: Mapping[str, str],
    *,
    n_best_size: int = 20,
    max_answer_length: int = 30,
    version_2_with_negative: bool = False,
    null_score_diff_threshold: float = 0.0,
) -> dict[str, Answer]:
    """Each question's `Answer` (id -> answer), decided over all of its windows.

    The answer is the best span (see `best_span`) over every window of the question. With
    `version_2_with_negative` the answer is "" when the null score (the smallest over the
    windows of start + end logit at the classification token) exceeds the best span's score
    by more than `null_score_diff_threshold`. A question without any valid span gets "".
    Windows of one question need not be adjacent.
    """
    best: dict[str, tuple[float, Answer]] = {}
    null: dict[str, tuple[float, float]] = {}  # (null score, its probability)
    for window in windows:
        qid = window.example_id
        null_score = float(window.start_logits[CLS_INDEX]) + float(window.end_logits[CLS_INDEX])
        if qid not in null or null_score < null[qid][0]:
            null[qid] = (null_score, _span_probability(window, CLS_INDEX, CLS_INDEX))
        span = best_span(window, n_best_size, max_answer_length)
        if span is None:
            continue
        score, start, end = span
        if qid not in best or score > best[qid][0]:
            first, last = window.offsets[start], window.offsets[end]
            assert first is not None and last is not None  # best_span keeps context tokens
            text = contexts[qid][first[0] : last[1]]
            probability = _span_probability(window, start, end)
            best[qid] = (score, Answer(text, int(first[0]), int(last[1]), probability))
    answers: dict[str, Answer] = {}
    for qid, (null_score, null_probability) in null.items():
        abstain = (
            version_2_with_negative
            and qid in best
            and (null_score - best[qid][0] > null_score_diff_threshold)
        )
        if qid not in best or abstain:
            answers[qid] = Answer("", 0, 0, null_probability if abstain else 0.0)
        else:
            answers[qid] = best[qid][1]
    return answers


def _span_probability(window: Window, start: int, end: int) -> float:
    """softmax(start logits)[start] x softmax(end logits)[end] over the window's tokens."""
    count = min(len(window.start_logits), len(window.offsets))
    probabilities = []
    for logits, position in ((window.start_logits, start), (window.end_logits, end)):
        values = np.asarray(logits, dtype=np.float64)[:count]
        values = np.exp(values - values.max())
        probabilities.append(values[position] / values.sum())
    return float(probabilities[0] * probabilities[1])


class SpanLogits(Metric):
    """Collects each evaluation feature's start/end logits (over its real tokens) by row.

    States are concatenated across DDP ranks, so `compute` returns every rank's features:
    (feature indices, token counts, all start logits flat, all end logits flat).
    """

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("index", default=[], dist_reduce_fx="cat")
        self.add_state("lengths", default=[], dist_reduce_fx="cat")
        self.add_state("start", default=[], dist_reduce_fx="cat")
        self.add_state("end", default=[], dist_reduce_fx="cat")

    def update(
        self,
        feature_index: torch.Tensor,
        start_logits: torch.Tensor,
        end_logits: torch.Tensor,
        attention_mask: torch.Tensor,
    ) -> None:
        # Keep real tokens only, in order: works for left and right padding alike, and
        # batches of different padded widths concatenate.
        real = attention_mask.bool()
        states = cast(Any, self)
        states.index.append(feature_index.long())
        states.lengths.append(real.sum(dim=1))
        states.start.append(start_logits.float()[real])
        states.end.append(end_logits.float()[real])

    def compute(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        states = cast(Any, self)
        return (
            _cat(states.index, torch.long),
            _cat(states.lengths, torch.long),
            _cat(states.start, torch.float),
            _cat(states.end, torch.float),
        )


def _cat(state: Any, dtype: torch.dtype) -> torch.Tensor:
    if isinstance(state, torch.Tensor):
        return state
    return torch.cat(state) if state else torch.zeros(0, dtype=dtype)


def windows_from_logits(
    features: Dataset,
    index: torch.Tensor,
    lengths: torch.Tensor,
    start: torch.Tensor,
    end: torch.Tensor,
    batch_size: int = 1000,
) -> Iterable[Window]:
    """Pair gathered logits (see `SpanLogits`) with their features' ids and offsets."""
    index_list = index.tolist()
    bounds = np.concatenate([[0], np.cumsum(lengths.cpu().numpy())])
    start_np, end_np = start.cpu().numpy(), end.cpu().numpy()
    position = {row: i for i, row in enumerate(index_list)}  # a row seen twice: keep the last
    rows = sorted(position)
    metadata = features.select_columns(list(_METADATA_COLUMNS)).select(rows)
    done = 0
    for chunk in metadata.iter(batch_size=batch_size):
        for example_id, offsets in zip(chunk["example_id"], chunk["offset_mapping"], strict=True):
            i = position[rows[done]]
            done += 1
            lo, hi = bounds[i], bounds[i + 1]
            yield Window(example_id, offsets, start_np[lo:hi], end_np[lo:hi])


def answer_questions(
    model: Any,
    tokenizer: PreTrainedTokenizerBase,
    questions: Sequence[str],
    contexts: Sequence[str],
    *,
    max_length: int = 384,
    doc_stride: int = 128,
    n_best_size: int = 20,
    max_answer_length: int = 30,
    version_2_with_negative: bool = False,
    null_score_diff_threshold: float = 0.0,
) -> list[Answer]:
    """Answer each question from its context with a QA model (e.g. an exported run's).

    The same windows and postprocessing as evaluation; each `Answer` has the text, its
    character span in the context and a probability. Stands in for `transformers`'
    `question-answering` pipeline, which transformers 5 removed:

        model = AutoModelForQuestionAnswering.from_pretrained("<run dir>/model")
        tokenizer = AutoTokenizer.from_pretrained("<run dir>/model")
        answer_questions(model, tokenizer, ["Who wrote it?"], ["It was written by Ann."])
    """
    encoded = tokenizer(
        [q.lstrip() for q in questions],
        list(contexts),
        truncation="only_second",
        max_length=max_length,
        stride=doc_stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding=True,
        return_tensors="pt",
    )
    example_of = encoded.pop("overflow_to_sample_mapping").tolist()
    offsets = encoded.pop("offset_mapping").tolist()
    was_training = model.training
    model.eval()
    with torch.no_grad():
        output = model(**{k: v.to(model.device) for k, v in encoded.items()})
    model.train(was_training)
    windows = []
    for i, row in enumerate(example_of):
        real = encoded["attention_mask"][i].bool()
        sequence_ids = encoded.sequence_ids(i)
        masked = [o if s == 1 else None for o, s in zip(offsets[i], sequence_ids, strict=True)]
        windows.append(
            Window(
                str(row),
                [m for m, keep in zip(masked, real.tolist(), strict=True) if keep],
                output.start_logits[i][real].float().cpu().numpy(),
                output.end_logits[i][real].float().cpu().numpy(),
            )
        )
    answers = decide_answers(
        windows,
        {str(i): c for i, c in enumerate(contexts)},
        n_best_size=n_best_size,
        max_answer_length=max_answer_length,
        version_2_with_negative=version_2_with_negative,
        null_score_diff_threshold=null_score_diff_threshold,
    )
    return [answers.get(str(i), Answer("", 0, 0, 0.0)) for i in range(len(questions))]


# --------------------------------------------------------------------------- module
class QuestionAnsweringModule(TaskModule):
    """Start/end cross-entropy; SQuAD exact match and F1 (0-100) over whole questions.

    Metric keys: `val/loss`, `val/exact_match`, `val/f1` (and `test/...`); with
    `version_2_with_negative` also `val/has_answer_exact_match`, `val/has_answer_f1`,
    `val/no_answer_exact_match`, `val/no_answer_f1`.

    Args:
        references: per evaluation split, its examples and windows (from the data module).
        version_2_with_negative: questions may be unanswerable (SQuAD v2).
        n_best_size: best start and best end positions combined per window.
        max_answer_length: longest answer, in tokens.
        null_score_diff_threshold: v2: answer "" when the null score beats the best span by
            more than this.
        report_examples: test questions shown with their predictions in `test_report.json`.
    """

    progress_bar_metrics = ("f1",)

    def __init__(
        self,
        model: PreTrainedModel,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        *,
        references: Mapping[str, QAReferences] | None = None,
        version_2_with_negative: bool = False,
        n_best_size: int = 20,
        max_answer_length: int = 30,
        null_score_diff_threshold: float = 0.0,
        report_examples: int = 5,
    ) -> None:
        super().__init__(model, optimizer, scheduler)
        if n_best_size < 1 or max_answer_length < 1:
            raise ConfigError(
                f"task.module.n_best_size={n_best_size} and max_answer_length="
                f"{max_answer_length} must both be at least 1"
            )
        self.references = dict(references or {})
        self.version_2_with_negative = version_2_with_negative
        self.n_best_size = n_best_size
        self.max_answer_length = max_answer_length
        self.null_score_diff_threshold = null_score_diff_threshold
        self.report_examples = report_examples
        self.logits = torch.nn.ModuleDict({"val": SpanLogits(), "test": SpanLogits()})
        self.predictions: dict[str, dict[str, str]] = {}

    def evaluation_step(self, batch: dict[str, torch.Tensor], stage: str) -> None:
        inputs = dict(batch)
        feature_index = inputs.pop("feature_index", None)
        output = self.model(**inputs)
        size = int(inputs["input_ids"].shape[0])
        if output.loss is not None:
            self.log_eval_loss(stage, output.loss, size)
        if feature_index is not None:
            metric: Any = self.logits[stage]
            metric.update(
                feature_index,
                output.start_logits.detach(),
                output.end_logits.detach(),
                inputs["attention_mask"],
            )

    def evaluation_metrics(self, stage: str) -> dict[str, torch.Tensor]:
        metric: Any = self.logits[stage]
        split = "validation" if stage == "val" else stage
        references = self.references.get(split)
        if references is None or not metric.update_called:
            metric.reset()
            return {}
        gathered = metric.compute()
        metric.reset()
        contexts = dict(zip(references.ids, references.contexts, strict=True))
        predictions = postprocess_predictions(
            windows_from_logits(references.features, *gathered),
            contexts,
            n_best_size=self.n_best_size,
            max_answer_length=self.max_answer_length,
            version_2_with_negative=self.version_2_with_negative,
            null_score_diff_threshold=self.null_score_diff_threshold,
        )
        self.predictions[stage] = predictions
        scores = squad_scores(
            predictions,
            dict(zip(references.ids, references.answers, strict=True)),
            version_2_with_negative=self.version_2_with_negative,
        )
        return {
            f"{stage}/{name}": torch.tensor(value, dtype=torch.float32)
            for name, value in scores.items()
            if not name.endswith("total")
        }

    def evaluation_report(self, stage: str) -> dict[str, Any]:
        """A few test questions with their gold answers and the model's prediction."""
        split = "validation" if stage == "val" else stage
        references = self.references.get(split)
        predictions = self.predictions.get(stage)
        if references is None or predictions is None:
            return {}
        shown = []
        for i in range(min(self.report_examples, len(references.ids))):
            qid = references.ids[i]
            shown.append(
                {
                    "id": qid,
                    "question": references.questions[i],
                    "answers": references.answers[i],
                    "prediction": predictions.get(qid, ""),
                }
            )
        return {"version_2_with_negative": self.version_2_with_negative, "examples": shown}
