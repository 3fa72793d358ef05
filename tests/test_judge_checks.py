"""Optional judge reliability checks: a second judge and self-consistency, graded and compared.

Both judges are local fake endpoints (tests/fakes.py) whose verdicts follow a
rule written below, so agreement and Cohen's kappa can be worked out by hand.
"""

import pandas as pd
import pytest
from fakes import FakeJudgeEndpoint, answered_run_dir

from pipeline import config
from pipeline.config import Controls, Judge, SelfConsistency
from pipeline.report.report import judge_checks
from pipeline.verdicts import judge


def _graded(body, answer: str) -> bool:
    return f"Answer to grade: {answer}" in body["messages"][0]["content"]


def judge_rule(body):
    """The judge rejects "answer 0"; its second sample (seed 2) also rejects "answer 1"."""
    if _graded(body, "answer 0") or (body.get("seed") == 2 and _graded(body, "answer 1")):
        return 0
    return 1


def second_judge_rule(body):
    """The second judge rejects "answer 2" only."""
    return 0 if _graded(body, "answer 2") else 1


@pytest.fixture
def endpoints():
    first, second = FakeJudgeEndpoint("ok", judge_rule), FakeJudgeEndpoint("ok", second_judge_rule)
    yield first, second
    first.close()
    second.close()


def _config(first_url: str, second_url: str | None, monkeypatch, self_consistency=True) -> config.Config:
    monkeypatch.setenv("FAKE_JUDGE_KEY", "sk-test-not-a-secret")
    cfg = config.load("default")

    def remote(name, url):
        return Judge(name=name, engine="openai", model="judge", base_url=url, api_key_env="FAKE_JUDGE_KEY",
                     prompt=cfg.judge.prompt, verdict=cfg.judge.verdict, calibrate=False)

    return cfg.model_copy(update={
        "judge": remote("main-judge", first_url),
        "second_judge": remote("other-judge", second_url) if second_url else None,
        "self_consistency": SelfConsistency(temperature=0.7) if self_consistency else None,
        "controls": Controls(per_question=0)})  # these count the passes' calls on answers only


def _details(run_dir, judgements) -> pd.DataFrame:
    questions = pd.read_parquet(run_dir / "questions.parquet")[["question_id", "question"]]
    answers = pd.concat(pd.read_parquet(p) for p in sorted((run_dir / "answers").glob("*.parquet")))
    return judgements.merge(answers, on=["question_id", "candidate"]).merge(questions, on="question_id")


def test_checks_are_graded_as_separate_passes_and_compared(tmp_path, endpoints, monkeypatch):
    first, second = endpoints
    cfg = _config(first.url, second.url, monkeypatch)
    run_dir = answered_run_dir(tmp_path)
    judgements = pd.read_parquet(judge.run(run_dir / "questions.parquet", run_dir, cfg))

    assert len(judgements) == 9  # 3 candidates x 3 questions, one row each
    by_question = judgements.groupby("question_id")
    assert by_question["verdict"].first().tolist() == [0, 1, 1]
    assert by_question["second_judge_verdict"].first().tolist() == [1, 1, 0]
    assert by_question["self_consistency_1_verdict"].first().tolist() == [0, 1, 1]
    assert by_question["self_consistency_2_verdict"].first().tolist() == [0, 0, 1]
    # The judge: 9 greedy calls for the verdicts that count, 9 + 9 sampled ones with fixed seeds.
    sent = [(r["temperature"], r.get("seed")) for r in first.requests]
    assert sorted(sent, key=str) == sorted([(0.0, None)] * 9 + [(0.7, 1)] * 9 + [(0.7, 2)] * 9, key=str)
    assert len(second.requests) == 9 and {r["temperature"] for r in second.requests} == {0.0}

    agreement, disagreements = judge_checks(_details(run_dir, judgements), cfg)
    second_row, consistency_row = agreement.to_dict("records")
    # judge (0,1,1) vs second judge (1,1,0) per candidate: p_o = 3/9, p_e = 5/9, kappa = -0.5
    assert second_row["Answers compared"] == 9 and second_row["Agreement"] == "33.3%"
    assert second_row["Cohen's kappa"] == "-0.50"
    # samples (0,1,1) vs (0,0,1): p_o = 6/9, p_e = 4/9, kappa = 0.4
    assert consistency_row["Agreement"] == "66.7%" and consistency_row["Cohen's kappa"] == "0.40"
    assert len(disagreements) == 6 and set(disagreements["Second judge"]) == {"correct", "wrong"}


def test_adding_or_removing_a_check_never_regrades_the_judge(tmp_path, endpoints, monkeypatch):
    first, second = endpoints
    run_dir = answered_run_dir(tmp_path)
    questions = run_dir / "questions.parquet"
    judge.run(questions, run_dir, _config(first.url, None, monkeypatch, self_consistency=False))
    assert len(first.requests) == 9

    judgements = pd.read_parquet(judge.run(questions, run_dir, _config(first.url, second.url, monkeypatch,
                                                                       self_consistency=False)))
    assert len(first.requests) == 9 and len(second.requests) == 9  # only the new check ran
    assert "second_judge_verdict" in judgements and "self_consistency_1_verdict" not in judgements

    judgements = pd.read_parquet(judge.run(questions, run_dir, _config(first.url, None, monkeypatch,
                                                                       self_consistency=False)))
    assert len(first.requests) == 9 and "second_judge_verdict" not in judgements
    assert judge_checks(_details(run_dir, judgements), config.load("default")) == (None, None)


def test_second_judge_needs_its_own_name():
    cfg = config.load("default")
    with pytest.raises(ValueError, match="name of its own"):
        config.Config.model_validate({**cfg.model_dump(), "second_judge": cfg.judge.model_dump()})
