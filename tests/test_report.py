"""Aggregation and plot: the table is a pure function of the per-question details."""

import pandas as pd
import pytest

from pipeline.report.aggregation import HELD_OUT_COLUMNS, aggregate
from pipeline.report.figures import bubble_plot
from pipeline.report.formatting import format_params, table_markdown
from pipeline.report.decision import significance_summary
from pipeline.report.report import breakdown_table, efficiency_table, projection_table


def tiny_details() -> pd.DataFrame:
    rows = []
    verdicts = {"small": [1, 0, None, 1], "big": [1, 1, 1, 0]}
    statuses = {"small": ["judged", "judged", "unparsed", "judged"], "big": ["judged"] * 4}
    for model, params in (("small", 0.135), ("big", 7.0)):
        for i in range(4):
            rows.append({
                "candidate": model, "question_id": f"q{i}", "params_b": params,
                "verdict": verdicts[model][i], "status": statuses[model][i],
                "duration_s": 1.5 if model == "small" else 6.0,
                "energy_wh": 0.01 if model == "small" else 0.2,
                "co2_kg": 1e-6, "input_tokens": 100, "output_tokens": 20,
                "latency_s": 1.5 if model == "small" else 6.0,
                "tdp_energy_wh": 0.02 if model == "small" else 0.3, "peak_memory_mb": 300.0 if model == "small" else 9000.0,
                "energy_method": "measured (RAPL)", "hardware": "cpu", "kind": "single_hop" if i < 2 else "multi_hop",
                "question_category": "factual", "difficulty_band": "easy (1-3)",
            })
    return pd.DataFrame(rows)


def test_aggregate_counts_unparsed_separately():
    results = aggregate(tiny_details()).set_index("model")
    small, big = results.loc["small"], results.loc["big"]
    assert small["accuracy"] == pytest.approx(2 / 3)  # 2 correct of 3 judged; the unparsed one is not a 0
    assert small["unparsed"] == 1 and small["judged"] == 3 and small["questions"] == 4
    assert big["accuracy"] == pytest.approx(0.75)
    assert small["energy_wh"] == pytest.approx(0.04)
    assert big["duration_s"] == pytest.approx(24.0)
    assert small["co2_g"] == pytest.approx(4e-3)


def test_table_has_the_study_columns():
    table = table_markdown(aggregate(tiny_details()))
    header = table.splitlines()[0]
    for column in ("Model", "# Params", "Duration (s)", "Accuracy", "Energy (Wh)", "Method", "CO2 (g)", "Questions"):
        assert column in header
    assert "| small | 135M |" in table and "66.7%" in table


def test_format_params():
    assert format_params(0.135) == "135M"
    assert format_params(235) == "235B"
    assert format_params(72.7) == "72.7B"


def test_bubble_plot_is_written(tmp_path):
    path = tmp_path / "bubble.png"
    bubble_plot(aggregate(tiny_details()), path, "test")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert not list(tmp_path.glob("*.tmp*"))


def test_efficiency_and_uncertainty_columns():
    results = aggregate(tiny_details()).set_index("model")
    assert results.loc["small", "accuracy_ci_low"] == pytest.approx(0.2077, abs=1e-3)  # Wilson, 2 of 3
    assert results.loc["small", "accuracy_ci_high"] == pytest.approx(0.9385, abs=1e-3)
    assert results.loc["small", "tokens_per_s"] == pytest.approx(80 / 6.0)
    assert results.loc["small", "tdp_energy_wh"] == pytest.approx(0.08)
    assert results["on_frontier"].all()  # small is cheaper, big is more accurate
    assert results.loc["big", "accuracy_per_wh"] == pytest.approx(0.75 / 0.8)
    efficiency = efficiency_table(results.reset_index())
    assert list(efficiency["Frontier"]) == ["yes", "yes"]


def test_significance_projection_and_breakdown_tables():
    details = tiny_details()
    results = aggregate(details)
    text, pairs = significance_summary(details, results, 0.05)
    assert "big" in text and "is not significantly" in text and len(pairs) == 1
    projected = projection_table(results, 1000)
    assert set(projected["Role"]) == {"most accurate", "most efficient on the frontier"}
    energy_col = [c for c in projected.columns if c.startswith("Energy for 1,000")][0]
    assert projected.set_index("Model").loc["big", energy_col] == "0.2"  # 0.8 Wh / 4 q * 1000 q = 200 Wh
    by_kind = breakdown_table(details, "kind").set_index("kind")
    assert by_kind.loc["single_hop", "small"] == "50.0% (2)"


def _calibrated(details: pd.DataFrame, sensitivity=0.9, specificity=0.8, items=30) -> pd.DataFrame:
    """The judge measured on ``items`` correct and ``items`` wrong held-out real answers of each model."""
    tp, tn = round(sensitivity * items), round(specificity * items)
    counts = {"tp": tp, "fn": items - tp, "tn": tn, "fp": items - tn}
    return details.assign(**{column: counts[key] for column, key in HELD_OUT_COLUMNS.items()})


def test_judge_corrected_accuracy_comes_from_the_details_and_is_in_the_table():
    results = aggregate(_calibrated(tiny_details())).set_index("model")
    # big: 3 of 4 judged correct; (0.75 + 0.8 - 1) / (0.9 + 0.8 - 1) = 0.55 / 0.7
    assert results.loc["big", "corrected_accuracy"] == pytest.approx(0.55 / 0.7)
    assert results.loc["big", "corrected_ci_low"] < 0.55 / 0.7 < results.loc["big", "corrected_ci_high"]
    assert "78.6% (" in table_markdown(results.reset_index())
    uncalibrated = aggregate(tiny_details())
    assert uncalibrated["corrected_accuracy"].isna().all()
    assert "| n/a |" in table_markdown(uncalibrated, ["Model", "Judge-corrected accuracy (95% CI)"])


def test_the_report_says_when_the_correction_changes_a_conclusion():
    from pipeline.report.decision import scale_effects

    # Each model is corrected with its own judge error rates: the judge was lenient on A's answers, so A
    # drops below the cheaper B, which becomes the most accurate and dominates A on the corrected frontier.
    results = pd.DataFrame({"model": ["A", "B"], "accuracy": [0.9, 0.8], "corrected_accuracy": [0.7, 0.85],
                            "energy_per_query_wh": [2.0, 1.0], "on_frontier": [True, True]})
    effects = scale_effects(results, "corrected_accuracy", "corrected")
    assert effects == ["The most accurate model changes: A as judged, B corrected.",
                       "The efficiency frontier changes for A (corrected)."]
    # with the same 30 + 30 held-out items for both, correcting the tiny run changes neither
    assert scale_effects(aggregate(_calibrated(tiny_details())), "corrected_accuracy", "corrected") == []
    assert scale_effects(aggregate(tiny_details()), "corrected_accuracy", "corrected") == []  # nothing to say


def test_answers_wrong_by_rule_are_counted_and_not_corrected_for_the_judge():
    details = _calibrated(tiny_details())
    details["graded_by"] = "judge"
    big_q3 = (details["candidate"] == "big") & (details["question_id"] == "q3")
    details.loc[big_q3, "graded_by"] = "rule"  # big's wrong answer was empty: wrong by rule
    results = aggregate(details).set_index("model")
    assert results.loc["big", "non_answers"] == 1 and results.loc["small", "non_answers"] == 0
    assert results.loc["big", "accuracy"] == pytest.approx(0.75)  # still 3 of 4
    # the judge graded 3 answers, all correct: Rogan-Gladen on 3/3 (clipped at 1), scaled to the 4 answers
    # (the fourth is wrong with certainty): 0.75, and the bounds scaled alike
    assert results.loc["big", "corrected_accuracy"] == pytest.approx(0.75)
    assert results.loc["big", "corrected_ci_high"] <= 0.75 + 1e-9


def test_questions_a_human_should_look_at_are_listed():
    from pipeline.report.report import review_sections

    details = tiny_details().assign(question="Q?", gold="G", prediction="P", lexical_f1=0.5, doubt="")
    details.loc[details["question_id"] == "q1", "verdict"] = 0  # q1: both candidates wrong
    sections = dict(review_sections(details))
    assert "- 1 failed by every candidate" in sections["Questions a human should look at"]
    assert len(sections["Look at: failed by every candidate"]) == 1
    assert "Look at: judge and lexical F1 disagree sharply" not in sections


def test_the_decision_card_picks_the_most_efficient_model_close_enough_to_the_best():
    from pipeline.report.decision import decision, judged

    results = aggregate(tiny_details())  # small: 2/3 correct, 0.04 Wh; big: 3/4 correct, 0.8 Wh
    pairs = _pair("small", "big", paired=3, a_only=1, b_only=1, p_value=1.0)  # q3 and q1; q2 unparsed
    strict = decision(results, judged(pairs), tolerance=0.05)  # small is 8.3 points below: outside the tolerance
    assert strict[0].startswith("Pick **big** (7B): accuracy 75.0%") and "most accurate model" in strict[1]
    loose = decision(results, judged(pairs), tolerance=0.10)
    assert loose[0].startswith("Pick **small** (135M): accuracy 66.7%")
    # per query: small 0.01 Wh, big 0.2 Wh (the totals, 0.04 and 0.8 Wh, rest on the same 4 answers here)
    assert "net energy 0.01 Wh per query over 4 of 4 answers" in loose[0]
    assert "8.3 points better" in loose[1] and "20× the energy" in loose[1] and "0.19 Wh more per query" in loose[1]
    # a significant difference rules the cheaper model out, whatever the tolerance
    assert decision(results, judged(pairs.assign(significant=True)), tolerance=0.10)[0].startswith("Pick **big**")



def _pair(a: str, b: str, paired: int, a_only: int, b_only: int, p_value: float, significant: bool = False):
    return pd.DataFrame({"model_a": [a], "model_b": [b], "n_paired": [paired], "a_only_correct": [a_only],
                         "b_only_correct": [b_only], "p_value": [p_value], "significant": [significant]})


def test_the_card_says_how_many_questions_would_tell_the_pick_from_the_best():
    from pipeline.report.decision import decision, judged

    results = aggregate(tiny_details())  # small: 66.7%, big: 75.0%: small is picked with a 10-point tolerance
    # Hand-made pair: of 10 questions, big alone right on 5, small alone on none: p = 2 / 2^5 = 0.0625.
    # At N questions D ~ Binomial(N, 1/2) discordant pairs, all big's; significant from D = 6 (2 / 2^6 < 0.05):
    # P(D >= 6) is 0.788 at N = 14 and 0.849 at N = 15 -> 15 questions.
    pairs = _pair("small", "big", paired=10, a_only=0, b_only=5, p_value=0.0625)
    card = decision(results, judged(pairs), tolerance=0.10, more_questions=lambda n: f"make report DOC=doc QUESTIONS={n}")
    assert card[0].startswith("Pick **small**") and len(card) == 3
    assert card[2].startswith("small cannot be told apart from big at 10 questions (small alone right on 0, "
                              "big alone on 5; exact McNemar p = 0.0625).")
    assert "15 questions in all would settle it (80% power, alpha 0.05)" in card[2]
    assert "`make report DOC=doc QUESTIONS=15` makes only the new ones." in card[2]
    # adding questions until the test says "different" is optional stopping: the card says what the second look needs
    assert card[2].endswith("count the difference as real only at p < 0.025 then (Bonferroni over the two looks).")
    # without a command, the count alone; the best picked: compared with the next most accurate model
    strict = decision(results, judged(pairs), tolerance=0.05)
    assert strict[0].startswith("Pick **big**")
    assert strict[2].startswith("big cannot be told apart from small at 10 questions (big alone right on 5, "
                                "small alone on 0")
    assert "15 questions in all would settle it (80% power, alpha 0.05). Testing again" in strict[2]


def test_the_card_says_when_no_question_count_would_settle_it():
    from pipeline.report.decision import decision, judged

    results = aggregate(tiny_details())
    each_way = decision(results, judged(_pair("small", "big", 3, 1, 1, 1.0)), tolerance=0.10, more_questions=str)
    assert "No number of questions would settle it on this evidence: each was right where the other was wrong " \
           "equally often." in each_way[2] and "`" not in each_way[2]
    never = decision(results, judged(_pair("small", "big", 3, 0, 0, 1.0)), tolerance=0.10)
    assert never[2].endswith("they were right and wrong on the same questions.")
    # 1 and 2 of 60 discordant: 1,493 questions at 80% power; over a limit of 1,000, the card says so
    from pipeline.report.decision import cannot_tell_apart

    far = cannot_tell_apart("big", "small", _pair("small", "big", 60, 1, 2, 1.0), 0.05, limit=1000)
    assert far[0].endswith("At these rates, more than 1,000 questions would be needed to settle it.")


def test_the_card_is_silent_when_the_difference_is_significant():
    from pipeline.report.decision import decision, judged

    results = aggregate(tiny_details())
    # big is picked (the best) and is significantly better than the next model: nothing to add
    card = decision(results, judged(_pair("big", "small", 20, 10, 0, 0.00195, significant=True)), tolerance=0.10)
    assert card[0].startswith("Pick **big**") and len(card) == 2
