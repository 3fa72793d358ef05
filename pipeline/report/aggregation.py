"""The per-question details and the results table computed from them.

Every number is an aggregate of ``details.parquet`` (one row per model x
question): accuracy is the mean verdict over judged answers (95% Wilson
interval); duration, energy and CO2 are sums of each answer's share of the
answering session that produced it (:func:`pipeline.measure.energy.charge`: net energy
= gross - idle baseline, shared in proportion to latency), and the energy per
query that ranks the models is their mean over the answers measured in full
(:func:`pipeline.measure.energy.ranked`: partial windows and windows at or below the idle
baseline are flagged, not ranked); the TDP and EcoLogits
estimates are per answer too; serving figures come from the per-question
latencies and tokens; peak memory is the server's, copied onto each row from the
run record; the judge's energy is charged to the judgements in use the same way.
Model loading, question generation and judge calibration are reported on their
own lines, not mixed in.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from pipeline.config import Config
from pipeline.io import read_jsonl
from pipeline.measure import correction, energy, labelled, stats
from pipeline.verdicts import calibration, controls, real_answers
from pipeline.verdicts.judge import CHECKS, latest_records, passes

NAN = float("nan")


def answer_sessions(run_dir: Path, candidate: str, key: str) -> list[dict]:
    return [s for s in energy.read_sessions(run_dir / "answers" / f"{candidate}.sessions.jsonl")
            if s.get("fingerprint") == key]


def _judge_energy(run_dir: Path, cfg: Config) -> pd.DataFrame:
    """Per (candidate, question): the net energy of its judgement in use (``judge_energy_wh``) and of its
    reliability-check judgements (``checks_energy_wh``), charged like answers (by judge latency)."""
    sessions = energy.read_sessions(run_dir / "judgements" / "judge.sessions.jsonl")
    produced = pd.DataFrame([r for c in cfg.candidates for r in read_jsonl(run_dir / "judgements" / f"{c.name}.jsonl")])
    all_passes = passes(cfg)
    latest = latest_records(run_dir, cfg, [p.key for p in all_passes])
    frames = []
    for p in all_passes:
        if produced.empty or "session" not in produced or not latest[p.key]:
            continue
        mine = produced[produced["judge_fingerprint"] == p.key]
        charged = energy.charge(mine.drop_duplicates(["candidate", "question_id", "answer_hash", "session"]),
                                sessions, p.label, "judge_latency_s")
        in_use = pd.DataFrame(latest[p.key]).reindex(columns=["candidate", "question_id", "answer_hash", "session"])
        used = in_use.merge(charged, on=["candidate", "question_id", "answer_hash", "session"], how="left")
        column = "judge_energy_wh" if p.label == "judge" else "checks_energy_wh"
        frames.append(used[["candidate", "question_id", "energy_wh"]].rename(columns={"energy_wh": column}))
    if not frames:
        return pd.DataFrame(columns=["candidate", "question_id", "judge_energy_wh", "checks_energy_wh"])
    found = pd.concat(frames)
    return found.groupby(["candidate", "question_id"], as_index=False).sum(min_count=1)


def build_details(run_dir: Path, cfg: Config) -> pd.DataFrame:
    """One row per (candidate, question), with the verdict and the answer's energy (see the module docstring)."""
    questions = pd.read_parquet(run_dir / "questions.parquet")
    judgements = pd.read_parquet(run_dir / "judgements.parquet")
    frames = []
    for candidate in cfg.candidates:
        answers = pd.read_parquet(run_dir / "answers" / f"{candidate.name}.parquet")
        key = answers["fingerprint"].iloc[0]
        produced = pd.DataFrame([r for r in read_jsonl(run_dir / "answers" / f"{candidate.name}.jsonl")
                                 if r.get("fingerprint") == key]).reindex(columns=["question_id", "session",
                                                                                    "latency_s"])
        sessions = answer_sessions(run_dir, candidate.name, key)
        if "session" not in answers:
            answers["session"] = None
        answers = energy.answer_energy(answers, produced, sessions, candidate, cfg.energy)
        # GPU memory where the server used a GPU (nvidia-smi), else the server's resident memory.
        gpu_peaks = [s["peak_gpu_mb"] for s in sessions if s.get("peak_gpu_mb")]
        peaks = gpu_peaks or [s["peak_rss_mb"] for s in sessions if s.get("peak_rss_mb")]
        answers = answers.assign(
            params_b=candidate.params_b,
            devices=candidate.devices,
            peak_memory_mb=max(peaks) if peaks else float("nan"),
            peak_memory_kind="GPU" if gpu_peaks else "RSS" if peaks else "",
        )
        frames.append(answers)
    details = pd.concat(frames, ignore_index=True)
    keep = ["question_id", "question", "gold", "kind", "question_category", "estimated_difficulty", "chunk_text",
            *(c for c in ("citation_score", "doubt") if c in questions)]
    details = details.merge(questions[keep], on="question_id", how="left")
    details["difficulty_band"] = details["estimated_difficulty"].map(stats.difficulty_band)
    checks = [c for c in judgements.columns if c.startswith(CHECKS)]  # optional reliability checks
    verdicts = judgements.reindex(columns=["question_id", "candidate", "verdict", "status", "raw_judge_output",
                                           "judge", "graded_by", "rule", *checks])
    details = details.merge(verdicts, on=["question_id", "candidate"], how="left")
    details["status"] = details["status"].fillna("missing")
    details["graded_by"] = details["graded_by"].astype(object).fillna("judge")
    details["rule"] = details["rule"].astype(object).fillna("")
    details = details.merge(_judge_energy(run_dir, cfg), on=["candidate", "question_id"], how="left")
    controls_path = run_dir / "controls.parquet"
    graded_controls = pd.read_parquet(controls_path) if controls_path.exists() else pd.DataFrame()
    control_rates = controls.rates(graded_controls) if len(graded_controls) else None
    details = details.assign(**{f"controls_{column}": NAN if not control_rates else control_rates[key]
                                for column, key in RATE_COLUMNS.items()})
    held_out = {c.name: real_answers.model_counts(calibration.runs_root(run_dir), cfg.judge, c, cfg)
                for c in cfg.candidates}
    details = details.assign(**{column: details["candidate"].map(
        lambda name, key=key: NAN if held_out.get(name) is None else held_out[name][key])
        for column, key in HELD_OUT_COLUMNS.items()})
    details = details.assign(**{column: details["candidate"].map(
        lambda name, key=key: NAN if held_out.get(name) is None else held_out[name]["effective"][key])
        for column, key in EFFECTIVE_COLUMNS.items()})
    details["heldout_by_document"] = details["candidate"].map(
        lambda name: "" if held_out.get(name) is None else json.dumps(held_out[name]["by_document"], sort_keys=True))
    return with_labels(details, run_dir, cfg)


def with_labels(details: pd.DataFrame, run_dir: Path, cfg: Config) -> pd.DataFrame:
    """A person's current labels (``make review``) on each row: ``label`` (correct, wrong, gold_wrong, unclear;
    empty when not labelled), ``label_value`` (1, 0 or NaN), ``sampled`` (the question is in the seeded random
    sample the estimate uses: :func:`pipeline.review.labels.sampled_questions`) and ``skipped`` (the answer was
    passed over in the review)."""
    from pipeline.review.labels import current_labels, sampled_questions

    labels = current_labels(run_dir, include_skips=True)
    skipped = set(zip(*labels.loc[labels["label"] == "skip", ["question_id", "candidate"]].to_numpy().T)) \
        if (labels["label"] == "skip").any() else set()
    labels = labels[labels["label"] != "skip"]
    sampled = set(sampled_questions(run_dir, cfg)) if len(labels) or skipped else set()
    details = details.assign(sampled=details["question_id"].astype(str).isin(sampled),
                             skipped=[(str(q), c) in skipped for q, c in zip(details["question_id"],
                                                                            details["candidate"])])
    if labels.empty:
        return details.assign(label=None, label_value=NAN)
    return details.merge(labels[["question_id", "candidate", "label", "label_value"]],
                         on=["question_id", "candidate"], how="left")


# This document's control answers (a gate: built from the run, far easier than real answers; never used to
# correct accuracy), copied onto every row for the record.
RATE_COLUMNS = {"sensitivity": "sensitivity", "specificity": "specificity", "correct_items": "positives",
                "wrong_items": "negatives", "rule_settled": "rule_settled"}  # the judge's; rule-settled ones apart
# The judge on this candidate's held-out real answers a person labelled (labelled/answers/; key fact): the counts
# the candidate's judge-corrected accuracy uses, so that it is recomputable from details.parquet alone.
HELD_OUT_COLUMNS = {"heldout_tp": "tp", "heldout_fn": "fn", "heldout_tn": "tn", "heldout_fp": "fp"}
# The same as effective counts over the documents they come from (real_answers.effective_counts: a beta-binomial over
# the held-out documents): what the correction uses; ``heldout_by_document`` holds the counts per document (JSON).
EFFECTIVE_COLUMNS = {"heldout_eff_tp": "tp", "heldout_eff_fn": "fn", "heldout_eff_tn": "tn", "heldout_eff_fp": "fp"}


def corrected(correct: int, judged: int, group: pd.DataFrame, certain_wrong: int = 0) -> dict:
    """:func:`correction.corrected_accuracy` with this candidate's held-out counts (NaN without them).

    The judge errs differently per answering model (on the held-out documents it accepted a quarter of one
    small model's wrong answers and over half of another's), so each candidate is corrected with the judge's
    error rates on *its own* labelled real answers; a candidate with none gets no corrected accuracy. The counts
    are the effective ones over the documents they come from (``heldout_eff_*``: the judge's error rates vary
    from document to document, and this document is one more), else the raw counts.
    ``correct`` of ``judged`` answers graded by the judge; ``certain_wrong`` more answers are wrong by rule
    (no judge error to correct): the corrected share, its bounds and its standard error are scaled to all the
    answers.
    """
    if any(column not in group or group[column].isna().all() for column in HELD_OUT_COLUMNS):
        return {"accuracy": NAN, "ci_low": NAN, "ci_high": NAN, "se": NAN,
                "reason": "no held-out real answers of this model labelled by a person (labelled/answers/)"}
    columns = EFFECTIVE_COLUMNS if all(c in group and group[c].notna().all() for c in EFFECTIVE_COLUMNS) \
        else HELD_OUT_COLUMNS
    counts = {key: float(group[column].iloc[0]) for column, key in columns.items()}
    positives, negatives = counts["tp"] + counts["fn"], counts["tn"] + counts["fp"]
    rates = {**counts, "positives": positives, "negatives": negatives,
             "sensitivity": counts["tp"] / positives if positives else NAN,
             "specificity": counts["tn"] / negatives if negatives else NAN}
    found = correction.corrected_accuracy(correct, judged, rates) if judged else \
        {"accuracy": NAN, "ci_low": NAN, "ci_high": NAN, "se": NAN, "reason": ""}
    if not judged and certain_wrong:  # every answer wrong by rule: nothing for the judge to have erred on
        return {"accuracy": 0.0, "ci_low": 0.0, "ci_high": 0.0, "se": 0.0, "reason": ""}
    share = judged / (judged + certain_wrong) if judged + certain_wrong else NAN
    return {**found, **{k: found[k] * share for k in ("accuracy", "ci_low", "ci_high", "se")}}


def aggregate(details: pd.DataFrame) -> pd.DataFrame:
    """The results table, computed from the details alone."""
    rows = []
    for name, group in details.groupby("candidate", sort=False):
        judged = group[group["status"] == "judged"]
        correct = int(judged["verdict"].sum())
        low, high = stats.wilson_interval(correct, len(judged))
        by_rule = judged[_column(judged, "graded_by", "judge") == "rule"]
        by_judge = judged.drop(by_rule.index)
        fixed = corrected(int(by_judge["verdict"].sum()), len(by_judge), group, certain_wrong=len(by_rule))
        with_energy = group[group["energy_wh"].notna()]
        status = _column(group, "energy_status", energy.MEASURED)
        ranked = group[status.map(energy.ranked) & group["energy_wh"].notna()]
        timed = group[group["duration_s"].notna()]
        rows.append({
            "model": name,
            "params_b": group["params_b"].iloc[0],
            "duration_s": group["duration_s"].sum(),
            "accuracy": judged["verdict"].mean() if len(judged) else float("nan"),
            "accuracy_ci_low": low,
            "accuracy_ci_high": high,
            "corrected_accuracy": fixed["accuracy"],
            "corrected_ci_low": fixed["ci_low"],
            "corrected_ci_high": fixed["ci_high"],
            "corrected_se": fixed["se"],
            "corrected_note": fixed.get("reason", ""),
            "non_answers": len(by_rule),  # wrong by rule (pipeline/verdicts/non_answers.py), never sent to the judge
            "energy_wh": group["energy_wh"].sum(min_count=1),
            "energy_sd_wh": _spread(group),
            "energy_gross_wh": _column(group, "energy_gross_wh").sum(min_count=1),
            "energy_idle_wh": _column(group, "energy_idle_wh").sum(min_count=1),
            "energy_questions": len(with_energy),  # answers whose energy is known
            "energy_ranked_answers": len(ranked),  # answers the energy per query rests on
            "energy_partial_answers": int((status == energy.PARTIAL).sum()),
            "energy_not_above_idle_answers": int((status == energy.NOT_ABOVE_IDLE).sum()),
            # per query over the same answers as the energy per query, so that projections agree
            "co2_per_query_g": ranked["co2_kg"].sum(min_count=1) * 1000.0 / len(ranked) if len(ranked) else NAN,
            "seconds_per_query": timed["duration_s"].sum() / len(timed) if len(timed) else NAN,
            # what the sessions of the answers in use recorded of their measurement
            "energy_windows": _column(group, "energy_windows").max(),
            "idle_baseline_s": _column(group, "idle_baseline_s").mean(),
            "energy_method": group["energy_method"].iloc[0],
            "energy_status": "; ".join(f"{n} {status}" for status, n in
                                       _column(group, "energy_status", energy.MEASURED).value_counts().items()),
            "co2_g": group["co2_kg"].sum(min_count=1) * 1000.0,
            "tdp_energy_wh": _column(group, "tdp_energy_wh").sum(min_count=1),
            "ecologits_wh": _column(group, "ecologits_wh").sum(min_count=1),
            "judge_energy_wh": _column(group, "judge_energy_wh").sum(min_count=1),
            "questions": len(group),
            "judged": len(judged),
            "correct": correct,
            "unparsed": int((group["status"] != "judged").sum()),
            "input_tokens": group["input_tokens"].sum(),
            "output_tokens": group["output_tokens"].sum(),
            "peak_memory_mb": group["peak_memory_mb"].iloc[0] if "peak_memory_mb" in group else float("nan"),
            "peak_memory_kind": group["peak_memory_kind"].iloc[0] if "peak_memory_kind" in group else "",
            "gpus_measured": _column(group, "gpus_measured", "").iloc[0],
            "hardware": group["hardware"].iloc[0],
        })
    results = pd.DataFrame(rows)
    for column in RATE_COLUMNS:  # the judge on this document's control answers, the same on every row
        results[f"controls_{column}"] = _column(details, f"controls_{column}").iloc[0] if len(details) else NAN
    results = _with_labelled(results, details)
    # The energy per query (and per token, and accuracy per Wh) over the answers measured in full only.
    status = _column(details, "energy_status", energy.MEASURED)
    ranked_energy = details["energy_wh"].where(status.map(energy.ranked))
    serving = stats.serving_figures(details.assign(energy_wh=ranked_energy)).rename(columns={"candidate": "model"})
    results = results.merge(serving[["model", "tokens_per_s", "latency_p50_s", "latency_p95_s", "energy_per_query_wh",
                                     "j_per_output_token", "accuracy_per_wh"]], on="model", how="left")
    results["on_frontier"] = stats.pareto_frontier(results, x="energy_per_query_wh")
    results["per"], _ = stats.performance_efficiency_ratio(results)
    return results


def _with_labelled(results: pd.DataFrame, details: pd.DataFrame) -> pd.DataFrame:
    """Each model's accuracy anchored on a person's labels (:mod:`pipeline.measure.labelled`), where there are
    labels: ``labelled_accuracy`` and its interval, how many labels, and how often the judge agreed."""
    columns = ["labelled_accuracy", "labelled_ci_low", "labelled_ci_high", "labels", "sampled_questions",
               "judge_agreed", "judge_kappa", "judge_accepted_wrong", "labelled_wrong", "judge_rejected_right",
               "labelled_right"]
    # labels the estimate does not use (outside the seeded sample, or of an answer wrong by rule), and skips
    given = _column(details, "label", None).notna()
    unused = given & (~_column(details, "sampled", False).astype(bool) | (_column(details, "graded_by", "") == "rule"))
    apart = pd.DataFrame({"model": details["candidate"], "labels_outside": unused.astype(int),
                          "skipped": _column(details, "skipped", False).astype(bool).astype(int)})
    results = results.merge(apart.groupby("model", sort=False, as_index=False).sum(), on="model", how="left")
    if "label_value" not in details or details["label_value"].isna().all():
        return results.assign(**{c: NAN for c in columns}).assign(labels=0, sampled_questions=0)
    found = labelled.estimates(details).rename(columns={"candidate": "model"})
    return results.merge(found[["model", *columns]], on="model", how="left")


def _spread(group: pd.DataFrame) -> float:
    """The spread of a candidate's net energy: each session's share of its spread over repeated windows,
    combined across sessions in quadrature (independent measurements), not added."""
    sd = _column(group, "energy_sd_wh")
    if sd.isna().all():
        return NAN
    per_session = sd.groupby(_column(group, "session", "").fillna("")).sum(min_count=1)
    return math.sqrt(float((per_session ** 2).sum()))


def _column(group: pd.DataFrame, name: str, default=float("nan")) -> pd.Series:
    return group[name] if name in group else pd.Series(default, index=group.index, dtype=object if
                                                       isinstance(default, str) else float)
