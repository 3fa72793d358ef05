"""Control answers: answers built from the run's own questions whose truth is known by construction.

A hand-labelled calibration set cannot stand for the answers one document and
its candidates produce. So every kept question also gets a few control answers,
graded by the judge with the same prompt, in the same requests' conditions as the
candidates' answers (interleaved with them in the judge's grading order):

* positives, correct by construction — the gold answer reworded: its numbers
  written in words ("48 millimetres" -> "forty-eight millimetres", num2words, in
  the document's language), or, when it has no number to write out, behind a
  neutral preamble ("According to the document, ...");
* negatives, wrong by construction — the gold with one number changed (or, without a
  number, one proper name swapped for a name from elsewhere in the document);
  another question's gold answer from another excerpt (a swapped reference); the
  gold answer of a neighbouring question from the same excerpt; a refusal.

The judge's acceptance of the positives is this document's sensitivity, its
rejection of the negatives its specificity (:func:`rates`). Constructed
known-truth pairs are how judges are tested where answers cannot be hand-labelled
per task (e.g. swapped-reference QA, arXiv 2601.07506).

Each question gets ``per_question`` controls (one positive, the rest negatives of
kinds taken in turn, so that every kind is spread over the document): a known,
bounded number of judge calls. A question's controls are built from itself and
the questions *before* it in ``questions.parquet`` (validation's order), never from
later ones: a higher question target keeps every earlier question (and its place),
so it keeps every control answer made before and only adds the new questions'.
Everything here is pure and deterministic.
"""

from __future__ import annotations

import hashlib
import re

import pandas as pd

POSITIVE = ("gold reworded",)
NEGATIVE = ("changed fact", "another question's answer", "neighbouring question's answer", "refusal")
KINDS = POSITIVE + NEGATIVE
# Per language: a refusal, and a neutral preamble (a paraphrase that keeps the fact). English for the others.
PHRASES = {
    "en": {"refusal": "The excerpt does not give this information.", "preamble": "According to the document, "},
    "fr": {"refusal": "L'extrait ne donne pas cette information.", "preamble": "D'après le document, "},
}
YEAR = range(1800, 2101)
NUMBER = re.compile(r"(?<![\w.,])(\d+)(?:([.,])(\d+))?(?![\w]|[.,]\d)")
# A capitalised name inside a sentence (not its first word): "at Corvo", "the Fenn Bridge station".
NAME = re.compile(r"(?<=[a-zà-ÿ,;:]\s)([A-Z][a-zà-ÿ]+(?:[\s-][A-Z][a-zà-ÿ]+)*)")
COMMON_CAPITALISED = {"January", "February", "March", "April", "May", "June", "July", "August", "September",
                      "October", "November", "December", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
                      "Saturday", "Sunday", "I", "CO", "The", "A", "An"}


def _hash(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def _phrases(language: str) -> dict:
    return PHRASES.get(language, PHRASES["en"])


def _norm(text: str) -> str:
    return re.sub(r"\W+", " ", str(text).lower()).strip()


def _numbers(text: str) -> set[str]:
    return {m.group(0).replace(",", ".") for m in NUMBER.finditer(str(text))}


def numbers_in_words(text: str, language: str) -> str | None:
    """``text`` with its whole numbers (not years, not parts of decimals) written in words, or None if none."""
    from num2words import num2words

    changed = False

    def words(match: re.Match) -> str:
        nonlocal changed
        if match.group(2) or int(match.group(1)) in YEAR or len(match.group(1)) > 9:
            return match.group(0)
        try:
            spelled = num2words(int(match.group(1)), lang=language)
        except (NotImplementedError, OverflowError):
            return match.group(0)
        changed = True
        return spelled

    found = NUMBER.sub(words, str(text))
    return found if changed else None


def reworded(gold: str, language: str) -> str:
    """A correct paraphrase of ``gold``: numbers in words, else the same statement behind a neutral preamble."""
    if (spelled := numbers_in_words(gold, language)) is not None:
        return spelled
    text = str(gold).strip()
    lowered = text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text  # keep "EU", "CO2"
    return _phrases(language)["preamble"] + lowered


def changed_number(gold: str) -> str | None:
    """``gold`` with its first number replaced by a different one (same format), or None without a number."""
    match = NUMBER.search(str(gold))
    if not match:
        return None
    whole, sep, decimals = match.groups()
    if sep:
        value = float(f"{whole}.{decimals}") * 1.5
        new = f"{value:.{len(decimals)}f}".replace(".", sep)
    else:
        n = int(whole)
        new = str(n + 3 if n in YEAR else n + 3 if n < 4 else round(n * 1.5))
    return f"{gold[:match.start()]}{new}{gold[match.end():]}"


def names(text: str) -> list[str]:
    return [n for n in dict.fromkeys(NAME.findall(str(text))) if n not in COMMON_CAPITALISED]


def changed_name(gold: str, pool: list[str]) -> str | None:
    """``gold`` with its first proper name swapped for one from ``pool`` that it does not contain."""
    own = names(gold)
    if not own:
        return None
    replacement = next((n for n in pool if n not in own and n.lower() not in str(gold).lower()), None)
    return None if replacement is None else str(gold).replace(own[0], replacement, 1)


def build(questions: pd.DataFrame, per_question: int = 3, seed: int = 42) -> pd.DataFrame:
    """Control answers for ``questions`` (``question_id``, ``question``, ``gold``, ``chunk_text``, and
    optionally ``language``): ``per_question`` per question, one positive and the rest negatives.

    Columns: ``question_id``, ``control`` (the kind), ``prediction``, ``correct`` (the truth), ``control_id``.
    """
    columns = ["question_id", "control", "prediction", "correct", "control_id"]
    if per_question <= 0 or questions.empty:
        return pd.DataFrame(columns=columns)
    rows = questions.reset_index(drop=True)
    language = rows["language"] if "language" in rows else pd.Series("en", index=rows.index)
    out = []
    for i, row in rows.iterrows():
        lang = str(language[i] or "en")
        earlier = rows.iloc[:i]  # never a later question: its controls would change with the question count
        others = earlier[earlier["chunk_text"] != row["chunk_text"]]
        neighbours = earlier[earlier["chunk_text"] == row["chunk_text"]]
        turn = int(_hash(str(seed), row["question_id"]), 16)  # which kinds come first, spread over the questions
        made = {"gold reworded": reworded(row["gold"], lang)}
        pool = [n for text in others["chunk_text"] for n in names(text) if n not in str(row["chunk_text"])]
        made["changed fact"] = changed_number(row["gold"]) or changed_name(row["gold"], pool)
        made["another question's answer"] = _different(row, others, offset=turn)
        made["neighbouring question's answer"] = _different(row, neighbours, offset=turn)
        made["refusal"] = _phrases(lang)["refusal"]
        negatives = [NEGATIVE[(turn + k) % len(NEGATIVE)] for k in range(len(NEGATIVE))]  # kinds in turn
        chosen = ["gold reworded", *[k for k in negatives if made[k]][:per_question - 1]]
        for kind in chosen:
            out.append({"question_id": row["question_id"], "control": kind, "prediction": made[kind],
                        "correct": kind in POSITIVE,
                        "control_id": _hash(row["question_id"], kind, made[kind])})
    return pd.DataFrame(out, columns=columns)


def _different(row, pool: pd.DataFrame, offset: int) -> str | None:
    """A gold answer from ``pool`` that cannot be right for ``row``: other words and other numbers."""
    mine, my_numbers = _norm(row["gold"]), _numbers(row["gold"])
    found = [g for g in pool["gold"] if _norm(g) != mine and _norm(g) not in mine and mine not in _norm(g)
             and not (_numbers(g) & my_numbers)]
    return found[offset % len(found)] if found else None


def rates(graded: pd.DataFrame) -> dict:
    """Sensitivity and specificity of the judge on graded controls (``correct``, ``verdict``), overall and by kind.

    Uses :func:`pipeline.measure.stats.judge_error_rates` (unparsed verdicts are counted apart, not as errors).
    """
    from pipeline.measure.stats import judge_error_rates

    found = judge_error_rates(graded["correct"].astype(bool).tolist(),
                              [None if pd.isna(v) else bool(v) for v in graded["verdict"]])
    by_kind = {}
    for kind, group in graded.groupby("control", sort=False):
        verdicts = group["verdict"].dropna().astype(bool)
        right = int((verdicts == bool(group["correct"].iloc[0])).sum())
        by_kind[kind] = {"right": right, "graded": len(verdicts), "correct": bool(group["correct"].iloc[0])}
    return {**found, "by_kind": {k: by_kind[k] for k in KINDS if k in by_kind}}
