"""The decision: on which accuracy the pick rests, the pick itself, and whether two models can be told apart.

:class:`Scale` (the person's labels, the judge-corrected accuracy or the verdicts as judged), :func:`choose_scale`,
:func:`pick_and_best` and :func:`decision` (the card's first lines), with what would settle a pair that is not
told apart (more labels, more questions). Imports the measurements only (``measure``) and ``formatting``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from pipeline.measure import correction, stats
from pipeline.report.formatting import format_params, num, pct


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
    """Every pair of models on the judge-corrected scale (:func:`correction.interval_difference`, on each corrected
    accuracy's own standard error, ``corrected_se``)."""
    from itertools import combinations

    rows = []
    by_model = results.set_index("model")
    for a, b in combinations(results["model"], 2):
        found = correction.interval_difference(
            *(tuple(by_model.loc[m, c] for c in ("corrected_accuracy", "corrected_se")) for m in (a, b)), alpha=alpha)
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
    if more is None:
        return [line + " They cannot be told apart on this document: labelling every answer would not do it at this "
                "difference."]
    return [line + f" About {more} more labels (`make review`) would, if the difference holds."]


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
