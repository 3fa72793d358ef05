"""Start, health-check and stop the OpenAI-compatible server behind a model.

``serve(model, log_dir)`` is a context manager yielding an :class:`Endpoint`.
For ``llama-cpp`` and ``vllm`` it starts the server on a free local port, waits
until ``/v1/models`` answers, and stops the process on exit (also on Ctrl-C or
an exception). For ``openai`` nothing is started: the configured URL is used.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from pipeline.config import Served
from pipeline.errors import UserError
from pipeline.models import gguf_path, EMBEDDED_MODELS

LOCAL_API_KEY = "sk-local-no-auth"  # llama.cpp / vLLM servers we start accept any key


@dataclass
class Endpoint:
    base_url: str  # ends in /v1
    model: str  # the model id to send in requests
    api_key: str = field(repr=False)
    local: bool  # True when we run the server on this machine (energy is then measured here)
    peak_rss_mb: float | None = None  # the local server's peak resident memory, set when it stops


def _peak_rss_mb(pid: int) -> float | None:
    """Peak resident set size (VmHWM) of a live process, from /proc (Linux)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def die_with_parent() -> None:
    """In the server process: be killed when the pipeline dies, even by kill -9 (Linux)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _api_key(model: Served) -> str:
    if not model.api_key_env:
        return LOCAL_API_KEY
    key = os.environ.get(model.api_key_env)
    if not key:
        raise UserError(f"model '{model.name}' needs an API key: set the environment variable {model.api_key_env}")
    return key


def server_command(model: Served, port: int) -> list[str]:
    """The command line that serves ``model`` on ``port`` (llama-cpp or vllm)."""
    if model.engine == "llama-cpp":
        spec = EMBEDDED_MODELS[model.model]
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf_path(model.model)),
               "--model_alias", model.name, "--host", "127.0.0.1", "--port", str(port),
               "--n_ctx", str(model.context_length), "--n_threads", str(os.cpu_count() or 2),
               "--n_threads_batch", str(os.cpu_count() or 2)]
        if spec.chat_format:
            cmd += ["--chat_format", spec.chat_format]
        return cmd + list(model.server_args)
    if model.engine == "vllm":
        return ["vllm", "serve", model.model, "--host", "127.0.0.1", "--port", str(port),
                "--served-model-name", model.name, "--max-model-len", str(model.context_length),
                "--api-key", LOCAL_API_KEY, *model.server_args]
    raise ValueError(f"engine {model.engine} is not started locally")


def _wait_ready(proc: subprocess.Popen, url: str, timeout_s: float, log_path: Path, name: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise UserError(f"server for '{name}' exited with code {proc.returncode} while starting; see {log_path}")
        try:
            if requests.get(f"{url}/models", timeout=2,
                            headers={"Authorization": f"Bearer {LOCAL_API_KEY}"}).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise UserError(f"server for '{name}' not ready after {timeout_s:.0f}s; see {log_path}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def serve(model: Served, log_dir: Path, attempts: int = 2):
    """Yield an :class:`Endpoint` for ``model``; a local server lives only inside the block."""
    if model.engine == "openai":
        yield Endpoint(base_url=model.base_url.rstrip("/"), model=model.model, api_key=_api_key(model),
                       local=False)
        return
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{model.name}.server.log"
    for attempt in range(1, attempts + 1):
        port = _free_port()
        with log_path.open("ab") as log:
            log.write(f"\n=== start attempt {attempt}: {model.engine} {model.model}\n".encode())
            log.flush()
            proc = subprocess.Popen(server_command(model, port), stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True,
                                    preexec_fn=die_with_parent)
        url = f"http://127.0.0.1:{port}/v1"
        try:
            _wait_ready(proc, url, model.startup_timeout_s, log_path, model.name)
        except UserError:
            _stop(proc)
            if attempt == attempts:
                raise
            time.sleep(2 * attempt)
            continue
        endpoint = Endpoint(base_url=url, model=model.name, api_key=LOCAL_API_KEY, local=True)
        try:
            yield endpoint
        finally:
            endpoint.peak_rss_mb = _peak_rss_mb(proc.pid)
            _stop(proc)
        return
