"""How every figure of the report was obtained: the notes under the tables.

The questions and their validation, the judge and its rules, which accuracy the pick rests on and how each is
estimated (:data:`CORRECTION_NOTES`), and how energy was measured, as the sessions recorded it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from pipeline.config import Config
from pipeline.measure import energy
from pipeline.questions.validation_rates import (
    fit_check_rates,
    fit_check_sentence,
    kept_question_rates,
    kept_questions_sentence,
    rates_sentence,
)
from pipeline.report import trust


def _recorded(values: pd.Series, fmt: str = "{:g}") -> str:
    """Values the sessions recorded, as one figure or a range."""
    low, high = fmt.format(values.min()), fmt.format(values.max())
    return low if low == high else f"{low} to {high}"


def _measurement_notes(cfg: Config, details: pd.DataFrame) -> list[str]:
    """How the answers in use were measured, as their sessions recorded it (not as the profile now says)."""
    local = {c.name for c in cfg.candidates if c.engine != "openai"}
    sessions = details[details["candidate"].isin(local)].drop_duplicates("session")
    sessions = sessions[sessions["energy_windows"].notna()] if "energy_windows" in sessions else sessions.iloc[:0]
    if sessions.empty:
        return []
    with_idle = sessions["idle_baseline_s"].dropna()
    if len(with_idle):
        idle = (f"- Idle baseline: every answering session first measured {_recorded(with_idle, '{:.1f}')} s with "
                "nothing running (after taking the machine's serving lock, before loading its model), or took the "
                "baseline of an earlier session of the same process (`shared_from` in its session record)"
                + (f"; {len(sessions) - len(with_idle)} of the {len(sessions)} sessions recorded none, so their net "
                   "is their gross" if len(with_idle) < len(sessions) else "")
                + ". The table shows net energy = gross - idle power x duration; gross, idle and net are in the "
                "Energy accounting table and in `details.parquet`.")
    else:
        idle = ("- Idle baseline: none of the answering sessions recorded one, so the table's net energy is the "
                "gross energy.")
    notes = [idle]
    if sessions["energy_windows"].max() > 1:
        notes.append(f"- Each answering window was measured {_recorded(sessions['energy_windows'])} times, as the "
                     "sessions recorded (answers come from the first; the repeats send the same requests at "
                     "temperature 0); ± is the sample standard deviation of the net energy over the windows, "
                     "combined across sessions in quadrature.")
    return notes


def _energy_notes(cfg: Config, results: pd.DataFrame, details: pd.DataFrame) -> list[str]:
    measured = results[results["energy_per_query_wh"].notna()]
    hardware = ", ".join(dict.fromkeys(h for h in results["hardware"] if h)) or "hardware unknown"
    gpus = "; ".join(f"{m}: {g or 'none'}" for m, g in zip(results["model"], results["gpus_measured"]))
    notes = [
        f"- Energy: CodeCarbon in machine mode ({hardware}), only around model work: loading, and the request "
        "loop of answering (Lighteval's set-up and result saving are outside the window). Only the GPUs a model's "
        f"server is pinned to are counted (GPUs measured: {gpus}). How each figure was obtained is in the "
        "Method column.",
        *_measurement_notes(cfg, details),
        "- Ranking by energy (the frontier, the pick, the projection): the net energy per query, over the answers "
        "measured in full (the Wh per query column says how many), so that a candidate with fewer measured answers "
        "is not charged for fewer answers.",
    ]
    if len(measured) and measured["energy_method"].map(energy.time_proportional).all():
        same = (measured["energy_per_query_wh"].rank(method="min").tolist()
                == measured["seconds_per_query"].rank(method="min").tolist())
        notes.append("- These energies are estimates that grow with duration (no RAPL or GPU counter here: "
                     "CodeCarbon's CPU-load x TDP model and a constant RAM power), so the energy ranking equals the "
                     "duration ranking" + (" (as it does here)." if same else
                                          "; here it differs only through the CPU load of each model."))
    lost = details[details["energy_status"].isin([energy.MISSING, energy.PARTIAL])]
    if len(lost):
        by_model = lost.groupby("candidate")["energy_status"].value_counts()
        notes.append("- Answers whose session's energy did not survive (killed with no checkpoint, or partly): "
                     + "; ".join(f"{m}: {n} {status}" for (m, status), n in by_model.items())
                     + ". They count for accuracy; the energy per query uses only the answers measured in full.")
    below = details[details["energy_status"] == energy.NOT_ABOVE_IDLE]
    if len(below):
        notes.append("- Net energy at or below the idle baseline (a window measured no more than the machine at rest: "
                     "a measurement problem, not a free model): "
                     + "; ".join(f"{m}: {n} answers" for m, n in below["candidate"].value_counts(sort=False).items())
                     + ". Their net energy is shown as measured (not clipped to 0), flagged in the table, and kept "
                     "out of the energy per query that ranks the models.")
    for candidate in cfg.candidates:
        if candidate.engine == "openai":
            how = (f"TDP x devices x duration for the declared hardware ({candidate.endpoint_hardware.description}, "
                   f"{candidate.endpoint_hardware.tdp_watts:g} W x {candidate.devices})"
                   if candidate.endpoint_hardware else "not measured")
            notes.append(f"- {candidate.name} is a remote endpoint: the client machine's energy is not the model's, so "
                         f"its energy is {how}; EcoLogits' estimate is in the Efficiency table.")
    notes.append("- Estimates beside the measurement: the study's TDP x devices x duration "
                 f"({cfg.energy.tdp_watts:g} W per device, {cfg.energy.tdp_hardware}), and EcoLogits (its per-request "
                 "model from parameter count, output tokens and latency; PUE 1, "
                 f"{cfg.energy.country_iso_code} electricity mix).")
    return notes


CORRECTION_NOTES = (
    "- Which accuracy the pick rests on (the card says which): a person's labels on this document when there are "
    "any for every model (`make review`), else the judge's verdicts corrected per model, else the verdicts as "
    "judged; the accuracy tolerance applies on that same scale.",
    "- Anchored on a person's labels: each model's accuracy is a prediction-powered estimate (PPI++, `ppi_py`): the "
    "judge's verdicts on all of its answers, corrected by the difference between label and verdict on the labelled "
    "ones — that model's own judge errors — over the questions whose gold a person did not mark wrong or unclear. "
    "Only the seeded random sample's labels count (`make review`'s order; labels elsewhere are counted apart); the "
    "point estimate's power-tuning is cross-fitted, so it is unbiased at any number of labels; the interval adds one "
    "pseudo-answer of each kind and uses Student's t. Pairs of models are compared the same way on the questions "
    "labelled for both. In the Monte Carlo of `tests/test_labelled.py` (3 to 40 labels a model, judge leniency "
    "differing by model, non-answers, wrong golds) the estimates are within a point of the truth on average and the "
    "intervals cover it at least 93% of the time, no wider than the labels' own.",
    "- Judge-corrected accuracy: the judge itself errs, and differently on each model's answers. Each model's "
    "sensitivity (right answers the judge accepts) and specificity (wrong answers it rejects) are counted on that "
    "model's held-out real answers a person labelled, made as this profile makes its answers (the same model, "
    "engine, candidate_context and max_new_tokens; `labelled/answers/`; the counts are in `details.parquet`: "
    "`heldout_tp`, `heldout_fn`, `heldout_tn`, `heldout_fp`, per document in `heldout_by_document`) and turn the "
    "share it judged correct, p, into an estimate of the true share: (p + specificity - 1) / (sensitivity + "
    "specificity - 1) (Rogan-Gladen), clipped to 0-100%, with Lang and Reiczigel's adjusted Wald interval (2014) "
    "(`corrected_accuracy` in `pipeline/measure/correction.py`). The judge's error rates vary from one held-out "
    "document to another, and this document is one more: the counts enter as effective counts "
    "(`heldout_eff_*`: a beta-binomial over the documents, `document_rate`), so the interval carries that variation "
    "as well as the finite labelled set's. n/a for a model with no such labelled held-out answers, or when the "
    "judge's Youden index on them is not clearly above 0. It assumes the judge errs on this document as on a "
    "document drawn like the held-out ones; a person's labels on this document need no such assumption. "
    "Answers wrong by rule are wrong with certainty: the correction applies to the judged ones, scaled to all.",
    "- Control answers (built from the run: the gold reworded, a changed figure, a neighbouring figure, another "
    "question's answer, a wrong unit, an invented claim added, a partial answer, an echo of the question, a "
    "refusal) gate the judge: one that fails the controls it graded cannot support a pick, nor can one that too few "
    "of them reached (those a rule settled test the rule and are shown apart). They are far easier than real "
    "answers, so they never enter a correction.",
    "- On the judged scale, whether two models differ is the exact McNemar test on their verdicts; on the corrected "
    "scale, a normal test on the two corrected estimates and their own standard errors (treated as independent: "
    "cautious); on the labelled scale, the paired PPI interval of the difference.",
)


def _run_notes(run_dir: Path, cfg: Config, results: pd.DataFrame, details: pd.DataFrame,
               judge_rates: dict | None, control_rates: dict | None) -> list[str]:
    generation = json.loads((run_dir / "generation.json").read_text())
    failed = sum(k["calls_without_parseable_questions"] for k in generation["by_kind"].values())
    calls = sum(k["calls"] for k in generation["by_kind"].values())
    kinds = details.drop_duplicates("question_id")["kind"].value_counts().to_dict()
    unparsed = int(results["unparsed"].sum())
    judge_line = (f"- Judge: {cfg.judge.name} with prompt `judge_prompts/{cfg.judge.prompt}`. Accuracy = correct / "
                  f"judged; {unparsed} of {len(details)} judgements ({unparsed / len(details):.1%}) had no verdict "
                  "and are listed as unparsed, not scored. " + trust.controls_line(control_rates,
                                                                                   cfg.controls.per_question))
    from pipeline.verdicts.non_answers import labelled_set_rates, rule_rates_line

    rule_line = f"- {trust.non_answers_line(results)} Measured: {rule_rates_line(labelled_set_rates())}."
    rejected = generation.get("rejected_by_reason", {})
    rejected_line = (f"- Validation rejected {sum(rejected.values())} generated questions before any candidate "
                     f"answered ({', '.join(f'{n} {why}' for why, n in rejected.items())}); each is listed with "
                     "its reason in `rejected.parquet`." if rejected else
                     "- Validation rejected no generated question.")
    rates = rates_sentence(generation.get("validation_error_rates", {}), cfg.questions.check_gold)
    rejected_line = f"{rejected_line} {rates}".rstrip()
    if "generation" in generation:  # what validation let through, measured on held-out real documents
        rejected_line += " " + kept_questions_sentence(kept_question_rates(generation["generation"]),
                                                       generation["generation"])
        if cfg.questions.fit_check:
            rejected_line += " " + fit_check_sentence(fit_check_rates())
    return [
        f"- Questions: {generation['usable']} used ({', '.join(f'{v} {k}' for k, v in kinds.items())}), "
        f"generated by {generation['generator']} with YourBench; {failed} of {calls} generation calls "
        "gave no parseable questions.",
        rejected_line,
        judge_line,
        rule_line,
        *CORRECTION_NOTES,
        *_energy_notes(cfg, results, details),
        "- What the evaluation itself cost (question generation, loading, judging) is in its own table, "
        "not in the ranking.",
    ]
