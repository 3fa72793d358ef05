"""Control answers: answers built from the run's own questions whose truth is known by construction.

A hand-labelled calibration set cannot stand for the answers one document and
its candidates produce. So every kept question also gets a few control answers,
graded by the judge with the same prompt, in the same requests' conditions as the
candidates' answers (interleaved with them in the judge's grading order):

* positives, correct (on the key fact) by construction — the gold answer reworded:
  its numbers written in words ("48 millimetres" -> "forty-eight millimetres",
  "3 000 ménages" -> "trois mille ménages": num2words in the document's language,
  thousands separators of every language read as such), or, when it has no
  number to write out, behind a neutral preamble ("According to the document,
  ..."); and, in turn, the gold answer followed by an invented claim ("It is the
  largest of its kind in the world."): right on the key fact, not faithful
  (``faithful`` is False), which is what a key-fact judge should accept;
* negatives, wrong by construction, of the kinds real answers show — the gold
  with one number changed (or, without a number, one proper name swapped for a
  name from elsewhere in the document); the gold's figure replaced by a
  neighbouring figure of the same excerpt; the right figure in the wrong unit;
  a partial answer (the first item of a list); an echo of the question; another
  question's gold answer from another excerpt; the gold answer of a neighbouring
  question from the same excerpt; a refusal; "N/A".

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

POSITIVE = ("gold reworded", "invented claim")
NEGATIVE = ("changed fact", "neighbouring figure", "wrong unit", "partial answer", "echo of the question",
            "another question's answer", "neighbouring question's answer", "refusal", "unknown")
KINDS = POSITIVE + NEGATIVE
NOT_FAITHFUL = ("invented claim",)  # right on the key fact, with a false claim added
# Per language: a refusal, a neutral preamble (a paraphrase that keeps the fact), an invented claim, an unknown.
PHRASES = {
    "en": {"refusal": "The excerpt does not give this information.", "preamble": "According to the document, ",
           "claim": "It is the largest of its kind in the world.", "unknown": "N/A"},
    "fr": {"refusal": "L'extrait ne donne pas cette information.", "preamble": "D'après le document, ",
           "claim": "C'est le plus important de sa catégorie au monde.", "unknown": "Non renseigné."},
}
YEAR = range(1800, 2101)
SPACES = " \u00a0\u202f'’"  # thousands separators in every language: spaces (also no-break and narrow), apostrophes
# Whole numbers, grouped thousands, decimals. Spaces and apostrophes group thousands in every language; a comma
# groups them where the decimal mark is a point ("3,000" is three thousand in English) and a point where it is a
# comma ("3.000" in German); a mark before 1, 2 or 4+ digits is a decimal mark either way ("3,2 millions").
_NUMBER = {
    "point": re.compile(r"(?<![\w.,])(\d{1,3}(?:[," + SPACES + r"]\d{3})+|\d+)(?:[.,](\d+))?(?![\w]|[.,]\d)"),
    "comma": re.compile(r"(?<![\w.,])(\d{1,3}(?:[." + SPACES + r"]\d{3})+|\d+)(?:[,.](\d+))?(?![\w]|[.,]\d)"),
}
DECIMAL_POINT = {"en", "ja", "zh", "ko", "he", "th"}  # languages writing 3.5 (and 3,000); the others write 3,5 (3.000)
# A number's unit and another unit of the same kind: the right figure in the wrong unit is a wrong answer.
UNIT_SWAPS = {"mm": "cm", "cm": "mm", "km": "m", "m": "km", "kg": "g", "g": "kg", "t": "kg", "tonnes": "kilograms",
              "kW": "MW", "MW": "kW", "GW": "MW", "kWh": "MWh", "MWh": "GWh", "GWh": "MWh", "TWh": "GWh",
              "ha": "km²", "km²": "ha", "m²": "km²", "m³": "litres", "litres": "m³", "l": "ml", "mg/l": "g/l",
              "µg/l": "mg/l", "°C": "°F", "%": "‰", "millimetres": "centimetres",
              "centimetres": "millimetres", "metres": "kilometres", "kilometres": "metres", "hours": "minutes",
              "minutes": "hours", "days": "weeks", "weeks": "days", "months": "years", "years": "months",
              "million": "billion", "billion": "million", "millions": "milliards", "milliards": "millions",
              "heures": "minutes", "jours": "semaines", "mois": "ans", "ans": "mois", "mètres": "kilomètres",
              "kilomètres": "mètres", "millimètres": "centimètres", "euros": "dollars", "€": "$", "£": "€"}
UNIT = re.compile(r"^\s*(" + "|".join(sorted(map(re.escape, UNIT_SWAPS), key=len, reverse=True)) + r")(?![\w²³])")
# A question's interrogative opening, so that its echo reads as a statement ("What is the X?" -> "The X.").
INTERROGATIVE = re.compile(r"^(?:what|which|who|whom|whose|when|where|how many|how much|how|why|quel(?:le)?s?|"
                           r"combien|qui|quand|où|pourquoi|comment)\b(?:\s+(?:is|are|was|were|did|does|do|has|have|"
                           r"est|sont|était|étaient|a|ont))?\s*", re.IGNORECASE)
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


def number_pattern(language: str) -> re.Pattern:
    return _NUMBER["point" if language in DECIMAL_POINT else "comma"]


def _value(match: re.Match) -> float:
    whole = re.sub(r"\D", "", match.group(1))
    return float(f"{whole}.{match.group(2)}") if match.group(2) else float(whole)


def numbers(text: str, language: str = "en") -> set[float]:
    """The values of the numbers in ``text``, read as ``language`` writes them (:func:`number_pattern`)."""
    return {_value(m) for m in number_pattern(language).finditer(str(text))}


def _format_like(value: float, match: re.Match) -> str:
    """``value`` written as the number ``match`` was: the same thousands separator and decimal mark and places."""
    whole_text, decimals = match.group(1), match.group(2)
    separator = next((c for c in whole_text if not c.isdigit()), "")
    if decimals:
        mark = match.group(0)[len(whole_text)]
        whole, fraction = f"{value:.{len(decimals)}f}".split(".")
    else:
        mark, whole, fraction = "", str(int(round(value))), ""
    if separator:
        groups = []
        while len(whole) > 3:
            groups.insert(0, whole[-3:])
            whole = whole[:-3]
        whole = separator.join([whole, *groups])
    return whole + (mark + fraction if decimals else "")


def numbers_in_words(text: str, language: str) -> str | None:
    """``text`` with its whole numbers (not years, not decimals; grouped thousands read as one number) written in
    words, or None if it has none."""
    from num2words import num2words

    changed = False

    def words(match: re.Match) -> str:
        nonlocal changed
        grouped = not match.group(1).isdigit()
        if match.group(2) or (not grouped and int(match.group(1)) in YEAR) or len(re.sub(r"\D", "", match.group(1))) > 9:
            return match.group(0)
        try:
            spelled = num2words(int(_value(match)), lang=language)
        except (NotImplementedError, OverflowError):
            return match.group(0)
        changed = True
        return spelled

    found = number_pattern(language).sub(words, str(text))
    return found if changed else None


def reworded(gold: str, language: str) -> str:
    """A correct paraphrase of ``gold``: numbers in words, else the same statement behind a neutral preamble."""
    if (spelled := numbers_in_words(gold, language)) is not None:
        return spelled
    text = str(gold).strip()
    lowered = text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text  # keep "EU", "CO2"
    return _phrases(language)["preamble"] + lowered


def changed_number(gold: str, language: str = "en") -> str | None:
    """``gold`` with its first number replaced by a different one (same format), or None without a number."""
    match = number_pattern(language).search(str(gold))
    if not match:
        return None
    value = _value(match)
    if match.group(2):
        new = value * 1.5
    elif match.group(1).isdigit() and int(value) in YEAR:
        new = value + 3
    else:
        new = value + 3 if value < 4 else round(value * 1.5)
    return f"{gold[:match.start()]}{_format_like(new, match)}{gold[match.end():]}"


def neighbouring_figure(gold: str, excerpt: str, language: str = "en") -> str | None:
    """``gold`` with its first number replaced by another number of the same excerpt (a year by a year, any other
    number by a non-year), as written there: the neighbouring figure a small model picks up."""
    pattern = number_pattern(language)
    match = pattern.search(str(gold))
    if not match:
        return None
    value, is_year = _value(match), match.group(1).isdigit() and not match.group(2) and int(_value(match)) in YEAR
    for other in pattern.finditer(str(excerpt)):
        other_is_year = other.group(1).isdigit() and not other.group(2) and int(_value(other)) in YEAR
        if _value(other) != value and other_is_year == is_year and _value(other) not in numbers(gold, language):
            return f"{gold[:match.start()]}{other.group(0)}{gold[match.end():]}"
    return None


def wrong_unit(gold: str, language: str = "en") -> str | None:
    """``gold`` with the unit after its first number swapped for another unit of the same kind (812 mm -> 812 cm)."""
    for match in number_pattern(language).finditer(str(gold)):
        unit = UNIT.match(gold[match.end():])
        if unit:
            start, end = match.end() + unit.start(1), match.end() + unit.end(1)
            return f"{gold[:start]}{UNIT_SWAPS[unit.group(1)]}{gold[end:]}"
    return None


def partial_answer(gold: str) -> str | None:
    """The first item of a gold answer that lists several (a comma, "and", "et", a semicolon), or None."""
    parts = [p.strip(" .") for p in re.split(r";|,\s+(?:and\s+|et\s+)?|\s+(?:and|et)\s+", str(gold)) if p.strip(" .")]
    if len(parts) < 2 or any(p.isdigit() and len(p) == 3 for p in parts[1:]):  # "3,000" is a number, not a list
        return None
    return parts[0]


def echo(question: str) -> str:
    """The question turned into a statement that answers nothing ("What is the X?" -> "The X.")."""
    text = INTERROGATIVE.sub("", str(question).strip()).rstrip(" ?").strip()
    return (text[:1].upper() + text[1:] + ".") if text else str(question)


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

    Columns: ``question_id``, ``control`` (the kind), ``prediction``, ``correct`` (its truth on the key fact, what
    the judge grades), ``faithful`` (also free of false claims), ``control_id``.
    """
    columns = ["question_id", "control", "prediction", "correct", "faithful", "control_id"]
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
        gold, phrases = str(row["gold"]), _phrases(lang)
        made = {"gold reworded": reworded(gold, lang),
                "invented claim": f"{gold.rstrip()}{'' if gold.rstrip().endswith('.') else '.'} {phrases['claim']}"}
        pool = [n for text in others["chunk_text"] for n in names(text) if n not in str(row["chunk_text"])]
        made["changed fact"] = changed_number(gold, lang) or changed_name(gold, pool)
        made["neighbouring figure"] = neighbouring_figure(gold, row["chunk_text"], lang)
        made["wrong unit"] = wrong_unit(gold, lang)
        made["partial answer"] = partial_answer(gold)
        made["echo of the question"] = echo(row["question"])
        made["another question's answer"] = _different(row, others, offset=turn, language=lang)
        made["neighbouring question's answer"] = _different(row, neighbours, offset=turn, language=lang)
        made["refusal"] = phrases["refusal"]
        made["unknown"] = phrases["unknown"]
        positive = POSITIVE[1] if turn % 3 == 0 else POSITIVE[0]  # one question in three: the invented claim
        negatives = [NEGATIVE[(turn + k) % len(NEGATIVE)] for k in range(len(NEGATIVE))]  # kinds in turn
        chosen = [positive, *[k for k in negatives if made[k] and _norm(made[k]) != _norm(gold)][:per_question - 1]]
        for kind in chosen:
            out.append({"question_id": row["question_id"], "control": kind, "prediction": made[kind],
                        "correct": kind in POSITIVE, "faithful": kind in POSITIVE and kind not in NOT_FAITHFUL,
                        "control_id": _hash(row["question_id"], kind, made[kind])})
    return pd.DataFrame(out, columns=columns)


def _different(row, pool: pd.DataFrame, offset: int, language: str = "en") -> str | None:
    """A gold answer from ``pool`` that cannot be right for ``row``: other words and other numbers."""
    mine, my_numbers = _norm(row["gold"]), numbers(row["gold"], language)
    found = [g for g in pool["gold"] if _norm(g) != mine and _norm(g) not in mine and mine not in _norm(g)
             and not (numbers(g, language) & my_numbers)]
    return found[offset % len(found)] if found else None


def rates(graded: pd.DataFrame) -> dict:
    """Sensitivity and specificity of the *judge* on the graded controls (``correct``, ``verdict``, ``graded_by``):
    the controls the judge graded, overall and by kind; those a rule settled (a non-answer, an echo, a figure rule)
    are counted apart (``rule_settled``, ``rule_agreed``, and per kind): they test the rules, not the judge, and
    pooled into the gate's rates they let a lenient judge through (on the sample the rules settled 29 of 48
    controls and the judge saw 11 of the 24 wrong ones).

    Uses :func:`pipeline.measure.stats.judge_error_rates` (unparsed verdicts are counted apart, not as errors).
    """
    from pipeline.measure.stats import judge_error_rates

    by = graded["graded_by"].fillna("judge") if "graded_by" in graded else pd.Series("judge", index=graded.index)
    judged, settled = graded[by == "judge"], graded[by != "judge"]
    found = judge_error_rates(judged["correct"].astype(bool).tolist(),
                              [None if pd.isna(v) else bool(v) for v in judged["verdict"]])
    by_kind = {}
    for kind, group in graded.groupby("control", sort=False):
        truth = bool(group["correct"].iloc[0])
        mine = by.loc[group.index] == "judge"
        verdicts = group.loc[mine, "verdict"].dropna().astype(bool)
        ruled = group.loc[~mine, "verdict"].dropna().astype(bool)
        by_kind[kind] = {"right": int((verdicts == truth).sum()), "graded": len(verdicts), "correct": truth,
                         "rule_settled": len(ruled), "rule_right": int((ruled == truth).sum())}
    rule_agreed = int((settled["verdict"].dropna().astype(bool) == settled.loc[settled["verdict"].notna(),
                                                                               "correct"].astype(bool)).sum())
    return {**found, "rule_settled": len(settled), "rule_agreed": rule_agreed,
            "by_kind": {k: by_kind[k] for k in KINDS if k in by_kind}}
