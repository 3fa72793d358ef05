"""Faults during judging: a flaky endpoint, a refused token, a dead server.

The judge endpoint here is a local HTTP server written for the test: it speaks
just enough of the OpenAI chat-completions API to answer with a verdict, and it
fails on purpose. It stands in for a remote OpenAI-compatible endpoint.
"""

import pandas as pd
import pytest
from fakes import FakeJudgeEndpoint, answered_run_dir

from pipeline import config
from pipeline.config import Controls, Judge
from pipeline.errors import UserError
from pipeline.io import read_jsonl
from pipeline.verdicts import judge


def _cfg_with_remote_judge(url: str, monkeypatch):
    monkeypatch.setenv("FAKE_JUDGE_KEY", "sk-test-not-a-secret")
    cfg = config.load("default")
    remote = Judge(name="remote-judge", engine="openai", model="judge", base_url=url,
                   api_key_env="FAKE_JUDGE_KEY", prompt=cfg.judge.prompt, verdict=cfg.judge.verdict, calibrate=False)
    # no control answers: these tests count the calls on the candidates' answers (test_judge_controls.py)
    return cfg.model_copy(update={"judge": remote, "controls": Controls(per_question=0)})


def test_flaky_endpoint_ends_with_complete_results(tmp_path, monkeypatch):
    endpoint = FakeJudgeEndpoint("flaky")
    try:
        cfg = _cfg_with_remote_judge(endpoint.url, monkeypatch)
        run_dir = answered_run_dir(tmp_path)
        out = judge.run(run_dir / "questions.parquet", run_dir, cfg)
    finally:
        endpoint.close()
    judgements = pd.read_parquet(out)
    assert len(judgements) == 3 * len(cfg.candidates)
    assert (judgements["status"] == "judged").all() and (judgements["verdict"] == 1).all()
    assert endpoint.calls == 2 * len(judgements)  # every call failed once, then succeeded
    for candidate in cfg.candidates:  # no duplicate records
        ids = [r["question_id"] for r in read_jsonl(run_dir / "judgements" / f"{candidate.name}.jsonl")]
        assert sorted(ids) == ["q0", "q1", "q2"]


def test_refused_token_stops_at_once_without_leaking_it(tmp_path, monkeypatch):
    endpoint = FakeJudgeEndpoint("unauthorized")
    try:
        cfg = _cfg_with_remote_judge(endpoint.url, monkeypatch)
        cfg = cfg.model_copy(update={"candidates": cfg.candidates[:1]})
        run_dir = answered_run_dir(tmp_path, n_questions=1)
        with pytest.raises(UserError) as err:
            judge.run(run_dir / "questions.parquet", run_dir, cfg)
    finally:
        endpoint.close()
    assert "token" in str(err.value) and "sk-test-not-a-secret" not in str(err.value)
    assert endpoint.calls == 1  # a 401 is not retried
    assert not (run_dir / "judgements.parquet").exists()


def test_dead_endpoint_fails_clearly_and_keeps_nothing_half_done(tmp_path, monkeypatch):
    endpoint = FakeJudgeEndpoint("flaky")
    url = endpoint.url
    endpoint.close()  # nothing listens there any more
    cfg = _cfg_with_remote_judge(url, monkeypatch)
    cfg = cfg.model_copy(update={"candidates": cfg.candidates[:1]})
    run_dir = answered_run_dir(tmp_path, n_questions=1)
    with pytest.raises(UserError) as err:
        judge.run(run_dir / "questions.parquet", run_dir, cfg)
    assert "calls failed" in str(err.value) and "rerun" in str(err.value)
    assert not (run_dir / "judgements.parquet").exists()
    records = read_jsonl(run_dir / "judgements" / f"{cfg.candidates[0].name}.jsonl")
    assert [r["status"] for r in records] == ["error"]  # retried on the next run, not scored


def test_a_record_whose_text_holds_a_line_separator_is_read_whole(tmp_path):
    # PDF text carries U+2028, U+0085 and form feeds; JSON (ensure_ascii=False) leaves them raw in the line
    from pipeline.io import append_jsonl

    path = tmp_path / "records.jsonl"
    rows = [{"excerpt": "first line\u2028second\u0085third\x0cfourth", "n": 60}, {"excerpt": "plain", "n": 30}]
    for row in rows:
        append_jsonl(path, row)
    with path.open("a", encoding="utf-8") as fh:
        fh.write('{"excerpt": "torn')  # a kill mid-write: ignored
    assert read_jsonl(path) == rows
