"""The round-trip check: a generated question is kept only when a model, reading the excerpt, answers it with
its gold answer.

Round-trip consistency (Alberti et al., ACL 2019; the filter of PAQ, Lewis et al. 2021): the generator model
(the 1.5B weights of the judge too, in the default profile) reads the excerpt and the question — never the gold,
nor the answers it was offered — and answers in a few words; the question is kept when that answer states the gold. A question that does not say
what it asks about ("What is the name of the programme?" over an excerpt naming two) gets another answer, and so
does a gold answer that does not answer its question (a heading, a neighbouring figure): one check catches both.

Whether the answer states the gold is decided by rules, no second model call (:func:`agrees`):

* figures decide first (:func:`pipeline.verdicts.figure_rules.figure_verdict`): another figure than the gold's is
  a disagreement, the gold word for word an agreement, and so are the gold's figures and no other ("812 mm" for
  "812 millimetres"), and an answer with a figure the gold does not give disagrees (the question asks for more,
  or for something else: "4 to 19 November" for "19 November");
* else most of the gold's content words are in the answer (:data:`MIN_RECALL`) and the answer adds no figure of
  its own.

The prompt is ``generator_prompts/round_trip.md`` (``round_trip.<language>.md`` where one exists): the excerpt
before the question, so that the questions of one excerpt share its prefix in llama.cpp's cache.
"""

from __future__ import annotations

import re

from pipeline import language as languages
from pipeline.config import ROOT
from pipeline.verdicts.controls import numbers
from pipeline.verdicts.figure_rules import figure_verdict

PROMPT = ROOT / "generator_prompts" / "round_trip.md"
MAX_TOKENS = 48  # a short answer: a figure, a date, a name or a clause
MIN_RECALL = 0.6  # share of the gold's content words the answer must state
NOT_STATED = re.compile(r"^\W*(?:not\s+stated|not\s+given|unknown|n/a|none|non\s+indiqué|non\s+précisé|inconnu)\b",
                        re.IGNORECASE)
_STOP = frozenset((
    "a an the of in on at to for by with from and or is are was were be been it its this that these those as "
    "than there their they per le la les l d de du des un une et ou est sont à au aux en par pour sur dans").split())


def prompt_files() -> list:
    return languages.translations(PROMPT)


def prompt(question: str, excerpt: str, language: str = "en") -> str:
    text = languages.localized(PROMPT, language).read_text(encoding="utf-8")
    return (text.replace("{language}", languages.name(language)).replace("{excerpt}", excerpt.strip())
            .replace("{question}", question.strip()))


def _content(text: str) -> list[str]:
    return [w for w in re.findall(r"[^\W_]+", str(text).casefold()) if w not in _STOP]


def agrees(gold: str, answer: str, language: str = "en") -> tuple[bool, str]:
    """Whether ``answer`` states ``gold`` (and why, in a few words)."""
    answer = str(answer or "").strip()
    if not answer or NOT_STATED.match(answer):
        return False, "no answer"
    settled = figure_verdict(gold, answer, language)
    if settled is not None:
        return bool(settled[0]), settled[1]
    in_gold, in_answer = numbers(gold, language), numbers(answer, language)
    extra = {n for n in in_answer - in_gold if not (n.is_integer() and 1900 <= n <= 2100)}  # a year added is harmless
    if extra:  # "102 million euros, 52 million euros" for "102 million euros": the question asks for more
        return False, "the answer gives figures the gold answer does not"
    if in_gold and in_gold == in_answer:  # "812 mm" for "812 millimetres": the same figures, whatever the unit's spelling
        return True, "the gold answer's figures"
    words, said = _content(gold), set(_content(answer))
    if not words:
        return False, "no content word in the gold answer"
    recall = sum(w in said for w in words) / len(words)
    if recall < MIN_RECALL:
        return False, f"{recall:.0%} of the gold answer's words"
    return True, f"{recall:.0%} of the gold answer's words"
