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

**What the estimate uses** (:func:`sampled_questions`): the longest beginning of the seeded order whose
questions are done (each judge-graded answer labelled or skipped, or the question marked gold-wrong or
unclear), and the question after it when the first answers of its seeded shuffle are done (the review shows them
in that order, so that part is a random one). That is a random sample of the run's questions, as
prediction-powered inference assumes. Labels elsewhere — a row of a CSV labelled by hand outside the sample, the questions of an earlier
sample that questions added since (``QUESTIONS=n``) have moved past unlabelled ones — are kept and counted apart,
not used; ``make review`` shows the new questions of the sample first.

**CSV.** :func:`export_csv` writes the sample for a colleague to label in a spreadsheet, blind: each row has an
opaque ``row`` id instead of the question id and the model's name (the mapping stays in the run folder,
``review-rows.json``), in the sample's order (the candidates shuffled within a question). :func:`import_csv`
reads it back, or any ``question_id,candidate,label[,gold_wrong][,unclear]`` file of labels for the run's
answers. It is strict: ``label`` is 1/0, correct/wrong, yes/no, true/false (or their French forms), and
``gold_wrong`` / ``unclear`` are 1/0, yes/no, true/false, x or empty (or their French forms); any other value, a
row that no longer matches the run or an unknown row id refuses the row, named, and then nothing is imported
unless the caller says to go on with the others (``go_on``; ``make review ... SKIP_REFUSED=1``).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import secrets
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
EXPORT_COLUMNS = ["row", "question", "gold", "excerpt", "answer", "label", "gold_wrong", "unclear"]
ROWS = "review-rows.json"  # the export's opaque row ids -> (question_id, candidate), in the run folder


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


def labelled_answers(run_dir: Path, cfg: Config | None = None) -> pd.DataFrame:
    """One row per graded answer (``judgements.parquet``) with the person's label where there is a current
    one: question_id, candidate, verdict, graded_by, label, label_value (NaN where unlabelled), and, with the
    profile ``cfg``, ``sampled`` (the question is in the random sample the estimate uses: :func:`sampled_questions`)."""
    labels = current_labels(run_dir)[[*KEY, "label", "label_value"]]
    found = _judgements(run_dir).merge(labels, on=KEY, how="left")
    if cfg is not None:
        found["sampled"] = found["question_id"].isin(set(sampled_questions(run_dir, cfg)))
    return found


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


def sampled_questions(run_dir: Path, cfg: Config) -> list[str]:
    """The questions whose labels the estimate uses, in the seeded order (module docstring, "What the estimate
    uses"): the done beginning of the order, and the next question when the first answers of its seeded shuffle are
    done. Empty when nothing is labelled."""
    run_dir = Path(run_dir)
    judgements = _judgements(run_dir)
    names = {c.name for c in cfg.candidates}
    judgements = judgements[judgements["candidate"].isin(names)]
    records = current_labels(run_dir, include_skips=True)
    if records.empty:
        return []
    done: dict[str, set] = {}
    leaves = set(records.loc[records["label"].isin(["gold_wrong", "unclear"]), "question_id"])
    for q, c in zip(records["question_id"], records["candidate"]):
        done.setdefault(q, set()).add(c)
    graded = judgements[judgements["graded_by"] != "rule"]
    needed = {q: set(group["candidate"]) for q, group in graded.groupby("question_id")}
    seed = _seed(run_dir, cfg)
    found = []
    for q in question_order(run_dir, cfg, judgements["question_id"]):
        if q in leaves or needed.get(q, set()) <= done.get(q, set()):
            found.append(q)
            continue
        # the question the review stopped in counts when its done answers are the first ones of its seeded shuffle
        # (what the review shows first): a random part of it, not a hand-picked one
        shown = sorted(needed.get(q, set()), key=lambda c: _draw(seed, q, c))
        if done.get(q) and set(shown[:len(done[q])]) == done[q]:
            found.append(q)
        break
    return found if any(q in done for q in found) else []


# --- CSV ------------------------------------------------------------------------------------------------

def rows_path(run_dir: Path) -> Path:
    return Path(run_dir) / ROWS


def row_ids(run_dir: Path) -> dict[str, tuple[str, str]]:
    """Every opaque row id an export of this run gave -> (question_id, candidate)."""
    path = rows_path(run_dir)
    if not path.is_file():
        return {}
    return {row: (str(q), str(c)) for row, (q, c) in json.loads(path.read_text(encoding="utf-8")).items()}


def _assign_rows(run_dir: Path, keys: list[tuple[str, str]]) -> list[str]:
    """An opaque row id per (question_id, candidate): random, kept in the run folder, the same in a later export
    (so that two exports tell nothing more than one)."""
    known = row_ids(run_dir)
    by_key = {key: row for row, key in known.items()}
    for key in keys:
        if key not in by_key:
            row = f"r-{secrets.token_hex(4)}"
            while row in known:
                row = f"r-{secrets.token_hex(4)}"
            known[row], by_key[key] = key, row
    atomic_write_text(rows_path(run_dir), json.dumps({row: list(key) for row, key in known.items()}, indent=1) + "\n")
    return [by_key[key] for key in keys]


def export_csv(run_dir: Path, cfg: Config, n: int, path: Path) -> int:
    """Write the sample to ``path`` for labelling in a spreadsheet, blind (UTF-8 with a byte-order mark, which
    spreadsheets read as UTF-8): an opaque row id (the question and the model stay in the run folder,
    ``review-rows.json``), question, gold, excerpt, answer, and the empty columns to fill: label (1 correct,
    0 wrong), gold_wrong, unclear (1 where they apply). Returns the rows written."""
    found = sample(run_dir, cfg, n)
    rows = _assign_rows(run_dir, list(zip(found["question_id"].astype(str), found["candidate"].astype(str))))
    out = pd.DataFrame({"row": rows, "question": found["question"], "gold": found["gold"],
                        "excerpt": found["chunk_text"], "answer": found["prediction"], "label": "", "gold_wrong": "",
                        "unclear": ""}, columns=EXPORT_COLUMNS)
    atomic_write_text(Path(path), "\ufeff" + out.to_csv(index=False))
    return len(out)


_CORRECT = {"1", "1.0", "correct", "yes", "y", "true", "t", "right", "oui", "o", "vrai", "v", "juste", "correcte"}
_WRONG = {"0", "0.0", "wrong", "no", "n", "false", "f", "incorrect", "non", "faux", "fausse", "incorrecte"}
_OTHER = {"gold_wrong": "gold_wrong", "gold wrong": "gold_wrong", "unclear": "unclear", "skip": "skip"}
# gold_wrong / unclear: what says yes, and what says no (an empty cell included); anything else is refused
_FLAG_TRUE = {"1", "1.0", "yes", "y", "true", "t", "x", "oui", "o", "vrai", "v"}
_FLAG_FALSE = {"", "0", "0.0", "no", "n", "false", "f", "non", "faux"}


def _flag_of(value) -> bool | None:
    """Whether a gold_wrong / unclear cell says yes (None: it says neither)."""
    text = str(value if value is not None else "").strip().lower()
    return True if text in _FLAG_TRUE else False if text in _FLAG_FALSE else None


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
    # (the row as the file names it: "row r-…" for an export's, else "question_id …, candidate …"; why)
    refused: list[tuple[str, str]] = field(default_factory=list)
    outside: int = 0  # labels written outside the seeded sample (or of a non-answer): kept, not in the estimate

    def refused_text(self) -> str:
        named = "; ".join(f"{where}: {why}" for where, why in self.refused)
        return f"refused {len(self.refused)} row{'s' * (len(self.refused) != 1)}: {named}"

    def text(self) -> str:
        line = f"imported {self.imported} label{'s' * (self.imported != 1)}"
        more = [f"{self.unchanged} already given" if self.unchanged else "",
                f"{self.empty} rows without a label ignored" if self.empty else ""]
        if any(more):
            line += f" ({', '.join(filter(None, more))})"
        if self.outside:
            line += (f"; {self.outside} of them outside the seeded random sample (or of an answer wrong by rule): "
                     "kept and counted apart in the report, not in its estimate")
        if self.refused:
            line += f"; {self.refused_text()}"
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
    missing = [c for c in KEY if c not in found] if "row" not in found else []
    if missing or not {"label", "gold_wrong", "unclear"} & set(found.columns):
        raise UserError(f"{path}: needs the columns row (an export's) or question_id and candidate, and label (and "
                        f"optionally gold_wrong, unclear); it has {', '.join(found.columns) or 'none'}")
    return found


def import_csv(run_dir: Path, cfg: Config, path: Path, go_on: bool = False) -> ImportSummary:
    """Read labels from a CSV (:func:`export_csv`'s, filled in, or just ``question_id,candidate,label`` with
    optional ``gold_wrong`` / ``unclear`` columns) and write them with source "import".

    ``label``: 1 / correct / yes / true is correct, 0 / wrong / no / false is wrong (case aside; French forms
    too); ``gold_wrong`` and ``unclear``: 1 / yes / true / x says yes, 0 / no / false / empty says no, and a yes
    wins over the label. Any other value refuses its row, as does a row for an answer the run does not have, an
    unknown row id, or a row whose question, gold answer or answer text (where the CSV has them) differs from the
    run's. With a refused row nothing is written and :class:`UserError` names every one, unless ``go_on``: then
    the other rows are written and the summary names the refused. Rows without a label are ignored; a row whose
    label is the answer's current one is not written again; the last row for an answer wins. Any current graded
    answer of the run may be labelled, but only the seeded sample's labels enter the estimate
    (:func:`sampled_questions`): the summary counts the others (``outside``).
    """
    run_dir = Path(run_dir)
    rows = _read_csv(path)
    answers = current_answers(run_dir)
    graded = _judgements(run_dir)[KEY].merge(answers, on=KEY)
    by_key = {(r["question_id"], r["candidate"]): r for r in graded.to_dict("records")}
    by_row = row_ids(run_dir)
    current = {(r["question_id"], r["candidate"]): r["label"]
               for r in current_labels(run_dir, include_skips=True, answers=answers).to_dict("records")}
    summary = ImportSummary()
    wanted: dict[tuple, tuple[dict, str]] = {}
    for row in rows.to_dict("records"):
        if "row" in row and str(row.get("row", "")).strip():
            where = f"row {str(row['row']).strip()}"  # a blind export's: the model is not named, even here
            qid, candidate = by_row.get(str(row["row"]).strip(), ("", ""))
            if not qid:
                summary.refused.append((where, "no export of this run gave that row id"))
                continue
        else:
            qid, candidate = str(row.get("question_id", "")).strip(), str(row.get("candidate", "")).strip()
            where = f"question_id {qid}, candidate {candidate}"
        flags = {f: _flag_of(row.get(f, "")) for f in ("gold_wrong", "unclear")}
        bad = [f"{f} {str(row.get(f, '')).strip()!r} is not 1/0, yes/no, true/false, x or empty"
               for f, value in flags.items() if value is None]
        label = _label_of(str(row.get("label", "")))
        if label is None:
            bad.append(f"label {str(row['label']).strip()!r} is not 1/0, correct/wrong, yes/no or true/false")
        if bad:
            summary.refused.append((where, "; ".join(bad)))
            continue
        label = next((f for f, value in flags.items() if value), label)  # gold_wrong, unclear, then label
        if label in ("", "skip"):
            summary.empty += 1
            continue
        if qid.isdigit() and (qid, candidate) not in by_key:  # a spreadsheet took an id of digits for a number
            qid = next((q for q, c in by_key if c == candidate and q.isdigit() and int(q) == int(qid)), qid)
        answer = by_key.get((qid, candidate))
        if answer is None:
            summary.refused.append((where, "the run has no such graded answer"))
            continue
        changed = [name for name, ours in (("question", "question"), ("gold", "gold"), ("answer", "prediction"))
                   if name in row and not _same_text(row[name], answer[ours])]
        if changed:
            why = (f"its {' and '.join(changed)} differ{'s' * (len(changed) == 1)} from the run's (the run changed "
                   "since the export)")
            summary.refused.append((where, why))
            continue
        wanted[(qid, candidate)] = (answer, label)
    if summary.refused and not go_on:
        raise UserError(f"{path}: nothing imported: {summary.refused_text()}; correct these rows, or import the "
                        "others anyway (SKIP_REFUSED=1, or --skip-refused)")
    for key, (answer, label) in wanted.items():
        if current.get(key) == label:
            summary.unchanged += 1
        else:
            append_label(run_dir, answer, label, source="import")
            summary.imported += 1
    sampled = set(sampled_questions(run_dir, cfg))
    rule = set(zip(*_judgements(run_dir).query("graded_by == 'rule'")[KEY].to_numpy().T)) \
        if (_judgements(run_dir)["graded_by"] == "rule").any() else set()
    summary.outside = sum(key[0] not in sampled or key in rule for key in wanted)
    return summary
