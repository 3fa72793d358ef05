"""Verdict records: a verdict is reused only for the same question, gold answer, excerpt and answer."""

import json

import pandas as pd
import pytest
from fakes import FakeJudgeEndpoint, answered_run_dir

from pipeline import config
from pipeline.config import Controls, Judge
from pipeline.verdicts import judge


@pytest.fixture
def endpoint():
    fake = FakeJudgeEndpoint("ok")
    yield fake
    fake.close()


def _config(url: str, monkeypatch) -> config.Config:
    monkeypatch.setenv("FAKE_JUDGE_KEY", "sk-test-not-a-secret")
    cfg = config.load("default")
    return cfg.model_copy(update={"judge": Judge(name="main-judge", engine="openai", model="judge", base_url=url,
                                                 api_key_env="FAKE_JUDGE_KEY", prompt=cfg.judge.prompt, verdict=cfg.judge.verdict,
                                                 calibrate=False),
                                  "controls": Controls(per_question=0)})  # these count answers' calls only


def _edit_question(run_dir, question_id: str, **update) -> None:
    questions = pd.read_parquet(run_dir / "questions.parquet")
    for column, value in update.items():
        questions.loc[questions["question_id"] == question_id, column] = value
    questions.to_parquet(run_dir / "questions.parquet")


def test_a_new_gold_answer_or_excerpt_is_graded_again(tmp_path, endpoint, monkeypatch):
    """Stale before: records matched on (question id, answer), and the id hashes the question's words only."""
    cfg = _config(endpoint.url, monkeypatch)
    run_dir = answered_run_dir(tmp_path)  # 3 candidates x 3 questions
    questions = run_dir / "questions.parquet"
    judge.run(questions, run_dir, cfg)
    assert len(endpoint.requests) == 9
    judge.run(questions, run_dir, cfg)
    assert len(endpoint.requests) == 9  # nothing changed: nothing graded

    _edit_question(run_dir, "q0", gold="Another fact.")  # same words, another gold answer
    judge.run(questions, run_dir, cfg)
    assert len(endpoint.requests) == 12  # q0's three answers, with the new gold answer in the prompt
    assert all("Another fact." in r["messages"][0]["content"] for r in endpoint.requests[9:])

    _edit_question(run_dir, "q1", chunk_text="Another excerpt.")
    judgements = pd.read_parquet(judge.run(questions, run_dir, cfg))
    assert len(endpoint.requests) == 15 and len(judgements) == 9  # one verdict per answer, the latest


def test_records_written_before_the_question_hash_are_graded_again(tmp_path, endpoint, monkeypatch):
    cfg = _config(endpoint.url, monkeypatch)
    run_dir = answered_run_dir(tmp_path)
    judge.run(run_dir / "questions.parquet", run_dir, cfg)
    for path in (run_dir / "judgements").glob("*.jsonl"):
        if path.name != "judge.sessions.jsonl":
            rows = [json.loads(line) for line in path.read_text().splitlines()]
            path.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "question_hash"}) + "\n"
                                    for r in rows))
    assert all(not records for records in judge.latest_records(run_dir, cfg, [judge.passes(cfg)[0].key]).values())
    judge.run(run_dir / "questions.parquet", run_dir, cfg)
    assert len(endpoint.requests) == 18
