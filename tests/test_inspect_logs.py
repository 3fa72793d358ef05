"""The details as Inspect AI eval logs: read back with Inspect's own reader, and listed by ``inspect view``."""

from __future__ import annotations

import asyncio
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from inspect_ai.log import read_eval_log

from pipeline.report import inspect_logs

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [  # as tests/test_html_report.py, driven over the DevTools protocol: the viewer loads the log
    # in a worker, which --dump-dom's virtual time does not wait for
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1280,900",
]
INSPECT = Path(sys.executable).with_name("inspect")
TASK = {"profile": "default", "document": "doc.md", "judge": "qwen2.5-coder-1.5b-instruct",
        "judge_prompt": "judge_prompts/judge.txt", "candidate_context": "chunk"}
CANDIDATES = ("SmolLM2-135M-Instruct", "gemma-3-270m")


def tiny_details() -> pd.DataFrame:
    """2 candidates x 3 questions; per candidate one unparsed verdict and one graded by the non-answer rule."""
    rows = []
    for c, candidate in enumerate(CANDIDATES):
        verdicts = [(1.0, "judged", "judge", ""), (float("nan"), "unparsed", "judge", ""),
                    (0.0, "judged", "rule", "empty answer")] if c == 0 else \
                   [(1.0, "judged", "judge", ""), (1.0, "judged", "judge", ""), (float("nan"), "unparsed", "judge", "")]
        for i, (verdict, status, graded_by, rule) in enumerate(verdicts):
            rows.append({
                "question_id": f"q{i}", "candidate": candidate,
                "question": f"What does the document say about topic {i}?", "gold": f"Topic {i} is explained.",
                "chunk_text": f"Excerpt about topic {i}.", "prediction": f"{candidate} answers {i}.",
                "verdict": verdict, "status": status, "graded_by": graded_by, "rule": rule,
                "raw_judge_output": f"judge reply {c}-{i}", "energy_wh": 0.004 + 0.001 * i + 0.01 * c,
                "energy_method": "measured (RAPL)", "input_tokens": np.int64(60 + i), "output_tokens": np.int64(8),
                "latency_s": 0.5 + i,
            })
    return pd.DataFrame(rows)


def _write(tmp_path: Path, details: pd.DataFrame | None = None, **task) -> dict[str, object]:
    details = tiny_details() if details is None else details
    paths = inspect_logs.write(details, tmp_path / "inspect", {**TASK, **task}, "fp-0123456789abcdef")
    logs = {}
    for path in paths:
        log = read_eval_log(str(path))
        logs[log.eval.model] = log
    return logs


def test_logs_read_back_with_inspect(tmp_path):
    details = tiny_details()
    logs = _write(tmp_path, details)
    assert sorted(logs) == sorted(CANDIDATES)
    for candidate, log in logs.items():
        rows = details[details["candidate"] == candidate].set_index("question_id")
        assert log.status == "success" and log.eval.task == "document_qa"
        assert log.eval.task_args["candidate_context"] == "chunk" and log.eval.task_args["judge"] == TASK["judge"]
        assert log.eval.metadata["run_fingerprint"] == "fp-0123456789abcdef"
        assert log.eval.dataset.samples == len(rows) == len(log.samples) == log.results.total_samples
        for sample in log.samples:
            row = rows.loc[sample.id]
            score = sample.scores["judge"]
            if row["status"] == "judged":
                assert score.value == ("C" if row["verdict"] == 1 else "I")
            else:  # unparsed: kept, unscored (NaN), out of the metrics
                assert isinstance(score.value, float) and math.isnan(score.value)
                assert score.reason == "grader_failed"
            assert sample.target == row["gold"]
            assert row["question"] in sample.input and row["chunk_text"] in sample.input
            assert sample.output.completion == row["prediction"]
            assert score.explanation == row["raw_judge_output"]
            assert sample.metadata["graded_by"] == row["graded_by"] == score.metadata["graded_by"]
            assert sample.metadata["rule"] == row["rule"]
            assert sample.metadata["energy_wh"] == pytest.approx(row["energy_wh"])
            assert sample.metadata["energy_method"] == "measured (RAPL)"
            assert sample.metadata["input_tokens"] == row["input_tokens"]
            assert sample.metadata["latency_s"] == pytest.approx(row["latency_s"])
            assert sample.output.usage.output_tokens == row["output_tokens"]
        judged = rows[rows["status"] == "judged"]
        score = log.results.scores[0]
        assert score.metrics["accuracy"].value == pytest.approx(judged["verdict"].mean())
        assert score.scored_samples == len(judged) and score.unscored_samples == len(rows) - len(judged)
    assert logs["SmolLM2-135M-Instruct"].samples[2].metadata["graded_by"] == "rule"


def test_no_excerpt_labels_and_stale_logs(tmp_path):
    stale = tmp_path / "inspect" / "document_qa_gone-model.eval"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    details = tiny_details().assign(label=["correct", None, "gold_wrong", "wrong", "", None],
                                    label_value=[1.0, np.nan, np.nan, 0.0, np.nan, np.nan],
                                    label_status=["labelled", "", "labelled", "labelled", "", ""])
    logs = _write(tmp_path, details, candidate_context="none")
    assert not stale.exists()
    smol, gemma = logs["SmolLM2-135M-Instruct"], logs["gemma-3-270m"]
    assert smol.samples[0].input == "What does the document say about topic 0?"  # the candidates saw no excerpt
    assert smol.samples[0].metadata["label"] == "correct" and smol.samples[0].metadata["label_status"] == "labelled"
    assert smol.samples[1].metadata["label"] is None and smol.samples[1].metadata["label_value"] is None
    # a person's "correct"/"wrong" is a second score; "gold_wrong" is no verdict on the answer
    assert smol.samples[0].scores["person"].value == "C" and "person" not in smol.samples[2].scores
    assert gemma.samples[0].scores["person"].value == "I"
    person = {s.name: s for s in smol.results.scores}["person"]
    assert person.scored_samples == 1 and person.metrics["accuracy"].value == 1.0
    assert [s.name for s in _write(tmp_path).popitem()[1].results.scores] == ["judge"]  # no labels: no person


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen, out: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"inspect view exited {proc.returncode}: {out.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"inspect view did not answer {url} within {timeout_s}s")


async def _page_text(devtools_ws: str, url: str, wanted: list[str], timeout_s: float) -> str:
    """Open ``url`` in the browser behind ``devtools_ws`` and return the page's text once it shows ``wanted``
    (or when ``timeout_s`` runs out)."""
    import aiohttp

    port = re.search(r":(\d+)/", devtools_ws).group(1)
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}/json/list") as response:
            page = next(t for t in await response.json() if t["type"] == "page")
        async with session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            ids = iter(range(1, 1_000_000))

            async def call(method: str, **params) -> dict:
                i = next(ids)
                await ws.send_json({"id": i, "method": method, "params": params})
                while True:
                    message = await ws.receive_json()
                    if message.get("id") == i:
                        return message

            await call("Page.navigate", url=url)
            text, deadline = "", time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                reply = await call("Runtime.evaluate", expression="document.body ? document.body.innerText : ''",
                                   returnByValue=True)
                text = reply.get("result", {}).get("result", {}).get("value", "")
                if all(w in text for w in wanted):
                    break
                await asyncio.sleep(0.3)
            return text


def test_inspect_view_lists_the_samples(tmp_path):
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} not found: install Debian's `chromium` (and `fonts-dejavu-core`) to run the browser test"
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI is set, so this is a failure, not a skip)")
        pytest.skip(reason)
    pytest.importorskip("aiohttp")
    paths = inspect_logs.write(tiny_details(), tmp_path / "inspect", TASK, "fp")
    log = next(p for p in paths if "SmolLM2" in p.name)
    port = _free_port()
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}  # the viewer's port lock files
    server_out = tmp_path / "view.out"
    with server_out.open("w") as out:
        server = subprocess.Popen([str(INSPECT), "view", "--log-dir", str(log.parent), "--port", str(port),
                                   "--host", "127.0.0.1"], cwd=tmp_path, env=env, stdout=out,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    browser = None
    try:
        _wait_http(f"http://127.0.0.1:{port}/", server, server_out, 30)
        err = tmp_path / "chromium.err"  # a file, not a pipe: chromium's chatter never blocks it
        with err.open("w") as err_file:
            browser = subprocess.Popen([str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                                        "--remote-debugging-port=0", "about:blank"], stdout=subprocess.DEVNULL,
                                       stderr=err_file, start_new_session=True)
        devtools, deadline = None, time.monotonic() + 20
        while devtools is None and time.monotonic() < deadline and browser.poll() is None:
            found = re.search(r"DevTools listening on (ws://\S+)", err.read_text(errors="replace"))
            devtools = found.group(1) if found else time.sleep(0.1)
        assert devtools, f"chromium did not open its DevTools endpoint:\n{err.read_text(errors='replace')[-3000:]}"
        details = tiny_details()
        questions = details.loc[details["candidate"] == "SmolLM2-135M-Instruct", "question"].tolist()
        url = f"http://127.0.0.1:{port}/#/logs/{log.name}/samples/"
        text = asyncio.run(_page_text(devtools, url, [*questions, "ACCURACY"], timeout_s=20))
    finally:
        for proc in (browser, server):
            if proc is not None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                proc.wait()
    for question in questions:
        assert question in text, f"sample missing from the viewer's list:\n{text[-3000:]}"
    assert "3 Samples" in text and "SmolLM2-135M-Instruct" in text
    lines = text.splitlines()
    assert "C" in lines and "I" in lines  # the verdicts as Inspect's score badges
    assert "gemma-3-270m answers" not in text  # one log's samples, not the other candidate's
