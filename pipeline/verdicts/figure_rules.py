"""Verdicts a rule can give before the judge: a figure other than the gold's, or the gold answer word for word.

The small judge accepts most answers that give a neighbouring figure of the same excerpt (146 mm for 812 mm,
the whole programme's budget for one part's): it compares wordings, not values. Two rules settle what a
comparison of figures settles (``judge.figure_rules``):

* **another figure**: the gold answer states numbers, the answer states numbers, and none of the answer's is
  one of the gold's (the same value whatever its writing: "1,480", "1 480", "1480") -> wrong;
* **the gold, word for word**: the gold answer's words appear in the answer, in order, and the answer states
  no number the gold does not -> right.

Everything else goes to the judge. Unlike the non-answer rule (:mod:`pipeline.verdicts.non_answers`, certainly
wrong), these verdicts can err — a figure converted to another unit, a rounded one — so they are part of the
grader whose error rates are measured on the labelled real answers (:mod:`pipeline.verdicts.real_answers`) and
corrected for, like the judge's. Chosen on the dev documents of ``labelled/answers`` and adopted only if they
win on the held-out ones (README, "The judge on real answers").
"""

from __future__ import annotations

import re

from pipeline.verdicts.controls import numbers

ANOTHER_FIGURE = "a figure other than the gold answer's"
GOLD_WORD_FOR_WORD = "the gold answer, word for word"


def _words(text: str) -> str:
    return " ".join(re.findall(r"[^\W_]+", str(text).casefold()))


def figure_verdict(gold: str, answer: str, language: str = "en") -> tuple[int, str] | None:
    """(verdict, reason) when a rule settles the answer, else None (the judge grades it)."""
    in_gold, in_answer = numbers(str(gold), language), numbers(str(answer or ""), language)
    if in_gold and in_answer and not in_gold & in_answer:
        return 0, ANOTHER_FIGURE
    words = _words(gold)
    if words and f" {words} " in f" {_words(answer)} " and in_answer <= in_gold:
        return 1, GOLD_WORD_FOR_WORD
    return None
