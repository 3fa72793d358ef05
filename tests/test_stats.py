"""Tests for pipeline.measure.stats. Expected values are computed by hand (see the comments)."""

import math
from collections import Counter

import pandas as pd
import pytest

from pipeline.measure.stats import (
    accuracy_breakdown,
    cohen_kappa,
    difficulty_band,
    judge_calibration_accuracy,
    mcnemar_exact,
    pairwise_significance,
    pareto_frontier,
    percent_agreement,
    performance_efficiency_ratio,
    project,
    serving_figures,
    wilson_interval,
)

# --------------------------------------------------------------------------- Wilson


def test_wilson_8_of_10():
    # p = 0.8, z^2 = 3.84146, denom = 1 + 0.384146 = 1.384146
    # centre = (0.8 + 0.192073) / 1.384146 = 0.716738
    # half = 1.959964 / 1.384146 * sqrt(0.016 + 0.0096037) = 1.416002 * 0.160012 = 0.226578
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4)
    assert hi == pytest.approx(0.9433, abs=1e-4)


def test_wilson_0_of_10_stays_in_range():
    # p = 0: centre = 0.192073 / 1.384146 = 0.138767, half = 1.416002 * sqrt(0.0096037) = 0.138767
    lo, hi = wilson_interval(0, 10)
    assert lo == pytest.approx(0.0, abs=1e-12)
    assert hi == pytest.approx(0.2775, abs=1e-4)


def test_wilson_other_z():
    # z = 1 (about 68 %), 5/10: denom = 1.1, centre = (0.5 + 0.05) / 1.1 = 0.5,
    # half = 1 / 1.1 * sqrt(0.025 + 0.0025) = 0.909091 * 0.165831 = 0.150756
    lo, hi = wilson_interval(5, 10, z=1.0)
    assert lo == pytest.approx(0.349244, abs=1e-6)
    assert hi == pytest.approx(0.650756, abs=1e-6)


def test_wilson_empty():
    lo, hi = wilson_interval(0, 0)
    assert math.isnan(lo) and math.isnan(hi)


# --------------------------------------------------------------------------- McNemar


@pytest.mark.parametrize("b, c, expected", [
    (1, 6, 0.125),          # n = 7: 2 * (C(7,0) + C(7,1)) / 128 = 2 * 8 / 128
    (6, 1, 0.125),          # symmetric
    (0, 5, 0.0625),         # 2 * 1 / 32
    (2, 10, 0.0385742188),  # n = 12: 2 * (1 + 12 + 66) / 4096 = 158 / 4096
    (3, 3, 1.0),            # 2 * 42 / 64 > 1 -> capped at 1
    (0, 0, 1.0),            # no discordant pairs
])
def test_mcnemar_exact(b, c, expected):
    assert mcnemar_exact(b, c) == pytest.approx(expected, abs=1e-9)


def test_mcnemar_exact_large_n_does_not_overflow():
    # b = c = 600 -> perfectly balanced -> p capped at 1.0
    assert mcnemar_exact(600, 600) == pytest.approx(1.0)
    assert mcnemar_exact(0, 1200) == pytest.approx(0.0, abs=1e-300)


# --------------------------------------------------------------------------- McNemar power


def test_questions_to_settle_by_hand():
    from pipeline.measure.stats import mcnemar_power, questions_to_settle

    # 5 of 10 questions discordant, all in A's favour: at N questions D ~ Binomial(N, 1/2) pairs, all A's, and
    # mcnemar_exact(d, 0) = 2 / 2^d < 0.05 from d = 6 on (d = 5: 0.0625). Power = P(D >= 6):
    # N = 14: 1 - (1 + 14 + 91 + 364 + 1001 + 2002) / 2^14 = 1 - 3473 / 16384 = 0.788 < 0.8
    # N = 15: 1 - (1 + 15 + 105 + 455 + 1365 + 3003) / 2^15 = 1 - 4944 / 32768 = 0.849 >= 0.8
    assert mcnemar_power(14, 5, 0, 10) == pytest.approx(1 - 3473 / 16384)
    assert mcnemar_power(15, 5, 0, 10) == pytest.approx(1 - 4944 / 32768)
    assert questions_to_settle(5, 0, 10) == 15
    assert questions_to_settle(0, 5, 10) == 15  # the test is two-sided
    assert questions_to_settle(5, 0, 10, power=0.78) == 14


def test_questions_to_settle_when_no_count_would():
    from pipeline.measure.stats import questions_to_settle

    assert questions_to_settle(3, 3, 10) is None  # they disagree equally often each way
    assert questions_to_settle(0, 0, 10) is None  # they never disagree
    assert questions_to_settle(1, 2, 600, limit=1000) is None  # would need more than the limit (1,493 at 60)
    with pytest.raises(ValueError):
        questions_to_settle(6, 5, 10)


def test_mcnemar_power_matches_a_brute_force_simulation():
    """Simulate runs of 40 paired questions (6 in 20 only A right, 2 in 20 only B right) and test each with
    mcnemar_exact: the share of significant runs must match the exact power."""
    import numpy as np

    from pipeline.measure.stats import mcnemar_power, questions_to_settle

    rng = np.random.default_rng(11)
    runs = 20_000
    counts = rng.multinomial(40, [6 / 20, 2 / 20, 12 / 20], size=runs)
    significant = Counter(mcnemar_exact(int(a), int(b)) < 0.05 for a, b, _ in counts)[True] / runs
    assert significant == pytest.approx(mcnemar_power(40, 6, 2, 20), abs=0.015)  # 4 standard errors
    needed = questions_to_settle(6, 2, 20)
    assert mcnemar_power(needed, 6, 2, 20) >= 0.8
    assert all(mcnemar_power(n, 6, 2, 20) < 0.8 for n in range(1, needed))


# --------------------------------------------------------------------------- pairwise


def _row(candidate, qid, verdict, status="judged", **extra):
    return {"candidate": candidate, "question_id": qid, "verdict": verdict, "status": status, **extra}


def _pairwise_details():
    rows = []
    # q1: both right; q2-q7: A only; q8: B only; q9: both wrong; q10: B unparsed (excluded)
    a = {"q1": 1.0, "q2": 1.0, "q3": 1.0, "q4": 1.0, "q5": 1.0, "q6": 1.0, "q7": 1.0,
         "q8": 0.0, "q9": 0.0, "q10": 1.0}
    b = {"q1": 1.0, "q2": 0.0, "q3": 0.0, "q4": 0.0, "q5": 0.0, "q6": 0.0, "q7": 0.0,
         "q8": 1.0, "q9": 0.0}
    for q, v in a.items():
        rows.append(_row("A", q, v))
    for q, v in b.items():
        rows.append(_row("B", q, v))
    rows.append(_row("B", "q10", float("nan"), status="unparsed"))
    # C agrees with A on q1-q3 only (judged), no discordant pairs
    for q in ["q1", "q2", "q3"]:
        rows.append(_row("C", q, 1.0))
    return pd.DataFrame(rows)


def test_pairwise_significance_counts_and_p():
    out = pairwise_significance(_pairwise_details())
    assert list(out.columns) == ["model_a", "model_b", "n_paired", "accuracy_a", "accuracy_b",
                                 "a_only_correct", "b_only_correct", "p_value", "significant"]
    assert list(zip(out["model_a"], out["model_b"])) == [("A", "B"), ("A", "C"), ("B", "C")]
    ab = out.iloc[0]
    assert ab["n_paired"] == 9
    assert ab["accuracy_a"] == pytest.approx(7 / 9)
    assert ab["accuracy_b"] == pytest.approx(2 / 9)
    assert ab["a_only_correct"] == 6
    assert ab["b_only_correct"] == 1
    assert ab["p_value"] == pytest.approx(0.125)
    assert not ab["significant"]
    ac = out.iloc[1]
    assert ac["n_paired"] == 3
    assert (ac["a_only_correct"], ac["b_only_correct"]) == (0, 0)
    assert ac["p_value"] == 1.0
    bc = out.iloc[2]
    # B on q1-q3: right, wrong, wrong; C all right -> b = 0, c = 2, p = 2 * 1/4 = 0.5
    assert (bc["a_only_correct"], bc["b_only_correct"]) == (0, 2)
    assert bc["p_value"] == pytest.approx(0.5)


def test_pairwise_significance_alpha():
    out = pairwise_significance(_pairwise_details(), alpha=0.2)
    assert bool(out.iloc[0]["significant"]) is True   # 0.125 < 0.2
    assert bool(out.iloc[2]["significant"]) is False  # 0.5


# --------------------------------------------------------------------------- Pareto


def test_pareto_three_models():
    # A cheap and weak, B costlier and best, C costliest and worse than B -> C dominated by B
    results = pd.DataFrame({"model": ["A", "B", "C"], "energy_wh": [1.0, 2.0, 3.0],
                            "accuracy": [0.5, 0.8, 0.7]}, index=[10, 11, 12])
    front = pareto_frontier(results)
    assert front.dtype == bool
    assert list(front.index) == [10, 11, 12]
    assert front.tolist() == [True, True, False]


def test_pareto_weak_dominance_ties_and_nan():
    results = pd.DataFrame({
        "model": ["A", "A2", "B", "D", "E", "N"],
        "energy_wh": [1.0, 1.0, 2.0, 2.0, 0.5, 0.1],
        "accuracy": [0.5, 0.5, 0.8, 0.6, 0.5, float("nan")],
    })
    # A and A2 identical -> but E (0.5 Wh, 0.5) has less energy and equal accuracy -> dominates both.
    # D: same energy as B, lower accuracy -> dominated. N: NaN accuracy -> never on the frontier.
    assert pareto_frontier(results).tolist() == [False, False, True, False, True, False]
    # Identical points do not dominate each other.
    twins = pd.DataFrame({"energy_wh": [1.0, 1.0], "accuracy": [0.5, 0.5]})
    assert pareto_frontier(twins).tolist() == [True, True]


def test_pareto_custom_columns():
    results = pd.DataFrame({"co2_g": [5.0, 1.0], "score": [0.9, 0.9]})
    assert pareto_frontier(results, x="co2_g", y="score").tolist() == [False, True]


# --------------------------------------------------------------------------- PER


def test_per_three_models():
    results = pd.DataFrame({
        "model": ["A", "B", "C"],
        "accuracy": [0.9, 0.6, 0.7],
        "tokens_per_s": [20.0, 60.0, 40.0],
        "peak_memory_mb": [8000.0, 2000.0, 4000.0],
        "latency_p50_s": [2.0, 0.5, 1.0],
    }, index=["a", "b", "c"])
    # Normalised factors (lower-is-better inverted, floor 0.01):
    #   accuracy  [.6, .9]:   A 1,    B 0->.01, C 1/3
    #   tok/s     [20, 60]:   A 0->.01, B 1,    C 0.5
    #   memory    [2000,8000] A 1-1=0->.01, B 1, C 1-2000/6000 = 2/3
    #   latency   [.5, 2]:    A 0->.01, B 1,    C 1-0.5/1.5 = 2/3
    # PER A = (1 * .01^3)^(1/4) = 0.0316228
    # PER B = (.01 * 1 * 1 * 1)^(1/4) = 0.3162278
    # PER C = (1/3 * 1/2 * 2/3 * 2/3)^(1/4) = (2/27)^(1/4) = 0.5216949
    per, bounds = performance_efficiency_ratio(results)
    assert list(per.index) == ["a", "b", "c"]
    assert per["a"] == pytest.approx(0.0316228, abs=1e-6)
    assert per["b"] == pytest.approx(0.3162278, abs=1e-6)
    assert per["c"] == pytest.approx(0.5216949, abs=1e-6)
    assert bounds == {
        "accuracy": {"min": 0.6, "max": 0.9, "higher_is_better": True},
        "tokens_per_s": {"min": 20.0, "max": 60.0, "higher_is_better": True},
        "peak_memory_mb": {"min": 2000.0, "max": 8000.0, "higher_is_better": False},
        "latency_p50_s": {"min": 0.5, "max": 2.0, "higher_is_better": False},
    }


def test_per_constant_metric_and_missing_row():
    results = pd.DataFrame({
        "accuracy": [0.8, 0.8, 0.5],
        "tokens_per_s": [10.0, 30.0, 99.0],
        "peak_memory_mb": [1000.0, 1000.0, float("nan")],
        "latency_p50_s": [1.0, 3.0, 0.1],
    })
    # Row 2 lacks memory -> NaN PER and excluded from the bounds.
    # Over rows 0-1: accuracy and memory are constant -> 1.0 for both.
    #   row 0: tok/s 0->.01, latency 1 -> PER = (1 * .01 * 1 * 1)^(1/4) = 0.3162278
    #   row 1: tok/s 1, latency 0->.01   -> PER = 0.3162278
    per, bounds = performance_efficiency_ratio(results)
    assert per[0] == pytest.approx(0.3162278, abs=1e-6)
    assert per[1] == pytest.approx(0.3162278, abs=1e-6)
    assert math.isnan(per[2])
    assert bounds["tokens_per_s"]["max"] == 30.0
    assert bounds["latency_p50_s"]["min"] == 1.0


# --------------------------------------------------------------------------- serving


def test_serving_figures():
    details = pd.DataFrame([
        _row("m1", "q1", 1.0, latency_s=1.0, output_tokens=10, energy_wh=0.5),
        _row("m1", "q2", 1.0, latency_s=2.0, output_tokens=20, energy_wh=0.5),
        _row("m1", "q3", 0.0, latency_s=3.0, output_tokens=30, energy_wh=0.5),
        _row("m1", "q4", float("nan"), status="unparsed", latency_s=4.0, output_tokens=40, energy_wh=0.5),
        _row("m2", "q1", 1.0, latency_s=5.0, output_tokens=5, energy_wh=0.0),
    ])
    out = serving_figures(details).set_index("candidate")
    m1 = out.loc["m1"]
    assert m1["tokens_per_s"] == pytest.approx(10.0)      # 100 tokens / 10 s
    assert m1["latency_p50_s"] == pytest.approx(2.5)      # median of 1, 2, 3, 4
    assert m1["latency_p95_s"] == pytest.approx(3.85)     # 1 + 0.95 * 3 (linear)
    assert m1["energy_per_query_wh"] == pytest.approx(0.5)  # 2.0 Wh / 4 rows
    assert m1["accuracy"] == pytest.approx(2 / 3)         # judged rows only
    assert m1["accuracy_per_wh"] == pytest.approx(1 / 3)  # (2/3) / 2.0 Wh
    m2 = out.loc["m2"]
    assert m2["tokens_per_s"] == pytest.approx(1.0)
    assert m2["latency_p95_s"] == pytest.approx(5.0)
    assert math.isnan(m2["accuracy_per_wh"])              # zero energy


# --------------------------------------------------------------------------- projection


def test_project_one_million_queries():
    results = pd.DataFrame({"model": ["m1", "m2"], "questions": [50, 0], "energy_wh": [10.0, 1.0],
                            "co2_g": [4.0, 1.0], "duration_s": [100.0, 1.0]})
    out = project(results)
    # m1 per query: 0.2 Wh, 0.08 g, 2 s; x 1e6 -> 200 kWh, 80 kg, 2e6 s = 555.56 h
    assert out.loc[0, "model"] == "m1"
    assert out.loc[0, "energy_kwh"] == pytest.approx(200.0)
    assert out.loc[0, "co2_kg"] == pytest.approx(80.0)
    assert out.loc[0, "hours"] == pytest.approx(555.5556, abs=1e-4)
    assert math.isnan(out.loc[1, "energy_kwh"])  # no questions -> no projection


def test_project_custom_volume():
    results = pd.DataFrame({"model": ["m1"], "questions": [4], "energy_wh": [2.0],
                            "co2_g": [1.0], "duration_s": [36.0]})
    out = project(results, volume=1000)
    # per query 0.5 Wh, 0.25 g, 9 s; x 1000 -> 0.5 kWh, 0.25 kg, 2.5 h
    assert out.loc[0, "energy_kwh"] == pytest.approx(0.5)
    assert out.loc[0, "co2_kg"] == pytest.approx(0.25)
    assert out.loc[0, "hours"] == pytest.approx(2.5)


def test_project_uses_the_per_query_figures_when_given():
    """The report's per-query figures rest on the answers with energy (3 of 4 here), for energy and CO2 alike."""
    results = pd.DataFrame({"model": ["m1"], "questions": [4], "energy_wh": [0.3], "co2_g": [0.03],
                            "duration_s": [30.0], "energy_per_query_wh": [0.1], "co2_per_query_g": [0.01],
                            "seconds_per_query": [10.0]})
    out = project(results, volume=1000)
    # 0.1 Wh, 0.01 g, 10 s per query x 1000 -> 0.1 kWh, 0.01 kg, 2.7778 h (not 0.0075 kg from 0.03 g / 4)
    assert out.loc[0, "energy_kwh"] == pytest.approx(0.1)
    assert out.loc[0, "co2_kg"] == pytest.approx(0.01)
    assert out.loc[0, "hours"] == pytest.approx(10.0 * 1000 / 3600)


# --------------------------------------------------------------------------- breakdowns


@pytest.mark.parametrize("d, band", [
    (1, "easy (1-3)"), (3, "easy (1-3)"), (4, "medium (4-7)"), (7, "medium (4-7)"),
    (8, "hard (8-10)"), (10, "hard (8-10)"), (0, "unknown"), (11, "unknown"),
    (float("nan"), "unknown"), (None, "unknown"),
])
def test_difficulty_band(d, band):
    assert difficulty_band(d) == band


def test_accuracy_breakdown():
    details = pd.DataFrame([
        _row("m1", "q1", 1.0, kind="single_hop", estimated_difficulty=2),
        _row("m1", "q2", 0.0, kind="single_hop", estimated_difficulty=5),
        _row("m1", "q3", 1.0, kind="multi_hop", estimated_difficulty=9),
        _row("m1", "q4", float("nan"), status="unparsed", kind="multi_hop", estimated_difficulty=9),
        _row("m0", "q1", 0.0, kind="single_hop", estimated_difficulty=2),
        # only status "judged" counts, even if a verdict is present
        _row("m0", "q2", 1.0, status="error", kind="single_hop", estimated_difficulty=2),
    ])
    out = accuracy_breakdown(details, "kind")
    assert list(out.columns) == ["candidate", "kind", "accuracy", "count"]
    # m1 appears first; groups sorted
    assert out.values.tolist() == [
        ["m1", "multi_hop", 1.0, 1],
        ["m1", "single_hop", 0.5, 2],
        ["m0", "single_hop", 0.0, 1],
    ]
    bands = accuracy_breakdown(details, "difficulty_band")
    assert bands.values.tolist() == [
        ["m1", "easy (1-3)", 1.0, 1],
        ["m1", "hard (8-10)", 1.0, 1],
        ["m1", "medium (4-7)", 0.0, 1],
        ["m0", "easy (1-3)", 0.0, 1],
    ]


# --------------------------------------------------------------------------- judge agreement


def test_kappa_and_agreement_hand_example():
    a = [1, 1, 1, 1, 0, 0, 0, 0, 1, 0]
    b = [1, 1, 1, 0, 0, 0, 1, 0, 1, 1]
    # agree 7/10; P(a=1) = .5, P(b=1) = .6; p_e = .5*.6 + .5*.4 = .5; kappa = (.7 - .5) / .5 = .4
    assert percent_agreement(a, b) == pytest.approx(0.7)
    assert cohen_kappa(a, b) == pytest.approx(0.4)


def test_kappa_unbalanced():
    a = [1, 1, 1, 1, 1, 1, 1, 0]
    b = [1, 1, 1, 1, 1, 1, 0, 0]
    # p_o = 7/8; p_e = 7/8*6/8 + 1/8*2/8 = 44/64 = .6875; kappa = (.875 - .6875) / .3125 = .6
    assert cohen_kappa(a, b) == pytest.approx(0.6)
    assert cohen_kappa([True, False], [1, 0]) == pytest.approx(1.0)


def test_kappa_degenerate():
    assert cohen_kappa([1, 1, 1], [1, 1, 1]) == 1.0   # p_e = 1, p_o = 1
    assert cohen_kappa([1, 0, 1, 0], [1, 0, 1, 0]) == pytest.approx(1.0)
    assert cohen_kappa([1, 0], [0, 1]) == pytest.approx(-1.0)  # p_o = 0, p_e = .5
    with pytest.raises(ValueError):
        cohen_kappa([1, 0], [1])


def test_judge_calibration_accuracy():
    labels = [True, True, False, False, True]
    verdicts = [True, False, False, None, 1]
    # parsed: 4, agree: items 0, 2, 4 -> 3/4
    assert judge_calibration_accuracy(labels, verdicts) == {
        "items": 5, "agree": 3, "accuracy": 0.75, "unparsed": 1}
    empty = judge_calibration_accuracy([True], [None])
    assert empty["items"] == 1 and empty["unparsed"] == 1 and empty["agree"] == 0
    assert math.isnan(empty["accuracy"])



# --------------------------------------------------------------------------- judge-corrected accuracy


def test_judge_error_rates_by_hand():
    from pipeline.measure.stats import judge_error_rates

    labels = [1, 1, 1, 1, 0, 0, 0, 0, 1, 0]
    verdicts = [1, 1, 1, 0, 0, 0, 1, 1, None, 0]
    rates = judge_error_rates(labels, verdicts)
    assert (rates["tp"], rates["fn"], rates["tn"], rates["fp"]) == (3, 1, 3, 2)
    assert rates["sensitivity"] == pytest.approx(3 / 4) and rates["specificity"] == pytest.approx(3 / 5)
    assert rates["unparsed"] == 1 and rates["accuracy"] == pytest.approx(6 / 9)
    # kappa: p_o = 6/9; p_e = (5/9)(4/9) + (4/9)(5/9) = 40/81 -> (54/81 - 40/81) / (41/81) = 14/41
    assert rates["kappa"] == pytest.approx(14 / 41)


def test_rogan_gladen_point_estimate_and_adjusted_wald_interval_by_hand():
    from pipeline.measure.correction import corrected_accuracy

    rates = {"sensitivity": 0.9, "specificity": 0.8, "positives": 50, "negatives": 50}  # tp 45, tn 40
    found = corrected_accuracy(60, 100, rates)
    assert found["accuracy"] == pytest.approx(0.4 / 0.7)  # (0.6 + 0.8 - 1) / (0.9 + 0.8 - 1)
    assert found["observed"] == pytest.approx(0.6) and found["reason"] == ""
    # Lang & Reiczigel: z^2 = 3.841459; p' = 61.920730 / 103.841459 = 0.596300;
    # q1' = 46 / 52 = 0.884615, q0' = 41 / 52 = 0.788462, J' = 0.673077;
    # theta' = (0.596300 + 0.788462 - 1) / 0.673077 = 0.571647;
    # var(q1') = 0.884615 * 0.115385 / 52 = 0.00196290, var(q0') = 0.788462 * 0.211538 / 52 = 0.00320750;
    # se = sqrt(0.596300 * 0.403700 / 103.841459 + 0.571647^2 * 0.00196290 + 0.428353^2 * 0.00320750) / J'
    #    = sqrt(0.00231821 + 0.00064144 + 0.00058853) / 0.673077 = 0.0595666 / 0.673077 = 0.0884989;
    # d = 2 * 3.841459 * (0.571647 * 0.00196290 - 0.428353 * 0.00320750) = 7.682918 * -0.00025186 = -0.0019350;
    # interval = 0.569712 -/+ 1.959964 * 0.0884989 = 0.569712 -/+ 0.173455
    assert found["ci_low"] == pytest.approx(0.396257, abs=1e-5)
    assert found["ci_high"] == pytest.approx(0.743167, abs=1e-5)


# The calibration set of the README: 33 correct items, 31 accepted; 33 wrong items, 23 rejected.
README_JUDGE = {"sensitivity": 31 / 33, "specificity": 23 / 33, "positives": 33, "negatives": 33}


def test_corrected_interval_for_8_of_8_is_wider_than_the_verdicts_interval():
    from pipeline.measure.correction import corrected_accuracy

    found = corrected_accuracy(8, 8, README_JUDGE)
    # theta = (1 + 23/33 - 1) / (31/33 + 23/33 - 1) = 23 / 21 -> clipped to 1.
    # p' = 9.920730 / 11.841459 = 0.837796; q1' = 32/35, q0' = 24/35, J' = 0.6;
    # theta' = (0.837796 + 0.685714 - 1) / 0.6 = 0.872517;
    # se = sqrt(0.135894 / 11.841459 + 0.761286 * 0.00223907 + 0.016252 * 0.00615743) / 0.6
    #    = sqrt(0.0114760 + 0.0017046 + 0.0001001) / 0.6 = 0.192070;
    # d = 7.682918 * (0.872517 * 0.00223907 - 0.127483 * 0.00615743) = 0.0089784;
    # low = 0.881495 - 1.959964 * 0.192070 = 0.505046; high = 1.2579 -> 1.
    assert found["accuracy"] == 1.0
    assert found["ci_low"] == pytest.approx(0.505046, abs=1e-5)
    assert found["ci_high"] == 1.0
    assert found["ci_low"] < wilson_interval(8, 8)[0]  # 67.6%: the corrected interval is the wider one


def test_corrected_interval_for_0_of_8():
    from pipeline.measure.correction import corrected_accuracy

    found = corrected_accuracy(0, 8, README_JUDGE)
    # theta = (0 + 23/33 - 1) / (21/33) -> -0.476 -> clipped to 0.
    # p' = 1.920730 / 11.841459 = 0.162204; theta' = (0.162204 + 0.685714 - 1) / 0.6 = -0.253470;
    # se = sqrt(0.0114760 + 0.064247 * 0.00223907 + 1.571187 * 0.00615743) / 0.6 = 0.243210;
    # d = 7.682918 * (-0.253470 * 0.00223907 - 1.253470 * 0.00615743) = -0.063658;
    # high = -0.317128 + 1.959964 * 0.243210 = 0.159555; low < 0 -> 0.
    assert (found["accuracy"], found["ci_low"]) == (0.0, 0.0)
    assert found["ci_high"] == pytest.approx(0.159555, abs=1e-5)


def test_counts_in_rates_take_precedence_and_agree_with_the_rates():
    from pipeline.measure.correction import corrected_accuracy

    counts = {"tp": 31, "fn": 2, "tn": 23, "fp": 10}
    assert corrected_accuracy(6, 8, counts) == corrected_accuracy(6, 8, README_JUDGE)
    assert corrected_accuracy(6, 8, {**README_JUDGE, **counts, "sensitivity": 0.5}) == corrected_accuracy(
        6, 8, README_JUDGE)


def test_judge_youden_newcombe_interval_by_hand():
    from pipeline.measure.correction import judge_youden

    found = judge_youden(README_JUDGE)
    # J = 31/33 - 10/33 = 0.636364. Wilson: 31/33 -> [0.803938, 0.983219], 10/33 -> [0.173755, 0.473381].
    # low = 0.636364 - sqrt((0.939394 - 0.803938)^2 + (0.473381 - 0.303030)^2) = 0.636364 - 0.217641
    # high = 0.636364 + sqrt((0.983219 - 0.939394)^2 + (0.303030 - 0.173755)^2) = 0.636364 + 0.136501
    assert found["youden"] == pytest.approx(21 / 33)
    assert found["ci_low"] == pytest.approx(0.418722, abs=1e-5)
    assert found["ci_high"] == pytest.approx(0.772865, abs=1e-5)
    assert found["supports_correction"] is True


def test_a_judge_whose_youden_index_is_not_clearly_above_zero_cannot_support_a_correction():
    from pipeline.measure.correction import corrected_accuracy, judge_youden

    # Better than chance on 5 + 5 items (J = 0.8 + 0.6 - 1 = 0.4), but not clearly: Wilson 4/5 -> [0.3755, 0.9638],
    # 2/5 -> [0.1176, 0.7693]; low = 0.4 - sqrt(0.4245^2 + 0.3693^2) = -0.1626.
    small_set = {"tp": 4, "fn": 1, "tn": 3, "fp": 2}
    assert judge_youden(small_set)["ci_low"] == pytest.approx(-0.1626, abs=1e-4)
    assert judge_youden(small_set)["supports_correction"] is False
    found = corrected_accuracy(6, 8, small_set)
    assert math.isnan(found["accuracy"]) and math.isnan(found["ci_low"]) and math.isnan(found["ci_high"])
    assert found["observed"] == 0.75
    assert "cannot support a correction" in found["reason"] and "0.40" in found["reason"] and "-0.16" in found["reason"]
    worse_than_chance = corrected_accuracy(5, 10, {"sensitivity": 0.6, "specificity": 0.4, "positives": 5,
                                                   "negatives": 5})
    assert math.isnan(worse_than_chance["accuracy"]) and "cannot support" in worse_than_chance["reason"]
    assert "lacks" in corrected_accuracy(5, 10, {"sensitivity": 0.9, "specificity": float("nan"), "positives": 5,
                                                 "negatives": 0})["reason"]


@pytest.mark.parametrize("positives, negatives, sensitivity, specificity", [
    (33, 33, 0.94, 0.70),  # the README's calibration set and judge
    (60, 80, 0.85, 0.85),  # a calibration set pooled with a document's control answers
])
def test_corrected_interval_covers_the_true_accuracy_at_small_question_counts(positives, negatives, sensitivity,
                                                                               specificity):
    """Monte Carlo: draw a calibration set and a run's verdicts from a judge of known error rates, as
    ``aggregation.corrected`` passes them; the 95% interval must hold the true accuracy >= 93% of the time
    at every point of the grid. (The Wald interval it replaced covered 81% at 8 questions and 0.85.)"""
    import numpy as np

    from pipeline.measure.correction import corrected_accuracy

    rng = np.random.default_rng(2024)
    draws = 10_000
    found = {}
    for questions in (8, 24, 60):
        for truth in (0.5, 0.6, 0.7, 0.85):
            accepted = truth * sensitivity + (1 - truth) * (1 - specificity)
            outcomes = zip(rng.binomial(questions, accepted, draws), rng.binomial(positives, sensitivity, draws),
                           rng.binomial(negatives, specificity, draws))
            covered = 0
            for outcome, times in Counter(outcomes).items():  # the interval depends on the counts alone
                correct, tp, tn = (int(v) for v in outcome)
                rates = {"sensitivity": tp / positives, "specificity": tn / negatives, "positives": positives,
                         "negatives": negatives}
                interval = corrected_accuracy(correct, questions, rates)
                covered += times * bool(interval["ci_low"] <= truth <= interval["ci_high"])  # NaN: a miss
            found[(questions, truth)] = covered / draws
    assert min(found.values()) >= 0.93, found


@pytest.mark.parametrize("sensitivity, specificity", [(0.95, 0.6), (0.7, 0.97)])
def test_corrected_accuracy_recovers_the_truth_that_a_biased_judge_hides(sensitivity, specificity):
    """Fake judges of known error rates grade a synthetic answer set whose true accuracy is 0.5."""
    import random

    from pipeline.measure.correction import corrected_accuracy
    from pipeline.measure.stats import judge_error_rates, wilson_interval

    rng = random.Random(7)

    def judge(truth: bool) -> bool:
        return rng.random() < sensitivity if truth else rng.random() >= specificity

    calibration_truth = [True] * 300 + [False] * 300
    rates = judge_error_rates(calibration_truth, [judge(t) for t in calibration_truth])
    answers = [i % 2 == 0 for i in range(3000)]  # true accuracy 0.5
    called_correct = sum(judge(t) for t in answers)
    found = corrected_accuracy(called_correct, len(answers), rates)
    low, high = wilson_interval(called_correct, len(answers))
    assert found["ci_low"] <= 0.5 <= found["ci_high"]
    assert not low <= 0.5 <= high  # the judged accuracy alone is biased away from the truth


def test_two_corrected_accuracies_are_compared_on_their_own_standard_errors_at_the_given_alpha():
    """Issue 33, 12: interval_difference took a clipped interval's half-width for the standard error (an interval
    clipped at 100% understates it) and ignored its alpha (z was always 1.96)."""
    from scipy.stats import norm

    from pipeline.measure.correction import interval_difference
    from pipeline.report.decision import corrected_pairs

    found = interval_difference((0.97, 0.06), (0.80, 0.05), alpha=0.05)
    se = math.hypot(0.06, 0.05)
    assert found["se"] == pytest.approx(se) and found["difference"] == pytest.approx(0.17)
    assert found["p_value"] == pytest.approx(2 * norm.sf(0.17 / se))  # 0.029
    assert found["significant"] and not interval_difference((0.97, 0.06), (0.80, 0.05), alpha=0.01)["significant"]
    # the report's pairs: A's interval 88-100% is clipped at 100% (its own se 0.06); read as a half-width it said
    # p = 0.004, significant at alpha 0.01
    results = pd.DataFrame({"model": ["A", "B"], "corrected_accuracy": [0.97, 0.80], "corrected_se": [0.06, 0.05],
                            "corrected_ci_low": [0.88, 0.70], "corrected_ci_high": [1.0, 0.90]})
    pair = corrected_pairs(results, alpha=0.01).iloc[0]
    assert pair["p_value"] == pytest.approx(found["p_value"]) and not pair["significant"]
    assert corrected_pairs(results, alpha=0.05).iloc[0]["significant"]


def test_corrected_accuracy_gives_its_standard_error():
    from pipeline.measure.correction import corrected_accuracy

    found = corrected_accuracy(18, 24, {"tp": 40, "fn": 4, "tn": 30, "fp": 8})
    # its interval is the centre -/+ z se unless clipped
    assert found["se"] > 0 and found["ci_high"] - found["ci_low"] == pytest.approx(2 * 1.959964 * found["se"], rel=0.05)
