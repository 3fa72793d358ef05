"""The judge stage's guard rail and controls: non-answers wrong by rule, control answers graded beside the answers.

The judge is a local fake endpoint that accepts every answer it is shown (the failure the
issue saw: a small judge marking empty answers correct), so what reaches it is counted exactly.
"""

import shutil
from pathlib import Path

import pandas as pd
import pytest
from fakes import FakeJudgeEndpoint, answered_run_dir

from pipeline import config
from pipeline.config import Controls, Judge, SelfConsistency
from pipeline.report import aggregation, trust
from pipeline.verdicts import controls, judge


@pytest.fixture
def endpoint():
    fake = FakeJudgeEndpoint("ok")  # accepts everything
    yield fake
    fake.close()


def _config(url: str, monkeypatch, per_question: int = 3, self_consistency: bool = False) -> config.Config:
    monkeypatch.setenv("FAKE_JUDGE_KEY", "sk-test-not-a-secret")
    cfg = config.load("default")
    return cfg.model_copy(update={
        "judge": Judge(name="main-judge", engine="openai", model="judge", base_url=url, api_key_env="FAKE_JUDGE_KEY",
                       prompt=cfg.judge.prompt, verdict=cfg.judge.verdict, calibrate=False),
        "controls": Controls(per_question=per_question),
        "self_consistency": SelfConsistency(temperature=0.7) if self_consistency else None})


def _answer(run_dir, candidate: str, question_id: str, prediction: str) -> None:
    path = run_dir / "answers" / f"{candidate}.parquet"
    answers = pd.read_parquet(path)
    answers.loc[answers["question_id"] == question_id, "prediction"] = prediction
    answers.to_parquet(path)


def test_non_answers_are_wrong_by_rule_and_never_reach_the_judge(tmp_path, endpoint, monkeypatch):
    cfg = _config(endpoint.url, monkeypatch, per_question=0, self_consistency=True)
    run_dir = answered_run_dir(tmp_path)  # 3 candidates x 3 questions
    first, second = cfg.candidates[0].name, cfg.candidates[1].name
    _answer(run_dir, first, "q0", "")
    _answer(run_dir, second, "q1", "1.4, 3.3, encadré thématique 3.1, 4.4")
    judgements = pd.read_parquet(judge.run(run_dir / "questions.parquet", run_dir, cfg))
    # 7 answers go to the judge, once for the verdict and twice for self-consistency; none of the two others
    assert endpoint.calls == 7 * 3
    assert not any(r["messages"][0]["content"].count("encadré") for r in endpoint.requests)
    by_rule = judgements[judgements["graded_by"] == "rule"].set_index("candidate")
    assert by_rule["verdict"].tolist() == [0, 0] and set(by_rule["judge"]) == {"rule"}
    assert by_rule.loc[first, "rule"] == "empty" and by_rule.loc[second, "rule"] == "only references"
    assert by_rule["self_consistency_1_verdict"].isna().all()  # checks do not grade non-answers
    judge.run(run_dir / "questions.parquet", run_dir, cfg)
    assert endpoint.calls == 7 * 3  # a rerun grades nothing


def test_control_answers_are_graded_with_the_answers_and_give_the_documents_rates(tmp_path, endpoint, monkeypatch):
    cfg = _config(endpoint.url, monkeypatch, per_question=3)
    run_dir = answered_run_dir(tmp_path)
    questions = pd.read_parquet(run_dir / "questions.parquet")
    judge.run(run_dir / "questions.parquet", run_dir, cfg)
    built = controls.build(questions, 3, cfg.questions.seed)
    assert endpoint.calls == 9 + len(built) and len(built) <= 9  # a known, bounded number of calls
    graded = pd.read_parquet(run_dir / "controls.parquet")
    assert len(graded) == len(built) and (graded["verdict"] == 1).all()
    rates = controls.rates(graded)
    assert rates["sensitivity"] == 1.0 and rates["specificity"] == 0.0  # it accepted every known-wrong answer
    # controls interleave with the answers to the same question (the prefix cache serves their shared prompt)
    asked = [r["messages"][0]["content"] for r in endpoint.requests]
    first_q = [i for i, text in enumerate(asked) if "What is fact 0?" in text]
    assert first_q == list(range(first_q[0], first_q[0] + len(first_q)))
    # the judge failed its controls: the card cannot name a pick, and says why
    why = trust.cannot_pick(rates, cfg.controls)
    assert why.startswith(f"on this document's {len(built)} control answers the judge graded, it accepted")
    card = trust.card(["Pick **x**: ...", "It is the most accurate model ...", "x cannot be told apart ..."], why,
                      ["Gate, not accuracy evidence: ..."])
    assert card == [f"**No pick**: {why}", "For reference only: Pick **x**: ...",
                    "x cannot be told apart ...", "Gate, not accuracy evidence: ..."]
    assert trust.card(["Pick **x**: ..."], None, ["controls"]) == ["Pick **x**: ...", "controls"]
    # the controls are a gate: never in the counts a correction uses
    assert not any(column.startswith("controls") for column in aggregation.HELD_OUT_COLUMNS)
    judge.run(run_dir / "questions.parquet", run_dir, cfg)
    assert endpoint.calls == 9 + len(built)  # nothing graded twice


def test_a_judge_that_passes_its_controls_lets_the_card_pick(endpoint, tmp_path, monkeypatch):
    rates = {"parsed": 30, "tp": 9, "fn": 1, "tn": 18, "fp": 2, "positives": 10, "negatives": 20,
             "sensitivity": 0.9, "specificity": 0.9}
    assert trust.cannot_pick(rates, Controls()) is None
    assert trust.cannot_pick({**rates, "tn": 15, "fp": 5, "specificity": 0.75}, Controls()).count("accepted 5 of 20")
    assert trust.cannot_pick(None, Controls()) is None  # no controls graded: nothing to say


SAMPLE_RUN = Path(__file__).parent / "fixtures" / "recorded" / "sample-run"
# Non-answers the issue found among real candidates' answers to a 40-page report (gemma-3-270m: 9 empty answers of 24,
# 6 lists of section numbers; SmolLM2: "17" to "What are the main causes ...?"), put in place of gemma's answers.
REPORTED_NON_ANSWERS = ["", "", "", "", "", "", "", "1.4, 3.3, encadré thématique 3.1, 4.4, ...",
                        "Section 2.3; Box 4", "See Figure 2 and Table 5.", "Sections 3.1, 3.2 and 4.4",
                        "Chapter 5, Annex II"]


def test_a_recorded_run_with_empty_and_reference_answers_marks_none_correct_and_counts_them(tmp_path, endpoint,
                                                                                           monkeypatch):
    """The bundled sample's real run (2026-12-01: its questions and the three candidates' real answers, gemma with one
    empty answer of its own) with the issue's non-answers in place of 12 more of gemma's answers, graded by a judge
    that accepts everything (what the issue's judge did): none is marked correct, the report counts them, the controls
    catch the judge and the card does not pick."""
    from pipeline.report import report

    run_dir = tmp_path / "run"
    shutil.copytree(SAMPLE_RUN, run_dir)
    cfg = _config(endpoint.url, monkeypatch)
    answers = pd.read_parquet(run_dir / "answers" / "gemma-3-270m.parquet")
    real_empty = int((answers["prediction"].str.strip() == "").sum())
    assert real_empty == 1  # the recorded run's own empty answer
    replaced = answers.index[answers["prediction"].str.strip() != ""][:len(REPORTED_NON_ANSWERS)]
    answers.loc[replaced, "prediction"] = REPORTED_NON_ANSWERS
    answers.to_parquet(run_dir / "answers" / "gemma-3-270m.parquet")
    judge.run(run_dir / "questions.parquet", run_dir, cfg)
    report.run(run_dir, tmp_path / "report", cfg, "sample-report.pdf")
    details = pd.read_parquet(tmp_path / "report" / "details.parquet")
    blank_or_refs = details["prediction"].str.strip().isin(["", *REPORTED_NON_ANSWERS])
    assert blank_or_refs.sum() == len(REPORTED_NON_ANSWERS) + real_empty
    assert (details.loc[blank_or_refs, "verdict"] == 0).all()  # none marked correct, although the judge accepts all
    assert not any("encadré" in r["messages"][0]["content"] for r in endpoint.requests)  # none reached the judge
    results = pd.read_csv(tmp_path / "report" / "results.csv").set_index("model")
    assert results.loc["gemma-3-270m", "non_answers"] == len(REPORTED_NON_ANSWERS) + real_empty
    # SmolLM2's two real "The answer to this question is:" (a preamble and nothing else: issue 26)
    assert results.loc["SmolLM2-135M-Instruct", "non_answers"] == 2
    assert results.loc["gemma-3-270m", "accuracy"] == pytest.approx((23 - 13) / 23)
    # the judge accepted every known-wrong control it saw; the rules (an echo, "N/A") rejected the ones they grade
    graded = pd.read_parquet(run_dir / "controls.parquet")
    wrong = graded[~graded["correct"]]
    assert (wrong.loc[wrong["graded_by"] == "judge", "verdict"] == 1).all()
    assert (wrong.loc[wrong["graded_by"] != "judge", "verdict"] == 0).all()
    # the gate's rates are the judge's own: the rules' rejections are shown apart (issue 33)
    assert results["controls_specificity"].eq(0.0).all()
    assert results["controls_rule_settled"].eq((graded["graded_by"] != "judge").sum()).all()
    card = (tmp_path / "report" / "results.md").read_text().split("\n\n")[1]
    assert card.startswith("> **No pick**") and "Pick **gemma-3-270m**" not in card


def test_a_judge_that_rejects_everything_fails_its_controls_too(tmp_path, monkeypatch):
    """Issue 26: the gate was only tested with a judge that accepts everything; a judge that says "no" to every
    answer rejects every known-right control, and the card cannot pick either."""
    fake = FakeJudgeEndpoint("ok", verdict=lambda body: 0)
    try:
        cfg = _config(fake.url, monkeypatch, per_question=2)
        run_dir = answered_run_dir(tmp_path)
        judge.run(run_dir / "questions.parquet", run_dir, cfg)
        rates = controls.rates(pd.read_parquet(run_dir / "controls.parquet"))
        assert rates["sensitivity"] == 0.0 and rates["specificity"] == 1.0
        why = trust.cannot_pick(rates, cfg.controls)
        assert why is not None and f"rejected {rates['positives']} of {rates['positives']} known-right" in why
    finally:
        fake.close()
