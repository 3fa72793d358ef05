"""People's labels of the answers: the store, the sample to label, and the CSV export/import.

**The store.** ``<run>/labels.jsonl``, one JSON line per label, appended and flushed to disk
(``fsync``) the moment it is given, so that quitting or a kill loses nothing::

    {"question_id": "…", "candidate": "…", "question_hash": "…", "answer_hash": "…", "label": "correct",
     "source": "review", "labelled_at": "2026-01-02T10:11:12+00:00"}

``label`` is one of ``correct``, ``wrong``, ``gold_wrong`` (the gold answer itself is wrong), ``unclear``
(the question cannot be answered as asked) or ``skip`` (not a label: the item was passed over, and the
review does not show it again); ``source`` is ``review`` (the app) or ``import`` (a CSV). A label is for
one text: ``question_hash`` (question, gold answer and excerpt, as
:func:`pipeline.verdicts.judge.question_hash`) and ``answer_hash`` (:func:`pipeline.verdicts.judge.answer_hash`).
:func:`current_labels` keeps, per (question, candidate), the latest record that still matches the run's
current question and answer; a record for a question regenerated with another gold answer or excerpt, or
for an answer made again with other words, is left out, and counted (:func:`stale_labels`).

**The sample.** What is shown to label is fixed by the run alone, so that the statistics can rely on it:

* the run's questions are put in a seeded random order: each question's place is a hash of the profile's
  ``questions.seed``, the run folder's name (the document's content hash) and the question id — stable
  across reruns, and a question added later (``QUESTIONS=n``) takes its own place without moving the
  others;
* the sample is the first ``k = ceil(N / number of candidates)`` questions of that order, and for each of
  them every candidate's answer that the judge (or a figure rule) graded (``graded_by`` not ``rule``). Answers
  wrong by rule
  (:mod:`pipeline.verdicts.non_answers`) are known wrong and never shown;
* so every model is labelled on the same questions, the same number of times up to its non-answers
  (equal allocation, stratified by model), and within one model the labelled answers are a simple random
  sample of its judge-graded answers (a random set of questions, met with the fixed set of questions it
  gave a judge-graded answer to). A model's accuracy is then its rule-graded share × 0 plus its
  judge-graded share × the labelled accuracy, unbiased; and because the models share their questions, the
  difference between two models is a paired difference on the same random questions, unbiased too, with
  the smaller variance of a paired design;
* a larger ``N`` extends the sample: the sample of a smaller ``N`` is its beginning, so labels already
  given stay in it;
* within one question the candidates' answers come in a seeded shuffled order (a hash of the same seed,
  the question and the candidate) and the candidate's name is not shown: the person is blind to the model
  as well as to the verdict.

:func:`next_items` is the rest of the sample not yet labelled or skipped, in order: a review that stopped
continues where it stopped.

**CSV.** :func:`export_csv` writes the sample for a colleague to label in a spreadsheet;
:func:`import_csv` reads it back, or any ``question_id,candidate,label[,gold_wrong][,unclear]`` file of
labels for the run's answers, and refuses (naming them) the rows that no longer match the run.
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from pipeline.config import Config
from pipeline.errors import UserError
from pipeline.io import append_jsonl, atomic_write_text, read_jsonl
from pipeline.verdicts.judge import answer_hash, question_hash

LABELS = ("correct", "wrong", "gold_wrong", "unclear", "skip")
LABEL_VALUES = {"correct": 1.0, "wrong": 0.0}  # every other label: NaN (not a verdict on the answer)
SOURCES = ("review", "import")
FILE = "labels.jsonl"
DEFAULT_N = 40
KEY = ["question_id", "candidate"]
LABEL_COLUMNS = ["question_id", "candidate", "label", "label_value", "source", "labelled_at"]
SAMPLE_COLUMNS = ["question_id", "candidate", "question", "gold", "chunk_text", "prediction", "question_hash",
                  "answer_hash", "label", "labelled", "done"]
EXPORT_COLUMNS = ["question_id", "candidate", "question", "gold", "excerpt", "answer", "label", "gold_wrong",
                  "unclear"]


def labels_path(run_dir: Path) -> Path:
    return Path(run_dir) / FILE


# --- the store ------------------------------------------------------------------------------------------

def record(item: Mapping, label: str, source: str = "review", labelled_at: str | None = None) -> dict:
    """The record of ``label`` for ``item`` (question_id, candidate, and either question_hash/answer_hash
    or the texts they are made from: question, gold, chunk_text, prediction)."""
    if label not in LABELS:
        raise ValueError(f"label must be one of {', '.join(LABELS)} (got {label!r})")
    if source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)} (got {source!r})")
    qhash = item.get("question_hash") or question_hash(item["question"], item["gold"], item["chunk_text"])
    ahash = item.get("answer_hash") or answer_hash(item["prediction"])
    return {"question_id": str(item["question_id"]), "candidate": str(item["candidate"]),
            "question_hash": qhash, "answer_hash": ahash, "label": label, "source": source,
            "labelled_at": labelled_at or datetime.now(timezone.utc).isoformat(timespec="seconds")}


def append_label(run_dir: Path, item: Mapping, label: str, source: str = "review") -> dict:
    """Write one label now (appended, flushed and fsynced: a kill right after loses nothing); returns it."""
    found = record(item, label, source)
    append_jsonl(labels_path(run_dir), found)
    return found


def current_answers(run_dir: Path) -> pd.DataFrame:
    """Every answer of the run as it is now: one row per (question, candidate) with the question, gold
    answer, excerpt, prediction and their hashes. Empty when the run has no questions or answers yet."""
    run_dir = Path(run_dir)
    columns = [*KEY, "question", "gold", "chunk_text", "prediction", "question_hash", "answer_hash"]
    qpath = run_dir / "questions.parquet"
    answer_files = sorted((run_dir / "answers").glob("*.parquet"))
    if not qpath.is_file() or not answer_files:
        return pd.DataFrame(columns=columns)
    questions = pd.read_parquet(qpath).reindex(columns=["question_id", "question", "gold", "chunk_text"])
    found = []
    for path in answer_files:
        answers = pd.read_parquet(path).reindex(columns=["question_id", "prediction"])
        found.append(answers.assign(candidate=path.stem))
    answers = pd.concat(found, ignore_index=True).merge(questions, on="question_id")
    answers["question_id"] = answers["question_id"].astype(str)
    answers["question_hash"] = [question_hash(q, g, c) for q, g, c in
                                zip(answers["question"], answers["gold"], answers["chunk_text"])]
    answers["answer_hash"] = [answer_hash(p) for p in answers["prediction"]]
    return answers[columns]


def _latest(run_dir: Path, answers: pd.DataFrame | None = None) -> tuple[list[dict], int]:
    """The latest record per answer that matches the current answer (skips included), and how many
    answers have labels (skips aside) of which none matches any more."""
    records = read_jsonl(labels_path(run_dir))
    if not records:
        return [], 0
    answers = current_answers(run_dir) if answers is None else answers
    current = {(q, c): (qh, ah) for q, c, qh, ah in
               zip(answers["question_id"], answers["candidate"], answers["question_hash"], answers["answer_hash"])}
    latest: dict[tuple, dict] = {}
    labelled = set()
    for r in records:  # in the order written: a later one replaces an earlier one
        if not isinstance(r, dict) or r.get("label") not in LABELS:
            continue
        key = (str(r.get("question_id")), str(r.get("candidate")))
        if r["label"] != "skip":
            labelled.add(key)
        if current.get(key) == (r.get("question_hash"), r.get("answer_hash")):
            latest[key] = r
    return list(latest.values()), len(labelled - latest.keys())


def current_labels(run_dir: Path, include_skips: bool = False, *, answers: pd.DataFrame | None = None) \
        -> pd.DataFrame:
    """The latest label of each answer that still matches the run's current question and answer.

    Columns: question_id, candidate, label, label_value (1.0 correct, 0.0 wrong, NaN otherwise), source,
    labelled_at. Skips (not labels) only with ``include_skips``. ``attrs["stale"]``: how many answers have
    labels that no longer match their question or answer (left out). ``answers``: the run's
    :func:`current_answers`, when the caller has them already.
    """
    latest, stale = _latest(Path(run_dir), answers)
    found = pd.DataFrame([{**{c: r.get(c) for c in LABEL_COLUMNS}, "label_value": LABEL_VALUES.get(r["label"],
                                                                                                   float("nan"))}
                          for r in latest if include_skips or r["label"] != "skip"], columns=LABEL_COLUMNS)
    found["label_value"] = found["label_value"].astype(float)
    found.attrs["stale"] = stale
    return found


def stale_labels(run_dir: Path) -> int:
    """How many answers have labels that no longer match their answer (question, gold, excerpt or answer
    text changed since): "N labels no longer match their answer"."""
    return _latest(Path(run_dir))[1]


def label_count(run_dir: Path) -> int:
    """The run's current labels (skips aside): what ``make list`` shows."""
    if not labels_path(run_dir).is_file():
        return 0
    return len(current_labels(run_dir))


def _judgements(run_dir: Path) -> pd.DataFrame:
    path = Path(run_dir) / "judgements.parquet"
    if not path.is_file():
        raise UserError(f"no verdicts yet in {path.parent} (no judgements.parquet): run make report first")
    found = pd.read_parquet(path).reindex(columns=[*KEY, "verdict", "graded_by"])
    found["question_id"] = found["question_id"].astype(str)
    return found


def labelled_answers(run_dir: Path) -> pd.DataFrame:
    """One row per graded answer (``judgements.parquet``) with the person's label where there is a current
    one: question_id, candidate, verdict, graded_by, label, label_value (NaN where unlabelled)."""
    labels = current_labels(run_dir)[[*KEY, "label", "label_value"]]
    return _judgements(run_dir).merge(labels, on=KEY, how="left")


# --- the sample -----------------------------------------------------------------------------------------

def _draw(*parts) -> str:
    """A uniform pseudo-random draw, fixed by ``parts``: their hash."""
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()


def _seed(run_dir: Path, cfg: Config) -> str:
    """The profile's question seed and the run folder's name (the document's content hash)."""
    return f"{cfg.questions.seed}/{Path(run_dir).resolve().name}"


def question_order(run_dir: Path, cfg: Config, question_ids) -> list[str]:
    """``question_ids`` in the run's seeded random order."""
    seed = _seed(run_dir, cfg)
    return sorted(dict.fromkeys(map(str, question_ids)), key=lambda q: _draw(seed, q))


def sample(run_dir: Path, cfg: Config, n: int = DEFAULT_N) -> pd.DataFrame:
    """The answers to label, in the order shown (module docstring): the first ``ceil(n / candidates)``
    questions of the seeded order, each with every candidate's judge-graded answer in a seeded shuffled
    order.

    Columns: question_id, candidate, question, gold, chunk_text, prediction, question_hash, answer_hash,
    label (the current one, a skip included; None where none), labelled (a label other than skip), done
    (labelled or skipped). The candidates are the profile's that the run's verdicts cover.
    """
    if n < 1:
        raise UserError(f"the sample needs 1 answer or more (got N={n})")
    run_dir = Path(run_dir)
    judgements = _judgements(run_dir)
    judged = set(judgements["candidate"])
    names = [c.name for c in cfg.candidates if c.name in judged]
    if not names:
        raise UserError(f"no verdicts for the profile's candidates ({', '.join(c.name for c in cfg.candidates)}) "
                        f"in {run_dir / 'judgements.parquet'}: run make report first")
    answers = current_answers(run_dir)
    graded = judgements[judgements["candidate"].isin(names)].merge(answers, on=KEY)
    k = math.ceil(n / len(names))
    rank = {q: i for i, q in enumerate(question_order(run_dir, cfg, graded["question_id"])[:k])}
    # every answer a verdict may be wrong on: the judge's, and a figure rule's (judge.figure_rules) — not a non-answer
    chosen = graded[graded["question_id"].isin(rank.keys()) & (graded["graded_by"] != "rule")].copy()
    seed = _seed(run_dir, cfg)
    chosen["_rank"] = chosen["question_id"].map(rank)
    chosen["_shuffle"] = [_draw(seed, q, c) for q, c in zip(chosen["question_id"], chosen["candidate"])]
    chosen = chosen.sort_values(["_rank", "_shuffle"])
    labels = current_labels(run_dir, include_skips=True, answers=answers)[[*KEY, "label"]]
    chosen = chosen.merge(labels, on=KEY, how="left")
    chosen["label"] = chosen["label"].astype(object).where(chosen["label"].notna(), None)
    chosen["done"] = chosen["label"].notna()
    chosen["labelled"] = chosen["done"] & (chosen["label"] != "skip")
    return chosen[SAMPLE_COLUMNS].reset_index(drop=True)


def next_items(run_dir: Path, cfg: Config, n: int = DEFAULT_N) -> pd.DataFrame:
    """The sample's answers neither labelled nor skipped yet, in order."""
    found = sample(run_dir, cfg, n)
    return found[~found["done"]].reset_index(drop=True)


# --- CSV ------------------------------------------------------------------------------------------------

def export_csv(run_dir: Path, cfg: Config, n: int, path: Path) -> int:
    """Write the sample to ``path`` for labelling in a spreadsheet (UTF-8 with a byte-order mark, which
    spreadsheets read as UTF-8): question_id, candidate, question, gold, excerpt, answer, and the empty
    columns to fill: label (1 correct, 0 wrong), gold_wrong, unclear (1 where they apply). Returns the rows
    written."""
    found = sample(run_dir, cfg, n)
    out = pd.DataFrame({"question_id": found["question_id"], "candidate": found["candidate"],
                        "question": found["question"], "gold": found["gold"], "excerpt": found["chunk_text"],
                        "answer": found["prediction"], "label": "", "gold_wrong": "", "unclear": ""},
                       columns=EXPORT_COLUMNS)
    atomic_write_text(Path(path), "\ufeff" + out.to_csv(index=False))
    return len(out)


_CORRECT = {"1", "1.0", "correct", "yes", "y", "true", "t", "right"}
_WRONG = {"0", "0.0", "wrong", "no", "n", "false", "f", "incorrect"}
_FALSE = {"", "0", "0.0", "no", "n", "false", "f", "nan"}
_OTHER = {"gold_wrong": "gold_wrong", "gold wrong": "gold_wrong", "unclear": "unclear", "skip": "skip"}


def _label_of(value: str) -> str | None:
    """The label a spreadsheet cell means ("" for an empty cell, None when it means none)."""
    text = value.strip().lower()
    if not text:
        return ""
    if text in _CORRECT:
        return "correct"
    if text in _WRONG:
        return "wrong"
    return _OTHER.get(text)


def _same_text(a, b) -> bool:
    """Equal but for whitespace (spreadsheets rewrap, trim and change line ends)."""
    return " ".join(str(a if a is not None else "").split()) == " ".join(str(b if b is not None else "").split())


@dataclass
class ImportSummary:
    imported: int = 0  # labels written
    unchanged: int = 0  # rows whose label was already the answer's current one
    empty: int = 0  # rows without a label: ignored
    refused: list[tuple[str, str, str]] = field(default_factory=list)  # (question_id, candidate, why)

    def text(self) -> str:
        line = f"imported {self.imported} label{'s' * (self.imported != 1)}"
        more = [f"{self.unchanged} already given" if self.unchanged else "",
                f"{self.empty} rows without a label ignored" if self.empty else ""]
        if any(more):
            line += f" ({', '.join(filter(None, more))})"
        if self.refused:
            named = "; ".join(f"question_id {q}, candidate {c}: {why}" for q, c, why in self.refused)
            line += (f"; refused {len(self.refused)} row{'s' * (len(self.refused) != 1)} that do not match "
                     f"the run: {named}")
        return line


def _read_csv(path: Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no file {path} to import")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:  # a spreadsheet's "CSV" in the Windows code page
        text = data.decode("cp1252", errors="replace")
    header = text.split("\n", 1)[0]
    sep = max((",", ";", "\t"), key=header.count)  # spreadsheets in some locales write ";"
    try:
        found = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise UserError(f"{path} is not a CSV file ({exc})") from None
    found.columns = [str(c).strip().lower() for c in found.columns]
    missing = [c for c in KEY if c not in found]
    if missing or not {"label", "gold_wrong", "unclear"} & set(found.columns):
        raise UserError(f"{path}: needs the columns question_id, candidate and label (and optionally gold_wrong, "
                        f"unclear); it has {', '.join(found.columns) or 'none'}")
    return found


def import_csv(run_dir: Path, cfg: Config, path: Path) -> ImportSummary:
    """Read labels from a CSV (:func:`export_csv`'s, filled in, or just ``question_id,candidate,label``
    with optional ``gold_wrong`` / ``unclear`` columns) and write them with source "import".

    ``label``: 1 / correct / yes / true is correct, 0 / wrong / no / false is wrong (case aside); a truthy
    ``gold_wrong`` or ``unclear`` wins over it. Any current graded answer of the run may be labelled, not
    only the sample's (``cfg`` is the profile, kept for the call's symmetry with :func:`export_csv`). A row
    for an answer the run does not have, or whose question, gold answer or answer text (where the CSV has
    them) differs from the run's, is refused and named; rows without a label are ignored; a row whose label
    is the answer's current one is not written again. The last row for an answer wins.
    """
    run_dir = Path(run_dir)
    rows = _read_csv(path)
    answers = current_answers(run_dir)
    graded = _judgements(run_dir)[KEY].merge(answers, on=KEY)
    by_key = {(r["question_id"], r["candidate"]): r for r in graded.to_dict("records")}
    current = {(r["question_id"], r["candidate"]): r["label"]
               for r in current_labels(run_dir, include_skips=True, answers=answers).to_dict("records")}
    summary = ImportSummary()
    wanted: dict[tuple, tuple[dict, str]] = {}
    for row in rows.to_dict("records"):
        qid, candidate = str(row["question_id"]).strip(), str(row["candidate"]).strip()
        flags = [f for f in ("gold_wrong", "unclear") if str(row.get(f, "")).strip().lower() not in _FALSE]
        label = flags[0] if flags else _label_of(str(row.get("label", "")))  # gold_wrong, unclear, then label
        if label is None:
            why = f"label {str(row['label']).strip()!r} is not 1/0, correct/wrong, yes/no or true/false"
            summary.refused.append((qid, candidate, why))
            continue
        if label in ("", "skip"):
            summary.empty += 1
            continue
        if qid.isdigit() and (qid, candidate) not in by_key:  # a spreadsheet took an id of digits for a number
            qid = next((q for q, c in by_key if c == candidate and q.isdigit() and int(q) == int(qid)), qid)
        answer = by_key.get((qid, candidate))
        if answer is None:
            summary.refused.append((qid, candidate, "the run has no such graded answer"))
            continue
        changed = [name for name, ours in (("question", "question"), ("gold", "gold"), ("answer", "prediction"))
                   if name in row and not _same_text(row[name], answer[ours])]
        if changed:
            why = (f"its {' and '.join(changed)} differ{'s' * (len(changed) == 1)} from the run's (the run changed "
                   "since the export)")
            summary.refused.append((qid, candidate, why))
            continue
        wanted[(qid, candidate)] = (answer, label)
    for key, (answer, label) in wanted.items():
        if current.get(key) == label:
            summary.unchanged += 1
        else:
            append_label(run_dir, answer, label, source="import")
            summary.imported += 1
    return summary
