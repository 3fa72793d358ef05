"""Test helpers: an OpenAI-compatible judge endpoint, and a run folder with answers to judge.

It speaks just enough of the chat-completions API to answer with a verdict, and
can fail on purpose. It stands in for a remote OpenAI-compatible endpoint.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd

from pipeline import config


class FakeJudgeEndpoint:
    """OpenAI-compatible chat endpoint that answers with a verdict.

    ``mode``: 'ok', 'flaky' (503 on every other call) or 'unauthorized' (401).
    ``verdict(request_body) -> 0 or 1`` decides the verdict (default 1); every
    request body is kept in ``requests``.
    """

    def __init__(self, mode: str, verdict=lambda body: 1):
        self.mode, self.calls, self.verdict, self.requests = mode, 0, verdict, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                outer.calls += 1
                outer.requests.append(body)
                if outer.mode == "unauthorized":
                    return self._send(401, {"error": {"message": "bad token", "type": "invalid_request_error"}})
                if outer.mode == "flaky" and outer.calls % 2 == 1:
                    return self._send(503, {"error": {"message": "overloaded"}}, {"Retry-After": "0"})
                self._send(200, {
                    "id": f"c{outer.calls}", "object": "chat.completion", "created": 0, "model": "judge",
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": f"<final_answer>{outer.verdict(body)}</final_answer>"}}],
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


def answered_run_dir(tmp_path, n_questions=3):
    """A run folder with questions and, for every default candidate, answers "answer 0", "answer 1", ..."""
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
