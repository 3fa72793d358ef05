"""The judge's error rates as a correction: an accuracy corrected for them, how far two corrected accuracies
differ, and error rates measured on documents that differ from one another.

Pure functions, like :mod:`pipeline.measure.stats` (whose Wilson interval they use); imports nothing else of the
project.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from pipeline.measure.stats import NAN, _is_missing, wilson_interval

__all__ = ["judge_youden", "corrected_accuracy", "interval_difference", "document_correlation", "document_rate"]


def _calibration_counts(rates: dict) -> tuple[int, int, int, int] | None:
    """(tp, fn, tn, fp) of the judge on the calibration set: the counts in ``rates`` when present, else
    rebuilt from sensitivity x positives and specificity x negatives (rounded); None when a class is empty
    or a rate is missing."""
    if all(key in rates and not _is_missing(rates[key]) for key in ("tp", "fn", "tn", "fp")):
        # counts may be effective (non-integer) counts: :func:`document_rate`
        tp, fn, tn, fp = (float(rates[key]) for key in ("tp", "fn", "tn", "fp"))
    else:
        q1, q0 = rates.get("sensitivity", NAN), rates.get("specificity", NAN)
        m1, m0 = rates.get("positives", 0), rates.get("negatives", 0)
        if any(_is_missing(v) for v in (q1, q0, m1, m0)):
            return None
        m1, m0 = int(m1), int(m0)
        tp, tn = float(round(q1 * m1)), float(round(q0 * m0))
        fn, fp = m1 - tp, m0 - tn
    return (tp, fn, tn, fp) if tp + fn and tn + fp else None


def judge_youden(rates: dict, z: float = 1.959964) -> dict:
    """The judge's Youden index J = sensitivity + specificity - 1, with a 95% interval, and whether it
    is clearly above 0 (only then can the judge's verdicts be corrected for its error rates).

    Method: J = tp / m1 - fp / m0, a difference of two independent proportions
    measured on the calibration set (m1 correct and m0 wrong items; the counts come
    from ``rates``, or from sensitivity x positives and specificity x negatives).
    Its interval is Newcombe's hybrid score interval (Newcombe 1998, method 10),
    built from the :func:`wilson_interval` of each proportion (l1-u1 for tp / m1,
    l2-u2 for fp / m0): J - sqrt((tp/m1 - l1)^2 + (u2 - fp/m0)^2) to
    J + sqrt((u1 - tp/m1)^2 + (fp/m0 - l2)^2). ``supports_correction`` is
    ``ci_low > 0``: with J = 0 the verdicts say nothing about the truth, and near 0
    the correction divides by a number that could be 0.

    Returns {"youden", "ci_low", "ci_high", "supports_correction"} (NaN and False
    when a class of the calibration set is empty).
    """
    counts = _calibration_counts(rates)
    if counts is None:
        return {"youden": NAN, "ci_low": NAN, "ci_high": NAN, "supports_correction": False}
    tp, fn, tn, fp = counts
    accepted_right, accepted_wrong = tp / (tp + fn), fp / (tn + fp)
    low1, high1 = wilson_interval(tp, tp + fn, z)
    low2, high2 = wilson_interval(fp, tn + fp, z)
    youden = accepted_right - accepted_wrong
    low = youden - math.sqrt((accepted_right - low1) ** 2 + (high2 - accepted_wrong) ** 2)
    high = youden + math.sqrt((high1 - accepted_right) ** 2 + (accepted_wrong - low2) ** 2)
    return {"youden": youden, "ci_low": low, "ci_high": high, "supports_correction": low > 0}


def corrected_accuracy(correct: int, judged: int, rates: dict, z: float = 1.959964) -> dict:
    """Accuracy corrected for the judge's measured error rates (Rogan-Gladen), with a 95% interval
    that holds at a handful of questions (Lang & Reiczigel 2014).

    Point estimate: with p = correct / judged the share the judge called correct,
    and the judge's sensitivity q1 = tp / m1 and specificity q0 = tn / m0 measured
    on m1 correct and m0 wrong calibration items (:func:`judge_error_rates`; the
    counts come from ``rates``, or from sensitivity x positives and specificity x
    negatives), the true share is theta = (p + q0 - 1) / (q0 + q1 - 1) (Rogan &
    Gladen 1978), clipped to [0, 1].

    Interval: Lang & Reiczigel's adjusted Wald interval ("Confidence limits for
    prevalence of disease adjusted for estimated sensitivity and specificity",
    Preventive Veterinary Medicine 113, 2014). It adds z^2 / 2 successes and
    failures to the verdicts, p' = (correct + z^2 / 2) / (judged + z^2), and one
    success and one failure to each calibration class, q1' = (tp + 1) / (m1 + 2),
    q0' = (tn + 1) / (m0 + 2); theta' is Rogan-Gladen on these; the delta-method
    standard error carries the calibration set's uncertainty as well as the
    questions':
    se = sqrt(p'(1-p')/(judged + z^2) + theta'^2 q1'(1-q1')/(m1 + 2)
    + (1-theta')^2 q0'(1-q0')/(m0 + 2)) / (q1' + q0' - 1); and the centre is shifted
    by d = 2 z^2 (theta' q1'(1-q1')/(m1 + 2) - (1-theta') q0'(1-q0')/(m0 + 2)).
    The interval is theta' + d -/+ z se, clipped to [0, 1] and widened, if need be,
    to contain the point estimate (which almost never happens: < 1e-4 of outcomes).

    Why: the plain delta-method (Wald) interval around the clipped estimate
    covered the truth 81% of the time at 8 questions and true accuracy 0.85 with
    the 33 + 33 item calibration set (sensitivity 0.94, specificity 0.70), and gave
    [87%, 100%] for 8 of 8. Coverage of this interval, computed exactly over every
    outcome of probability > 1e-7, at true accuracy 0.5 / 0.6 / 0.7 / 0.85:

    * 33 + 33 items, sensitivity 0.94, specificity 0.70: 8 questions 96.4 / 97.3 /
      97.2 / 96.9%; 24 questions 95.5 / 95.9 / 96.2 / 97.5%; 60 questions 95.6 /
      95.8 / 96.1 / 97.2%.
    * 60 + 80 items, sensitivity and specificity 0.85: 8 questions 95.7 / 96.8 /
      96.4 / 96.8%; 24 questions 95.2 / 95.2 / 95.4 / 95.9%; 60 questions 95.0 /
      95.1 / 95.2 / 95.6%.

    It stayed at 94.9% or more for true accuracies 0.05 to 1 and up to 200
    questions with both sets, and on the grid above with 20 + 20 items (0.94 /
    0.70), 33 + 33 items (0.85 / 0.85 and 0.70 / 0.94), 60 + 80 items (0.94 / 0.70
    and 0.75 / 0.75) and 100 + 100 items (0.95 / 0.95: 94.9% at 8 questions and
    accuracy 0.5, the lowest seen). Outcomes where the judge cannot support a
    correction (NaN, below) count as misses. ``tests/test_stats.py`` checks the grid
    by Monte Carlo. The two other candidates measured were wider or missed: a
    Bayesian posterior with uniform priors on accuracy, sensitivity and specificity
    (95.0-98.9%, wider at 60 questions) and a parametric bootstrap (73% at 8
    questions and accuracy 0.85). The interval is usually wider than the Wilson
    interval on the verdicts, as it carries the judge's uncertainty too; it can be
    narrower when the verdicts sit at an extreme that the judge's error rates make
    unlikely (0 of 8 accepted by a judge that accepts 30% of wrong answers).

    Undefined (NaN, with ``reason``) when there are no judged answers, a class of
    the calibration set is empty, or the judge's Youden index is not clearly above
    0 (:func:`judge_youden`): such a judge cannot support a correction.

    ``se`` is the delta-method standard error above, before any clipping: what a test of two corrected
    accuracies uses (:func:`interval_difference`), since a clipped interval's half-width understates it.

    The calibration counts may be *effective* counts (floats): the judge's error rates on documents that differ
    (:func:`document_rate`) carry as much information as that many independent answers.

    Returns {"accuracy", "ci_low", "ci_high", "se", "observed", "reason"}.
    """
    observed = correct / judged if judged else NAN
    empty = {"accuracy": NAN, "ci_low": NAN, "ci_high": NAN, "se": NAN, "observed": observed}
    if not judged:
        return {**empty, "reason": "no judged answers"}
    counts = _calibration_counts(rates)
    if counts is None:
        return {**empty, "reason": "the calibration set lacks correct or incorrect items"}
    youden = judge_youden(rates, z)
    if not youden["supports_correction"]:
        return {**empty, "reason": (
            "the judge cannot support a correction: its Youden index (sensitivity + specificity - 1) is "
            f"{youden['youden']:.2f}, 95% interval {youden['ci_low']:.2f} to {youden['ci_high']:.2f} on the "
            "calibration set, not clearly above 0")}
    tp, fn, tn, fp = counts
    q1, q0 = tp / (tp + fn), tn / (tn + fp)
    theta = min(1.0, max(0.0, (observed + q0 - 1) / (q1 + q0 - 1)))
    z2 = z * z
    n_adj, m1_adj, m0_adj = judged + z2, tp + fn + 2, tn + fp + 2
    p_adj, q1_adj, q0_adj = (correct + z2 / 2) / n_adj, (tp + 1) / m1_adj, (tn + 1) / m0_adj
    youden_adj = q1_adj + q0_adj - 1
    if youden_adj <= 0:  # not reached when judge_youden's lower bound is > 0; guards the division
        return {**empty, "reason": "the judge cannot support a correction (adjusted Youden index <= 0)"}
    theta_adj = (p_adj + q0_adj - 1) / youden_adj
    var_q1, var_q0 = q1_adj * (1 - q1_adj) / m1_adj, q0_adj * (1 - q0_adj) / m0_adj
    se = math.sqrt(p_adj * (1 - p_adj) / n_adj + theta_adj ** 2 * var_q1 + (1 - theta_adj) ** 2 * var_q0) / youden_adj
    centre = theta_adj + 2 * z2 * (theta_adj * var_q1 - (1 - theta_adj) * var_q0)
    low = min(theta, max(0.0, centre - z * se))
    high = max(theta, min(1.0, centre + z * se))
    return {"accuracy": theta, "ci_low": low, "ci_high": high, "se": se, "observed": observed, "reason": ""}


def interval_difference(a: tuple[float, float], b: tuple[float, float], alpha: float = 0.05) -> dict:
    """Whether two estimates with independent standard errors differ: (estimate, standard error) of each.

    Method: a normal approximation on the difference, se = sqrt(se_a^2 + se_b^2), two-sided p, significant when
    p < ``alpha``. The standard errors are the estimates' own (:func:`corrected_accuracy`'s ``se``), not an
    interval's half-width: a half-width clipped at 0 or 1 understates the spread. Used for judge-corrected
    accuracies, each corrected with its own model's error rates, where a McNemar test on the verdicts no longer
    tests the corrected difference. Treating the two as independent ignores that both models answered the same
    questions (answers correlate positively), which overstates the spread: the test errs towards "not told
    apart".

    Returns {"difference", "se", "p_value", "significant"} (NaN and False when either is missing).
    """
    from scipy.stats import norm

    if any(_is_missing(v) for v in (*a, *b)):
        return {"difference": NAN, "se": NAN, "p_value": NAN, "significant": False}
    se = math.hypot(a[1], b[1])
    difference = a[0] - b[0]
    p = 2 * norm.sf(abs(difference) / se) if se > 0 else (0.0 if difference else 1.0)
    return {"difference": difference, "se": se, "p_value": float(p), "significant": bool(p < alpha)}


def document_correlation(groups: Sequence[tuple[Sequence[float], Sequence[float]]]) -> float:
    """The intra-document correlation rho of rates measured on several documents: how much more a rate varies
    between documents than binomial sampling explains, common to every group (a model's right answers, its wrong
    ones, another model's...).

    Method: each group's documents' counts (k_d of n_d) follow a beta-binomial with the group's own mean (its pooled
    share) and a common rho (each document's rate is drawn from a Beta with that mean and correlation rho; rho = 0:
    a binomial). rho is fitted by maximum likelihood (:data:`scipy.stats.betabinom`, one bounded search on [0, 0.95]).
    One rho for every group: with a few documents a group alone says little of its spread. Groups with one document,
    or whose share is 0 or 1, tell nothing of it and are left out; without any, rho is 0.
    """
    from scipy.optimize import minimize_scalar
    from scipy.special import betaln

    ks, ns, means = [], [], []
    for successes, trials in groups:
        k, n = np.asarray(successes, float), np.asarray(trials, float)
        keep = n > 0
        k, n = k[keep], n[keep]
        if len(n) < 2 or not 0 < k.sum() < n.sum():
            continue
        ks.append(k)
        ns.append(n)
        means.append(np.full(len(n), k.sum() / n.sum()))
    if not ks:
        return 0.0
    k, n, mu = np.concatenate(ks), np.concatenate(ns), np.concatenate(means)

    def loss(rho: float) -> float:
        # the beta-binomial log-likelihood without its binomial coefficient (the same for every rho): what
        # scipy.stats.betabinom.logpmf computes, at a fraction of its cost; rho -> 0 is the binomial's limit
        if rho <= 1e-9:
            return -float((k * np.log(mu) + (n - k) * np.log1p(-mu)).sum())
        scale = 1 / rho - 1
        a, b = mu * scale, (1 - mu) * scale
        return -float((betaln(k + a, n - k + b) - betaln(a, b)).sum())

    found = minimize_scalar(loss, bounds=(0.0, 0.95), method="bounded", options={"xatol": 1e-4})
    rho = float(found.x)
    return 0.0 if rho < 1e-3 or loss(0.0) <= found.fun else rho


def document_rate(successes: Sequence[float], trials: Sequence[float], rho: float | None = None) -> dict:
    """A rate measured on several documents whose own rates differ (a judge errs more on one document than on
    another), as it applies to a *new* document.

    Method: with the intra-document correlation rho (:func:`document_correlation`; fitted on these counts alone
    when not given), the documents' rates vary around the pooled share mu by rho mu (1 - mu) (the beta-binomial's
    spread: Skellam 1948), and a new document's rate does too; mu itself is known to within the pooled
    estimate's variance mu (1 - mu) sum_d n_d (1 + (n_d - 1) rho) / M^2 (M = sum n_d, the design effect of
    clustered counts). Their sum is the predictive variance of the new document's rate, and the *effective*
    number of answers is mu (1 - mu) / that variance: as many independent answers as would leave that much
    uncertainty (M when rho = 0). Plugged into a binomial formula (a Wilson interval, :func:`corrected_accuracy`)
    the effective counts carry the variation between documents.

    Returns {"rate", "rho", "documents", "trials", "effective_trials", "effective_successes", "interval"}
    (``interval``: the Wilson interval on the effective counts; NaN without trials).
    """
    k = np.asarray(successes, float)
    n = np.asarray(trials, float)
    keep = n > 0
    k, n = k[keep], n[keep]
    total = float(n.sum())
    if total == 0:
        return {"rate": NAN, "rho": NAN, "documents": 0, "trials": 0, "effective_trials": 0.0,
                "effective_successes": 0.0, "interval": (NAN, NAN)}
    pooled = float(k.sum() / total)
    rho = document_correlation([(k, n)]) if rho is None else float(rho)
    if 0 < pooled < 1:
        variance = pooled * (1 - pooled) * (float((n * (1 + (n - 1) * rho)).sum()) / total ** 2 + rho)
        effective = pooled * (1 - pooled) / variance
    else:  # all or none: no spread to see within or between documents
        effective = total / (1 + (total / max(len(n), 1) - 1) * rho) if rho else total
    return {"rate": pooled, "rho": rho, "documents": int(len(n)), "trials": int(total),
            "effective_trials": float(effective), "effective_successes": float(pooled * effective),
            "interval": wilson_interval(pooled * effective, effective)}
