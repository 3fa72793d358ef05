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
control answers it graded, or rejects more than ``controls.max_false_rejection`` of the
known-right ones, cannot support a pick on this document, nor can one that fewer than
``controls.min_judged`` right or wrong controls reached (the rules settle some, and those test
the rules): :func:`cannot_pick` says why, and the card leads with it.
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
        return (f"Control answers: {rates['parsed']} reached the judge, none of them wrong by construction "
                f"({rates.get('rule_settled', 0)} settled by rule), so the gate cannot catch a judge that accepts "
                "everything.")
    settled = rates.get("rule_settled", 0)
    return (f"Gate, not accuracy evidence — {rates['parsed']} control answers built from this run (far easier than "
            f"real answers) reached the judge: it accepted {rates['tp']} of {rates['positives']} reworded gold "
            f"answers and rejected {rates['tn']} of {rates['negatives']} wrong ones"
            + (f"; {settled} more were settled by rule ({rates.get('rule_agreed', 0)} of them as their truth says), "
               "apart from the gate" if settled else "") + ".")


def _share(k: int, n: int, interval: tuple[float, float] | None = None) -> str:
    if not n:
        return "n/a"
    text = f"{k} of {n} ({pct(k / n)}"
    return text + (f", {pct(interval[0])}–{pct(interval[1])})" if interval else ")")


def _flipped(interval: tuple[float, float] | None) -> tuple[float, float] | None:
    """The interval of 1 - a rate, from the rate's."""
    return interval and (1 - interval[1], 1 - interval[0])


def _names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}" if names else "no model"


def heldout_uses(documents: list[str], uses: dict[str, list[str]]) -> str:
    """What the held-out documents were also used for (``labelled/answers/heldout_use.json``), in short."""
    used = [d for d in documents if uses.get(d)]
    if not used:
        return "nothing was chosen with them"
    what = list(dict.fromkeys(use.split(" (")[0] for d in used for use in uses[d]))
    return (f"not a clean hold-out: {'all' if len(used) == len(documents) else f'{len(used)} of them'} also served "
            f"for {'; '.join(what)} (`labelled/answers/heldout_use.json`)")


def heldout_line(found: dict | None, uses: dict[str, list[str]] | None = None) -> str:
    """The judge on held-out real answers made as this profile's candidates make theirs (``real_answers.rates`` of
    the key-fact label): whose answers, on which documents and what those were used for, the error rates with
    intervals over documents that differ, the provenance, and the assumption a correction makes."""
    if not found or not found.get("parsed"):
        return ("The judge was not measured on held-out real answers made as this profile's candidates make theirs "
                "(the same model, engine, candidate_context and max_new_tokens; `labelled/answers/`, measured by "
                "`make calibrate`), so its accuracy is not corrected.")
    documents = found["documents"]
    where = found.get("provenance", {}).get("source", "")
    return (f"On {found['parsed']} held-out real answers of {_names(found.get('answered_by', []))} a person labelled "
            f"({len(documents)} document{'s' * (len(documents) != 1)}: {', '.join(documents)}; "
            f"{heldout_uses(documents, uses or {})}; `labelled/answers/`), the judge agreed {pct(found['accuracy'])} "
            f"of the time (κ {num(found['kappa'], '{:.2f}')}): it accepted "
            f"{_share(found['fp'], found['negatives'], _flipped(found.get('specificity_ci')))} wrong answers and "
            f"rejected {_share(found['fn'], found['positives'], _flipped(found.get('sensitivity_ci')))} right ones"
            + (f" ({where})" if where else "") + ". A correction with these rates assumes your document is one more "
            f"like these: the judge's error rates vary between documents as they vary between these {len(documents)} "
            "(a beta-binomial over them), and the intervals carry that variation.")


def heldout_table(by_model: dict[str, dict]) -> pd.DataFrame:
    """The judge on each candidate's held-out real answers (made as the candidate makes them): what each
    candidate's correction uses, with intervals over the documents they come from."""
    rows = []
    for model, found in by_model.items():
        if not found:
            rows.append({"Model": model, "Held-out answers": 0, "Documents": 0, "Wrong answers accepted": "n/a",
                         "Right answers rejected": "n/a", "Agreement (κ)": "n/a"})
            continue
        rows.append({"Model": model, "Held-out answers": found["parsed"], "Documents": len(found["documents"]),
                     "Wrong answers accepted": _share(found["fp"], found["negatives"],
                                                      _flipped(found["specificity_ci"])),
                     "Right answers rejected": _share(found["fn"], found["positives"],
                                                      _flipped(found["sensitivity_ci"])),
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
        if "sampled" in details:  # only the sample's marks take a question out: elsewhere they are counted apart
            marked = marked[marked["sampled"].fillna(False).astype(bool)]
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
    outside = int(results["labels_outside"].fillna(0).sum()) if "labels_outside" in results else 0
    skipped = int(results["skipped"].fillna(0).sum()) if "skipped" in results else 0
    apart = []
    if outside:
        apart.append(f"{outside} more label{'s' * (outside != 1)} outside the seeded random sample (rows labelled by "
                     "hand, questions added since, or answers wrong by rule) are counted apart, not used")
    if skipped:
        apart.append(f"{skipped} answer{'s' * (skipped != 1)} of the sample {'were' if skipped != 1 else 'was'} "
                     "skipped (the estimate assumes a skip is unrelated to whether the answer is right)")
    return (f"Checked by a person on {n} answers of this document's seeded random sample: the judge agreed on "
            f"{agreed} (κ {num(_kappa(results), '{:.2f}')}); it accepted {accepted} of {wrong} wrong answers"
            + (f" ({per_model})" if per_model else "") + f" and rejected {rejected} of {right} right ones." + left
            + (f" {'; '.join(apart)}." if apart else ""))


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
    """The judge on each kind of control answer: how many it graded as their truth says; those a rule settled
    apart (they do not count in the gate)."""
    rows = [{"Control answer": kind, "Truth": "right" if found["correct"] else "wrong",
             "Graded by the judge": found["graded"], "Judge agreed": found["right"],
             "Share": pct(found["right"] / found["graded"]) if found["graded"] else "n/a",
             "Settled by rule (apart)": f"{found.get('rule_settled', 0)} ({found.get('rule_right', 0)} as their truth "
                                        "says)" if found.get("rule_settled") else "0"}
            for kind, found in rates["by_kind"].items()]
    return pd.DataFrame(rows, columns=["Control answer", "Truth", "Graded by the judge", "Judge agreed", "Share",
                                       "Settled by rule (apart)"])


def cannot_pick(rates: dict | None, limits: Controls) -> str | None:
    """Why the verdicts cannot support a pick on this document (the judge failed its controls), or None."""
    if not rates or not (rates.get("parsed") or rates.get("rule_settled")):
        return None  # no control graded at all (controls.per_question 0): controls_line says so
    failures = []
    false_acceptance = 1 - rates["specificity"] if rates["negatives"] else float("nan")
    false_rejection = 1 - rates["sensitivity"] if rates["positives"] else float("nan")
    if false_acceptance > limits.max_false_acceptance:
        failures.append(f"accepted {rates['fp']} of {rates['negatives']} known-wrong ones "
                        f"({pct(false_acceptance)}; at most {pct(limits.max_false_acceptance)} allowed)")
    if false_rejection > limits.max_false_rejection:
        failures.append(f"rejected {rates['fn']} of {rates['positives']} known-right ones "
                        f"({pct(false_rejection)}; at most {pct(limits.max_false_rejection)})")
    if failures:
        return (f"on this document's {rates['parsed']} control answers the judge graded, it " + " and ".join(failures)
                + ", so its verdicts cannot support one; a stronger judge (`judge` in the profile) or a human look at "
                "`details.parquet` is needed.")
    few = [f"{rates[key]} {what}" for key, what in (("negatives", "wrong"), ("positives", "right"))
           if rates[key] < limits.min_judged]
    if few:
        return (f"only {' and '.join(few)} control answers reached the judge (the rules settled "
                f"{rates.get('rule_settled', 0)} more, which test the rules, not the judge): at least "
                f"{limits.min_judged} of each are needed to test it (`controls.min_judged`), so its verdicts were not "
                "tested on this document; more questions (`QUESTIONS=n`) or control answers (`controls.per_question`) "
                "would, or a human look at `details.parquet`.")
    return None


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
