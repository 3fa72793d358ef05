"""Faults during judging: a flaky endpoint, a refused token, a dead server.

The judge endpoint here is a local HTTP server written for the test: it speaks
just enough of the OpenAI chat-completions API to answer with a verdict, and it
fails on purpose. It stands in for a remote OpenAI-compatible endpoint.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest

from pipeline import config, judge
from pipeline.config import Judge
from pipeline.errors import UserError
from pipeline.io import read_jsonl


class FakeJudgeEndpoint:
    """OpenAI-compatible endpoint; ``mode`` is 'flaky' (503 on every other call) or 'unauthorized'."""

    def __init__(self, mode: str):
        self.mode, self.calls = mode, 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.calls += 1
                if outer.mode == "unauthorized":
                    return self._send(401, {"error": {"message": "bad token", "type": "invalid_request_error"}})
                if outer.calls % 2 == 1:
                    return self._send(503, {"error": {"message": "overloaded"}}, {"Retry-After": "0"})
                self._send(200, {
                    "id": f"c{outer.calls}", "object": "chat.completion", "created": 0, "model": "judge",
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": "<final_answer>1</final_answer>"}}],
                    "usage": {"prompt_tokens": 50, "completion_tokens": 8, "total_tokens": 58}})

            def _send(self, status, body, headers=None):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _run_dir(tmp_path, n_questions=3):
    questions = pd.DataFrame({
        "question_id": [f"q{i}" for i in range(n_questions)],
        "question": [f"What is fact {i}?" for i in range(n_questions)],
        "gold": [f"Fact {i}." for i in range(n_questions)],
        "chunk_text": ["Some source text."] * n_questions,
    })
    questions.to_parquet(tmp_path / "questions.parquet")
    (tmp_path / "answers").mkdir()
    cfg = config.load("default")
    for candidate in cfg.candidates:
        pd.DataFrame({"question_id": questions["question_id"], "candidate": candidate.name,
                      "prediction": [f"answer {i}" for i in range(n_questions)]}).to_parquet(
            tmp_path / "answers" / f"{candidate.name}.parquet")
    return tmp_path


def _cfg_with_remote_judge(url: str, monkeypatch):
    monkeypatch.setenv("FAKE_JUDGE_KEY", "sk-test-not-a-secret")
    cfg = config.load("default")
    remote = Judge(name="remote-judge", engine="openai", model="judge", base_url=url,
                   api_key_env="FAKE_JUDGE_KEY", prompt=cfg.judge.prompt, calibrate=False)
    return cfg.model_copy(update={"judge": remote})


def test_flaky_endpoint_ends_with_complete_results(tmp_path, monkeypatch):
    endpoint = FakeJudgeEndpoint("flaky")
    try:
        cfg = _cfg_with_remote_judge(endpoint.url, monkeypatch)
        run_dir = _run_dir(tmp_path)
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
        run_dir = _run_dir(tmp_path, n_questions=1)
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
    run_dir = _run_dir(tmp_path, n_questions=1)
    with pytest.raises(UserError) as err:
        judge.run(run_dir / "questions.parquet", run_dir, cfg)
    assert "calls failed" in str(err.value) and "rerun" in str(err.value)
    assert not (run_dir / "judgements.parquet").exists()
    records = read_jsonl(run_dir / "judgements" / f"{cfg.candidates[0].name}.jsonl")
    assert [r["status"] for r in records] == ["error"]  # retried on the next run, not scored
