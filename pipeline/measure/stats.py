"""Statistics for the report: confidence intervals, significance, efficiency figures.

Every function here is pure (no I/O, no global state) and works on the tables that
``pipeline.report.report`` builds:

* ``details``: one row per (candidate, question) with ``candidate``, ``question_id``,
  ``verdict`` (1.0 / 0.0 / NaN), ``status`` ("judged" | "unparsed" | "error" |
  "missing"), ``latency_s``, ``output_tokens``, ``energy_wh`` ... A row counts as
  *judged* when ``status == "judged"`` and its verdict is not NaN.
* ``results``: one row per model (the aggregate of ``details``).

The exact McNemar test is computed with :func:`math.comb` (exact integers); the
power of that test uses :data:`scipy.stats.binom`, imported only there.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from itertools import combinations

import numpy as np
import pandas as pd

__all__ = [
    "wilson_interval",
    "mcnemar_exact",
    "mcnemar_power",
    "questions_to_settle",
    "pairwise_significance",
    "pareto_frontier",
    "performance_efficiency_ratio",
    "PER_METRICS",
    "PER_EPSILON",
    "serving_figures",
    "project",
    "accuracy_breakdown",
    "difficulty_band",
    "cohen_kappa",
    "percent_agreement",
    "judge_calibration_accuracy",
    "judge_error_rates",
]

NAN = float("nan")


def _judged(details: pd.DataFrame) -> pd.DataFrame:
    """Rows with a usable verdict: status "judged" (when the column exists) and verdict not NaN."""
    mask = details["verdict"].notna()
    if "status" in details.columns:
        mask &= details["status"] == "judged"
    return details[mask]


# --------------------------------------------------------------------------- intervals & tests


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score confidence interval for a binomial proportion.

    Method: with p = successes / n,
    centre = (p + z^2 / 2n) / (1 + z^2 / n) and
    half-width = z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / 4n^2);
    the interval is (centre - half-width, centre + half-width), clipped to [0, 1].
    The default z = 1.959964 gives a 95 % interval. Unlike the normal (Wald)
    interval it stays inside [0, 1] and is not degenerate at 0/n or n/n.

    Returns (nan, nan) when n == 0.
    """
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if n == 0:
        return (NAN, NAN)
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / denom
    half = (z / denom) * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n))
    return (max(0.0, centre - half), min(1.0, centre + half))


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar test for paired binary outcomes.

    Method: only the discordant pairs matter: b = pairs where only the first model
    is correct, c = pairs where only the second is. Under the null hypothesis
    (both models equally accurate) each discordant pair is b-type with
    probability 0.5, so b ~ Binomial(b + c, 0.5). The two-sided p-value is
    min(1, 2 * P(X <= min(b, c))) with X ~ Binomial(b + c, 0.5), computed exactly
    with integer binomial coefficients.

    Returns 1.0 when b + c == 0 (no discordant pairs: no evidence of a difference).
    """
    if b < 0 or c < 0:
        raise ValueError(f"counts must be non-negative, got b={b}, c={c}")
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1))
    # Exact integer arithmetic until the final division (int / int stays exact for large n).
    return min(1.0, (2 * tail) / (2 ** n))


def _mcnemar_powers(sizes: np.ndarray, a_only: int, b_only: int, n_paired: int, alpha: float) -> Iterator[float]:
    """The power of :func:`mcnemar_exact` at each of ``sizes`` paired questions (method: :func:`mcnemar_power`),
    one at a time so that a search can stop early."""
    if min(a_only, b_only) < 0 or a_only + b_only > n_paired or n_paired < 1:
        raise ValueError(f"need 0 <= a_only + b_only <= n_paired, n_paired >= 1; got {a_only}, {b_only}, {n_paired}")
    from scipy.stats import binom  # here, not at the top: importing scipy.stats takes a second or two

    discordant_rate = (a_only + b_only) / n_paired
    a_share = a_only / (a_only + b_only) if a_only + b_only else 0.5
    d = np.arange(int(sizes.max()) + 1)
    # For d discordant pairs, the largest split k with p = 2 P(X <= k) < alpha, X ~ Binomial(d, 1/2):
    # binom.ppf gives the smallest k with P(X <= k) >= alpha / 2, so k is one less (-1: never significant).
    k = binom.ppf(alpha / 2, d, 0.5) - 1
    # Significant when the first model's count is <= k or >= d - k (k < d / 2: the two never overlap).
    rejects = binom.cdf(k, d, a_share) + binom.sf(d - k - 1, d, a_share)
    # Discordant counts outside the central 1 - 1e-12 of Binomial(N, r) are left out (for speed only).
    lows, highs = (bound.astype(int) for bound in binom.interval(1 - 1e-12, sizes, discordant_rate))
    for questions, low, high in zip(sizes, lows, highs):
        yield float(binom.pmf(d[low:high + 1], questions, discordant_rate) @ rejects[low:high + 1])


def mcnemar_power(questions: int, a_only: int, b_only: int, n_paired: int, alpha: float = 0.05) -> float:
    """Probability that :func:`mcnemar_exact` gives p < alpha at ``questions`` paired questions, when the
    discordant pairs observed on ``n_paired`` questions are the truth.

    Method: a question is discordant with probability r = (a_only + b_only) / n_paired,
    and a discordant question goes the first model's way with probability
    s = a_only / (a_only + b_only). At N paired questions the number of discordant
    pairs is D ~ Binomial(N, r) and, given D = d, the first model's count is
    Binomial(d, s); the test is significant when that count is <= k_d or >= d - k_d,
    k_d being the largest count with 2 P(X <= k_d) < alpha, X ~ Binomial(d, 1/2) (the
    rejection region of :func:`mcnemar_exact`, as ``pairwise_significance`` uses it).
    Power = sum over d of P(D = d) x P(significant | d), computed exactly with
    :data:`scipy.stats.binom` (no normal approximation).
    """
    return next(_mcnemar_powers(np.array([questions]), a_only, b_only, n_paired, alpha))


def questions_to_settle(a_only: int, b_only: int, n_paired: int, alpha: float = 0.05, power: float = 0.8,
                        limit: int = 10_000) -> int | None:
    """How many paired questions would tell two models apart: the smallest N at which the exact
    McNemar test is significant with probability >= ``power`` (:func:`mcnemar_power`), taking the
    discordant pairs observed (a_only and b_only of n_paired) as the truth.

    Returns None when a_only == b_only (no observed difference: no question count
    settles it; this includes no discordant pair at all) or when more than
    ``limit`` questions would be needed.
    """
    if a_only == b_only:
        return None
    sizes = np.arange(1, limit + 1)
    for questions, found in zip(sizes, _mcnemar_powers(sizes, a_only, b_only, n_paired, alpha)):
        if found >= power:
            return int(questions)
    return None


def pairwise_significance(details: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Exact McNemar test between every pair of candidates, on their shared judged questions.

    Method: for each unordered pair (a, b) of candidates (in order of first
    appearance in ``details``), keep the questions that *both* have judged (status
    "judged" and a non-NaN verdict), then count
    a_only_correct (b: a right, b wrong) and b_only_correct (c: a wrong, b right)
    and apply :func:`mcnemar_exact`. Accuracies are computed on the same paired
    questions, so they can differ from the overall accuracy in the results table.
    A verdict counts as correct when it is >= 0.5 (verdicts are 1.0 or 0.0).
    If a candidate has several rows for one question, the first is used.

    No correction for multiple comparisons is applied; ``significant`` is simply
    ``p_value < alpha``. Pairs with no shared judged question get n_paired 0,
    NaN accuracies, p_value 1.0 and significant False.

    Columns: model_a, model_b, n_paired, accuracy_a, accuracy_b, a_only_correct,
    b_only_correct, p_value, significant.
    """
    columns = ["model_a", "model_b", "n_paired", "accuracy_a", "accuracy_b",
               "a_only_correct", "b_only_correct", "p_value", "significant"]
    candidates = list(pd.unique(details["candidate"]))
    judged = _judged(details)
    verdicts = {
        name: (group.drop_duplicates("question_id").set_index("question_id")["verdict"] >= 0.5)
        for name, group in judged.groupby("candidate", sort=False)
    }
    rows = []
    for a, b in combinations(candidates, 2):
        va = verdicts.get(a, pd.Series(dtype=bool))
        vb = verdicts.get(b, pd.Series(dtype=bool))
        shared = va.index.intersection(vb.index)
        ra = va.loc[shared].to_numpy(dtype=bool)
        rb = vb.loc[shared].to_numpy(dtype=bool)
        n = len(shared)
        a_only = int(np.sum(ra & ~rb))
        b_only = int(np.sum(~ra & rb))
        p = mcnemar_exact(a_only, b_only)
        rows.append({
            "model_a": a,
            "model_b": b,
            "n_paired": n,
            "accuracy_a": float(ra.mean()) if n else NAN,
            "accuracy_b": float(rb.mean()) if n else NAN,
            "a_only_correct": a_only,
            "b_only_correct": b_only,
            "p_value": p,
            "significant": bool(p < alpha),
        })
    return pd.DataFrame(rows, columns=columns)


# --------------------------------------------------------------------------- efficiency


def pareto_frontier(results: pd.DataFrame, x: str = "energy_wh", y: str = "accuracy") -> pd.Series:
    """Which models are on the Pareto frontier of low ``x`` (cost) and high ``y`` (quality).

    Method: a model i is *dominated* when some other model j has x_j <= x_i and
    y_j >= y_i with at least one of the two strictly better. The frontier is the
    set of models that nobody dominates (an O(n^2) pairwise check; n is small).
    Two models with identical (x, y) do not dominate each other, so both stay.

    Models with a NaN ``y`` (no accuracy) or NaN ``x`` are never on the frontier
    and do not dominate anyone.

    Returns a boolean Series indexed like ``results``.
    """
    xs = pd.to_numeric(results[x], errors="coerce").to_numpy(dtype=float)
    ys = pd.to_numeric(results[y], errors="coerce").to_numpy(dtype=float)
    valid = ~(np.isnan(xs) | np.isnan(ys))
    on_front = valid.copy()
    for i in range(len(xs)):
        if not valid[i]:
            continue
        for j in range(len(xs)):
            if i == j or not valid[j]:
                continue
            if xs[j] <= xs[i] and ys[j] >= ys[i] and (xs[j] < xs[i] or ys[j] > ys[i]):
                on_front[i] = False
                break
    return pd.Series(on_front, index=results.index, name="pareto", dtype=bool)


#: PER metrics and whether higher values are better.
PER_METRICS: dict[str, bool] = {
    "accuracy": True,
    "tokens_per_s": True,
    "peak_memory_mb": False,
    "latency_p50_s": False,
}
#: Floor applied to each normalised PER factor so that one worst-in-class metric
#: does not force the geometric mean to 0.
PER_EPSILON = 0.01


def performance_efficiency_ratio(results: pd.DataFrame) -> tuple[pd.Series, dict]:
    """Performance-Efficiency Ratio (PER), after "Task-Specific Efficiency Analysis:
    When Small Language Models Outperform Large Language Models" (2026).

    Method: PER is the geometric mean of four min-max-normalised metrics:

    * ``accuracy`` (higher is better),
    * ``tokens_per_s`` throughput (higher is better),
    * ``peak_memory_mb`` (lower is better),
    * ``latency_p50_s`` (lower is better).

    Each metric is normalised over the compared models as (v - min) / (max - min);
    lower-is-better metrics are inverted as 1 - (v - min) / (max - min), so 1.0 is
    always the best model on that metric. When all models share one value
    (max == min) that metric's normalised value is 1.0 for every model.

    Deviation to note: a geometric mean with any factor 0 is 0, and min-max
    normalisation gives exactly 0 to the worst model on each metric, so each
    normalised factor is floored at epsilon = 0.01 (``PER_EPSILON``) before taking
    PER = (f_acc * f_tps * f_mem * f_lat) ** (1/4).

    PER is relative, not absolute: it depends on the set of models compared
    (adding or removing one model can change every other model's PER). The bounds
    are returned so that a published value can be reproduced.

    The compared models are the rows with all four metrics present; a row missing
    any of them gets a NaN PER and does not contribute to the bounds.

    Returns (per, bounds): ``per`` is a float Series indexed like ``results``;
    ``bounds`` is {metric: {"min": float, "max": float, "higher_is_better": bool}}.
    """
    missing = [m for m in PER_METRICS if m not in results.columns]
    if missing:
        raise KeyError(f"performance_efficiency_ratio needs columns {missing}")
    values = results[list(PER_METRICS)].apply(pd.to_numeric, errors="coerce").astype(float)
    complete = values.notna().all(axis=1)
    compared = values[complete]
    bounds: dict[str, dict] = {}
    log_sum = pd.Series(0.0, index=compared.index)
    for metric, higher in PER_METRICS.items():
        col = compared[metric]
        lo = float(col.min()) if len(col) else NAN
        hi = float(col.max()) if len(col) else NAN
        bounds[metric] = {"min": lo, "max": hi, "higher_is_better": higher}
        if len(col) == 0:
            continue
        if hi == lo:
            norm = pd.Series(1.0, index=col.index)
        else:
            norm = (col - lo) / (hi - lo)
            if not higher:
                norm = 1.0 - norm
        log_sum += np.log(norm.clip(lower=PER_EPSILON))
    per = pd.Series(NAN, index=results.index, name="per", dtype=float)
    per.loc[compared.index] = np.exp(log_sum / len(PER_METRICS))
    return per, bounds


def serving_figures(details: pd.DataFrame) -> pd.DataFrame:
    """Per-candidate serving figures from the per-question details.

    Method, per candidate (order of first appearance):

    * ``tokens_per_s`` = sum(output_tokens) / sum(latency_s), over rows where both
      are present (an aggregate throughput, not a mean of per-question rates);
      NaN when the latency sum is 0.
    * ``latency_p50_s``, ``latency_p95_s``: ``numpy.percentile`` (linear
      interpolation) of ``latency_s`` over rows where it is present.
    * ``energy_per_query_wh`` = sum(energy_wh) / number of rows whose energy is
      known (an answer whose session's energy was lost is not a free answer), the
      same per-query mean the projections use; NaN when no row has energy.
    * ``j_per_output_token`` = sum(energy_wh) x 3600 / sum(output_tokens), over
      the rows whose energy is known.
    * ``accuracy`` = mean verdict over judged rows.
    * ``accuracy_per_wh`` = accuracy / total energy_wh; NaN when the total energy
      is 0 or unknown (or accuracy is NaN).

    Columns: candidate, questions, tokens_per_s, latency_p50_s, latency_p95_s,
    energy_wh, energy_per_query_wh, j_per_output_token, accuracy, accuracy_per_wh.
    """
    rows = []
    for name, group in details.groupby("candidate", sort=False):
        lat = pd.to_numeric(group["latency_s"], errors="coerce")
        toks = pd.to_numeric(group["output_tokens"], errors="coerce")
        both = lat.notna() & toks.notna()
        lat_sum = float(lat[both].sum())
        tps = float(toks[both].sum()) / lat_sum if lat_sum > 0 else NAN
        lat_vals = lat.dropna().to_numpy(dtype=float)
        p50 = float(np.percentile(lat_vals, 50)) if len(lat_vals) else NAN
        p95 = float(np.percentile(lat_vals, 95)) if len(lat_vals) else NAN
        energies = pd.to_numeric(group["energy_wh"], errors="coerce")
        known = energies.notna()
        energy = float(energies.sum()) if known.any() else NAN
        known_tokens = float(toks[known].sum())
        judged = _judged(group)
        accuracy = float(judged["verdict"].mean()) if len(judged) else NAN
        rows.append({
            "candidate": name,
            "questions": len(group),
            "tokens_per_s": tps,
            "latency_p50_s": p50,
            "latency_p95_s": p95,
            "energy_wh": energy,
            "energy_per_query_wh": energy / int(known.sum()) if known.any() else NAN,
            "j_per_output_token": energy * 3600.0 / known_tokens if known.any() and known_tokens > 0 else NAN,
            "accuracy": accuracy,
            "accuracy_per_wh": accuracy / energy if energy > 0 else NAN,
        })
    return pd.DataFrame(rows, columns=["candidate", "questions", "tokens_per_s", "latency_p50_s",
                                       "latency_p95_s", "energy_wh", "energy_per_query_wh", "j_per_output_token",
                                       "accuracy", "accuracy_per_wh"])


def project(results: pd.DataFrame, volume: int = 1_000_000) -> pd.DataFrame:
    """Linear projection of energy, CO2 and time to ``volume`` queries.

    Method: per model, the per-query means measured in the run are scaled by
    ``volume``:

    * energy_kwh = energy_per_query_wh * volume / 1000
    * co2_kg     = co2_per_query_g * volume / 1000
    * hours      = seconds_per_query * volume / 3600

    each per-query column, when absent, being its total over ``questions`` (energy_wh,
    co2_g, duration_s). The report's per-query figures rest on the answers whose
    energy (or duration) is known, the same answers for energy and CO2.

    This assumes the measured questions are representative and queries are served
    one after another as in the run (no batching, no idle or loading energy).
    Models with 0 questions get NaN.

    Input columns: model, questions, energy_wh, co2_g, duration_s (energy_per_query_wh,
    co2_per_query_g, seconds_per_query optional).
    Columns: model, volume, energy_kwh, co2_kg, hours.
    """
    q = pd.to_numeric(results["questions"], errors="coerce").astype(float)
    q = q.where(q > 0)

    def per_query(column: str, total: str) -> pd.Series:
        found = results[column].astype(float) if column in results else results[total].astype(float) / q
        return found.where(q.notna())

    return pd.DataFrame({
        "model": results["model"],
        "volume": volume,
        "energy_kwh": per_query("energy_per_query_wh", "energy_wh") * volume / 1000.0,
        "co2_kg": per_query("co2_per_query_g", "co2_g") * volume / 1000.0,
        "hours": per_query("seconds_per_query", "duration_s") * volume / 3600.0,
    }, index=results.index)


# --------------------------------------------------------------------------- breakdowns


def difficulty_band(d) -> str:
    """Map an estimated difficulty (1-10) to a band.

    Method: 1 <= d <= 3 -> "easy (1-3)", 3 < d <= 7 -> "medium (4-7)",
    7 < d <= 10 -> "hard (8-10)". Anything else (None, NaN, out of range, not a
    number) -> "unknown", so one odd generator output cannot break a report.
    """
    try:
        value = float(d)
    except (TypeError, ValueError):
        return "unknown"
    if math.isnan(value) or value < 1 or value > 10:
        return "unknown"
    if value <= 3:
        return "easy (1-3)"
    if value <= 7:
        return "medium (4-7)"
    return "hard (8-10)"


def accuracy_breakdown(details: pd.DataFrame, by: str) -> pd.DataFrame:
    """Accuracy per (candidate, group) where the group is the value of column ``by``.

    Method: over judged rows only (status "judged", verdict not NaN), accuracy is
    the mean verdict and count the number of judged rows in each
    (candidate, group). Candidates keep their order of first appearance, groups
    are sorted. ``by="difficulty_band"`` is derived from ``estimated_difficulty``
    with :func:`difficulty_band` when the column is not already present.

    Columns: candidate, <by>, accuracy, count.
    """
    judged = _judged(details)
    if by not in judged.columns:
        if by == "difficulty_band" and "estimated_difficulty" in judged.columns:
            judged = judged.assign(difficulty_band=judged["estimated_difficulty"].map(difficulty_band))
        else:
            raise KeyError(f"no column {by!r} in details")
    if judged.empty:
        return pd.DataFrame(columns=["candidate", by, "accuracy", "count"])
    order = {name: i for i, name in enumerate(pd.unique(details["candidate"]))}
    out = (judged.groupby(["candidate", by])["verdict"]
           .agg(accuracy="mean", count="size")
           .reset_index())
    out["count"] = out["count"].astype(int)
    out["_order"] = out["candidate"].map(order)
    out = out.sort_values(["_order", by], kind="stable").drop(columns="_order").reset_index(drop=True)
    return out[["candidate", by, "accuracy", "count"]]


# --------------------------------------------------------------------------- judge agreement


def _check_pair(a: Sequence, b: Sequence) -> tuple[list, list]:
    a, b = list(a), list(b)
    if len(a) != len(b):
        raise ValueError(f"sequences differ in length: {len(a)} vs {len(b)}")
    return a, b


def percent_agreement(a: Sequence, b: Sequence) -> float:
    """Observed agreement between two raters: the fraction (0-1, not 0-100) of
    positions where a[i] == b[i]. NaN for empty sequences.
    """
    a, b = _check_pair(a, b)
    if not a:
        return NAN
    return sum(x == y for x, y in zip(a, b)) / len(a)


def cohen_kappa(a: Sequence, b: Sequence) -> float:
    """Cohen's kappa between two raters' labels (binary, or any categories).

    Method: kappa = (p_o - p_e) / (1 - p_e), where p_o is the observed agreement
    (:func:`percent_agreement`) and p_e = sum over labels k of
    P(a = k) * P(b = k), the agreement expected by chance from each rater's own
    label frequencies. Perfect agreement gives 1.0, chance-level 0.0.
    When p_e == 1 (both raters always give the same single label) the formula is
    0/0; return 1.0 if p_o == 1, else 0.0. NaN for empty sequences.
    """
    a, b = _check_pair(a, b)
    n = len(a)
    if n == 0:
        return NAN
    p_o = percent_agreement(a, b)
    labels = set(a) | set(b)
    p_e = sum((a.count(k) / n) * (b.count(k) / n) for k in labels)
    if math.isclose(p_e, 1.0):
        return 1.0 if math.isclose(p_o, 1.0) else 0.0
    return (p_o - p_e) / (1.0 - p_e)


def _is_missing(v) -> bool:
    return v is None or bool(pd.isna(v))


def judge_calibration_accuracy(labels: Sequence, verdicts: Sequence) -> dict:
    """How often a judge agrees with the hand labels of a calibration set.

    Method: ``labels`` are the human truth values (correct / not correct) and
    ``verdicts`` the judge's parsed verdicts (bool or 0/1), None (or NaN) when the
    judge's output could not be parsed. ``agree`` counts parsed verdicts with
    bool(verdict) == bool(label); ``accuracy`` = agree / (items - unparsed), NaN
    when nothing was parsed. Unparsed items are reported, not counted as wrong.

    Returns {"items": int, "agree": int, "accuracy": float, "unparsed": int}.
    """
    labels, verdicts = _check_pair(labels, verdicts)
    unparsed = sum(_is_missing(v) for v in verdicts)
    agree = sum(bool(v) == bool(lab) for lab, v in zip(labels, verdicts) if not _is_missing(v))
    parsed = len(labels) - unparsed
    return {
        "items": len(labels),
        "agree": agree,
        "accuracy": agree / parsed if parsed else NAN,
        "unparsed": unparsed,
    }


def judge_agreement(a: Sequence, b: Sequence) -> dict:
    """Agreement between two sets of verdicts on the same answers (two judges, or one judge twice).

    Method: only answers where both gave a verdict are compared (missing ones are
    counted in ``not_compared``); verdicts are compared as booleans with
    :func:`percent_agreement` and :func:`cohen_kappa`.

    Returns {"compared": int, "agreement": float, "kappa": float, "not_compared": int}.
    """
    a, b = _check_pair(a, b)
    pairs = [(bool(x), bool(y)) for x, y in zip(a, b) if not _is_missing(x) and not _is_missing(y)]
    first, second = [x for x, _ in pairs], [y for _, y in pairs]
    return {"compared": len(pairs), "agreement": percent_agreement(first, second),
            "kappa": cohen_kappa(first, second), "not_compared": len(a) - len(pairs)}


# --------------------------------------------------------------------------- judge error rates


def judge_error_rates(labels: Sequence, verdicts: Sequence) -> dict:
    """Sensitivity, specificity, Cohen's kappa and confusion matrix of a judge on hand-labelled items.

    Method: only items with a parsed verdict count. With labels as truth,
    ``tp`` = correct answers judged correct, ``fn`` = correct answers judged
    wrong, ``tn`` = wrong answers judged wrong, ``fp`` = wrong answers judged
    correct. Sensitivity q1 = tp / (tp + fn), specificity q0 = tn / (tn + fp)
    (NaN when a class is empty); kappa is :func:`cohen_kappa` of verdicts and
    labels; accuracy = (tp + tn) / parsed.

    Returns {"items", "parsed", "unparsed", "tp", "fn", "tn", "fp", "sensitivity",
    "specificity", "accuracy", "kappa", "positives", "negatives"}.
    """
    labels, verdicts = _check_pair(labels, verdicts)
    pairs = [(bool(lab), bool(v)) for lab, v in zip(labels, verdicts) if not _is_missing(v)]
    tp = sum(lab and v for lab, v in pairs)
    fn = sum(lab and not v for lab, v in pairs)
    tn = sum(not lab and not v for lab, v in pairs)
    fp = sum(not lab and v for lab, v in pairs)
    return {
        "items": len(labels), "parsed": len(pairs), "unparsed": len(labels) - len(pairs),
        "tp": tp, "fn": fn, "tn": tn, "fp": fp,
        "positives": tp + fn, "negatives": tn + fp,
        "sensitivity": tp / (tp + fn) if tp + fn else NAN,
        "specificity": tn / (tn + fp) if tn + fp else NAN,
        "accuracy": (tp + tn) / len(pairs) if pairs else NAN,
        "kappa": cohen_kappa([lab for lab, _ in pairs], [v for _, v in pairs]) if pairs else NAN,
    }
