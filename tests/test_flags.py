"""Questions a human should look at: failed by all, doubted but kept, judge and F1 far apart."""

import pandas as pd

from pipeline.report import flags


def _details():
    rows = []
    for model in ("a", "b"):
        rows += [
            {"candidate": model, "question_id": "q1", "question": "Q1?", "gold": "G1", "prediction": "x",
             "verdict": 0.0, "status": "judged", "lexical_f1": 0.0, "doubt": ""},
            {"candidate": model, "question_id": "q2", "question": "Q2?", "gold": "G2", "prediction": "G2 exactly",
             "verdict": 0.0 if model == "a" else 1.0, "status": "judged", "lexical_f1": 0.9,
             "doubt": "citation score 62, close to the threshold 60"},
            {"candidate": model, "question_id": "q3", "question": "Q3?", "gold": "G3", "prediction": "other",
             "verdict": 1.0 if model == "a" else None, "status": "judged" if model == "a" else "unparsed",
             "lexical_f1": 0.05, "doubt": ""},
        ]
    return pd.DataFrame(rows)


def test_questions_every_model_failed():
    found = flags.failed_by_all(_details())
    assert found["Question"].tolist() == ["Q1?"] and found["Models judged"].tolist() == [2]


def test_doubted_questions_are_listed_once():
    found = flags.doubted_but_kept(_details())
    assert found["Question"].tolist() == ["Q2?"] and "close to the threshold" in found["Why"].iloc[0]


def test_judge_and_f1_far_apart():
    found = flags.judge_vs_f1(_details())
    assert sorted(zip(found["Model"], found["Question"])) == [("a", "Q2?"), ("a", "Q3?")]
    assert set(found["Why"]) == {"judged wrong, F1 above 0.8", "judged correct, F1 below 0.1"}


def test_flagged_questions_are_those_on_any_list():
    # q1 failed by both, q2 doubted (and judged wrong word for word by a), q3 judged correct with F1 0.05
    assert flags.flagged(_details()) == {"q1", "q2", "q3"}
    calm = _details().assign(doubt="", lexical_f1=0.5, verdict=1.0)
    assert flags.flagged(calm) == set()
