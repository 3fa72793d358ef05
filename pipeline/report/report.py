"""Stage 4: the report a person reads: the decision, the tables, the notes and the page.

The numbers come from :mod:`pipeline.report.aggregation` (details and results table),
the figure from :mod:`pipeline.report.figures`, the way each number is written from
:mod:`pipeline.report.formatting`; this module decides what the report says.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline import keys, runs
from pipeline.config import Config, fingerprint
from pipeline.io import atomic_write_parquet, atomic_write_text, read_jsonl
from pipeline.measure import energy, stats
from pipeline.questions.validation_rates import rates_sentence
from pipeline.report import flags, trust
from pipeline.report.aggregation import aggregate, answer_sessions, build_details
from pipeline.report.formatting import format_params, main_table, markdown_table, num, pct
from pipeline.verdicts import calibration, controls, real_answers
from pipeline.verdicts.grading import judge_fingerprint
from pipeline.verdicts.judge import CHECKS


def report_key(cfg: Config) -> str:
    """What the report depends on besides the judgements (:mod:`pipeline.keys`): the candidates' sizes and
    hardware labels, the estimates' settings, and the report settings."""
    return fingerprint(keys.settings(cfg, keys.REPORT), *keys.texts(keys.REPORT))


def scale_effects(results: pd.DataFrame, column: str, name: str) -> list[str]:
    """Where an accuracy other than the judged one (``column``: judge-corrected per model, or anchored on a
    person's labels) changes a conclusion of the report: the most accurate model, the efficiency frontier.
    Each model has its own correction, so the order can change anywhere, not only where estimates clip."""
    rated = results.dropna(subset=["accuracy", column])
    if rated.empty:
        return []
    found = []
    by_judged = rated.sort_values(["accuracy", "energy_per_query_wh"], ascending=[False, True])["model"].tolist()
    by_other = rated.sort_values([column, "energy_per_query_wh"], ascending=[False, True])["model"].tolist()
    if by_judged[0] != by_other[0]:
        found.append(f"The most accurate model changes: {by_judged[0]} as judged, {by_other[0]} {name}.")
    frontier = stats.pareto_frontier(rated, x="energy_per_query_wh", y=column)
    moved = sorted(set(rated.loc[frontier, "model"]) ^ set(rated.loc[rated["on_frontier"], "model"]))
    if moved:
        found.append(f"The efficiency frontier changes for {', '.join(moved)} ({name}).")
    return found


def _frontier_label(on_frontier: bool, method: str) -> str:
    if not on_frontier:
        return ""
    return "yes (estimate)" if energy.is_estimate(method) else "yes"


def efficiency_table(results: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "Model": results["model"],
        "Frontier": [_frontier_label(f, m) for f, m in zip(results["on_frontier"], results["energy_method"])],
        "Accuracy per Wh": results["accuracy_per_wh"].map(num),
        "Wh per query": [f"{num(v)} ({n} answers)" if pd.notna(v) else num(v)
                         for v, n in zip(results["energy_per_query_wh"], results["energy_ranked_answers"])],
        "J per output token": results["j_per_output_token"].map(num),
        "TDP estimate (Wh)": results["tdp_energy_wh"].map(num),
        "EcoLogits estimate (Wh)": results["ecologits_wh"].map(num),
        "Tokens/s": results["tokens_per_s"].map("{:.1f}".format),
        "Latency p50 (s)": results["latency_p50_s"].map("{:.2f}".format),
        "Latency p95 (s)": results["latency_p95_s"].map("{:.2f}".format),
        "Peak memory (MB)": [num(v, "{:.0f}") + (f" ({kind})" if kind else "")
                             for v, kind in zip(results["peak_memory_mb"], results["peak_memory_kind"])],
        "PER": results["per"].map(lambda v: num(v, "{:.3f}")),
    })


def energy_table(results: pd.DataFrame) -> pd.DataFrame:
    """Gross, idle and net energy of each candidate's answering, and what was measured."""
    idle_w = results["energy_idle_wh"] * 3600.0 / results["duration_s"]
    return pd.DataFrame({
        "Model": results["model"],
        "Method": results["energy_method"],
        "Answering window (s)": results["duration_s"].map("{:.1f}".format),
        "Gross (Wh)": results["energy_gross_wh"].map(num),
        "Idle power (W)": idle_w.map(lambda v: num(v, "{:.3g}")),
        "Idle × duration (Wh)": results["energy_idle_wh"].map(num),
        "Net (Wh)": results["energy_wh"].map(num),
        "GPUs measured": results["gpus_measured"].replace("", "none"),
        "Answers": results["energy_status"],
    })


def significance_summary(details: pd.DataFrame, results: pd.DataFrame, alpha: float) -> tuple[str, pd.DataFrame]:
    """Pairwise exact McNemar tests, and the one comparison a reader asks first."""
    pairs = stats.pairwise_significance(details, alpha=alpha)
    ranked = results.dropna(subset=["accuracy"]).sort_values(["accuracy", "energy_per_query_wh"],
                                                             ascending=[False, True])
    if len(ranked) < 2:
        return "Only one model was judged: nothing to compare.", pairs
    best = ranked.iloc[0]
    frontier = results[results["on_frontier"] & (results["model"] != best["model"])]
    other = frontier.sort_values("energy_per_query_wh").iloc[0] if len(frontier) else ranked.iloc[1]
    role = "the most efficient other frontier model" if len(frontier) else "the runner-up (it dominates the rest)"
    pair = pairs[((pairs["model_a"] == best["model"]) & (pairs["model_b"] == other["model"]))
                 | ((pairs["model_a"] == other["model"]) & (pairs["model_b"] == best["model"]))].iloc[0]
    verdict = "is" if pair["significant"] else "is not"
    text = (f"The most accurate model, {best['model']} ({pct(best['accuracy'])}), {verdict} significantly "
            f"better than {role}, {other['model']} ({pct(other['accuracy'])}), "
            f"at {pair['n_paired']} paired questions (exact McNemar p = {pair['p_value']:.3g}, alpha = {alpha}). "
            f"{int(pairs['significant'].sum())} of {len(pairs)} pairwise differences are significant.")
    return text, pairs


PAIR_COLUMNS = {"model_a": "Model A", "model_b": "Model B", "n_paired": "Questions both judged",
                "accuracy_a": "Accuracy A", "accuracy_b": "Accuracy B", "a_only_correct": "Only A correct",
                "b_only_correct": "Only B correct", "p_value": "p (exact McNemar)", "significant": "Significant"}


def pairs_table(pairs: pd.DataFrame) -> pd.DataFrame:
    return pairs.assign(p_value=pairs["p_value"].map("{:.3g}".format), accuracy_a=pairs["accuracy_a"].map(pct),
                        accuracy_b=pairs["accuracy_b"].map(pct),
                        significant=pairs["significant"].map({True: "yes", False: "no"}))[
        list(PAIR_COLUMNS)].rename(columns=PAIR_COLUMNS)


@dataclass
class Scale:
    """The accuracy the pick rests on, and how two models are told apart on it.

    In order of preference: the person's labels on this document (``labelled``: PPI, per model and per pair,
    :mod:`pipeline.measure.labelled`), the judge's verdicts corrected per model with its error rates on that
    model's held-out real answers (``corrected``), or the verdicts as judged (``judged``, exact McNemar on the
    verdicts). A scale is used only when every candidate has an estimate on it; the tolerance applies on it.
    """

    key: str
    accuracy: str  # results columns
    low: str
    high: str
    says: str  # how the card names it
    pairs: pd.DataFrame  # model_a, model_b, significant, and the evidence (p_value or an interval)


def corrected_pairs(results: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Every pair of models on the judge-corrected scale (:func:`stats.interval_difference`)."""
    from itertools import combinations

    rows = []
    by_model = results.set_index("model")
    for a, b in combinations(results["model"], 2):
        found = stats.interval_difference(
            *(tuple(by_model.loc[m, c] for c in ("corrected_accuracy", "corrected_ci_low", "corrected_ci_high"))
              for m in (a, b)), alpha=alpha)
        rows.append({"model_a": a, "model_b": b, **found})
    return pd.DataFrame(rows, columns=["model_a", "model_b", "difference", "se", "p_value", "significant"])


def judged(pairs: pd.DataFrame) -> Scale:
    """The verdicts as judged, told apart by the exact McNemar tests ``pairs`` (:func:`stats.pairwise_significance`)."""
    return Scale("judged", "accuracy", "accuracy_ci_low", "accuracy_ci_high", "as judged, uncorrected", pairs)


def choose_scale(results: pd.DataFrame, details: pd.DataFrame, judged_pairs: pd.DataFrame, alpha: float) -> Scale:
    """The scale the pick uses (see :class:`Scale`)."""
    from pipeline.measure import labelled

    if len(results) and (results["labels"] > 0).all() and results["labelled_accuracy"].notna().all():
        labels = int(results["labels"].sum())
        return Scale("labelled", "labelled_accuracy", "labelled_ci_low", "labelled_ci_high",
                     f"checked by a person on {labels} answers, with the judge's verdicts on the rest (PPI)",
                     labelled.pairs(details, alpha))
    if len(results) and results["corrected_accuracy"].notna().all():
        return Scale("corrected", "corrected_accuracy", "corrected_ci_low", "corrected_ci_high",
                     "as judged, corrected for the judge's errors on each model's held-out real answers",
                     corrected_pairs(results, alpha))
    return judged(judged_pairs)


def _pair(pairs: pd.DataFrame, a: str, b: str) -> pd.Series | None:
    found = pairs[((pairs["model_a"] == a) & (pairs["model_b"] == b)) | ((pairs["model_a"] == b) & (pairs["model_b"] == a))]
    return found.iloc[0] if len(found) else None


def pick_and_best(results: pd.DataFrame, scale: Scale, tolerance: float) -> tuple | None:
    """(pick, most accurate, the rated models in order) on ``scale`` (rows of ``results``), or None when no model
    has an accuracy on it: see :func:`decision`."""
    acc = scale.accuracy
    rated = results.dropna(subset=[acc]).sort_values([acc, "energy_per_query_wh"], ascending=[False, True])
    if rated.empty:
        return None
    best = rated.iloc[0]

    def worse_than_best(model: str) -> bool:
        pair = _pair(scale.pairs, best["model"], model)
        return pair is not None and bool(pair["significant"])

    close = rated[(rated[acc] >= best[acc] - tolerance - 1e-12) & rated["energy_per_query_wh"].notna()
                  & ~rated["model"].map(worse_than_best)]
    pick = close.sort_values(["energy_per_query_wh", acc], ascending=[True, False]).iloc[0] if len(close) else best
    return pick, best, rated


def decision(results: pd.DataFrame, scale: Scale, tolerance: float,
             more_questions: Callable[[int], str] | None = None, alpha: float = 0.05) -> list[str]:
    """The card at the top of the page: which model to pick, and what it saves against the best.

    The pick is the model with the lowest energy per query whose accuracy *on the scale* (:class:`Scale`)
    is within ``tolerance`` of the best and which is not significantly worse than the best (the scale's
    pairwise comparisons, at ``alpha``); ties go to the lower energy per query. When the pick cannot be
    told apart from the best (or, being the best, from the next most accurate model), a line says so and
    what would settle it: more labels (``make review``) on the labelled scale, more questions otherwise
    (:func:`cannot_tell_apart`, with the command ``more_questions(n)``).
    """
    acc = scale.accuracy
    chosen = pick_and_best(results, scale, tolerance)
    if chosen is None:
        return ["No model has a judged answer: nothing to recommend."]
    pick, best, rated = chosen
    name = f"**{pick['model']}** ({format_params(pick['params_b'])})"
    lines = [f"Pick {name}: accuracy {pct(pick[acc])} ({pct(pick[scale.low])}–{pct(pick[scale.high])}; "
             f"{scale.says}), net energy {num(pick['energy_per_query_wh'])} Wh per query over "
             f"{pick['energy_ranked_answers']} of {pick['questions']} answers ({pick['energy_method']})."]
    unranked = results[results["energy_per_query_wh"].isna() & results[acc].notna()]
    if len(unranked):
        lines.append("⚠ Not ranked, no usable energy per query: " + ", ".join(
            f"{m} ({s})" for m, s in zip(unranked["model"], unranked["energy_status"])) + ".")
    if pick["model"] == best["model"]:
        lines.append(f"It is the most accurate model on this scale, and no model within {100 * tolerance:g} points of "
                     "it that is not significantly worse uses less energy.")
    else:
        ratio = best["energy_per_query_wh"] / pick["energy_per_query_wh"] if pick["energy_per_query_wh"] > 0 \
            else float("nan")
        gap = 100 * (best[acc] - pick[acc])
        lines.append(f"The most accurate, {best['model']} ({pct(best[acc])}), is {gap:.1f} points better: within the "
                     f"{100 * tolerance:g}-point tolerance (on the same scale) and not significantly better at this "
                     f"evidence. It uses {num(best['energy_per_query_wh'])} Wh per query, {num(ratio, '{:.3g}')}× the "
                     f"energy ({num(best['energy_per_query_wh'] - pick['energy_per_query_wh'])} Wh more per query).")
    rival = best if pick["model"] != best["model"] else rated.iloc[1] if len(rated) > 1 else None
    if rival is not None:
        if scale.key == "labelled":
            lines += not_told_apart_by_labels(pick["model"], rival["model"], scale.pairs, len(results))
        elif scale.key == "judged":
            lines += cannot_tell_apart(pick["model"], rival["model"], scale.pairs, alpha, more_questions)
        else:
            lines += not_told_apart_corrected(pick["model"], rival["model"], scale.pairs)
    return lines


def not_told_apart_by_labels(model: str, other: str, pairs: pd.DataFrame, per_question: int) -> list[str]:
    """One line when the labels do not tell ``model`` from ``other`` yet, with about how many more would."""
    from pipeline.measure import labelled

    pair = _pair(pairs, model, other)
    if pair is None or pair["significant"]:
        return []
    sign = 1 if pair["model_a"] == model else -1
    line = (f"The labels do not tell {model} from {other} yet: difference {100 * sign * pair['difference']:+.1f} points "
            f"({100 * min(sign * pair['ci_low'], sign * pair['ci_high']):+.0f} to "
            f"{100 * max(sign * pair['ci_low'], sign * pair['ci_high']):+.0f}) over {pair['paired_labels']} "
            "questions labelled for both.")
    more = labelled.labels_to_tell_apart(pair.to_dict(), per_question)
    return [line + (f" About {more} more labels (`make review`) would, if the difference holds." if more else "")]


def not_told_apart_corrected(model: str, other: str, pairs: pd.DataFrame) -> list[str]:
    pair = _pair(pairs, model, other)
    if pair is None or pair["significant"]:
        return []
    return [f"{model} cannot be told apart from {other} on the corrected accuracies (p = {pair['p_value']:.2g}): "
            "`make review` (a person labels about 40 answers) anchors both on this document."]


def cannot_tell_apart(model: str, other: str, pairs: pd.DataFrame, alpha: float,
                      more_questions: Callable[[int], str] | None = None, power: float = 0.8,
                      limit: int = 10_000) -> list[str]:
    """One line when the McNemar test of ``model`` against ``other`` is not significant (none when it is):
    their paired counts, and how many questions would settle it (:func:`stats.questions_to_settle`)."""
    found = pairs[((pairs["model_a"] == model) & (pairs["model_b"] == other))
                  | ((pairs["model_a"] == other) & (pairs["model_b"] == model))]
    if found.empty or found["significant"].iloc[0]:
        return []
    pair = found.iloc[0]
    mine, theirs = ("a_only_correct", "b_only_correct") if pair["model_a"] == model else ("b_only_correct",
                                                                                          "a_only_correct")
    model_only, other_only, paired = int(pair[mine]), int(pair[theirs]), int(pair["n_paired"])
    if not paired:
        return [f"{model} and {other} have no question judged for both: nothing tells them apart yet."]
    line = (f"{model} cannot be told apart from {other} at {paired} questions ({model} alone right on "
            f"{model_only}, {other} alone on {other_only}; exact McNemar p = {pair['p_value']:.3g}).")
    if model_only == other_only:
        why = "they were right and wrong on the same questions" if not model_only else \
            "each was right where the other was wrong equally often"
        return [f"{line} No number of questions would settle it on this evidence: {why}."]
    needed = stats.questions_to_settle(model_only, other_only, paired, alpha=alpha, power=power, limit=limit)
    if needed is None:
        return [f"{line} At these rates, more than {limit:,} questions would be needed to settle it."]
    line += f" At these rates, {needed} questions in all would settle it ({100 * power:g}% power, alpha {alpha:g})"
    # Adding questions until the test says "different" is optional stopping: the second look's 5% is not 5%.
    stopping = (" Testing again after adding them is a second look at the same comparison: to keep the 5% error "
                f"rate, count the difference as real only at p < {alpha / 2:g} then (Bonferroni over the two looks).")
    if more_questions is None:
        return [line + "." + stopping]
    return [f"{line}: `{more_questions(needed)}` makes only the new ones.{stopping}"]


def projection_table(results: pd.DataFrame, volume: int) -> pd.DataFrame:
    """Best model and the most efficient frontier model, side by side, at ``volume`` queries."""
    best = results.dropna(subset=["accuracy"]).sort_values(["accuracy", "energy_per_query_wh"],
                                                           ascending=[False, True])
    frontier = results[results["on_frontier"]].sort_values("energy_per_query_wh")
    most_accurate = best["model"].iloc[0]
    most_efficient = frontier["model"].iloc[0] if len(frontier) else most_accurate
    roles = {most_accurate: "most accurate", most_efficient: "most efficient on the frontier"}
    if most_accurate == most_efficient:
        roles = {most_accurate: "most accurate" + (" and most efficient" if len(frontier) else "")}
    methods = dict(zip(results["model"], results["energy_method"]))
    projected = stats.project(results[results["model"].isin(roles)], volume)
    return pd.DataFrame({
        "Model": projected["model"],
        "Role": projected["model"].map(roles),
        "Energy method": projected["model"].map(methods),
        f"Energy for {volume:,} queries (kWh)": projected["energy_kwh"].map(num),
        "CO2 (kg)": projected["co2_kg"].map(num),
        "Time at measured speed (h)": projected["hours"].map(num),
    })


def breakdown_table(details: pd.DataFrame, by: str) -> pd.DataFrame:
    table = stats.accuracy_breakdown(details, by)
    table["accuracy"] = [f"{pct(a)} ({n})" for a, n in zip(table["accuracy"], table["count"])]
    wide = table.pivot(index=by, columns="candidate", values="accuracy")
    return wide[list(dict.fromkeys(details["candidate"]))].reset_index().fillna("")


def _scale_paragraph(results: pd.DataFrame, scale: Scale) -> str:
    """What the pick's scale changes against the judged verdicts, and its pairwise comparisons."""
    if scale.key == "judged":
        return ("\n\nThe pick rests on the verdicts as judged: no model has both labelled held-out answers for a "
                "correction and a person's labels on this document.")
    effects = scale_effects(results, scale.accuracy, scale.says.split(",")[0])
    told = scale.pairs[scale.pairs["significant"].astype(bool)]  # an empty object column would select columns
    lines = [f"\n\nThe pick rests on the accuracy {scale.says}. Told apart on it: "
             + (", ".join(f"{a} and {b}" for a, b in zip(told["model_a"], told["model_b"])) or "no pair") + "."]
    lines += [f"- {e}" for e in effects] or ["- The most accurate model and the frontier are the same as judged."]
    return "\n".join(lines)


def review_sections(details: pd.DataFrame) -> list[tuple[str, object]]:
    """"Questions a human should look at": the three lists of :mod:`pipeline.report.flags`."""
    lists = [("failed by every candidate", flags.failed_by_all(details),
              "a wrong gold answer or an over-strict judge is as likely as a hard question"),
             ("gold answer doubted by validation but kept", flags.doubted_but_kept(details),
              "close to a validation threshold"),
             ("judge and lexical F1 disagree sharply", flags.judge_vs_f1(details),
              "a lenient or a strict verdict, worth a look")]
    summary = "\n".join(f"- {len(table)} {what}: {why}." for what, table, why in lists)
    sections: list[tuple[str, object]] = [("Questions a human should look at", summary)]
    sections += [(f"Look at: {what}", table) for what, table, _ in lists if len(table)]
    return sections


def judge_checks(details: pd.DataFrame, cfg: Config) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Agreement of the optional checks, and the answers where the two judges disagree (None when not run)."""
    compared = []
    if "second_judge_verdict" in details:
        compared.append((f"second judge {cfg.second_judge.name if cfg.second_judge else ''}".strip(),
                         "judge vs second judge", "verdict", "second_judge_verdict"))
    if "self_consistency_1_verdict" in details:
        temperature = cfg.self_consistency.temperature if cfg.self_consistency else float("nan")
        compared.append((f"self-consistency (temperature {temperature:g})", "two samples of the judge",
                         "self_consistency_1_verdict", "self_consistency_2_verdict"))
    if not compared:
        return None, None
    rows = []
    for check, what, a, b in compared:
        found = stats.judge_agreement(details[a].tolist(), details[b].tolist())
        rows.append({"Check": check, "Compares": what, "Answers compared": found["compared"],
                     "Agreement": pct(found["agreement"]), "Cohen's kappa": num(found["kappa"], "{:.2f}"),
                     "Not compared (no verdict)": found["not_compared"]})
    disagreements = None
    if "second_judge_verdict" in details:
        both = details.dropna(subset=["verdict", "second_judge_verdict"])
        differ = both[both["verdict"].astype(bool) != both["second_judge_verdict"].astype(bool)]
        disagreements = pd.DataFrame({
            "Model": differ["candidate"], "Question": differ["question"].str.slice(0, 120),
            "Answer": differ["prediction"].str.slice(0, 120).str.replace("\n", " "),
            "Judge": differ["verdict"].map(lambda v: "correct" if v else "wrong"),
            "Second judge": differ["second_judge_verdict"].map(lambda v: "correct" if v else "wrong")})
    return pd.DataFrame(rows), disagreements


def _judge_sessions(run_dir: Path, cfg: Config) -> list[dict]:
    """Judge sessions of the judges configured now (an earlier prompt's sessions do not count)."""
    keys = {judge_fingerprint(j) for j in filter(None, [cfg.judge, cfg.second_judge])}
    return [s for s in energy.read_sessions(run_dir / "judgements" / "judge.sessions.jsonl")
            if s.get("judge_fingerprint") in keys]


def _cost_row(stage: str, total: dict, note: str = "") -> dict:
    measured = total["sessions"] > 0
    killed = f"; {total['killed']} session(s) killed, energy up to their last checkpoint" if total["killed"] else ""
    if total.get("not_above_idle"):
        killed += (f"; {total['not_above_idle']} session(s) with a window at or below the idle baseline "
                   "(net ≤ 0, counted as measured, not clipped)")
    return {"Stage": stage, "Net energy (Wh)": num(total["net_wh"]) if measured else energy.NOT_MEASURED,
            "Duration (s)": f"{total['duration_s']:.1f}" if measured else "",
            "Method": total["method"] if measured else energy.NOT_MEASURED, "Note": note + killed,
            "net_wh": float(total["net_wh"]) if measured else float("nan")}


def generation_cost(run_dir: Path) -> tuple[dict, str]:
    """Question generation's net energy, and a note on what it holds.

    Two parts: the sessions of this configuration's generate runs (``generate.key``), as measured; and the
    calls the questions rest on (``calls_used`` in ``generation.json``) that earlier runs made and this one
    replayed from the call records, each charged its share, by seconds, of the net energy of the session
    that made it (:func:`pipeline.measure.energy.charge`), so that a replayed call costs what it cost when made.
    """
    from pipeline.questions.generate import GENERATOR_CALLS, GOLD_CHECK_CALLS

    sessions = energy.read_sessions(run_dir / "generation.sessions.jsonl")
    this_run = sessions
    key_file = run_dir / "keys" / "generate.key"
    if key_file.exists() and any("fingerprint" in s for s in sessions):  # sessions of the current questions
        this_run = [s for s in sessions if s.get("fingerprint") == key_file.read_text().strip()]
    measured = energy.phase_total(this_run)
    stats_path = run_dir / "generation.json"
    generation = json.loads(stats_path.read_text()) if stats_path.exists() else {}
    calls = pd.DataFrame([r for path in (GENERATOR_CALLS, GOLD_CHECK_CALLS) for r in read_jsonl(run_dir / path)])
    calls = calls.reindex(columns=["key", "session", "seconds"])
    charged = energy.charge(calls, sessions, "generate", "seconds")
    carried = charged[charged["key"].isin(generation.get("calls_used", []))
                      & ~charged["session"].isin({s.get("session") for s in this_run})]
    known = carried[carried["energy_wh"].notna()]
    total = {**measured, "net_wh": measured["net_wh"] + known["energy_wh"].sum(),
             "duration_s": measured["duration_s"] + known["duration_s"].sum(),
             "sessions": measured["sessions"] + known["session"].nunique(),
             "killed": measured["killed"] + known.loc[known["energy_status"] == energy.PARTIAL, "session"].nunique(),
             "method": measured["method"] if measured["sessions"] or known.empty else known["energy_method"].iloc[0]}
    if not sessions:
        return total, "the generate stage recorded no energy (generation.sessions.jsonl)"
    note = f"{num(measured['net_wh'])} Wh measured by this configuration's generate runs ({measured['sessions']} " \
           f"sessions)"
    if "calls_used" not in generation and generation.get("reused_calls"):
        note += (f"; the {generation['reused_calls']} calls they replayed from earlier runs are not counted "
                 "(generated before each call named the session that made it)")
    if len(carried):
        note += (f", {num(known['energy_wh'].sum())} Wh carried over: {len(known)} calls replayed from earlier runs, "
                 "each charged its share (by seconds) of the net energy of the session that made it")
        if len(known) < len(carried):
            note += (f"; {len(carried) - len(known)} replayed calls whose session's energy is unknown (recorded "
                     "before calls named their session, or the session left no energy) are not counted")
    return total, note


def evaluation_cost(run_dir: Path, cfg: Config, details: pd.DataFrame) -> pd.DataFrame:
    """What the evaluation itself cost, stage by stage, beside the answering energy of the table."""
    generation, why = generation_cost(run_dir)
    loads = [s for c in cfg.candidates
             for s in answer_sessions(run_dir, c.name, details.loc[details["candidate"] == c.name,
                                                                     "fingerprint"].iloc[0])
             if s.get("engine") != "openai"]
    judges = _judge_sessions(run_dir, cfg)
    local_judges = [s for s in judges if s.get("engine") != "openai"]
    answering = {"net_wh": details["energy_wh"].sum(), "duration_s": details["duration_s"].sum(),
                 "sessions": int(details["energy_wh"].notna().any()), "killed": 0,
                 "method": " / ".join(dict.fromkeys(details.loc[details["energy_wh"].notna(), "energy_method"]))}
    if cfg.generator.engine == "openai":
        generation, why = energy.phase_total([]), "remote endpoint: the client machine's energy is not the generator's"
    rows = [
        _cost_row("Question generation", generation, why),
        _cost_row("Loading the candidates", energy.phase_total(loads, "load")),
        _cost_row("Answering (the table)", answering, "net energy of the answers in use"),
        _cost_row("Loading the judge(s)", energy.phase_total(local_judges, "load")),
    ]
    judged = energy.phase_total(local_judges, "judge")
    if judged["sessions"]:
        judged = {**judged, "net_wh": details["judge_energy_wh"].sum(min_count=1)}
    rows.append(_cost_row("Judging", judged, "remote endpoint: not measured" if cfg.judge.engine == "openai"
                          else "net energy of the judgements in use"))
    if "checks_energy_wh" in details and details["checks_energy_wh"].notna().any():
        totals = [energy.phase_total(local_judges, check) for check in CHECKS]
        checks = {"net_wh": details["checks_energy_wh"].sum(), "duration_s": sum(t["duration_s"] for t in totals),
                  "sessions": sum(t["sessions"] for t in totals), "killed": sum(t["killed"] for t in totals),
                  "method": next((t["method"] for t in totals if t["sessions"]), energy.NOT_MEASURED)}
        rows.append(_cost_row("Judge reliability checks", checks, "second judge and self-consistency passes"))
    calibrated = energy.phase_total(local_judges, "calibration")
    if calibrated["sessions"]:  # none when the shipped measurements served: nothing graded here, nothing to cost
        rows.append(_cost_row("Judge calibration", calibrated,
                              "once per judge configuration, shared by every document"))
    return pd.DataFrame(rows)


COST_COLUMNS = ["Stage", "Net energy (Wh)", "Duration (s)", "Method", "Note"]  # the table as shown


def payback(costs: pd.DataFrame, results: pd.DataFrame, pick: str, most_accurate: str) -> dict:
    """What the evaluation cost against what the pick saves per query: its total net energy (the energy table's
    rows that were measured or estimated), the saving per query against the largest candidate (the "bigger is
    better" choice) and against the most accurate one, and after how many production queries each repays it.
    A saving of 0 or less repays nothing (NaN queries)."""
    measured = costs[costs["net_wh"].notna()]
    total = float(measured["net_wh"].sum())
    per_query = dict(zip(results["model"], results["energy_per_query_wh"]))
    largest = results.sort_values(["params_b", "energy_per_query_wh"], ascending=[False, False])["model"].iloc[0]

    def against(other: str) -> dict:
        saving = per_query[other] - per_query[pick] if other != pick else 0.0
        queries = math.ceil(total / saving) if saving > 0 and total == total else float("nan")
        return {"model": other, "saving_wh_per_query": saving, "queries": queries}

    return {"evaluation_wh": total, "stages_measured": list(measured["Stage"]),
            "stages_not_measured": list(costs.loc[costs["net_wh"].isna(), "Stage"]), "pick": pick,
            "largest": against(largest), "most_accurate": against(most_accurate)}


def payback_line(found: dict) -> str:
    """The card's line: what the evaluation cost and when the choice repays it."""
    def part(role: str, against: dict) -> str:
        if against["model"] == found["pick"]:
            return f"the pick is the {role} candidate, so it saves nothing against it"
        if against["saving_wh_per_query"] <= 0 or against["saving_wh_per_query"] != against["saving_wh_per_query"]:
            return (f"against the {role}, {against['model']}, the pick saves no energy per query, so nothing is "
                    "repaid in energy")
        return (f"against the {role}, {against['model']}, it saves {num(against['saving_wh_per_query'], '{:.3g}')} "
                f"Wh per query and repays the evaluation after about {against['queries']:,} queries")

    missing = f"; not measured: {', '.join(found['stages_not_measured'])}" if found["stages_not_measured"] else ""
    parts = [part("largest", found["largest"])]
    if found["most_accurate"]["model"] != found["largest"]["model"]:
        parts.append(part("most accurate", found["most_accurate"]))
    return (f"Payback: this evaluation cost {num(found['evaluation_wh'], '{:.3g}')} Wh net (the stages of \"What the "
            f"evaluation itself cost\"{missing}); " + "; ".join(parts) + ".")


def payback_columns(found: dict) -> dict:
    """The payback as ``results`` columns (the same on every row) and in the Hub ``run`` config."""
    return {"evaluation_energy_wh": found["evaluation_wh"],
            "saving_vs_largest_wh_per_query": found["largest"]["saving_wh_per_query"],
            "largest_model": found["largest"]["model"], "payback_queries_vs_largest": found["largest"]["queries"],
            "saving_vs_most_accurate_wh_per_query": found["most_accurate"]["saving_wh_per_query"],
            "most_accurate_model": found["most_accurate"]["model"],
            "payback_queries_vs_most_accurate": found["most_accurate"]["queries"]}


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
                "nothing running (after taking the machine's serving lock, before loading its model)"
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
    "ones — that model's own judge errors. Pairs of models are compared the same way on the questions labelled for "
    "both. With a handful of labels the intervals add one pseudo-answer of each kind and use Student's t; in the "
    "Monte Carlo of `tests/test_labelled.py` (24 questions, 10 to 40 labels, judge leniency differing by model) they "
    "cover the truth at least 93% of the time, where the judge's own interval does not.",
    "- Judge-corrected accuracy: the judge itself errs, and differently on each model's answers. Each model's "
    "sensitivity (right answers the judge accepts) and specificity (wrong answers it rejects) are counted on that "
    "model's held-out real answers a person labelled (`labelled/answers/`; the counts are in `details.parquet`: "
    "`heldout_tp`, `heldout_fn`, `heldout_tn`, `heldout_fp`) and turn the share it judged correct, p, into an "
    "estimate of the true share: (p + specificity - 1) / (sensitivity + specificity - 1) (Rogan-Gladen), clipped "
    "to 0-100%, with Lang and Reiczigel's adjusted Wald interval (2014), which carries the finite labelled set's "
    "uncertainty too (`corrected_accuracy` in `pipeline/measure/stats.py`). n/a for a model with no labelled "
    "held-out answers, or when the judge's Youden index on them is not clearly above 0. It assumes the judge errs on "
    "this document as on the held-out documents; a person's labels on this document need no such assumption. "
    "Answers wrong by rule are wrong with certainty: the correction applies to the judged ones, scaled to all.",
    "- Control answers (built from the run: the gold reworded, a changed figure, a neighbouring figure, another "
    "question's answer, a wrong unit, an invented claim added, a partial answer, an echo of the question, a "
    "refusal) gate the judge: one that fails them cannot support a pick. They are far easier than real answers, so "
    "they never enter a correction.",
    "- On the judged scale, whether two models differ is the exact McNemar test on their verdicts; on the corrected "
    "scale, a normal test on the two corrected estimates (treated as independent: cautious); on the labelled scale, "
    "the paired PPI interval of the difference.",
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
    rejected_line = f"{rejected_line} {rates_sentence(generation.get('validation_error_rates', {}))}".rstrip()
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


def run_info(run_dir: Path, cfg: Config, results: pd.DataFrame) -> dict:
    """The ``run`` record: who did what, with which versions, when, on what."""
    import platform
    from datetime import datetime, timezone

    from pipeline.report.hub import library_versions

    sessions = [s for c in cfg.candidates for s in read_jsonl(run_dir / "answers" / f"{c.name}.sessions.jsonl")]
    sessions += read_jsonl(run_dir / "judgements" / "judge.sessions.jsonl")
    hardware = next((h for h in results["hardware"] if h), "") or "unknown hardware"
    return {
        "profile": cfg.profile,
        "config_hash": fingerprint(cfg),
        "generator": f"{cfg.generator.name} ({cfg.generator.engine}: {cfg.generator.model})",
        "candidates": [f"{c.name} ({c.engine}: {c.model}, {format_params(c.params_b)})" for c in cfg.candidates],
        "judge": f"{cfg.judge.name} ({cfg.judge.engine}: {cfg.judge.model})",
        "judge_prompt": f"judge_prompts/{cfg.judge.prompt}",
        "library_versions": library_versions(),
        "started": min((s["started"] for s in sessions), default=None),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.system()} {platform.machine()}, {hardware}",
        "energy_method": dict(zip(results["model"], results["energy_method"])),
        "devices_measured": {m: g or "none" for m, g in zip(results["model"], results["gpus_measured"])},
        # as the answering sessions recorded them, per model (None: not recorded)
        "idle_baseline_s": {m: None if pd.isna(v) else round(float(v), 1)
                            for m, v in zip(results["model"], results["idle_baseline_s"])},
        "energy_repeats": {m: None if pd.isna(v) else int(v)
                           for m, v in zip(results["model"], results["energy_windows"])},
    }


def review_command(document: str, cfg: Config) -> str:
    import shlex

    return f"make review DOC={shlex.quote(document)}" + ("" if cfg.profile == "default" else f" PROFILE={cfg.profile}")


def heldout_rates(run_dir: Path, cfg: Config) -> dict:
    """The judge on held-out real answers (:mod:`pipeline.verdicts.real_answers`): per label, all models together
    (with the measurement's provenance), and per candidate for the key fact (what the correction uses)."""
    records, about = real_answers.measurement(calibration.runs_root(run_dir), cfg.judge)
    found: dict = {"by_model": {}}
    rules = cfg.judge.figure_rules
    for label in real_answers.LABELS:
        found[label] = {**real_answers.rates(records, label, figure_rules=rules), "provenance": about or {}} \
            if about else None
    for c in cfg.candidates:
        counts = real_answers.rates(records, "key_fact", model=c.model, figure_rules=rules) if about else None
        found["by_model"][c.name] = counts if counts and counts["parsed"] else None
    return found


def heldout_columns(heldout: dict) -> dict:
    """The held-out rates as ``results`` columns (the same on every row): sensitivity, specificity, kappa and the
    number of answers, per label."""
    columns = {}
    for label in real_answers.LABELS:
        found = heldout[label] or {}
        for key in ("sensitivity", "specificity", "kappa", "parsed"):
            columns[f"heldout_{label}_{'answers' if key == 'parsed' else key}"] = found.get(key, float("nan"))
    return columns


def run(run_dir: Path, report_dir: Path, cfg: Config, document: str) -> Path:
    from pipeline.report import html_report, hub

    details = build_details(run_dir, cfg)
    results = aggregate(details)
    _, per_bounds = stats.performance_efficiency_ratio(results)
    significance, pairs = significance_summary(details, results, cfg.report.significance_alpha)
    scale = choose_scale(results, details, pairs, cfg.report.significance_alpha)
    judge_rates = calibration.summary(run_dir, cfg.judge)  # the synthetic set: graded by `make calibrate` only
    heldout = heldout_rates(run_dir, cfg)
    results = results.assign(pick_scale=scale.key, **heldout_columns(heldout))
    graded_controls = pd.read_parquet(run_dir / "controls.parquet") if (run_dir / "controls.parquet").exists() \
        else pd.DataFrame()
    control_rates = controls.rates(graded_controls) if len(graded_controls) else None
    notes = _run_notes(run_dir, cfg, results, details, judge_rates, control_rates)
    costs = evaluation_cost(run_dir, cfg, details)
    chosen = pick_and_best(results, scale, cfg.report.accuracy_tolerance)
    repaid = payback(costs, results, chosen[0]["model"], chosen[1]["model"]) if chosen else None
    if repaid:
        results = results.assign(**payback_columns(repaid))
    report_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_parquet(details, report_dir / "details.parquet")
    atomic_write_parquet(graded_controls, report_dir / "controls.parquet")  # the controls' verdicts, one a row
    if (run_dir / "rejected.parquet").exists():  # the questions validation turned away, with the reason
        atomic_write_parquet(pd.read_parquet(run_dir / "rejected.parquet"), report_dir / "rejected.parquet")
    from pipeline.report.figures import bubble_plot  # matplotlib, only when drawing: `locate` imports report_key

    bubble_plot(results, report_dir / "bubble.png", f"{document}: accuracy vs energy ({cfg.profile} profile)")
    bounds = "; ".join(f"{metric} [{b['min']:.4g}, {b['max']:.4g}] ({'higher' if b['higher_is_better'] else 'lower'}"
                       " is better)" for metric, b in per_bounds.items())
    per_note = ("PER (Performance-Efficiency Ratio) = geometric mean of min-max-normalised accuracy, tokens/s, "
                f"peak memory and p50 latency over the models compared here; bounds: {bounds}. It depends on "
                "which models are compared: adding or removing one changes every PER.")
    sections = [
        ("Results", main_table(results)),
        ("Efficiency", efficiency_table(results)),
        ("Efficiency notes", "- " + per_note + "\n- Frontier: models no other model beats on both accuracy "
                             "and net energy per query; \"yes (estimate)\" where that energy is an estimate, not a "
                             "measurement. "
                             "J per output token and Wh per query use net energy. TDP estimate: the study's TDP x "
                             "devices x duration; EcoLogits: its per-request model."
         + ("\n- Peak GPU memory is what the server held (vLLM reserves a fixed share of the GPU, "
            "`--gpu-memory-utilization`), not what the model needed." if (results["peak_memory_kind"] == "GPU").any()
            else "")),
        ("Is the difference real?", significance + _scale_paragraph(results, scale)),
        ("Pairwise comparisons", pairs_table(pairs)),
        (f"At scale ({cfg.report.projection_volume:,} queries)",
         projection_table(results, cfg.report.projection_volume)),
        ("Accuracy by question kind", breakdown_table(details, "kind")),
        ("Accuracy by question type", breakdown_table(details, "question_category")),
        ("Accuracy by difficulty", breakdown_table(details, "difficulty_band")),
        ("Energy accounting", energy_table(results)),
        *review_sections(details),
        ("How far the verdicts can be trusted", "\n".join(f"- {line}" for line in (
            trust.labels_line(results, details) or trust.unchecked_line(review_command(document, cfg)),
            trust.heldout_line(heldout["key_fact"]),
            trust.heldout_line(heldout["faithful"]).replace("the judge agreed", "on the stricter label — the key "
                                                            "fact and no false statement — the judge agreed", 1),
            trust.controls_line(control_rates, cfg.controls.per_question),
            trust.non_answers_line(results)))),
        ("The judge on each model's held-out real answers (what corrects its accuracy)",
         trust.heldout_table(heldout["by_model"])),
        *([("The judge on this document's control answers (a gate)", trust.controls_table(control_rates))]
          if control_rates else []),
        ("What the evaluation itself cost", costs[COST_COLUMNS]),
        ("How these numbers were made", "\n".join(notes)),
    ]
    agreement, disagreements = judge_checks(details, cfg)
    if agreement is not None:
        second = cfg.second_judge
        lines = [trust.calibration_line("The judge", judge_rates)]
        if second:
            lines.append(trust.calibration_line("The second judge", calibration.summary(run_dir, second)))
        sections.insert(-1, ("Can the judge be trusted?", agreement))
        lines.append("Cohen's kappa discounts the agreement two judges would reach by chance: when one judge gives "
                     "nearly always the same verdict, high agreement can go with a kappa near 0.")
        sections.insert(-1, ("Judge calibration", "\n".join(f"- {line}" for line in lines)))
        if disagreements is not None:
            count = f"{len(disagreements)} answer{'' if len(disagreements) == 1 else 's'}"
            sections.insert(-1, (f"Where the two judges disagree ({count})",
                                 disagreements if len(disagreements) else "They agree on every answer both graded."))
    more = runs.more_questions_command(document, cfg.profile)
    card = trust.card(decision(results, scale, cfg.report.accuracy_tolerance, more, alpha=cfg.report.significance_alpha),
                      trust.cannot_pick(control_rates, cfg.controls),
                      [*([payback_line(repaid)] if repaid else []),
                       trust.labels_line(results, details) or trust.unchecked_line(review_command(document, cfg)),
                       trust.heldout_line(heldout["key_fact"]),
                       trust.controls_line(control_rates, cfg.controls.per_question)])
    title = f"Which model for `{document}`?"
    intro = f"Profile `{cfg.profile}`. {details['question_id'].nunique()} questions, {len(results)} candidate models."
    parts = [f"# {title}", "", *(f"> {line}  " for line in card), "", intro, ""]
    for heading, content in sections:
        parts += [f"## {heading}", "", markdown_table(content) if isinstance(content, pd.DataFrame) else content, ""]
    parts += ["![accuracy vs energy](bubble.png)", "",
              "Per-question predictions, verdicts and raw judge outputs: `details.parquet`; the same page: "
              "`report.html`.", ""]
    atomic_write_text(report_dir / "results.md", "\n".join(parts))
    html_report.render(report_dir / "report.html", title.replace("`", ""),
                       [intro, *(note.removeprefix("- ") for note in notes)], sections,
                       [("Accuracy vs net energy per query (bubble area ∝ parameters; hollow: estimated energy; "
                         "dashed: efficiency frontier)",
                         report_dir / "bubble.png")],
                       links=[("details.parquet", "details.parquet"), ("rejected.parquet", "rejected.parquet"),
                              ("controls.parquet", "controls.parquet"),
                              ("results.csv", "results.csv"),
                              ("results.md", "results.md")],
                       decision=card, explorer_html=html_report.explorer(details, flags.flagged(details)))
    csv = report_dir / "results.csv"  # Make's target: if anything below fails, Make deletes it again
    atomic_write_text(csv, results.to_csv(index=False))
    info = run_info(run_dir, cfg, results)
    if repaid:  # the Hub `run` config carries the payback too, flat
        info.update({k: (v.item() if hasattr(v, "item") else v) for k, v in payback_columns(repaid).items()})
    hub.build_dataset(run_dir, report_dir, cfg, document, info)
    from pipeline.report import inspect_logs  # inspect_ai takes seconds to import: only here

    inspect_logs.write(details, report_dir / "inspect", {
        "profile": cfg.profile, "document": document, "judge": cfg.judge.name,
        "judge_prompt": f"judge_prompts/{cfg.judge.prompt}", "candidate_context": cfg.questions.candidate_context,
        "pick_scale": scale.key}, fingerprint(cfg))
    print(f"report: {report_dir / 'results.md'}", flush=True)
    return csv
