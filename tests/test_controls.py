"""Control answers: built from the run's questions, true or false by construction."""

import pandas as pd
import pytest

from pipeline import language
from pipeline.verdicts import controls


def _questions() -> pd.DataFrame:
    return pd.DataFrame({
        "question_id": ["q1", "q2", "q3", "q4"],
        "question": ["What was the highest daily rainfall?", "Where was it recorded?",
                     "What cut the electricity bill?", "Why did the lake level fall?"],
        "gold": ["48 millimetres", "It was recorded at Corvo.", "The solar farm at Bexley", "A dry summer"],
        "chunk_text": ["The highest daily rainfall, 48 millimetres, was recorded at Corvo.",
                       "The highest daily rainfall, 48 millimetres, was recorded at Corvo.",
                       "The solar farm at Bexley cut the bill by 22 percent, said the Arlen office.",
                       "A dry summer lowered the lake."],
    })


def test_positive_controls_keep_the_fact():
    assert controls.reworded("48 millimetres", "en") == "forty-eight millimetres"
    assert controls.reworded("48 millimètres", "fr") == "quarante-huit millimètres"
    # years and decimals stay as they are; with nothing to write out, a neutral preamble
    assert controls.numbers_in_words("in 2025, 301.4 metres", "en") is None
    assert controls.reworded("Smart meters", "en") == "According to the document, smart meters"
    assert controls.reworded("Des compteurs", "fr") == "D'après le document, des compteurs"


def test_negative_controls_change_the_fact():
    assert controls.changed_number("48 millimetres") == "72 millimetres"
    assert controls.changed_number("301.4 metres") == "452.1 metres"
    assert controls.changed_number("3,2 millions d'euros") == "4,8 millions d'euros"
    assert controls.changed_number("from 1991 to 2020") == "from 1994 to 2020"
    assert controls.changed_number("2 fines") == "5 fines"
    assert controls.changed_number("No number") is None
    assert controls.changed_name("It was recorded at Corvo.", ["Corvo", "Bexley"]) == "It was recorded at Bexley."
    assert controls.changed_name("Smart meters", ["Bexley"]) is None  # no name to swap


def test_every_question_gets_one_positive_and_negatives_of_kinds_in_turn():
    built = controls.build(_questions(), per_question=3)
    assert len(built) == 12 and built["control_id"].is_unique
    per_question = built.groupby("question_id")
    assert (per_question["correct"].sum() == 1).all() and (per_question.size() == 3).all()
    negatives = built[~built["correct"]]
    assert set(negatives["control"]) <= set(controls.NEGATIVE) and negatives["control"].nunique() >= 3
    for row in built.itertuples():
        gold = _questions().set_index("question_id").loc[row.question_id, "gold"]
        assert row.prediction != gold  # a verbatim gold would test nothing
        if row.control == "neighbouring question's answer":  # q1 and q2 share an excerpt
            assert {row.question_id} <= {"q1", "q2"}
        if row.control == "another question's answer":
            assert row.prediction in set(_questions()["gold"]) - {gold}
    assert controls.build(_questions(), per_question=0).empty
    # deterministic: the same questions give the same controls
    assert controls.build(_questions()).equals(built)


def test_controls_follow_the_document_language():
    french = _questions().assign(language="fr")
    refusals = controls.build(french, per_question=5).query("control == 'refusal'")["prediction"]
    assert set(refusals) == {"L'extrait ne donne pas cette information."}


def test_rates_by_kind():
    graded = pd.DataFrame({"control": ["gold reworded", "gold reworded", "refusal", "changed fact"],
                           "correct": [True, True, False, False], "verdict": [1, 0, 0, 1]})
    found = controls.rates(graded)
    assert found["sensitivity"] == 0.5 and found["specificity"] == 0.5
    assert found["by_kind"]["refusal"] == {"right": 1, "graded": 1, "correct": False, "rule_settled": 0,
                                           "rule_right": 0}
    assert list(found["by_kind"]) == ["gold reworded", "changed fact", "refusal"]


def test_the_gate_counts_the_controls_the_judge_graded_and_shows_the_rules_apart():
    """Issue 33, 9: controls a rule settled were pooled into the gate's rates. On the sample 29 of 48 were settled by
    rule and the judge saw 11 of the 24 wrong ones: a judge accepting 4 of those 11 (36%) passed the 20% gate at 4 of
    24. It fails now, the rule-settled ones are shown apart, and a judge too few controls reached is not passed."""
    from pipeline.config import Controls
    from pipeline.report import trust

    wrong = [False] * 24
    verdicts = [1] * 4 + [0] * 7 + [0] * 13  # 11 wrong ones reached the judge, which accepted 4; 13 settled by rule
    by = ["judge"] * 11 + ["rule"] * 13
    right = [True] * 24
    graded = pd.DataFrame({"control": ["changed fact"] * 24 + ["gold reworded"] * 24, "correct": wrong + right,
                           "verdict": verdicts + [1] * 24, "graded_by": by + ["judge"] * 8 + ["figure rule"] * 16})
    found = controls.rates(graded)
    assert (found["negatives"], found["fp"], found["positives"], found["rule_settled"]) == (11, 4, 8, 29)
    assert found["by_kind"]["changed fact"] == {"right": 7, "graded": 11, "correct": False, "rule_settled": 13,
                                                "rule_right": 13}
    why = trust.cannot_pick(found, Controls())
    assert why is not None and "accepted 4 of 11 known-wrong ones" in why
    assert "29 more were settled by rule" in trust.controls_line(found, 2)
    # a judge that only 3 wrong controls reached is not passed, however it graded them
    few = controls.rates(graded.assign(graded_by=["judge"] * 3 + ["rule"] * 21 + ["judge"] * 24,
                                       verdict=[0] * 24 + [1] * 24))
    assert few["negatives"] == 3 and few["fp"] == 0
    why = trust.cannot_pick(few, Controls())
    assert why is not None and why.startswith("only 3 wrong control answers reached the judge")
    assert trust.cannot_pick(few, Controls(min_judged=3)) is None


@pytest.mark.parametrize("text, code", [
    ("Le bassin du lac Varenne reçoit moins de pluie que prévu, et les réserves baissent.", "fr"),
    ("The Lake Varenne basin received less rain than expected, and reserves are falling.", "en"),
    ("Das Einzugsgebiet des Sees erhielt weniger Regen als erwartet, und die Reserven sinken.", "de"),
    ("", "en"),
])
def test_language_is_detected_from_the_text(text, code):
    assert language.detect(text) == code
    assert language.detect(text * 5) == code  # the same answer every time


def test_localized_prompt_files(tmp_path):
    english = tmp_path / "prompt.txt"
    english.write_text("en")
    assert language.localized(english, "fr") == english  # no French file: the English one
    (tmp_path / "prompt.fr.txt").write_text("fr")
    assert language.localized(english, "fr") == tmp_path / "prompt.fr.txt"
    assert language.name("fr") == "French" and language.name("xx") == "xx"


def test_more_questions_keep_every_control_answer_made_before():
    """A higher target appends questions (validation keeps the earlier ones, in order): the earlier questions'
    controls do not change, so none is graded again."""
    questions = _questions()
    fewer, more = controls.build(questions.iloc[:2]), controls.build(questions)
    assert set(fewer["control_id"]) <= set(more["control_id"])
    assert set(more["control_id"]) - set(fewer["control_id"]) == \
        set(more[more["question_id"].isin(["q3", "q4"])]["control_id"])


def test_thousands_separators_of_every_language_are_one_number():
    """Issue 26: "3 000 ménages" is three thousand, not three (and "000")."""
    assert controls.reworded("3 000 ménages", "fr") == "trois mille ménages"
    assert controls.reworded("3\u202f000 ménages", "fr") == "trois mille ménages"  # narrow no-break space
    assert controls.reworded("3,000 households", "en") == "three thousand households"
    assert controls.reworded("3.000 Haushalte", "de") == "dreitausend Haushalte"
    assert controls.changed_number("3 000 ménages", "fr") == "4 500 ménages"  # the same grouping kept
    assert controls.changed_number("1,234,567 people", "en") == "1,851,850 people"
    assert controls.changed_number("12,5 %", "fr") == "18,8 %"


def test_negative_kinds_that_real_answers_show():
    excerpt = "Rainfall at Corvo was 812 mm in 2025, against 146 mm in the dry year 2022."
    assert controls.neighbouring_figure("812 mm", excerpt) == "146 mm"  # another figure of the same excerpt
    assert controls.neighbouring_figure("in 2025", excerpt) == "in 2022"  # a year for a year
    assert controls.neighbouring_figure("812 mm", "Only 812 mm.") is None
    assert controls.wrong_unit("812 mm") == "812 cm"
    assert controls.wrong_unit("4.8 million euros") == "4.8 billion euros"
    assert controls.wrong_unit("in 2025") is None
    assert controls.partial_answer("Bexley, Ormond and Corvo") == "Bexley"
    assert controls.partial_answer("3,000 households") is None  # a number, not a list
    assert controls.echo("What is the average rainfall for the basin?") == "The average rainfall for the basin."
    assert controls.echo("Quel est le budget de l'agence ?") == "Le budget de l'agence."


def test_an_invented_claim_is_right_on_the_key_fact_and_not_faithful():
    many = pd.concat([_questions().assign(question_id=lambda df, k=k: df["question_id"] + f"-{k}") for k in range(3)])
    built = controls.build(many, per_question=7)  # one question in three gets the invented claim as its positive
    claims = built[built["control"] == "invented claim"]
    assert len(claims) and claims["correct"].all() and not claims["faithful"].any()
    assert (built.loc[built["control"] == "gold reworded", "faithful"]).all()
    kinds = set(built["control"])
    assert {"wrong unit", "echo of the question", "unknown"} <= kinds  # no excerpt here has a second figure
