"""Start, health-check and stop the OpenAI-compatible server behind a model.

``serve(model, log_dir)`` is a context manager yielding an :class:`Endpoint`.
For ``llama-cpp`` and ``vllm`` it starts the server on a free local port, waits
until ``/v1/models`` answers, and stops the process on exit (also on Ctrl-C or
an exception). For ``openai`` nothing is started: the configured URL is used.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.config import Served
from pipeline.errors import UserError
from pipeline.serving.models import EMBEDDED_MODELS, gguf_path

# A reasoning model's reply (QwQ, Qwen3, DeepSeek-R1 served with its thinking) carries a trace before the answer;
# candidates' answers and judges' verdicts are read after it.
THINK_BLOCK = re.compile(r"<think>.*?</think>", re.IGNORECASE | re.DOTALL)


def strip_reasoning(text: str | None) -> str:
    """Remove ``<think>...</think>`` traces; a reply cut off inside one has no answer left."""
    text = THINK_BLOCK.sub("", text or "")
    if "</think>" in text.lower():  # the opening tag was in the prompt (QwQ, Qwen3 templates)
        text = re.split(r"</think>", text, flags=re.IGNORECASE)[-1]
    if "<think>" in text.lower():  # unterminated trace
        text = re.split(r"<think>", text, flags=re.IGNORECASE)[0]
    return text.strip()


LOCAL_API_KEY = "sk-local-no-auth"  # llama.cpp / vLLM servers we start accept any key
LOCK_PATH = Path(os.environ.get("EVAL_SERVING_LOCK", Path.home() / ".cache" / "energy-eval" / "serving.lock"))


@dataclass
class Endpoint:
    base_url: str  # ends in /v1
    model: str  # the model id to send in requests
    api_key: str = field(repr=False)
    local: bool  # True when we run the server on this machine (energy is then measured here)
    peak_rss_mb: float | None = None  # the local server's peak resident memory, set when it stops
    peak_gpu_mb: float | None = None  # its peak GPU memory (nvidia-smi), set when it stops
    prefix_hit_tokens: int | None = None  # prompt tokens llama.cpp reused from its cache, set when it stops


PREFIX_HIT = re.compile(r"^Llama\.generate: (\d+) prefix-match hit", re.MULTILINE)


def prefix_hit_tokens(log_text: str) -> int:
    """Prompt tokens a llama-cpp-python server took from its prefix cache, from its (verbose) log.

    llama-cpp-python keeps the previous request's KV cache and re-evaluates only
    what follows the longest common prefix; it logs each reuse as
    ``Llama.generate: N prefix-match hit, remaining M prompt tokens to eval``.
    Divided by the requests' prompt tokens, this is the cache's hit rate.
    """
    return sum(int(n) for n in PREFIX_HIT.findall(log_text))


def _log_since(path: Path, offset: int) -> str:
    with path.open("rb") as log:
        log.seek(offset)
        return log.read().decode("utf-8", "replace")


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


def served_name(model: Served) -> str:
    """The model id requests carry: the endpoint's own id for ``openai``, our alias for servers we start."""
    return model.model if model.engine == "openai" else model.name


def _api_key(model: Served) -> str:
    if not model.api_key_env:
        return LOCAL_API_KEY
    key = os.environ.get(model.api_key_env)
    if not key:
        raise UserError(f"model '{model.name}' needs an API key: set the environment variable {model.api_key_env}")
    return key


def pinned_gpus(model: Served) -> list[str]:
    """The GPUs ``model``'s server is pinned to, and the only ones its energy counts.

    vLLM: the first ``devices`` GPUs this process may use (those of its own
    ``CUDA_VISIBLE_DEVICES`` when set, else GPUs 0, 1, ...), as NVML indices
    (the server gets ``CUDA_DEVICE_ORDER=PCI_BUS_ID``, NVML's order). llama.cpp
    runs on the CPU and a remote endpoint on someone else's hardware: none.
    """
    if model.engine != "vllm":
        return []
    devices = getattr(model, "devices", 1)  # the generator has no device count: one GPU
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    usable = [g.strip() for g in visible.split(",") if g.strip()] if visible is not None else \
        [str(i) for i in range(devices)]
    if len(usable) < devices:
        raise UserError(f"model '{model.name}' needs {devices} GPUs but only {len(usable)} are visible "
                        f"(CUDA_VISIBLE_DEVICES={visible})")
    return usable[:devices]


def server_env(model: Served) -> dict[str, str]:
    """The server's environment: pinned to its GPUs (vLLM), or kept off every GPU (llama.cpp runs on the CPU)."""
    env = dict(os.environ)
    if model.engine == "vllm":
        env.update(CUDA_VISIBLE_DEVICES=",".join(pinned_gpus(model)), CUDA_DEVICE_ORDER="PCI_BUS_ID")
    else:
        env["CUDA_VISIBLE_DEVICES"] = ""
    return env


def server_command(model: Served, port: int) -> list[str]:
    """The command line that serves ``model`` on ``port`` (llama-cpp or vllm)."""
    if model.engine == "llama-cpp":
        spec = EMBEDDED_MODELS[model.model]
        # llama-cpp-python's server, with greedy grammar sampling made fast (pipeline/serving/llama_server.py)
        cmd = [sys.executable, "-m", "pipeline.serving.llama_server", "--model", str(gguf_path(model.model)),
               "--model_alias", model.name, "--host", "127.0.0.1", "--port", str(port),
               "--n_ctx", str(model.context_length), "--n_threads", str(os.cpu_count() or 2),
               "--n_threads_batch", str(os.cpu_count() or 2),
               # The server's default (True) computes the logits of every prompt token, which nothing
               # here reads: prompt evaluation then took 3.3x as long for Gemma 3 270M (262k-token
               # vocabulary), 1.07x for Qwen2.5 0.5B (in process, 2026-11-26; README, "Speed").
               # A judge whose verdict is a probability (judge.yes_threshold) needs them: its reply's logprobs.
               "--logits_all", "True" if getattr(model, "yes_threshold", None) is not None else "False"]
        if spec.chat_format:
            cmd += ["--chat_format", spec.chat_format]
        return cmd + list(model.server_args)
    if model.engine == "vllm":
        return ["vllm", "serve", model.model, "--host", "127.0.0.1", "--port", str(port),
                "--served-model-name", model.name, "--max-model-len", str(model.context_length),
                "--api-key", LOCAL_API_KEY, *model.server_args]
    raise ValueError(f"engine {model.engine} is not started locally")


def _wait_ready(proc: subprocess.Popen, url: str, timeout_s: float, log_path: Path, name: str) -> None:
    import requests  # here, not at the top: `locate` (run on every make) imports this module

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


def gpu_memory_mb(session_id: int) -> float | None:
    """GPU memory used by the processes of one server (its session: vLLM forks workers), from nvidia-smi."""
    if not shutil.which("nvidia-smi"):
        return None
    try:
        out = subprocess.run(["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    total = None
    for line in out.splitlines():
        try:
            pid, used = (int(part) for part in line.split(","))
            if os.getsid(pid) == session_id:
                total = (total or 0.0) + used
        except (ValueError, OSError):  # "[N/A]" under MIG, or the process is gone
            continue
    return total


class _Server:
    """A local model server we start, watch and stop.

    A watcher thread samples its peak memory (RSS, and GPU memory where
    nvidia-smi exists) and restarts it on the same port if it dies while in use,
    ``restarts`` times at most: the clients' own retries with backoff carry the
    in-flight requests over. When it dies once more, the watcher interrupts the
    main thread (as Ctrl-C would), and :func:`serve` turns that into one clear
    error instead of letting every remaining request time out in turn.
    """

    def __init__(self, model: Served, log_path: Path, port: int, restarts: int):
        self.model, self.log_path, self.port, self.restarts = model, log_path, port, restarts
        self.deaths, self.gave_up = 0, ""
        self.peak_rss_mb: float | None = None
        self.peak_gpu_mb: float | None = None
        self.stopping, self.lock = threading.Event(), threading.Lock()
        self.proc = self._start("start")

    def _start(self, why: str) -> subprocess.Popen:
        with self.log_path.open("ab") as log:
            log.write(f"\n=== {why}: {self.model.engine} {self.model.model} on port {self.port}\n".encode())
            log.flush()
            return subprocess.Popen(server_command(self.model, self.port), stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=die_with_parent,
                                    env=server_env(self.model))

    def _sample(self) -> None:
        rss, gpu = _peak_rss_mb(self.proc.pid), gpu_memory_mb(self.proc.pid)
        self.peak_rss_mb = max(filter(None, [self.peak_rss_mb, rss]), default=None)
        self.peak_gpu_mb = max(filter(None, [self.peak_gpu_mb, gpu]), default=None)

    def watch(self) -> None:
        while not self.stopping.wait(1.0):
            if self.proc.poll() is None:
                self._sample()
                continue
            with self.lock:
                if self.stopping.is_set():  # we stopped it ourselves
                    return
                self.deaths += 1
                if self.deaths > self.restarts:
                    self.gave_up = (f"server for '{self.model.name}' died while in use (exit code "
                                    f"{self.proc.returncode}, {self.deaths} times); see {self.log_path}")
                    # A real signal to the main thread wakes it even from a blocking wait.
                    signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
                    return
                time.sleep(2 * self.deaths)
                self.proc = self._start(f"restart {self.deaths} after exit code {self.proc.returncode}")

    def stop(self) -> None:
        with self.lock:
            self.stopping.set()
        if self.proc.poll() is None:
            self._sample()
        _stop(self.proc)


@contextlib.contextmanager
def machine_lock(model: Served):
    """Hold this machine's serving lock while ``model`` is served here (remote endpoints need none).

    Two documents processed at once (two shells, ``make -j``) would otherwise
    run two model servers side by side: on a CPU they fight for the cores
    (llama.cpp slows tenfold and YourBench's fixed timeouts trip), and
    CodeCarbon, which measures the whole machine, would count each one's energy
    in the other's figures. Enter it *before* starting an energy phase.
    """
    if model.engine == "openai":
        yield
        return
    LOCK_PATH.parent.mkdir(parents=True, exist_ok=True)
    with LOCK_PATH.open("a") as handle:  # the lock goes when the file closes, or the process dies
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting: another run on this machine is serving a model (lock: {LOCK_PATH})", flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


@contextlib.contextmanager
def serve(model: Served, log_dir: Path, attempts: int = 2, restarts: int = 1):
    """Yield an :class:`Endpoint` for ``model``; a local server lives only inside the block.

    Starting is tried ``attempts`` times; a server that dies while in use is
    restarted ``restarts`` times. Past that, one :class:`UserError` names the
    model and its log file.
    """
    if model.engine == "openai":
        yield Endpoint(base_url=model.base_url.rstrip("/"), model=served_name(model), api_key=_api_key(model),
                       local=False)
        return
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{model.name}.server.log"
    log_start = log_path.stat().st_size if log_path.exists() else 0
    for attempt in range(1, attempts + 1):
        port = _free_port()
        server = _Server(model, log_path, port, restarts)
        url = f"http://127.0.0.1:{port}/v1"
        try:
            _wait_ready(server.proc, url, model.startup_timeout_s, log_path, model.name)
        except BaseException as exc:
            server.stop()
            if attempt == attempts or not isinstance(exc, UserError):
                raise
            time.sleep(2 * attempt)
            continue
        endpoint = Endpoint(base_url=url, model=served_name(model), api_key=LOCAL_API_KEY, local=True)
        watcher = threading.Thread(target=server.watch, name=f"watch-{model.name}", daemon=True)
        watcher.start()
        try:
            yield endpoint
        except KeyboardInterrupt:
            if server.gave_up:
                raise UserError(f"{server.gave_up}; finished work is kept, rerun to resume") from None
            raise
        finally:
            server.stop()
            watcher.join(timeout=5)
            endpoint.peak_rss_mb, endpoint.peak_gpu_mb = server.peak_rss_mb, server.peak_gpu_mb
            if model.engine == "llama-cpp":
                endpoint.prefix_hit_tokens = prefix_hit_tokens(_log_since(log_path, log_start))
        return
