"""Problem 1 of the energy issue: the answering window holds the model's requests, not Lighteval's set-up.

The candidate is a remote OpenAI-compatible endpoint written for the test
(``fakes.FakeJudgeEndpoint``, each answer taking 0.4 s), so the real answer
stage runs Lighteval end to end in a few seconds without a model.
"""

import pandas as pd
import pytest
from fakes import FakeJudgeEndpoint

from pipeline import config
from pipeline.answers import answer
from pipeline.config import Candidate
from pipeline.io import read_jsonl

DELAY_S = 0.4
MARGIN_S = 1.0  # client work between requests, CodeCarbon's own start and stop


@pytest.fixture
def remote_run(tmp_path):
    endpoint = FakeJudgeEndpoint("ok", delay_s=DELAY_S)
    cfg = config.load("default")
    remote = Candidate(name="remote-model", engine="openai", model="m", base_url=endpoint.url, params_b=1.0,
                       max_new_tokens=16)
    cfg = cfg.model_copy(update={"candidates": [remote], "energy": cfg.energy.model_copy(update={"idle_s": 0})})
    questions = pd.DataFrame({"question_id": [f"q{i}" for i in range(3)],
                              "question": [f"What is fact number {i}?" for i in range(3)],
                              "gold": [f"Fact {i}." for i in range(3)], "chunk_text": ["Some source text."] * 3})
    questions.to_parquet(tmp_path / "questions.parquet")
    try:
        yield cfg, tmp_path, endpoint
    finally:
        endpoint.close()


def test_the_answering_window_is_the_requests_only(remote_run):
    cfg, run_dir, endpoint = remote_run
    answer.run(run_dir / "questions.parquet", run_dir, cfg, "remote-model")
    answers = pd.read_parquet(run_dir / "answers" / "remote-model.parquet")
    session = read_jsonl(run_dir / "answers" / "remote-model.sessions.jsonl")[-1]  # the session's final record
    window = session["answer"]
    latencies = answers["latency_s"].sum()
    assert endpoint.calls == 3 and latencies >= 3 * DELAY_S
    # Lighteval's import, registry, Pipeline and dataset set-up, result saving and the callback wait
    # (seconds) are outside; the window is the requests, one after another, plus a small margin.
    assert window["duration_s"] <= latencies + MARGIN_S
    assert window["duration_s"] >= 0.95 * latencies
    assert window.get("requests") == 3 and window["requests_s"] == pytest.approx(latencies, abs=0.01)


def test_one_process_answers_the_other_out_of_date_candidates_with_their_own_sessions(remote_run, monkeypatch):
    cfg, run_dir, endpoint = remote_run
    remote = cfg.candidates[0]
    others = [remote.model_copy(update={"name": name}) for name in ("remote-b", "remote-c")]
    cfg = cfg.model_copy(update={"candidates": [remote, *others]})
    made = []
    monkeypatch.setattr(answer, "Lighteval", lambda real=answer.Lighteval: made.append(1) or real())
    answer._lighteval.cache_clear()
    names = ("remote-model", "remote-b", "remote-c")
    # remote-c is up to date (answered after the questions, no newer key): left alone.
    answer.run(run_dir / "questions.parquet", run_dir, cfg, "remote-c")
    assert endpoint.calls == 3 and not answer.out_of_date(run_dir / "questions.parquet", run_dir, "remote-c")
    answer._lighteval.cache_clear()
    made.clear()
    answer.run(run_dir / "questions.parquet", run_dir, cfg, "remote-model", also=names)
    assert endpoint.calls == 9 and len(made) == 1  # two candidates answered, one Lighteval set-up
    for name in names:
        assert len(pd.read_parquet(run_dir / "answers" / f"{name}.parquet")) == 3
    sessions = {name: read_jsonl(run_dir / "answers" / f"{name}.sessions.jsonl")[-1]["session"] for name in names}
    assert len(set(sessions.values())) == 3  # each candidate's energy in its own session
    # A newer key (the candidate's settings changed) makes its answers out of date again.
    key = run_dir / "keys" / "answer-remote-b.key"
    key.parent.mkdir(exist_ok=True)
    key.write_text("changed")
    assert answer.out_of_date(run_dir / "questions.parquet", run_dir, "remote-b")
