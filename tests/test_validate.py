"""Question validation: questions about the text, restated yes/no answers, duplicates, unsupported gold answers."""

import numpy as np
import pandas as pd
import pytest

from pipeline import config, validate


@pytest.mark.parametrize("question, gold, reason", [
    ("Is the text discussing food production impacts?", "Yes, the text mentions food production.", "about the text"),
    ("What does the document say about heat risks?", "Heat risks rise with warming.", "about the text"),
    ("Which sectors does the report mention?", "Energy and water.", "about the text"),
    ("Is biodiversity management covered?", "No, the text does not mention biodiversity management.",
     "about the text"),
    ("Le texte mentionne-t-il la bibliothèque ?", "Oui.", "about the text"),
    ("What is the main focus of the text on water management?", "Water projects.", "about the text"),
    ("How do the water projects compare?", "The text compares several water projects.", "about the text"),
    ("Is the lake level above sea level?", "Yes, the lake level is above sea level.", "restates the question"),
    ("Did water use fall in 2025?", "Yes, according to the text.", "restates the question"),
    ("Nitrate pollution in the northern tributaries continued to rise.", "Yes, according to the text.",
     "not a question"),
    ("Why?", "Because.", "not a question"),
    ("What was the lake level?", "", "not a question"),
])
def test_questions_a_practitioner_learns_nothing_from_are_rejected(question, gold, reason):
    assert validate.cheap_reason(question, gold) == reason


@pytest.mark.parametrize("question, gold", [
    ("How much did water use per person fall in 2025?", "To 118 litres per day, the fifth fall in a row."),
    ("Is nitrate pollution above the limit anywhere?", "Yes, at two of the eleven monitoring stations."),
    ("According to the report, what share of homes have smart meters?", "78 percent."),
    ("How far did water use fall?", "The report states that it fell to 118 litres per day."),
    ("Quelle part des prêts concernait des livres numériques ?", "Un quart des prêts."),
])
def test_questions_about_the_subject_pass(question, gold):
    assert validate.cheap_reason(question, gold) is None


def test_duplicates_by_meaning_keep_the_first():
    vectors = np.array([[1.0, 0.0], [0.96, 0.28], [0.0, 1.0], [0.6, 0.8]])  # unit rows; cos(0,1)=0.96
    found = validate.semantic_duplicates(["a", "b", "c", "d"], 0.9, lambda texts: vectors[:len(texts)])
    assert found == {1: 0}  # c and d are far enough from everything (cos(c,d)=0.8)


def test_minilm_sees_a_paraphrase_as_a_duplicate_and_another_question_as_new():
    embed = validate.minilm_embedder()
    found = validate.semantic_duplicates([
        "How much electricity did the Bexley pumping station save?",
        "How much did the Bexley pumping station cut the electricity bill?",
        "How many monitoring stations measure nitrate in the tributaries?",
    ], 0.8, embed)
    assert found == {1: 0}


def _candidates(rows: list[tuple[str, str, str]], citation: float = 90.0) -> pd.DataFrame:
    from pipeline.generate import question_id

    return pd.DataFrame([{"question_id": question_id(q), "question": q, "gold": g, "chunk_text": c,
                          "citation_score": citation, "kind": "single_hop"} for q, g, c in rows])


EXCERPT = ("The new solar-powered pumping station at Bexley cut the Authority's electricity bill by 22 percent. "
           "Water use per person fell for the fifth year in a row, to 118 litres per day.")


def test_an_unsupported_gold_answer_is_rejected_and_a_supported_one_kept():
    """The gold check goes through the judge's own code and prompt; the fake judge says 1 when the
    proposed answer's number is in the excerpt (a supported answer), else 0."""
    import re

    from openai import OpenAI

    from fakes import FakeJudgeEndpoint
    from pipeline.judge import Pass, grade

    def supported(body):
        prompt = body["messages"][-1]["content"]
        excerpt = prompt.split("Document excerpt:")[1].split("Question:")[0]
        answer = prompt.split("Proposed answer:")[1].split("\n")[0]
        return int(all(n in excerpt for n in re.findall(r"\d+", answer)))

    endpoint = FakeJudgeEndpoint("ok", verdict=supported)
    try:
        cfg = config.load("default")
        client = OpenAI(base_url=endpoint.url, api_key="sk-test", max_retries=0)
        template = validate.GOLD_CHECK_PROMPT.read_text()

        def ask_support(row):
            found = grade(client, "judge", Pass("gold_check", cfg.judge), template,
                          {"question": row["question"], "gold": row["gold"], "chunk_text": row["chunk_text"],
                           "prediction": ""})
            return found["verdict"] == 1, found["raw_judge_output"]

        rows = _candidates([
            ("By how much did the Bexley station cut the electricity bill?", "By 22 percent.", EXCERPT),
            ("What is the main source of drinking water?", "A new treatment line built in 2019.", EXCERPT),
        ])
        kept, rejected = validate.validate(rows, cfg, embed=lambda texts: np.eye(len(texts)), ask_support=ask_support)
    finally:
        endpoint.close()
    assert kept["question"].tolist() == ["By how much did the Bexley station cut the electricity bill?"]
    assert rejected["rejection"].tolist() == ["gold answer not supported"]
    assert rejected["gold_check"].iloc[0] == "<final_answer>0</final_answer>"
    assert endpoint.requests[0]["grammar"] == 'root ::= "<final_answer>" [01] "</final_answer>"'


def test_citation_scores_below_the_threshold_are_rejected_and_close_ones_flagged():
    cfg = config.load("paper")  # min_citation_score 60
    rows = _candidates([("What did the station cut?", "The electricity bill, by 22 percent.", EXCERPT)], 45.0)
    rows = pd.concat([rows, _candidates([("How far did water use fall?", "To 118 litres.", EXCERPT)], 65.0)])
    kept, rejected = validate.validate(rows.reset_index(drop=True), cfg, embed=lambda t: np.eye(len(t)),
                                       ask_support=lambda row: (True, "1"))
    assert rejected["rejection"].tolist() == ["citation not in the excerpt"]
    assert kept["doubt"].iloc[0] == "citation score 65, close to the threshold 60"


def test_checks_stop_at_the_target():
    cfg = config.load("default")
    cfg = cfg.model_copy(update={"questions": cfg.questions.model_copy(update={"target": 2, "min_usable": 1})})
    asked = []
    rows = _candidates([(f"What is the value of item {i}?", f"{i} units.", EXCERPT) for i in range(6)])
    kept, rejected = validate.validate(rows, cfg, embed=lambda t: np.eye(len(t)),
                                       ask_support=lambda row: (asked.append(row["question"]) or True, "1"),
                                       expect=lambda n: asked.append(f"expect {n}"))
    assert len(kept) == 2 and len(rejected) == 0 and asked[0] == "expect 2" and len(asked) == 3


def test_each_rejected_gold_answer_adds_one_check_to_the_total_announced():
    cfg = config.load("default")
    cfg = cfg.model_copy(update={"questions": cfg.questions.model_copy(update={"target": 2, "min_usable": 1})})
    asked = []

    def support(row):  # the first two gold answers checked are not supported
        asked.append("check")
        return asked.count("check") > 2, "0"

    rows = _candidates([(f"What is the value of item {i}?", f"{i} units.", EXCERPT) for i in range(6)])
    kept, rejected = validate.validate(rows, cfg, embed=lambda t: np.eye(len(t)), ask_support=support,
                                       expect=lambda n: asked.append(f"expect {n}"))
    assert asked == ["expect 2", "check", "expect 3", "check", "expect 4", "check", "check"]
    assert len(kept) == 2 and rejected["rejection"].tolist() == ["gold answer not supported"] * 2


def test_without_a_citation_threshold_low_scores_are_flagged_not_rejected():
    cfg = config.load("default")  # min_citation_score null: the 1.5B generator's quotes are rarely verbatim
    assert cfg.questions.min_citation_score is None
    rows = _candidates([("What did the station cut?", "The electricity bill, by 22 percent.", EXCERPT)], 45.0)
    kept, rejected = validate.validate(rows, cfg, embed=lambda t: np.eye(len(t)), ask_support=lambda row: (True, "1"))
    assert rejected.empty and kept["doubt"].iloc[0] == "citation score 45: the generator's quote is not in the excerpt"
