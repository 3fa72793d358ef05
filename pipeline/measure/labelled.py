"""Accuracy anchored on a person's labels: prediction-powered inference (PPI++) per model and per pair.

A person labels a random sample of answers blind (``make review``: :mod:`pipeline.review`); the judge has graded
every answer. Each model's accuracy is then estimated from both — the judge's verdicts on all of its answers,
corrected by what the labels show of the judge's errors *on that model's answers* — with ``ppi_py``
(Angelopoulos, Bates, Fannjiang, Jordan, Zrnic, "Prediction-powered inference", Science 2023; PPI++ power tuning:
Angelopoulos, Duchi, Zrnic 2023): mean = λ · mean of the verdicts on the unlabelled questions + mean of (label −
λ · verdict) on the labelled ones, λ chosen from the data. No error rate measured elsewhere is assumed.

**What is estimated.** A model's accuracy over the document's questions whose gold answer is sound (a question a
person marked "gold is wrong" or "unclear" leaves every model), answers wrong by rule (non-answers, never sent to a
judge) counting as wrong. Per question q of the *random sample* (the questions of the seeded order that
``make review`` shows, :func:`pipeline.review.labels.sampled_questions`): s_q = 0 when the question was marked
gold-wrong or unclear, else 1; for a model, g_q = s_q × its label (a non-answer: 0, known without a label). Then

    accuracy = E[g] / E[s],

E[g] by PPI++ over every question (the verdict f_q of a non-answer is 0), E[s] by the sample's share of sound
questions. Nothing is rescaled afterwards: a non-answer is in both the labelled and the unlabelled part as what it
is, so a question whose answers are all wrong by rule counts as labelled only when it was sampled. A pair's
difference is the same with g_a − g_b and f_a − f_b on the questions both were graded on: paired, as the McNemar
test of the verdicts is.

**Only the random sample.** Labels outside the seeded sample (rows imported by hand, questions added since with
``QUESTIONS=n`` that put unlabelled questions before labelled ones in the seeded order) are not used; the report
counts them apart. A skipped answer of the sample joins the unlabelled part (assumed unrelated to whether it is
right; the report counts skips).

**The point estimate is PPI++'s, with λ cross-fitted** (:func:`crossfit_estimate`): the labelled share plus the
PPI++ correction, each labelled answer's power-tuning λ (PPI++'s formula, clipped to [0, 1]) tuned on the *other*
labelled answers, so that the estimate is unbiased at any number of labels; with every answer labelled it is the
labels' share. ``ppi_py``'s own point estimate tunes λ on the very answers it weighs, which left 4-7 points of bias
at 3 labels a model in the Monte Carlo of ``tests/test_labelled.py``; the cross-fitted one is within a point of
the truth at 3, 10, 20 and 40 labels a model there (and no pseudo-answer moves it).

**The interval** has two small-sample adjustments (what the tool runs at: 3-14 labels a model), measured by the
same test: ``ppi_py``'s normal interval with a handful of labels covered the truth 21-60% of the time (all labels
agreeing with the judge give a spread of 0). So (i) one pseudo-labelled answer of each kind is added for the
interval only (right and accepted, right and rejected, wrong and accepted, wrong and rejected; for a difference a
disagreement each way of the labels and of the verdicts): the spread is never 0, as Agresti and Coull add
successes and failures to a binomial interval, and the interval is centred on that augmented estimate (widened, if
need be, to hold the point estimate); (ii) Student's t with (labelled questions − 1) degrees of freedom instead of
z. The ratio's interval is the delta method's: the PPI++ interval of the mean of g − θ s, divided by the share of
sound questions. With λ = 0 the same construction is the labels-only interval (the labels with two right and two
wrong pseudo-answers: Agresti-Coull's, with t), which PPI++'s λ can only narrow.
"""

from __future__ import annotations

import functools
import math
import warnings
from itertools import combinations

import numpy as np
import pandas as pd

NAN = float("nan")
# (label, verdict) pseudo-observations: one of each kind for a model, one disagreement each way for a difference.
PSEUDO_MODEL = (np.array([1.0, 0.0, 1.0, 0.0]), np.array([1.0, 1.0, 0.0, 0.0]))
PSEUDO_DIFFERENCE = (np.array([1.0, -1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0, -1.0]))
LEAVES = ("gold_wrong", "unclear")  # labels that take their question out of every model's accuracy


@functools.lru_cache(maxsize=256)
def _t_over_z(df: int, alpha: float) -> float:
    from scipy.stats import norm, t

    return float(t.ppf(1 - alpha / 2, max(df, 1)) / norm.ppf(1 - alpha / 2))


def _ppi_mean(y: np.ndarray, yhat: np.ndarray, rest: np.ndarray, lam) -> np.ndarray:
    """``ppi_py``'s PPI point estimate of each column's mean at ``lam`` (a number or one per column); a column
    whose λ is undefined gets the labels' mean."""
    from ppi_py import ppi_mean_pointestimate

    if len(rest) == 0 or (np.isscalar(lam) and lam == 0):
        return y.mean(0)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        found = np.atleast_1d(np.asarray(ppi_mean_pointestimate(y, yhat, rest, lam=lam, lam_optim_mode="element"),
                                         float)).reshape(-1)
    return np.where(np.isnan(found), y.mean(0), found)


def _interval_lambda(y: np.ndarray, yhat: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """The interval's λ per column: PPI++'s (cov(y, f) / ((1 + n/N) var(f)), f pooled, as ``ppi_py`` tunes it), but
    never past the λ that minimises the variance ``ppi_mean_ci`` then computes,
    var(y − λ f) / n + λ² var(rest) / N:
    between 0 and that minimum the interval only narrows, so it is never wider than the labels-only one (λ = 0)
    on the same answers. (The minimiser alone overfits a handful of unlabelled verdicts: 85% coverage at 20 of 24
    questions labelled, in the Monte Carlo of ``tests/test_labelled.py``.)"""
    n, big_n = len(y), len(rest)
    cov = ((y - y.mean(0)) * (yhat - yhat.mean(0))).mean(0)
    pooled = np.vstack([yhat, rest]).var(0, ddof=1)
    tuned = cov / ((1 + n / big_n) * pooled)
    shortest = (cov / n) / (yhat.var(0) / n + rest.var(0) / big_n)
    return np.clip(np.nan_to_num(np.fmin(tuned, shortest), nan=0.0, posinf=0.0, neginf=0.0), 0, 1)


def _ppi_ci(y: np.ndarray, yhat: np.ndarray, rest: np.ndarray, alpha: float, lam) -> tuple[np.ndarray, np.ndarray]:
    """``ppi_py``'s PPI++ interval of each column's mean (centre, half-width); labels only when ``lam`` is 0 or
    nothing is unlabelled."""
    from ppi_py import ppi_mean_ci

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        if lam is None and len(rest):
            lam = _interval_lambda(y, yhat, rest)
        if len(rest) == 0 or (np.isscalar(lam) and lam == 0):
            low, high = ppi_mean_ci(y, yhat, yhat, alpha=alpha, lam=0)
        else:
            low, high = ppi_mean_ci(y, yhat, rest, alpha=alpha, lam=lam, lam_optim_mode="element")
            bad = np.isnan(np.asarray(low, float).reshape(-1))
            if bad.any():  # verdicts that do not vary: λ undefined, the labels' interval
                low0, high0 = ppi_mean_ci(y, yhat, yhat, alpha=alpha, lam=0)
                low = np.where(bad, np.asarray(low0, float).reshape(-1), np.asarray(low, float).reshape(-1))
                high = np.where(bad, np.asarray(high0, float).reshape(-1), np.asarray(high, float).reshape(-1))
    low, high = np.asarray(low, float).reshape(-1), np.asarray(high, float).reshape(-1)
    return (low + high) / 2, (high - low) / 2


def crossfit_estimate(g: np.ndarray, f: np.ndarray, s: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """E[g] / E[s] per column, unbiased at any number of labels: the labelled share Ḡ / S̄ plus the PPI++
    correction (1/n) Σ_i c_i (mean of the unlabelled verdicts − f_i), each answer's coefficient c_i = λ_i / S̄_{-i}
    tuned on the *other* labelled answers (λ_i: PPI++'s power-tuning formula, cov(g − θ s, f) / ((1 + n/N) var(f)),
    clipped to [0, 1], on them alone), so that it does not depend on the answer it weighs nor on the unlabelled
    ones: every term of the correction has expectation 0 and Ḡ / S̄ is the mean label over the sound labelled
    questions. ``ppi_py``'s own estimate tunes λ on the same answers it weighs; in the Monte Carlo of
    ``tests/test_labelled.py`` that left 4-7 points of bias at 3 labels a model and 2-3 at 10."""
    n, k = g.shape
    total_s, total_g = s.sum(0), g.sum(0)
    with np.errstate(all="ignore"):
        base = total_g / total_s
        if n < 2 or len(rest) == 0:
            return base
        m = n - 1
        others_g, others_s = total_g - g, total_s - s  # leave-one-out sums, (n, k)
        theta = others_g / others_s
        mean_f = (f.sum(0) - f) / m
        var_f = ((f * f).sum(0) - f * f) / m - mean_f ** 2
        # mean over the others of (g - theta s) f, less their mean (g - theta s) (0 by theta's definition) x mean f
        cov = (((g * f).sum(0) - g * f) - theta * ((s * f).sum(0) - s * f)) / m
        lam = np.clip(cov / ((1 + n / len(rest)) * var_f), 0, 1)
        coefficient = np.where(np.isfinite(lam) & (others_s > 0), lam / (others_s / m), 0.0)
        return base + (coefficient * (rest.mean(0) - f)).mean(0)


def ratio_ppi(g: np.ndarray, f: np.ndarray, s: np.ndarray, rest: np.ndarray, pseudo: tuple,
              bounds: tuple[float, float], alpha: float = 0.05, lam=None) -> dict:
    """E[g] / E[s] per column (the module docstring): ``g``, ``f``, ``s`` the labelled questions' values (rows) of
    each estimate (columns), ``rest`` the unlabelled questions' verdicts; ``lam`` None for PPI++ (tuned), 0 for the
    labels alone. Returns arrays ``estimate`` (PPI++'s, clipped to ``bounds``), ``low``, ``high``; NaN where a column
    has no labelled question or no sound one."""
    g, f, s = (np.asarray(a, float).reshape(len(a), -1) for a in (g, f, s))
    k, n = g.shape[1], g.shape[0]
    rest = np.asarray(rest, float).reshape(len(rest), -1) if len(rest) else np.zeros((0, k))
    if n == 0:
        empty = np.full(k, NAN)
        return {"estimate": empty, "low": empty.copy(), "high": empty.copy()}
    clip = functools.partial(np.clip, a_min=bounds[0], a_max=bounds[1])
    with np.errstate(all="ignore"):
        estimate = crossfit_estimate(g, f, s, rest) if lam is None else _ppi_mean(g, f, rest, lam) / s.mean(0)
    # the interval: pseudo-answers (sound) added, the delta method's linearisation g - theta s around the augmented
    # ratio, Student's t
    m = len(pseudo[0])
    ga, fa = np.vstack([g, np.tile(pseudo[0][:, None], (1, k))]), np.vstack([f, np.tile(pseudo[1][:, None], (1, k))])
    sa = np.vstack([s, np.ones((m, k))])
    share = sa.mean(0)
    pilot = _ppi_mean(ga, fa, rest, _interval_lambda(ga, fa, rest) if lam is None and len(rest) else lam) / share
    centre, half = _ppi_ci(ga - pilot * sa, fa, rest, alpha, lam)
    centre, half = pilot + centre / share, half * _t_over_z(n - 1, alpha) / share
    low, high = clip(np.fmin(centre - half, estimate)), clip(np.fmax(centre + half, estimate))
    missing = ~(s.sum(0) > 0)
    return {key: np.where(missing, NAN, value) for key, value in
            (("estimate", clip(estimate)), ("low", low), ("high", high))}


class Grid:
    """The answers as question x model arrays: ``verdict`` (0/1; a non-answer's is 0; NaN where the model has no
    graded answer), ``label`` (1/0 where labelled correct/wrong), ``by_rule``; per question ``sampled`` (in the
    random sample the estimate uses) and ``sound`` (0 when a sampled question was marked gold-wrong or unclear)."""

    def __init__(self, answers: pd.DataFrame):
        found = answers
        by_rule = (found["graded_by"] if "graded_by" in found else pd.Series("judge", index=found.index)).eq("rule")
        verdict = pd.to_numeric(found["verdict"], errors="coerce")
        status = found["status"] if "status" in found else pd.Series("judged", index=found.index)
        usable = (by_rule | (status.eq("judged") & verdict.notna())).to_numpy()
        label = pd.to_numeric(found["label_value"], errors="coerce") if "label_value" in found \
            else pd.Series(NAN, index=found.index)
        kind = found["label"].astype(object) if "label" in found else pd.Series(None, index=found.index, dtype=object)
        # without the seeded sample's flag (a caller with no run), every labelled question counts as sampled
        sampled = found["sampled"].fillna(False).astype(bool) if "sampled" in found else \
            found["question_id"].isin(found.loc[label.notna() | kind.isin(LEAVES), "question_id"])
        self.models = list(pd.unique(answers["candidate"]))
        self.questions = list(pd.unique(found["question_id"]))
        shape = (len(self.questions), len(self.models))
        self.verdict, self.label = np.full(shape, NAN), np.full(shape, NAN)
        self.by_rule = np.zeros(shape, bool)
        rows = pd.Index(self.questions).get_indexer(found["question_id"])
        columns = pd.Index(self.models).get_indexer(found["candidate"])
        self.sampled = np.zeros(len(self.questions), bool)
        self.sound = np.ones(len(self.questions))
        self.outside = 0  # labels not used: outside the sample, or on a non-answer
        for r, c, ok, is_rule, vv, yy, kk, inside in zip(rows, columns, usable, by_rule.to_numpy(),
                                                         verdict.to_numpy(float), label.to_numpy(float), kind,
                                                         sampled.to_numpy(), strict=True):
            labelled = not np.isnan(yy) or kk in LEAVES
            self.sampled[r] |= inside
            if inside and kk in LEAVES:
                self.sound[r] = 0.0
            if labelled and (not inside or is_rule):
                self.outside += 1
            if ok and np.isnan(self.verdict[r, c]):  # the first row of a (question, model)
                self.verdict[r, c] = 0.0 if is_rule else vv
                self.label[r, c] = NAN if is_rule or not inside else yy
                self.by_rule[r, c] = is_rule

    def column(self, model: str) -> int:
        return self.models.index(model)

    def values(self, c: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(present, known, g) of model column ``c``: whether the model has a usable verdict, whether g is known
        (sampled and labelled, wrong by rule, or its question marked unsound), and g itself."""
        present = ~np.isnan(self.verdict[:, c])
        unsound = self.sampled & (self.sound == 0)
        known = present & self.sampled & (self.by_rule[:, c] | unsound | ~np.isnan(self.label[:, c]))
        g = np.where(self.by_rule[:, c] | unsound, 0.0, np.nan_to_num(self.label[:, c]))
        return present, known, g


def model_estimate(grid: Grid, model: str, alpha: float = 0.05, lam=None) -> dict:
    """One model's labelled estimate (``lam`` 0: the labels alone)."""
    from pipeline.measure.stats import cohen_kappa

    c = grid.column(model)
    present, known, g = grid.values(c)
    rest = present & ~known
    labelled = known & ~grid.by_rule[:, c] & (grid.sound == 1) & ~np.isnan(grid.label[:, c])
    y, v = grid.label[labelled, c], grid.verdict[labelled, c]
    found = ratio_ppi(g[known], grid.verdict[known, c], grid.sound[known], grid.verdict[rest, c], PSEUDO_MODEL,
                      (0.0, 1.0), alpha, lam) if labelled.any() else {k: [NAN] for k in ("estimate", "low", "high")}
    return {"labelled_accuracy": float(found["estimate"][0]), "labelled_ci_low": float(found["low"][0]),
            "labelled_ci_high": float(found["high"][0]),
            "labels": int(labelled.sum()), "sampled_questions": int(known.sum()), "answers": int(present.sum()),
            "judge_agreed": int((y == v).sum()),
            "judge_kappa": cohen_kappa(y.astype(bool).tolist(), v.astype(bool).tolist()) if len(y) else NAN,
            "judge_accepted_wrong": int(((y == 0) & (v == 1)).sum()), "labelled_wrong": int((y == 0).sum()),
            "judge_rejected_right": int(((y == 1) & (v == 0)).sum()), "labelled_right": int((y == 1).sum())}


def estimates(answers: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Each model's accuracy anchored on the labels (:func:`model_estimate`), one row per candidate.

    ``answers``: one row per (question, candidate) with ``verdict``, ``status``, ``graded_by``, ``label_value``
    (1.0 correct, 0.0 wrong, NaN not labelled), ``label`` (the label's kind, for "gold_wrong"/"unclear") and
    ``sampled`` (the question is in the seeded random sample; without the column every labelled question is).
    Models without a label get NaN estimates and ``labels`` 0. ``attrs["outside"]``: labels not used.
    """
    grid = Grid(answers)
    found = pd.DataFrame([{"candidate": m, **model_estimate(grid, m, alpha)} for m in grid.models])
    found.attrs["outside"] = grid.outside
    return found


def pair_estimate(grid: Grid, a: str, b: str, alpha: float = 0.05, lam=None) -> dict:
    """The difference accuracy(a) − accuracy(b) on the questions both were graded on, paired."""
    present_a, known_a, ga = grid.values(grid.column(a))
    present_b, known_b, gb = grid.values(grid.column(b))
    both = present_a & present_b
    known = both & known_a & known_b
    verdict = grid.verdict[:, grid.column(a)] - grid.verdict[:, grid.column(b)]
    rest = both & ~known
    labelled_a = ~grid.by_rule[:, grid.column(a)] & ~np.isnan(grid.label[:, grid.column(a)])
    labelled_b = ~grid.by_rule[:, grid.column(b)] & ~np.isnan(grid.label[:, grid.column(b)])
    human = known & (labelled_a | labelled_b)
    found = ratio_ppi((ga - gb)[known], verdict[known], grid.sound[known], verdict[rest], PSEUDO_DIFFERENCE,
                      (-1.0, 1.0), alpha, lam) if human.any() else {k: [NAN] for k in ("estimate", "low", "high")}
    return {"difference": float(found["estimate"][0]), "ci_low": float(found["low"][0]),
            "ci_high": float(found["high"][0]), "paired_labels": int(known.sum()), "questions": int(both.sum())}


def pairs(answers: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Every pair of models: the labelled estimate of their difference and whether its interval excludes 0."""
    grid, rows = Grid(answers), []
    for a, b in combinations(grid.models, 2):
        found = pair_estimate(grid, a, b, alpha)
        rows.append({"model_a": a, "model_b": b, **found,
                     "significant": bool(found["ci_low"] > 0 or found["ci_high"] < 0)})
    return pd.DataFrame(rows, columns=["model_a", "model_b", "difference", "ci_low", "ci_high", "paired_labels",
                                       "questions", "significant"])


def labels_to_tell_apart(pair: dict, per_question: int) -> int | None:
    """About how many more labels (``per_question`` answers labelled per question) would make the difference's
    interval exclude 0, if the difference stays as estimated: the half-width shrinks as 1/sqrt(labelled
    questions). None when no number of labels on this document would: the estimate is 0, or more questions than
    the document has left to label would be needed (every answer labelled would not do; the interval then is
    the labels' own, which the same shrinkage describes)."""
    difference, low, high, n = pair["difference"], pair["ci_low"], pair["ci_high"], pair["paired_labels"]
    if not n or any(map(math.isnan, (difference, low, high))) or abs(difference) < 1e-9:
        return None
    left = int(pair.get("questions", n)) - n  # the questions not yet labelled for both
    needed = math.ceil(n * ((high - low) / 2 / abs(difference)) ** 2) - n
    if needed > left:
        return None
    return max(1, needed) * per_question


def tell_apart_clause(pair: dict, per_question: int, what: str = "labels") -> str:
    """"about N more labels would tell them apart", or that this document cannot (:func:`labels_to_tell_apart`)."""
    more = labels_to_tell_apart(pair, per_question)
    if more is None:
        return "they cannot be told apart on this document: labelling every answer would not do it at this difference"
    return f"about {more} more {what} would tell them apart if the difference holds"


def bought(answers: pd.DataFrame, alpha: float = 0.05) -> list[str]:
    """What the labels so far have bought, one line per other model: whether the best-labelled model is now
    told apart from it, or about how many more labels would tell them apart (for ``make review``)."""
    found = estimates(answers, alpha)
    found = found[found["labels"] > 0]
    if found.empty:
        return []
    best = found.sort_values("labelled_accuracy", ascending=False).iloc[0]["candidate"]
    grid, lines = Grid(answers), []
    models = grid.models
    for other in (m for m in models if m != best):
        pair = pair_estimate(grid, best, other, alpha)
        if pair["paired_labels"] == 0 or math.isnan(pair["difference"]):
            continue
        if pair["ci_low"] > 0:
            lines.append(f"{best} is now told apart from {other} (better by {100 * pair['difference']:.0f} points, "
                         f"{100 * pair['ci_low']:.0f} to {100 * pair['ci_high']:.0f}).")
        else:
            lines.append(f"{best} and {other}: not told apart yet; {tell_apart_clause(pair, len(models))}.")
    return lines
