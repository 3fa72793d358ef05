"""Model servers that fail: at start-up, once mid-run, for good; and peak GPU memory.

The server is ``tests/fixtures/fake_bin/vllm``, a small stand-in for ``vllm
serve`` that fails on request, started through the real ``serve()`` exactly as
a vLLM candidate would be; ``fake_bin/nvidia-smi`` reports its GPU memory.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import openai
import pytest

from pipeline.config import Candidate
from pipeline.errors import UserError
from pipeline.serving.servers import serve

FAKE_BIN = Path(__file__).parent / "fixtures" / "fake_bin"


@pytest.fixture
def model(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", f"{FAKE_BIN}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_VLLM_PIDFILE", str(tmp_path / "server.pid"))
    return Candidate(name="fake-model", engine="vllm", model="org/fake-model", params_b=1.0, startup_timeout_s=60)


def _ask(endpoint) -> str:
    client = openai.OpenAI(base_url=endpoint.base_url, api_key=endpoint.api_key, max_retries=5)
    reply = client.chat.completions.create(model=endpoint.model, messages=[{"role": "user", "content": "hi"}])
    return reply.choices[0].message.content


def test_a_server_that_fails_to_start_is_retried_once_then_named(model, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_VLLM_MODE", "exit")
    with pytest.raises(UserError) as err:
        with serve(model, tmp_path / "logs"):
            pass
    log = tmp_path / "logs" / "fake-model.server.log"
    assert "'fake-model'" in str(err.value) and str(log) in str(err.value)
    assert log.read_text().count("=== start") == 2 and "CUDA out of memory" in log.read_text()


def test_a_server_that_dies_mid_run_is_restarted_and_the_work_goes_on(model, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_VLLM_DIE_AFTER", "2")
    with serve(model, tmp_path / "logs") as endpoint:
        replies = [_ask(endpoint) for _ in range(3)]  # the third reaches the restarted server
    assert replies == ["ok", "ok", "ok"]
    assert "restart 1 after exit code 3" in (tmp_path / "logs" / "fake-model.server.log").read_text()


def test_a_server_that_keeps_dying_stops_the_run_with_one_clear_error(model, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_VLLM_DIE_AFTER", "1")
    started = time.monotonic()
    with pytest.raises(UserError) as err:
        with serve(model, tmp_path / "logs") as endpoint:
            for _ in range(100):  # a client that would otherwise keep retrying for minutes
                try:
                    _ask(endpoint)
                except openai.APIConnectionError:
                    pass
    message = str(err.value)
    assert "'fake-model' died while in use" in message and "2 times" in message
    assert str(tmp_path / "logs" / "fake-model.server.log") in message and "rerun" in message
    assert time.monotonic() - started < 60


def test_peak_gpu_memory_is_that_of_the_server_processes(model, tmp_path):
    with serve(model, tmp_path / "logs") as endpoint:
        time.sleep(2.5)  # the watcher samples every second
    assert endpoint.peak_gpu_mb == 4321  # not the other session's 999, and "[N/A]" is skipped
    assert endpoint.peak_rss_mb > 0


def test_a_server_dies_with_the_pipeline(model, tmp_path):
    """kill -9 of the pipeline process takes its model server with it (nothing left holding the GPU)."""
    script = (f"import sys, time; sys.path.insert(0, {str(Path(__file__).parent.parent)!r})\n"
              "from pathlib import Path\nfrom pipeline.config import Candidate\nfrom pipeline.serving.servers import serve\n"
              "m = Candidate(name='fake-model', engine='vllm', model='org/fake', params_b=1.0)\n"
              f"with serve(m, Path({str(tmp_path / 'logs')!r})):\n    print('ready', flush=True); time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=os.environ)
    assert proc.stdout.readline().strip() == "ready"
    server_pid = int((tmp_path / "server.pid").read_text())
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and Path(f"/proc/{server_pid}").exists() and \
            "zombie" not in Path(f"/proc/{server_pid}/status").read_text():
        time.sleep(0.2)
    assert not Path(f"/proc/{server_pid}").exists() or "zombie" in Path(f"/proc/{server_pid}/status").read_text()


def test_two_runs_on_one_machine_take_turns_to_serve(tmp_path):
    """Two documents at once: their model servers never overlap (CPU contention, double-counted energy)."""
    script = (f"import sys, time; sys.path.insert(0, {str(Path(__file__).parent.parent)!r})\n"
              "from pipeline.config import Candidate\nfrom pipeline.serving.servers import machine_lock\n"
              "m = Candidate(name='m', engine='vllm', model='org/m', params_b=1.0)\n"
              "with machine_lock(m):\n    start = time.time(); time.sleep(1.5); print(start, time.time(), flush=True)\n")
    env = {**os.environ, "EVAL_SERVING_LOCK": str(tmp_path / "serving.lock")}
    runs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
            for _ in range(2)]
    outputs = [run.communicate(timeout=60)[0] for run in runs]
    assert all(run.returncode == 0 for run in runs)
    assert sum("waiting: another run on this machine is serving a model" in out for out in outputs) == 1
    (a_start, a_end), (b_start, b_end) = sorted(tuple(map(float, out.split()[-2:])) for out in outputs)
    assert b_start >= a_end  # the second began only after the first had finished


def test_a_vllm_server_is_pinned_to_its_gpus(model, tmp_path, monkeypatch):
    """Energy issue, problem 3: a candidate on 2 GPUs runs on 2 GPUs, the ones its energy counts."""
    from pipeline.serving.servers import pinned_gpus

    monkeypatch.setenv("FAKE_VLLM_ENVFILE", str(tmp_path / "env.json"))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5,6,7")  # this process's share of an 8-GPU node
    two = model.model_copy(update={"devices": 2})
    with serve(two, tmp_path / "logs"):
        pass
    seen = json.loads((tmp_path / "env.json").read_text())
    assert seen == {"CUDA_VISIBLE_DEVICES": "4,5", "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
    assert pinned_gpus(two) == ["4", "5"]  # what CodeCarbon is told to measure
    with pytest.raises(UserError, match="needs 8 GPUs but only 4"):
        pinned_gpus(model.model_copy(update={"devices": 8}))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert pinned_gpus(model) == ["0"]
    cpu = Candidate(name="cpu-model", engine="llama-cpp", model="smollm2-135m-instruct", params_b=0.135)
    assert pinned_gpus(cpu) == []  # llama.cpp runs on the CPU: no GPU counted (its server sees none)


def test_prefix_cache_hits_are_summed_from_the_llama_cpp_log():
    from pipeline.serving.servers import prefix_hit_tokens

    log = ("Llama.generate: 44 prefix-match hit, remaining 390 prompt tokens to eval\n"
           "llama_perf_context_print: prompt eval time = 3120.74 ms /   600 tokens\n"
           "INFO:     127.0.0.1:43438 - \"POST /v1/chat/completions HTTP/1.1\" 200 OK\n"
           "Llama.generate: 588 prefix-match hit, remaining 137 prompt tokens to eval\n"
           "Llama.generate: 12 prefix-match found but partial kv removal not supported, re-evaluating full prompt\n")
    assert prefix_hit_tokens(log) == 44 + 588  # a match that could not be used is no hit
    assert prefix_hit_tokens("") == 0


def test_the_llama_cpp_server_computes_no_logits_it_is_not_asked_for():
    from pipeline.serving.servers import server_command

    model = Candidate(name="tiny", engine="llama-cpp", model="smollm2-135m-instruct", params_b=0.135)
    cmd = server_command(model, 8000)
    assert cmd[cmd.index("--logits_all") + 1] == "False"


def test_the_llama_cpp_server_is_started_with_the_grammar_sampling_workaround():
    from pipeline.serving.servers import server_command

    model = Candidate(name="tiny", engine="llama-cpp", model="smollm2-135m-instruct", params_b=0.135)
    assert server_command(model, 8000)[1:3] == ["-m", "pipeline.serving.llama_server"]
