"""Accuracy anchored on a person's labels (pipeline/measure/labelled.py): hand-checked cases, and the
Monte Carlo coverage of its intervals at the sizes the tool runs at, with judge errors that differ by model."""

import math

import numpy as np
import pandas as pd
import pytest

from pipeline.measure import labelled, stats


def _answers(rows):
    """rows: (question_id, candidate, verdict, label_value[, graded_by[, label]])."""
    out = []
    for row in rows:
        qid, cand, verdict, value = row[:4]
        by = row[4] if len(row) > 4 else "judge"
        kind = row[5] if len(row) > 5 else ("correct" if value == 1 else "wrong" if value == 0 else None)
        out.append({"question_id": qid, "candidate": cand, "verdict": verdict, "status": "judged", "graded_by": by,
                    "label_value": value, "label": kind})
    return pd.DataFrame(out)


def test_every_answer_labelled_gives_the_labels_share():
    rows = [(f"q{i}", "m", 1.0, float(i % 3 != 0)) for i in range(12)]  # the judge accepts all; 8 of 12 right
    found = labelled.estimates(_answers(rows)).iloc[0]
    # the labels alone plus the four pseudo-answers (two right): (8 + 2) / (12 + 4)
    assert found["labelled_accuracy"] == pytest.approx(10 / 16)
    assert found["labels"] == 12 and found["judge_agreed"] == 8 and found["judge_accepted_wrong"] == 4
    assert found["labelled_ci_low"] < 8 / 12 < found["labelled_ci_high"]


def test_no_label_gives_no_estimate():
    found = labelled.estimates(_answers([("q1", "m", 1.0, np.nan), ("q2", "m", 0.0, np.nan)])).iloc[0]
    assert found["labels"] == 0 and math.isnan(found["labelled_accuracy"])


def test_non_answers_are_certainly_wrong_and_scale_the_estimate():
    rows = [(f"q{i}", "m", 1.0, 1.0) for i in range(6)] + [(f"r{i}", "m", 0.0, np.nan, "rule") for i in range(6)]
    found = labelled.estimates(_answers(rows)).iloc[0]
    assert found["answers"] == 12 and found["labels"] == 6  # the non-answers are not labels
    # judge-graded half: (6 + 2) / (6 + 4) right, scaled by 6 of 12
    assert found["labelled_accuracy"] == pytest.approx(0.5 * 8 / 10)


def test_a_question_whose_gold_is_wrong_leaves_every_model():
    rows = [("q1", "a", 1.0, np.nan, "judge", "gold_wrong"), ("q1", "b", 0.0, np.nan),
            ("q2", "a", 1.0, 1.0), ("q2", "b", 1.0, 1.0)]
    found = labelled.estimates(_answers(rows)).set_index("candidate")
    assert found.loc["a", "answers"] == 1 and found.loc["b", "answers"] == 1


def test_a_pair_is_the_paired_difference_of_the_labels():
    rows = []
    for i in range(10):  # a right on every question, b on half; both labelled everywhere
        rows += [(f"q{i}", "a", 1.0, 1.0), (f"q{i}", "b", 1.0, float(i % 2))]
    pair = labelled.pairs(_answers(rows)).iloc[0]
    # differences 0 and 1, five each, plus the four pseudo-pairs (1, -1, 0, 0): (5 + 1 - 1) / 14
    assert pair["difference"] == pytest.approx(5 / 14)
    assert pair["paired_labels"] == 10


def test_labels_to_tell_apart_grows_with_the_interval():
    pair = {"difference": 0.2, "ci_low": -0.1, "ci_high": 0.5, "paired_labels": 10}
    assert labelled.labels_to_tell_apart(pair, per_question=3) == (math.ceil(10 * (0.3 / 0.2) ** 2) - 10) * 3
    assert labelled.labels_to_tell_apart({**pair, "difference": 0.0}, 3) is None


def test_bought_names_what_the_labels_tell():
    rows = []
    for i in range(24):  # a right everywhere; b wrong everywhere though the judge accepts b's answers; 14 labelled
        rows += [(f"q{i}", "a", 1.0, 1.0 if i < 14 else np.nan), (f"q{i}", "b", 1.0, 0.0 if i < 14 else np.nan)]
    lines = labelled.bought(_answers(rows))
    assert lines and "told apart from b" in lines[0]


# --------------------------------------------------------------------------- Monte Carlo coverage

# (accuracy of a, of b, of c; the judge's acceptance of each one's wrong answers; its acceptance of right answers)
GRID = [
    ((0.60, 0.60, 0.75), (0.15, 0.45, 0.30), 0.97),  # the case: leniency differs by model
    ((0.45, 0.75, 0.90), (0.60, 0.15, 0.45), 0.97),
    ((0.30, 0.80, 0.55), (0.45, 0.15, 0.90), 0.85),
    ((0.95, 0.60, 0.42), (0.20, 0.60, 0.80), 0.95),
    ((0.85, 0.85, 0.70), (0.05, 0.70, 0.35), 1.00),
]
MODELS = ("a", "b", "c")
QUESTIONS = 24


def _simulate(rng, accuracy, accepts_wrong, accepts_right, labels):
    """One run: 24 questions x 3 models, truth correlated across models (shared question difficulty), the
    judge's verdicts, and ``labels`` answers labelled by the sample design of ``make review`` (the first
    ceil(labels / 3) questions of a random order, every model's answer to each)."""
    difficulty = rng.random(QUESTIONS)
    labelled_questions = set(rng.permutation(QUESTIONS)[:math.ceil(labels / len(MODELS))])
    rows, truth = [], {}
    for model, theta, wrong_ok in zip(MODELS, accuracy, accepts_wrong):
        right = (difficulty + rng.normal(0, 0.3, QUESTIONS)) % 1 < theta
        accepted = np.where(right, rng.random(QUESTIONS) < accepts_right, rng.random(QUESTIONS) < wrong_ok)
        truth[model] = theta
        for q in range(QUESTIONS):
            rows.append((f"q{q}", model, float(accepted[q]), float(right[q]) if q in labelled_questions else np.nan))
    return _answers(rows), truth


def _coverage(labels, interval, reps=300, seed=7):
    """Per grid point: the share of runs whose interval covered each model's accuracy and each pair's difference
    (the lowest of those shares)."""
    worst = []
    for point, (accuracy, accepts_wrong, accepts_right) in enumerate(GRID):
        rng = np.random.default_rng(seed + point)
        hits = {}
        for _ in range(reps):
            answers, truth = _simulate(rng, accuracy, accepts_wrong, accepts_right, labels)
            for key, (low, high), value in interval(answers, truth):
                hits[key] = hits.get(key, 0) + (low - 1e-9 <= value <= high + 1e-9)
        worst.append(min(hits.values()) / reps)
    return worst


def labelled_intervals(answers, truth):
    """What the report uses: :func:`labelled.estimates` and :func:`labelled.pairs`."""
    for row in labelled.estimates(answers).itertuples():
        yield row.candidate, (row.labelled_ci_low, row.labelled_ci_high), truth[row.candidate]
    for row in labelled.pairs(answers).itertuples():
        yield (row.model_a, row.model_b), (row.ci_low, row.ci_high), truth[row.model_a] - truth[row.model_b]


def judge_only_intervals(answers, truth):
    """The judge's verdicts alone: a Wilson interval per model (what the card printed before labels)."""
    for model, group in answers.groupby("candidate"):
        yield model, stats.wilson_interval(int(group["verdict"].sum()), len(group)), truth[model]


@pytest.mark.parametrize("labels", [10, 20, 40])
def test_labelled_intervals_cover_when_the_judge_errs_differently_per_model(labels):
    coverage = _coverage(labels, labelled_intervals)
    assert min(coverage) >= 0.93, coverage


def test_the_judge_only_interval_fails_the_same_test():
    assert min(_coverage(40, judge_only_intervals)) < 0.93


# --------------------------------------------------------------------------- without labels: the per-model correction

CORRECTION_GRID = [  # (true accuracy, the judge's acceptance of wrong answers) per model; acceptance of right: 0.95
    ((0.60, 0.60, 0.75), (0.15, 0.45, 0.30)),  # the case
    ((0.45, 0.80, 0.70), (0.60, 0.10, 0.35)),
    ((0.85, 0.55, 0.65), (0.20, 0.50, 0.05)),
]
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
