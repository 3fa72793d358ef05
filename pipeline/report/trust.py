"""How far the verdicts can be trusted: what the report says of the judge, and when it cannot support a pick.

Three measurements, each stated where the decision is read:

* the hand-labelled calibration set (:mod:`pipeline.verdicts.calibration`): the judge on
  answers a person labelled, the same for every document;
* this document's control answers (:mod:`pipeline.verdicts.controls`): the judge on answers
  built from the run's own questions, right or wrong by construction;
* the non-answers, wrong by rule before any judge saw them (:mod:`pipeline.verdicts.non_answers`),
  with the rule's own measured error rates.

A judge that accepts more than ``controls.max_false_acceptance`` of the known-wrong
control answers, or rejects more than ``controls.max_false_rejection`` of the
known-right ones, cannot support a pick on this document: :func:`cannot_pick` says why,
and the card leads with it.
"""

from __future__ import annotations

import pandas as pd

from pipeline.config import Controls
from pipeline.report.formatting import num, pct


def calibration_line(name: str, calibration: dict | None) -> str:
    if not calibration:
        return f"{name}: not checked against the calibration set."
    return (f"{name} agreed with the labels of the {calibration['items']}-item calibration set "
            f"(`judge_prompts/calibration.jsonl`) {calibration['agree']} times "
            f"({pct(calibration['accuracy'])} of parsed verdicts; {calibration['unparsed']} unparsed): "
            f"sensitivity {pct(calibration['sensitivity'])}, specificity {pct(calibration['specificity'])}, "
            f"Cohen's kappa {num(calibration['kappa'], '{:.2f}')}.")


def controls_line(rates: dict | None, per_question: int) -> str:
    if not rates:
        return "Control answers: none graded (controls.per_question is 0)." if not per_question else \
            "Control answers: not graded yet."
    return (f"The judge on this document's {rates['parsed']} control answers (right or wrong by construction): "
            f"it accepted {rates['tp']} of {rates['positives']} right ones (sensitivity {pct(rates['sensitivity'])}) "
            f"and rejected {rates['tn']} of {rates['negatives']} wrong ones (specificity {pct(rates['specificity'])}).")


def controls_table(rates: dict) -> pd.DataFrame:
    """The judge on each kind of control answer: how many it graded as their truth says."""
    rows = [{"Control answer": kind, "Truth": "right" if found["correct"] else "wrong",
             "Graded": found["graded"], "Judge agreed": found["right"],
             "Share": pct(found["right"] / found["graded"]) if found["graded"] else "n/a"}
            for kind, found in rates["by_kind"].items()]
    return pd.DataFrame(rows, columns=["Control answer", "Truth", "Graded", "Judge agreed", "Share"])


def cannot_pick(rates: dict | None, limits: Controls) -> str | None:
    """Why the verdicts cannot support a pick on this document (the judge failed its controls), or None."""
    if not rates or not rates.get("parsed"):
        return None
    failures = []
    false_acceptance = 1 - rates["specificity"] if rates["negatives"] else float("nan")
    false_rejection = 1 - rates["sensitivity"] if rates["positives"] else float("nan")
    if false_acceptance > limits.max_false_acceptance:
        failures.append(f"accepted {rates['fp']} of {rates['negatives']} known-wrong ones "
                        f"({pct(false_acceptance)}; at most {pct(limits.max_false_acceptance)} allowed)")
    if false_rejection > limits.max_false_rejection:
        failures.append(f"rejected {rates['fn']} of {rates['positives']} known-right ones "
                        f"({pct(false_rejection)}; at most {pct(limits.max_false_rejection)})")
    if not failures:
        return None
    return (f"on this document's {rates['parsed']} control answers the judge " + " and ".join(failures)
            + ", so its verdicts cannot support one; a stronger judge (`judge` in the profile) or a human look at "
            "`details.parquet` is needed.")


def card(lines: list[str], why_not: str | None, controls: str) -> list[str]:
    """The decision card: the pick (:func:`pipeline.report.report.decision`) and the judge on this document's controls,
    or, when the judge failed them, why there is no pick (with the controls' counts) and the as-judged pick."""
    if why_not is None:
        return [*lines, controls]
    return [f"**No pick**: {why_not}", f"For reference only, as judged: {lines[0]}", *lines[2:]]


def non_answers_line(results: pd.DataFrame) -> str:
    counted = [f"{m} {int(n)} of {q}" for m, n, q in zip(results["model"], results["non_answers"],
                                                          results["questions"])]
    return ("Non-answers (empty, punctuation, only references, a copy of the prompt, a bare number where an "
            "explanation is asked) are wrong by rule and never reach the judge: " + ", ".join(counted) + ".")
