"""Accuracy anchored on a person's labels: prediction-powered inference (PPI++) per model and per pair.

A person labels a sample of answers blind (``make review``: :mod:`pipeline.review`); the judge has graded
every answer. Each model's accuracy is then estimated from both — the judge's verdicts on all of its
answers, corrected by what the labels show of the judge's errors *on that model's answers* — with
``ppi_py`` (Angelopoulos, Bates, Fannjiang, Jordan, Zrnic, "Prediction-powered inference", Science 2023;
PPI++ power tuning: Angelopoulos, Duchi, Zrnic 2023): estimate = λ · mean of the verdicts on the
unlabelled answers + mean of (label − λ · verdict) on the labelled ones, λ chosen from the data. The
correction is the model's own, so a judge that accepts 45% of one model's wrong answers and 15% of
another's is corrected for each; no error rate measured elsewhere is assumed.

The paired difference between two models is the same estimate on (label_a − label_b) and (verdict_a −
verdict_b) over the questions both have: the sample of ``make review`` labels every model's answer to
the same questions, so the difference is paired, as the McNemar test of the judged verdicts is.

Small samples (what the tool runs at: 24 questions, 10-40 labels, 3-14 per model). ``ppi_py``'s interval
is a normal (z) interval whose spread is estimated from the labelled answers; with a handful of labels
it covered the truth 21-60% of the time in the Monte Carlo of ``tests/test_labelled.py`` (all labels
agreeing with the judge give a spread of 0). Two adjustments make it hold, measured by the same test
(≥ 94% on every point of its grid: 24 questions, 3 to 23 labels per model, judge false acceptance 5-90%
differing by model):

* one pseudo-labelled answer of each kind is added to the labelled ones (right and accepted, right and
  rejected, wrong and accepted, wrong and rejected; for a difference, a disagreement each way of the
  labels and of the verdicts): the spread is never 0, as Agresti and Coull add successes and failures
  to a binomial interval;
* the interval uses Student's t with (labelled answers − 1) degrees of freedom instead of z.

The labelled and unlabelled answers are disjoint (the unlabelled are the rest), as PPI assumes. Answers
wrong by rule (non-answers) are wrong whatever a person says and were never sent to a judge: they are
certainly wrong, and the estimate over the judge-graded answers is scaled to all answers. Questions
a person marked "gold is wrong" or "unclear" leave every model's estimate.
"""

from __future__ import annotations

import functools
import math
import warnings

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


def ppi_interval(labels: np.ndarray, verdicts: np.ndarray, unlabelled: np.ndarray, pseudo: tuple,
                 bounds: tuple[float, float], alpha: float = 0.05) -> tuple[float, float, float]:
    """(estimate, low, high) of a mean from ``labels`` (with their ``verdicts``) and the ``unlabelled``
    answers' verdicts: ``ppi_py``'s PPI++ estimate and interval with the two small-sample adjustments of
    this module's docstring, clipped to ``bounds``. NaN without labels."""
    from ppi_py import ppi_mean_ci

    n = len(labels)
    if n == 0:
        return NAN, NAN, NAN
    y = np.concatenate([np.asarray(labels, float), pseudo[0]])
    yhat = np.concatenate([np.asarray(verdicts, float), pseudo[1]])
    rest = np.asarray(unlabelled, float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # PPI++'s interval is centred on its estimate (ppi_mean_pointestimate gives the same λ and value);
        # with every answer labelled, λ = 0: the labels alone.
        low, high = (float(np.ravel(v)[0]) for v in (ppi_mean_ci(y, yhat, rest, alpha=alpha) if len(rest) else
                                                     ppi_mean_ci(y, yhat, yhat, alpha=alpha, lam=0)))
    estimate, half = (low + high) / 2, (high - low) / 2 * _t_over_z(n - 1, alpha)
    clip = lambda v: min(bounds[1], max(bounds[0], v))  # noqa: E731
    return clip(estimate), clip(estimate - half), clip(estimate + half)


class Grid:
    """The answers as question x model arrays: ``verdict`` (0/1; a non-answer's is 0; NaN where the model has no
    graded answer), ``label`` (1/0; a non-answer's is 0, known; NaN not labelled), ``by_rule``. Questions
    labelled gold-wrong or unclear are left out."""

    def __init__(self, answers: pd.DataFrame):
        found = answers
        if "label" in found:
            leaving = found.loc[found["label"].isin(LEAVES), "question_id"].unique()
            found = found[~found["question_id"].isin(leaving)]
        by_rule = (found["graded_by"] if "graded_by" in found else pd.Series("judge", index=found.index)).eq("rule")
        verdict = pd.to_numeric(found["verdict"], errors="coerce")
        status = found["status"] if "status" in found else pd.Series("judged", index=found.index)
        usable = (by_rule | (status.eq("judged") & verdict.notna())).to_numpy()
        label = pd.to_numeric(found["label_value"], errors="coerce") if "label_value" in found \
            else pd.Series(NAN, index=found.index)
        self.models = list(pd.unique(answers["candidate"]))
        questions = list(pd.unique(found["question_id"]))
        shape = (len(questions), len(self.models))
        self.verdict, self.label = np.full(shape, NAN), np.full(shape, NAN)
        self.by_rule = np.zeros(shape, bool)
        rows = pd.Index(questions).get_indexer(found["question_id"])
        columns = pd.Index(self.models).get_indexer(found["candidate"])
        rule, v, y = by_rule.to_numpy(), verdict.to_numpy(float), label.to_numpy(float)
        for r, c, ok, is_rule, vv, yy in zip(rows, columns, usable, rule, v, y, strict=True):
            if ok and np.isnan(self.verdict[r, c]):  # the first row of a (question, model)
                self.verdict[r, c], self.label[r, c] = (0.0, 0.0) if is_rule else (vv, yy)
                self.by_rule[r, c] = is_rule

    def column(self, model: str) -> int:
        return self.models.index(model)


def model_estimate(grid: Grid, model: str, alpha: float = 0.05) -> dict:
    """One model's labelled estimate."""
    c = grid.column(model)
    present = ~np.isnan(grid.verdict[:, c])
    judged = present & ~grid.by_rule[:, c]
    labelled = judged & ~np.isnan(grid.label[:, c])
    rest = judged & np.isnan(grid.label[:, c])
    y, v = grid.label[labelled, c], grid.verdict[labelled, c]
    estimate, low, high = ppi_interval(y, v, grid.verdict[rest, c], PSEUDO_MODEL, (0.0, 1.0), alpha)
    share = judged.sum() / present.sum() if present.any() else NAN  # the rest are wrong by rule, certainly
    from pipeline.measure.stats import cohen_kappa

    return {"labelled_accuracy": estimate * share, "labelled_ci_low": low * share, "labelled_ci_high": high * share,
            "labels": int(labelled.sum()), "answers": int(present.sum()), "judge_agreed": int((y == v).sum()),
            "judge_kappa": cohen_kappa(y.astype(bool).tolist(), v.astype(bool).tolist()) if len(y) else NAN,
            "judge_accepted_wrong": int(((y == 0) & (v == 1)).sum()), "labelled_wrong": int((y == 0).sum()),
            "judge_rejected_right": int(((y == 1) & (v == 0)).sum()), "labelled_right": int((y == 1).sum())}


def estimates(answers: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Each model's accuracy anchored on the labels (:func:`model_estimate`), one row per candidate.

    ``answers``: one row per (question, candidate) with ``verdict``, ``status``, ``graded_by`` and
    ``label_value`` (1.0 correct, 0.0 wrong, NaN not labelled) and ``label`` (the label's kind, for
    "gold_wrong"/"unclear"). Models without a label get NaN estimates and ``labels`` 0.
    """
    grid = Grid(answers)
    return pd.DataFrame([{"candidate": m, **model_estimate(grid, m, alpha)} for m in grid.models])


def pair_estimate(grid: Grid, a: str, b: str, alpha: float = 0.05) -> dict:
    """The difference accuracy(a) − accuracy(b) on the questions both were graded on, paired."""
    ca, cb = grid.column(a), grid.column(b)
    both = ~np.isnan(grid.verdict[:, ca]) & ~np.isnan(grid.verdict[:, cb])
    verdict = grid.verdict[both, ca] - grid.verdict[both, cb]
    label = grid.label[both, ca] - grid.label[both, cb]  # NaN unless both are labelled (or wrong by rule)
    known = ~np.isnan(label)
    difference, low, high = ppi_interval(label[known], verdict[known], verdict[~known], PSEUDO_DIFFERENCE,
                                         (-1.0, 1.0), alpha)
    return {"difference": difference, "ci_low": low, "ci_high": high, "paired_labels": int(known.sum())}


def pairs(answers: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Every pair of models: the labelled estimate of their difference and whether its interval excludes 0."""
    from itertools import combinations

    grid, rows = Grid(answers), []
    for a, b in combinations(grid.models, 2):
        found = pair_estimate(grid, a, b, alpha)
        rows.append({"model_a": a, "model_b": b, **found,
                     "significant": bool(found["ci_low"] > 0 or found["ci_high"] < 0)})
    return pd.DataFrame(rows, columns=["model_a", "model_b", "difference", "ci_low", "ci_high", "paired_labels",
                                       "significant"])


def labels_to_tell_apart(pair: dict, per_question: int) -> int | None:
    """About how many more labels (``per_question`` answers labelled per question) would make the
    difference's interval exclude 0, if the difference stays as estimated: the half-width shrinks as
    1/sqrt(labelled questions). None when the estimate is 0 (no number of labels would)."""
    difference, low, high, n = pair["difference"], pair["ci_low"], pair["ci_high"], pair["paired_labels"]
    if not n or any(map(math.isnan, (difference, low, high))) or abs(difference) < 1e-9:
        return None
    half = (high - low) / 2
    needed = math.ceil(n * (half / abs(difference)) ** 2)
    return max(1, needed - n) * per_question


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
        if pair["paired_labels"] == 0:
            continue
        if pair["ci_low"] > 0:
            lines.append(f"{best} is now told apart from {other} (better by {100 * pair['difference']:.0f} points, "
                         f"{100 * pair['ci_low']:.0f} to {100 * pair['ci_high']:.0f}).")
        else:
            more = labels_to_tell_apart(pair, len(models))
            lines.append(f"{best} and {other}: not told apart yet" + (
                f"; about {more} more labels would tell them apart if the difference holds." if more else "."))
    return lines
