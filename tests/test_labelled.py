"""Accuracy anchored on a person's labels (pipeline/measure/labelled.py): hand-checked cases, and the
Monte Carlo coverage of its intervals at the sizes the tool runs at, with judge errors that differ by model."""

import math
from itertools import combinations

import numpy as np
import pandas as pd
import pytest

from pipeline.measure import labelled, stats


def _answers(rows, sampled=None):
    """rows: (question_id, candidate, verdict, label_value[, graded_by[, label]]); ``sampled``: the questions of the
    seeded random sample (default: every labelled question)."""
    out = []
    for row in rows:
        qid, cand, verdict, value = row[:4]
        by = row[4] if len(row) > 4 else "judge"
        kind = row[5] if len(row) > 5 else ("correct" if value == 1 else "wrong" if value == 0 else None)
        out.append({"question_id": qid, "candidate": cand, "verdict": verdict, "status": "judged", "graded_by": by,
                    "label_value": value, "label": kind})
    found = pd.DataFrame(out)
    if sampled is None:
        sampled = set(found.loc[found["label"].notna(), "question_id"])
    return found.assign(sampled=found["question_id"].isin(sampled))


def test_every_answer_labelled_gives_the_labels_share():
    """Issue 33, 1: the four pseudo-answers moved the point estimate itself ((8 + 2) / (12 + 4) here); they are for
    the interval only."""
    rows = [(f"q{i}", "m", 1.0, float(i % 3 != 0)) for i in range(12)]  # the judge accepts all; 8 of 12 right
    found = labelled.estimates(_answers(rows)).iloc[0]
    assert found["labelled_accuracy"] == pytest.approx(8 / 12)
    assert found["labels"] == 12 and found["judge_agreed"] == 8 and found["judge_accepted_wrong"] == 4
    assert found["labelled_ci_low"] < 8 / 12 < found["labelled_ci_high"]


def test_no_label_gives_no_estimate():
    found = labelled.estimates(_answers([("q1", "m", 1.0, np.nan), ("q2", "m", 0.0, np.nan)])).iloc[0]
    assert found["labels"] == 0 and math.isnan(found["labelled_accuracy"])


def test_non_answers_are_certainly_wrong_and_count_where_they_were_sampled():
    """Half the answers are non-answers (wrong by rule); the sample holds two of them and two judge-graded answers,
    both right, which a perfect judge accepted: the estimate is the true 50%, with nothing rescaled afterwards."""
    rows = [(f"q{i}", "m", 1.0, 1.0 if i < 2 else np.nan) for i in range(6)]
    rows += [(f"r{i}", "m", 0.0, np.nan, "rule") for i in range(6)]
    found = labelled.estimates(_answers(rows, sampled={"q0", "q1", "r0", "r1"})).iloc[0]
    assert found["answers"] == 12 and found["labels"] == 2 and found["sampled_questions"] == 4
    assert found["labelled_accuracy"] == pytest.approx(0.5)


def test_a_question_whose_gold_is_wrong_leaves_every_model():
    rows = [("q1", "a", 1.0, np.nan, "judge", "gold_wrong"), ("q1", "b", 0.0, np.nan),
            ("q2", "a", 1.0, 1.0), ("q2", "b", 1.0, 1.0), ("q3", "a", 0.0, 0.0), ("q3", "b", 1.0, 1.0)]
    found = labelled.estimates(_answers(rows)).set_index("candidate")
    # every question labelled: the shares over the two sound questions
    assert found.loc["a", "labelled_accuracy"] == pytest.approx(0.5)
    assert found.loc["b", "labelled_accuracy"] == pytest.approx(1.0)
    assert found.loc["b", "labels"] == 2  # b's answer to q1 is not a label of its own


def test_a_pair_is_the_paired_difference_of_the_labels():
    rows = []
    for i in range(10):  # a right on every question, b on half; both labelled everywhere
        rows += [(f"q{i}", "a", 1.0, 1.0), (f"q{i}", "b", 1.0, float(i % 2))]
    pair = labelled.pairs(_answers(rows)).iloc[0]
    assert pair["difference"] == pytest.approx(0.5)  # the pseudo-pairs moved it to 5 / 14 before
    assert pair["paired_labels"] == 10


def test_questions_both_answered_wrong_by_rule_count_only_where_sampled():
    """Issue 33, 2: a question where both models' answers are wrong by rule counted as a labelled 0-0 pair whether
    or not it was sampled, and the pair was not rescaled as each model was. Ten such questions of twenty, a perfect
    judge, a right on the ten others and b wrong: the difference is 10 / 20, what each model's estimate says."""
    rows = []
    for i in range(10):
        rows += [(f"r{i}", "a", 0.0, np.nan, "rule"), (f"r{i}", "b", 0.0, np.nan, "rule")]
    for i in range(10):
        labelled_ = i < 2
        rows += [(f"q{i}", "a", 1.0, 1.0 if labelled_ else np.nan), (f"q{i}", "b", 0.0, 0.0 if labelled_ else np.nan)]
    answers = _answers(rows, sampled={"r0", "r1", "q0", "q1"})
    pair = labelled.pairs(answers).iloc[0]
    found = labelled.estimates(answers).set_index("candidate")["labelled_accuracy"]
    assert found["a"] == pytest.approx(0.5) and found["b"] == pytest.approx(0.0)
    assert pair["difference"] == pytest.approx(0.5) == found["a"] - found["b"]
    assert pair["paired_labels"] == 4 and pair["questions"] == 20


def test_labels_outside_the_random_sample_are_counted_apart_not_used():
    """Issue 33, 3: a row labelled by hand outside the seeded sample moved the estimate; now it is counted apart."""
    rows = [(f"q{i}", "m", float(i % 2), float(i % 2) if i < 6 else np.nan) for i in range(12)]
    sample = {f"q{i}" for i in range(6)}
    before = labelled.estimates(_answers(rows, sampled=sample))
    rows[8] = ("q8", "m", 0.0, 1.0)  # hand-picked: the judge said no, the person yes
    after = labelled.estimates(_answers(rows, sampled=sample))
    assert after.iloc[0]["labelled_accuracy"] == before.iloc[0]["labelled_accuracy"]
    assert after.iloc[0]["labels"] == 6 and after.attrs["outside"] == 1 and before.attrs["outside"] == 0


def test_labels_to_tell_apart_grows_with_the_interval():
    pair = {"difference": 0.2, "ci_low": -0.1, "ci_high": 0.5, "paired_labels": 10, "questions": 100}
    assert labelled.labels_to_tell_apart(pair, per_question=3) == (math.ceil(10 * (0.3 / 0.2) ** 2) - 10) * 3
    assert labelled.labels_to_tell_apart({**pair, "difference": 0.0}, 3) is None


def test_more_labels_than_the_document_has_are_never_asked_for():
    """Issue 33, 6: "About 165312 more labels" on a 10-page document. Capped at every answer labelled; beyond it
    the line says the document cannot tell them apart."""
    pair = {"difference": 0.004, "ci_low": -0.3, "ci_high": 0.31, "paired_labels": 8, "questions": 24}
    assert labelled.labels_to_tell_apart(pair, per_question=3) is None
    assert "cannot be told apart on this document" in labelled.tell_apart_clause(pair, 3)
    assert labelled.labels_to_tell_apart({**pair, "difference": 0.2}, 3) == (math.ceil(8 * (0.305 / 0.2) ** 2) - 8) * 3
    rows = []
    for i in range(24):  # b: right on every other question the judge accepted; 8 labelled
        rows += [(f"q{i}", "a", 1.0, (1.0 if i % 3 else 0.0) if i < 8 else np.nan),
                 (f"q{i}", "b", 1.0, (1.0 if i % 3 != 1 else 0.0) if i < 8 else np.nan)]
    lines = labelled.bought(_answers(rows))
    assert lines and "cannot be told apart on this document" in lines[0] and "more labels" not in lines[0]


def test_bought_names_what_the_labels_tell():
    rows = []
    for i in range(24):  # a right everywhere; b wrong everywhere though the judge accepts b's answers; 14 labelled
        rows += [(f"q{i}", "a", 1.0, 1.0 if i < 14 else np.nan), (f"q{i}", "b", 1.0, 0.0 if i < 14 else np.nan)]
    lines = labelled.bought(_answers(rows))
    assert lines and "told apart from b" in lines[0]


def test_the_reports_path_is_the_estimator_the_monte_carlo_tests():
    """What the report computes from a table of answers (:func:`labelled.estimates`, :func:`labelled.pairs`) is
    :func:`labelled.ratio_ppi` on the arrays the Monte Carlo below draws."""
    rng = np.random.default_rng(3)
    (models, sound) = _simulate(rng, GRID[0][0], GRID[0][1], GRID[0][2], 24, 1)
    rows = []
    for m, (g, f, rule, right) in zip(MODELS, models):
        for q in range(24):
            value = np.nan if q >= 8 or rule[q, 0] else (float(right[q, 0]) if sound[q, 0] else np.nan)
            kind = ("gold_wrong" if not sound[q, 0] and q < 8 and m == "a" else
                    None if np.isnan(value) else "correct" if value else "wrong")
            rows.append((f"q{q}", m, f[q, 0], value, "rule" if rule[q, 0] else "judge", kind))
    answers = _answers(rows, sampled={f"q{q}" for q in range(8)})
    found = labelled.estimates(answers).set_index("candidate")
    for m, (g, f, _, _) in zip(MODELS, models):
        direct = labelled.ratio_ppi(g[:8], f[:8], sound[:8], f[8:], labelled.PSEUDO_MODEL, (0.0, 1.0))
        assert found.loc[m, "labelled_accuracy"] == pytest.approx(direct["estimate"][0])
        assert (found.loc[m, "labelled_ci_low"], found.loc[m, "labelled_ci_high"]) == pytest.approx(
            (direct["low"][0], direct["high"][0]))
    pair = labelled.pairs(answers).iloc[0]
    (ga, fa, _, _), (gb, fb, _, _) = models[0], models[1]
    direct = labelled.ratio_ppi((ga - gb)[:8], (fa - fb)[:8], sound[:8], (fa - fb)[8:], labelled.PSEUDO_DIFFERENCE,
                                (-1.0, 1.0))
    assert pair["difference"] == pytest.approx(direct["estimate"][0])


# --------------------------------------------------------------------------- Monte Carlo: bias, coverage, width

# (accuracy of a, of b, of c; the judge's acceptance of each one's wrong answers; its acceptance of right answers)
GRID = [
    ((0.60, 0.60, 0.75), (0.15, 0.45, 0.30), 0.97),  # the case: leniency differs by model
    ((0.45, 0.75, 0.90), (0.60, 0.15, 0.45), 0.97),
    ((0.30, 0.80, 0.55), (0.45, 0.15, 0.90), 0.85),
    ((0.95, 0.60, 0.42), (0.20, 0.60, 0.80), 0.95),
    ((0.85, 0.85, 0.70), (0.05, 0.70, 0.35), 1.00),
]
MODELS = ("a", "b", "c")
NON_ANSWERS = (0.0, 0.3, 0.1)  # the share of each model's wrong answers that are non-answers (wrong by rule)
GOLD_WRONG = 0.15  # questions whose gold is wrong: a person marks them; the judge, comparing with it, says yes at 30%
SIZES = [(3, 24), (10, 24), (20, 24), (40, 60)]  # (labels a model: the questions sampled, the document's questions)


def _simulate(rng, accuracy, accepts_wrong, accepts_right, questions, runs):
    """``runs`` documents of ``questions`` questions (columns: independent runs), three models whose answers are
    right with the model's accuracy (correlated across models by a shared question difficulty), some of the wrong
    ones non-answers, some questions' gold wrong, and the judge's verdicts (errors differing by model). Returns per
    model (g, f, rule, right) and the questions' soundness: g is what a person's label gives on a sampled question
    (0 for a non-answer or an unsound question), f the verdict (0 for a non-answer). The truth is each model's
    accuracy over the sound questions: its accuracy, as soundness is drawn apart."""
    shape = (questions, runs)
    difficulty = rng.random(shape)
    sound = (rng.random(shape) >= GOLD_WRONG).astype(float)
    models = []
    for theta, wrong_ok, non_answers in zip(accuracy, accepts_wrong, NON_ANSWERS):
        right = (difficulty + rng.normal(0, 0.3, shape)) % 1 < theta
        rule = ~right & (rng.random(shape) < non_answers)
        accepted = np.where(right, rng.random(shape) < accepts_right, rng.random(shape) < wrong_ok)
        accepted = np.where(sound == 1, accepted, rng.random(shape) < 0.3)
        f = np.where(rule, 0.0, accepted.astype(float))
        g = np.where(rule | (sound == 0), 0.0, right.astype(float))
        models.append((g, f, rule, right))
    return models, sound


def _estimands(models, sound, labels, accuracy, lam=None, point_only=False):
    """(name, found, truth) for each model and pair, the first ``labels`` questions sampled (a random sample:
    the questions are drawn independently)."""
    k = labels
    for m, (g, f, _, _) in enumerate(models):
        args = (g[:k], f[:k], sound[:k], f[k:])
        found = labelled.crossfit_estimate(*args) if point_only else \
            labelled.ratio_ppi(*args, labelled.PSEUDO_MODEL, (0.0, 1.0), lam=lam)
        yield MODELS[m], found, accuracy[m]
    for a, b in combinations(range(len(models)), 2):
        g, f = models[a][0] - models[b][0], models[a][1] - models[b][1]
        args = (g[:k], f[:k], sound[:k], f[k:])
        found = labelled.crossfit_estimate(*args) if point_only else \
            labelled.ratio_ppi(*args, labelled.PSEUDO_DIFFERENCE, (-1.0, 1.0), lam=lam)
        yield f"{MODELS[a]}-{MODELS[b]}", found, accuracy[a] - accuracy[b]


@pytest.mark.parametrize("labels, questions", SIZES)
def test_the_labelled_estimate_is_unbiased(labels, questions):
    """The mean of the point estimate over many simulated runs is within 1 point of the truth for every model and
    pair at every grid point (the runs are enough for a Monte Carlo standard error of at most 0.25 points: the
    estimates' sd is up to 0.45 at 3 labels a model, 0.23 at 10)."""
    runs, worst = 40_000 if labels < 10 else 10_000 if labels < 40 else 5_000, []
    for point, (accuracy, accepts_wrong, accepts_right) in enumerate(GRID):
        rng = np.random.default_rng(100 + point)
        models, sound = _simulate(rng, accuracy, accepts_wrong, accepts_right, questions, runs)
        for name, found, truth in _estimands(models, sound, labels, accuracy, point_only=True):
            found = np.clip(found[np.isfinite(found)], -1, 1)
            bias, se = found.mean() - truth, found.std() / np.sqrt(len(found))
            assert se <= 0.0025, (point, name, se)
            worst.append((abs(bias), point, name, round(bias, 4)))
    assert max(worst)[0] <= 0.01, max(worst)


def _interval_runs(labels, questions, runs=2000, chunk=1000):
    """Per grid point and estimand: the share of runs whose interval covered the truth and the median width, for
    the report's interval and the labels-only one (the same construction with λ = 0)."""
    found = {}
    for point, (accuracy, accepts_wrong, accepts_right) in enumerate(GRID):
        rng = np.random.default_rng(7 + point)
        for _ in range(runs // chunk):
            models, sound = _simulate(rng, accuracy, accepts_wrong, accepts_right, questions, chunk)
            for lam, method in ((None, "ppi"), (0, "labels")):
                for name, interval, truth in _estimands(models, sound, labels, accuracy, lam=lam):
                    ok = np.isfinite(interval["estimate"])
                    low, high = interval["low"][ok], interval["high"][ok]
                    hits = (low - 1e-9 <= truth) & (truth <= high + 1e-9)
                    found.setdefault((point, name, method), []).append((hits, high - low))
    return {key: (float(np.mean(np.concatenate([h for h, _ in parts]))),
                  float(np.median(np.concatenate([w for _, w in parts])))) for key, parts in found.items()}


@pytest.mark.parametrize("labels, questions", SIZES)
def test_labelled_intervals_cover_and_are_no_wider_than_the_labels_alone(labels, questions):
    """Coverage of every model's and every pair's interval >= 93% (2,000 runs a grid point: standard error 0.5
    points), and the median width of each model's interval not above the labels-only interval's; a pair's too,
    but at 3 labels a model, where both span over 90% of the range and the clipping to -100..100 points differs
    with their centres, within 3% of it. The median widths are printed (README, "make review")."""
    found = _interval_runs(labels, questions)
    coverage = {key: c for key, (c, _) in found.items() if key[2] == "ppi"}
    assert min(coverage.values()) >= 0.93, min(coverage.items(), key=lambda kv: kv[1])
    for (point, name, method), (_, width) in found.items():
        if method == "ppi":
            slack = 1.03 if "-" in name and labels < 10 else 1.0
            assert width <= found[(point, name, "labels")][1] * slack + 1e-9, (point, name)
    widths = [w for (_, name, method), (_, w) in found.items() if method == "ppi" and "-" not in name]
    alone = [w for (_, name, method), (_, w) in found.items() if method == "labels" and "-" not in name]
    print(f"{labels} labels a model: coverage >= {min(coverage.values()):.3f}; median width of a model's interval "
          f"{np.median(widths):.3f} (labels alone {np.median(alone):.3f})")
    assert np.median(widths) <= np.median(alone) + 1e-9


def test_the_judge_only_interval_fails_the_same_test():
    """The judge's verdicts alone: a Wilson interval per model (what the card printed before labels)."""
    worst = 1.0
    for point, (accuracy, accepts_wrong, accepts_right) in enumerate(GRID):
        models, sound = _simulate(np.random.default_rng(7 + point), accuracy, accepts_wrong, accepts_right, 24, 500)
        for (_, f, _, _), theta in zip(models, accuracy):
            low, high = np.array([stats.wilson_interval(int(v), len(f)) for v in f.sum(0)]).T
            worst = min(worst, float(np.mean((low <= theta) & (theta <= high))))
    assert worst < 0.93


# --------------------------------------------------------------------------- without labels: the per-model correction

CORRECTION_GRID = [  # (true accuracy, the judge's acceptance of wrong answers) per model; acceptance of right: 0.95
    ((0.60, 0.60, 0.75), (0.15, 0.45, 0.30)),  # the case
    ((0.45, 0.80, 0.70), (0.60, 0.10, 0.35)),
    ((0.85, 0.55, 0.65), (0.20, 0.50, 0.05)),
]
QUESTIONS = 24
HELD_OUT_PER_MODEL = 70  # about what labelled/answers/ holds per model on its held-out documents


def _held_out_counts(rng, accuracy, accepts_wrong, accepts_right=0.95):
    right = rng.binomial(HELD_OUT_PER_MODEL, accuracy)
    wrong = HELD_OUT_PER_MODEL - right
    tp, fp = rng.binomial(right, accepts_right), rng.binomial(wrong, accepts_wrong)
    return {"tp": tp, "fn": right - tp, "tn": wrong - fp, "fp": fp}


def _corrected_coverage(pooled: bool, reps=400, seed=11):
    """The share of runs whose judge-corrected interval (:func:`aggregation.corrected`, what the report calls)
    covers each model's true accuracy, at 24 questions, with each model corrected by its own held-out counts — or,
    ``pooled``, by the counts of all models together (the correction before: one pair of rates for every model)."""
    from pipeline.report.aggregation import HELD_OUT_COLUMNS, corrected

    worst = []
    for point, (accuracy, accepts_wrong) in enumerate(CORRECTION_GRID):
        rng = np.random.default_rng(seed + point)
        hits = np.zeros(len(MODELS))
        for _ in range(reps):
            counts = [_held_out_counts(rng, a, f) for a, f in zip(accuracy, accepts_wrong)]
            if pooled:
                counts = [{k: sum(c[k] for c in counts) for k in counts[0]}] * len(MODELS)
            for m, (theta, wrong_ok) in enumerate(zip(accuracy, accepts_wrong)):
                right = rng.random(QUESTIONS) < theta
                accepted = np.where(right, rng.random(QUESTIONS) < 0.95, rng.random(QUESTIONS) < wrong_ok)
                group = pd.DataFrame({column: [counts[m][key]] for column, key in HELD_OUT_COLUMNS.items()})
                found = corrected(int(accepted.sum()), QUESTIONS, group)
                hits[m] += found["ci_low"] - 1e-9 <= theta <= found["ci_high"] + 1e-9
        worst.append(float(hits.min() / reps))
    return worst


def test_the_correction_holds_when_the_judge_errs_differently_per_model():
    coverage = _corrected_coverage(pooled=False)
    assert min(coverage) >= 0.93, coverage


def test_one_pair_of_rates_for_every_model_fails_the_same_test():
    assert min(_corrected_coverage(pooled=True)) < 0.93


# --------------------------------------------------------------------------- rates that travel: documents differ


def _beta(rng, mean, rho, size=None):
    """Each document's own rate around ``mean`` with intra-document correlation ``rho`` (0: the mean itself)."""
    if rho <= 0:
        return np.full(size, mean) if size else mean
    return rng.beta(mean * (1 / rho - 1), (1 - mean) * (1 / rho - 1), size)


def _new_document_coverage(rho: float, documents_aware: bool, documents=12, per_document=12, reps=300, seed=11):
    """Per grid point and model: (the share of runs whose corrected interval covered the model's accuracy on a *new*
    document, among the runs that gave one; the share that gave one). The judge's acceptance of right and wrong
    answers differs from document to document (a Beta around each model's rate, intra-document correlation ``rho``),
    on the held-out documents and on the new one alike. The correction is :func:`aggregation.corrected`, with the
    held-out counts as effective counts over the documents (``documents_aware``: a beta-binomial, as the report
    does) or as plain counts (a binomial: the correction before)."""
    from pipeline.measure.correction import document_correlation, document_rate
    from pipeline.report.aggregation import EFFECTIVE_COLUMNS, HELD_OUT_COLUMNS, corrected

    found = []
    for point, (accuracy, accepts_wrong) in enumerate(CORRECTION_GRID):
        rng = np.random.default_rng(seed + point)
        hits, given = np.zeros(len(MODELS)), np.zeros(len(MODELS))
        for _ in range(reps):
            held = []
            for theta, wrong_ok in zip(accuracy, accepts_wrong):
                right = rng.binomial(per_document, theta, documents)
                tp = rng.binomial(right, _beta(rng, 0.95, rho, documents))
                fp = rng.binomial(per_document - right, _beta(rng, wrong_ok, rho, documents))
                held.append((tp, right, per_document - right - fp, per_document - right))
            common = document_correlation([(k, n) for tp, r, tn, w in held for k, n in ((tp, r), (tn, w))])
            for m, (theta, wrong_ok) in enumerate(zip(accuracy, accepts_wrong)):
                tp, right, tn, wrong = held[m]
                counts = {"tp": tp.sum(), "fn": (right - tp).sum(), "tn": tn.sum(), "fp": (wrong - tn).sum()}
                group = pd.DataFrame({column: [counts[key]] for column, key in HELD_OUT_COLUMNS.items()})
                if documents_aware:
                    r, w = document_rate(tp, right, common), document_rate(tn, wrong, common)
                    effective = {"tp": r["effective_successes"], "fn": r["effective_trials"] - r["effective_successes"],
                                 "tn": w["effective_successes"], "fp": w["effective_trials"] - w["effective_successes"]}
                    group = group.assign(**{column: [effective[key]] for column, key in EFFECTIVE_COLUMNS.items()})
                truth = rng.random(QUESTIONS) < theta  # the new document, with its own judge error rates
                accepted = np.where(truth, rng.random(QUESTIONS) < _beta(rng, 0.95, rho),
                                    rng.random(QUESTIONS) < _beta(rng, wrong_ok, rho))
                interval = corrected(int(accepted.sum()), QUESTIONS, group)
                if not np.isnan(interval["accuracy"]):
                    given[m] += 1
                    hits[m] += interval["ci_low"] - 1e-9 <= theta <= interval["ci_high"] + 1e-9
        found += [(hits[m] / max(given[m], 1), given[m] / reps) for m in range(len(MODELS))]
    return found


def test_the_correction_carries_the_variation_between_documents():
    """Issue 33, 8: the judge's error rates differ from one held-out document to another (Qwen's accepted-wrong 6 of
    15 on one, 1 of 4 on the others), and the binomial interval treated some 70 answers a model as independent
    draws. With 12 held-out documents whose error rates vary (intra-document correlation 0.1) the binomial
    correction covers a new document's accuracy about 89% of the time on average over models and grid points; the
    beta-binomial one, when it corrects at all, 94% (300 runs a point: a cell's share has a standard error of 1.3
    to 3 points, so cells are checked loosely, the average closely) — it declines more often, rightly: a new
    document's error rates are that uncertain. With documents alike it fits a correlation near 0 and is the
    binomial correction again. (With 3 or 6 documents the correlation is poorly known and its coverage stays
    between the two: more held-out documents are the cure.)"""
    binomial = _new_document_coverage(0.1, documents_aware=False)
    aware = _new_document_coverage(0.1, documents_aware=True)
    assert np.mean([c for c, _ in binomial]) < 0.91, binomial
    assert np.mean([c for c, _ in aware]) >= 0.93 and min(c for c, _ in aware) >= 0.87, aware
    alike = _new_document_coverage(0.0, documents_aware=True)
    assert np.mean([c for c, _ in alike]) >= 0.93 and min(g for _, g in alike) >= 0.9, alike


def test_the_intra_document_correlation_is_recovered_and_widens_the_rates():
    from pipeline.measure.correction import document_correlation, document_rate

    rng = np.random.default_rng(5)
    groups = []
    for mean in (0.2, 0.5, 0.9, 0.7, 0.35, 0.95):
        rates = _beta(rng, mean, 0.1, 200)
        trials = rng.integers(8, 20, 200)
        groups.append((rng.binomial(trials, rates), trials))
    assert document_correlation(groups) == pytest.approx(0.1, abs=0.03)
    assert document_correlation([(np.array([5, 5, 5]), np.array([10, 10, 10]))]) == 0.0  # no more spread than binomial
    same = document_rate([3, 4, 2], [10, 12, 9], rho=0.0)
    assert same["effective_trials"] == pytest.approx(31) and same["rate"] == pytest.approx(9 / 31)
    spread = document_rate([3, 4, 2], [10, 12, 9], rho=0.1)
    assert spread["effective_trials"] < 31 / 2  # one more document's rate is far less certain than the pooled one
    assert spread["interval"][0] < same["interval"][0] and spread["interval"][1] > same["interval"][1]
