"""How far the verdicts can be trusted: what the report says of the judge, and when it cannot support a pick.

Four measurements, each stated where the decision is read, and never mixed:

* a person's labels on this document (``make review``, :mod:`pipeline.review`): the judge checked on
  this document's own answers; the pick then rests on them (:mod:`pipeline.measure.labelled`);
* the judge on held-out real answers a person labelled (:mod:`pipeline.verdicts.real_answers`): its error
  rates on other documents, per model, with intervals — what corrects the accuracy without labels;
* this document's control answers (:mod:`pipeline.verdicts.controls`): answers built from the run's own
  questions, right or wrong by construction. They are far easier than real answers (a right control is
  the gold itself), so they are a gate — a judge that fails them cannot support a pick — and never
  evidence of accuracy;
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
        return ("Control answers: none graded (controls.per_question is 0), so the judge was not gated on this "
                "document." if not per_question else "Control answers: not graded yet.")
    if not rates["negatives"]:
        return (f"Control answers: {rates['parsed']} graded, none of them wrong by construction, so the gate "
                "cannot catch a judge that accepts everything.")
    return (f"Gate, not accuracy evidence — {rates['parsed']} control answers built from this run (far easier than "
            f"real answers): the judge accepted {rates['tp']} of {rates['positives']} reworded gold answers and "
            f"rejected {rates['tn']} of {rates['negatives']} wrong ones.")


def _share(k: int, n: int, interval: tuple[float, float] | None = None) -> str:
    if not n:
        return "n/a"
    text = f"{k} of {n} ({pct(k / n)}"
    return text + (f", {pct(interval[0])}–{pct(interval[1])})" if interval else ")")


def heldout_line(found: dict | None) -> str:
    """The judge on held-out real answers (``real_answers.rates`` of the key-fact label), with its provenance."""
    if not found or not found.get("parsed"):
        return ("The judge was not measured on held-out real answers (no measurement for this judge configuration: "
                "`make calibrate`), so its accuracy is not corrected.")
    from pipeline.measure.stats import wilson_interval

    fa = wilson_interval(found["fp"], found["negatives"])
    fr = wilson_interval(found["fn"], found["positives"])
    where = found.get("provenance", {}).get("source", "")
    return (f"On {found['parsed']} held-out real answers a person labelled ({len(found['documents'])} documents "
            f"not used to tune anything; `labelled/answers/`), the judge agreed {pct(found['accuracy'])} of the time "
            f"(κ {num(found['kappa'], '{:.2f}')}): it accepted {_share(found['fp'], found['negatives'], fa)} wrong "
            f"answers and rejected {_share(found['fn'], found['positives'], fr)} right ones"
            + (f" ({where})" if where else "") + ".")


def heldout_table(by_model: dict[str, dict]) -> pd.DataFrame:
    """The judge on each candidate's held-out real answers: what each candidate's correction uses."""
    rows = []
    for model, found in by_model.items():
        if not found:
            rows.append({"Model": model, "Held-out answers": 0, "Wrong answers accepted": "n/a",
                         "Right answers rejected": "n/a", "Agreement (κ)": "n/a"})
            continue
        rows.append({"Model": model, "Held-out answers": found["parsed"],
                     "Wrong answers accepted": _share(found["fp"], found["negatives"], found["specificity_ci"] and (
                         1 - found["specificity_ci"][1], 1 - found["specificity_ci"][0])),
                     "Right answers rejected": _share(found["fn"], found["positives"], found["sensitivity_ci"] and (
                         1 - found["sensitivity_ci"][1], 1 - found["sensitivity_ci"][0])),
                     "Agreement (κ)": f"{pct(found['accuracy'])} ({num(found['kappa'], '{:.2f}')})"})
    return pd.DataFrame(rows)


def labels_line(results: pd.DataFrame, details: pd.DataFrame | None = None) -> str | None:
    """What a person's labels on this document showed of the judge (and of the gold answers), or None without
    labels."""
    if "labels" not in results or not results["labels"].fillna(0).gt(0).any():
        return None
    left = ""
    if details is not None and "label" in details:
        marked = details[details["label"].isin(["gold_wrong", "unclear"])]
        gold, unclear = (marked.loc[marked["label"] == kind, "question_id"].nunique() for kind in ("gold_wrong",
                                                                                                   "unclear"))
        if len(marked):
            left = (f" {marked['question_id'].nunique()} questions left every model's accuracy: gold answer wrong on "
                    f"{gold}, question unclear on {unclear} (what the gold check let through on this document).")
    n = int(results["labels"].sum())
    agreed = int(results["judge_agreed"].sum())
    wrong, accepted = int(results["labelled_wrong"].sum()), int(results["judge_accepted_wrong"].sum())
    right, rejected = int(results["labelled_right"].sum()), int(results["judge_rejected_right"].sum())
    per_model = ", ".join(f"{m} {int(a)} of {int(w)}" for m, a, w in zip(
        results["model"], results["judge_accepted_wrong"], results["labelled_wrong"]) if w == w and w)
    return (f"Checked by a person on {n} answers of this document: the judge agreed on {agreed} "
            f"(κ {num(_kappa(results), '{:.2f}')}); it accepted {accepted} of {wrong} wrong answers"
            + (f" ({per_model})" if per_model else "") + f" and rejected {rejected} of {right} right ones." + left)


def _kappa(results: pd.DataFrame) -> float:
    """Cohen's kappa of the judge against the labels, all models pooled (from the per-model 2x2 counts)."""
    from pipeline.measure.stats import cohen_kappa

    tp = int((results["labelled_right"] - results["judge_rejected_right"]).sum())
    fn, fp = int(results["judge_rejected_right"].sum()), int(results["judge_accepted_wrong"].sum())
    tn = int((results["labelled_wrong"] - results["judge_accepted_wrong"]).sum())
    labels = [True] * (tp + fn) + [False] * (tn + fp)
    verdicts = [True] * tp + [False] * fn + [False] * tn + [True] * fp
    return cohen_kappa(labels, verdicts) if labels else float("nan")


def unchecked_line(review_command: str) -> str:
    return (f"Not checked by a person on this document: the accuracy is the judge's. `{review_command}` shows you "
            "about 40 answers blind (question, excerpt, gold, answer) and anchors every model's accuracy on your "
            "labels.")


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


def card(lines: list[str], why_not: str | None, trust_lines: list[str]) -> list[str]:
    """The decision card: the pick (:func:`pipeline.report.report.decision`) and how far the verdicts can be
    trusted (labels or their absence, the held-out rates, the controls' gate), or, when the judge failed its
    controls, why there is no pick and the pick for reference only."""
    if why_not is None:
        return [*lines, *trust_lines]
    return [f"**No pick**: {why_not}", f"For reference only: {lines[0]}", *lines[2:], *trust_lines]


def non_answers_line(results: pd.DataFrame) -> str:
    counted = [f"{m} {int(n)} of {q}" for m, n, q in zip(results["model"], results["non_answers"],
                                                          results["questions"])]
    return ("Non-answers (empty, punctuation, only references, a copy of the prompt, a bare number where an "
            "explanation is asked) are wrong by rule and never reach the judge: " + ", ".join(counted) + ".")
