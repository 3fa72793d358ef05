"""Test helpers: an OpenAI-compatible judge endpoint, and a run folder with answers to judge.

It speaks just enough of the chat-completions API to answer with a verdict, and
can fail on purpose. It stands in for a remote OpenAI-compatible endpoint.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd

from pipeline import config


class FakeJudgeEndpoint:
    """OpenAI-compatible chat endpoint that answers with a verdict.

    ``mode``: 'ok', 'flaky' (503 on every other call) or 'unauthorized' (401).
    ``verdict(request_body) -> 0 or 1`` decides the verdict (default 1); every
    request body is kept in ``requests``. ``delay_s``: how long each answer takes.
    """

    def __init__(self, mode: str, verdict=lambda body: 1, delay_s: float = 0.0):
        self.mode, self.calls, self.verdict, self.requests = mode, 0, verdict, []
        self.delay_s = delay_s
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                time.sleep(outer.delay_s)
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


class FakeNVML:
    """A stand-in for ``pynvml`` with ``count`` GPUs; GPU i draws ``watts(i)`` W all the time.

    Installed with :func:`install_fake_nvml`, CodeCarbon's own NVML code
    (``codecarbon.core.gpu_nvidia``) reads it: device enumeration, energy
    counters (mJ), power, names and UUIDs. Only the energy counter matters here.
    """

    class NVMLError(Exception):
        pass

    class NVMLError_NotSupported(NVMLError):  # noqa: N801 (pynvml's name)
        pass

    NVML_TEMPERATURE_GPU = 0

    def __init__(self, count: int = 8, watts=lambda i: 100.0 + 10.0 * i):
        self.count, self.watts, self.t0 = count, watts, time.monotonic()

    def nvmlInit(self):  # noqa: N802 (pynvml's names below)
        pass

    def nvmlDeviceGetCount(self):
        return self.count

    def nvmlDeviceGetHandleByIndex(self, i):
        return i

    def nvmlDeviceGetTotalEnergyConsumption(self, h):
        return int((time.monotonic() - self.t0) * self.watts(h) * 1000)  # millijoules

    def nvmlDeviceGetPowerUsage(self, h):
        return int(self.watts(h) * 1000)  # milliwatts

    def nvmlDeviceGetEnforcedPowerLimit(self, h):
        return 700_000

    def nvmlDeviceGetName(self, h):
        return "Fake H100"

    def nvmlDeviceGetUUID(self, h):
        return f"GPU-fake-{h}"

    def nvmlDeviceGetMemoryInfo(self, h):
        return type("Memory", (), {"total": 80 << 30, "free": 80 << 30, "used": 0})()

    def nvmlDeviceGetTemperature(self, h, sensor):
        return 40

    def nvmlDeviceGetUtilizationRates(self, h):
        return type("Utilization", (), {"gpu": 50})()

    def nvmlDeviceGetComputeMode(self, h):
        return 0

    def nvmlDeviceGetComputeRunningProcesses(self, h):
        return []

    nvmlDeviceGetGraphicsRunningProcesses = nvmlDeviceGetComputeRunningProcesses


def install_fake_nvml(monkeypatch, fake: FakeNVML) -> None:
    """Make CodeCarbon see ``fake``'s GPUs (and forget the hardware it detected before)."""
    from codecarbon.core import gpu, gpu_nvidia, hardware_cache

    hardware_cache.clear_cache()
    monkeypatch.setattr(gpu_nvidia, "pynvml", fake)
    monkeypatch.setattr(gpu, "PYNVML_AVAILABLE", True)
    monkeypatch.setattr(gpu, "AMDSMI_AVAILABLE", False)
    monkeypatch.setattr(gpu, "is_nvidia_system", lambda: True)
    monkeypatch.setattr(gpu, "is_rocm_system", lambda: False)
