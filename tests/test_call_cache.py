"""The recording proxy in front of the generator: a finished call is never made twice."""

import contextlib
import json
import threading
import time

import requests
from fakes import FakeJudgeEndpoint

from pipeline.questions.call_cache import CallProxy, CallRecord
from pipeline.serving.servers import Endpoint


@contextlib.contextmanager
def _upstream(fake, started: list):
    started.append(time.monotonic())  # the proxy enters this only when a call is not on record
    yield Endpoint(base_url=fake.url, model="real-model", api_key="sk-real-secret", local=False)


def _ask(proxy, text, model="gen-json"):
    response = requests.post(f"{proxy.base_url}/chat/completions", timeout=30,
                             json={"model": model, "messages": [{"role": "user", "content": text}]})
    return response.status_code, response.json()


def test_a_recorded_call_is_answered_from_the_record_even_after_a_restart(tmp_path):
    fake, started = FakeJudgeEndpoint("ok"), []
    try:
        record = CallRecord(tmp_path / "calls.jsonl", "generator-v1")
        with CallProxy(record, lambda: _upstream(fake, started), "gen") as proxy:
            proxy.step("single_hop", "single-hop questions", 2)
            assert _ask(proxy, "chunk A")[0] == 200 and _ask(proxy, "chunk B")[0] == 200
            assert _ask(proxy, "chunk A")[0] == 200  # same request again: from the record
        assert fake.calls == 2 and len(started) == 1
        assert proxy.fresh_calls == 2 and proxy.reused_calls == 1
        # the upstream saw the real model id and key, not the alias YourBench used
        assert fake.requests[0]["model"] == "real-model"

        again = CallRecord(tmp_path / "calls.jsonl", "generator-v1")  # a new process after a kill
        with CallProxy(again, lambda: _upstream(fake, started), "gen") as proxy:
            status, body = _ask(proxy, "chunk B")
        assert status == 200 and body["choices"][0]["message"]["content"] == "<final_answer>1</final_answer>"
        assert fake.calls == 2 and len(started) == 1, "nothing new to ask: no model call, no server started"

        other = CallRecord(tmp_path / "calls.jsonl", "generator-v2")  # another generator configuration
        with CallProxy(other, lambda: _upstream(fake, started), "gen") as proxy:
            _ask(proxy, "chunk B")
        assert fake.calls == 3
    finally:
        fake.close()


def test_each_fresh_call_names_its_session_and_every_call_used_is_listed(tmp_path):
    """So that a later run replaying a call can charge it the energy of the session that made it."""
    fake = FakeJudgeEndpoint("ok")
    try:
        record = CallRecord(tmp_path / "calls.jsonl", "g")
        record.session = "first"
        with CallProxy(record, lambda: _upstream(fake, []), "gen") as proxy:
            _ask(proxy, "a")
            _ask(proxy, "b")
        again = CallRecord(tmp_path / "calls.jsonl", "g")
        again.session = "second"
        with CallProxy(again, lambda: _upstream(fake, []), "gen") as proxy:
            _ask(proxy, "b")  # replayed
            _ask(proxy, "c")  # made now
        rows = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
        assert [r["session"] for r in rows] == ["first", "first", "second"]
        assert list(again.used) == [rows[1]["key"], rows[2]["key"]]  # b and c, not a
    finally:
        fake.close()


def test_errors_are_passed_through_and_not_recorded(tmp_path):
    fake = FakeJudgeEndpoint("flaky")  # 503 on every other call
    try:
        record = CallRecord(tmp_path / "calls.jsonl", "g")
        with CallProxy(record, lambda: _upstream(fake, []), "gen") as proxy:
            assert _ask(proxy, "x")[0] == 503
            assert _ask(proxy, "x")[0] == 200
        rows = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
        assert len(rows) == 1 and rows[0]["kind"] == "call"
        assert "sk-real-secret" not in (tmp_path / "calls.jsonl").read_text()
    finally:
        fake.close()


def test_a_retry_while_the_call_still_runs_waits_for_it(tmp_path):
    fake = FakeJudgeEndpoint("ok")
    original = fake.verdict
    fake.verdict = lambda body: (time.sleep(0.5), original(body))[1]  # a slow model
    try:
        record = CallRecord(tmp_path / "calls.jsonl", "g")
        with CallProxy(record, lambda: _upstream(fake, []), "gen") as proxy:
            results = []
            threads = [threading.Thread(target=lambda: results.append(_ask(proxy, "same"))) for _ in range(3)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        assert [r[0] for r in results] == [200, 200, 200]
        assert fake.calls == 1
    finally:
        fake.close()


def test_progress_counts_calls_with_an_eta(tmp_path, capsys):
    import io

    fake, stream = FakeJudgeEndpoint("ok"), io.StringIO()
    try:
        record = CallRecord(tmp_path / "calls.jsonl", "g")
        with CallProxy(record, lambda: _upstream(fake, []), "gen", stream=stream) as proxy:
            progress = proxy.step("single_hop", "single-hop questions", 3)
            progress.every_s = 0
            for text in ("a", "b", "a"):
                _ask(proxy, text)
        lines = stream.getvalue().splitlines()
        assert lines[0].startswith("generate: single-hop questions 1/3 calls, ") and "ETA" in lines[0]
        assert lines[-1].startswith("generate: single-hop questions 3/3 calls (1 reused)") and lines[-1].endswith("done")
    finally:
        fake.close()


def test_the_server_is_started_and_stopped_from_one_long_lived_thread(tmp_path):
    """A model server dies with the thread that started it (PR_SET_PDEATHSIG): never a request's thread."""
    fake, threads = FakeJudgeEndpoint("ok"), []

    @contextlib.contextmanager
    def upstream():
        threads.append(threading.get_ident())
        yield Endpoint(base_url=fake.url, model="m", api_key="k", local=False)
        threads.append(threading.get_ident())

    try:
        with CallProxy(CallRecord(tmp_path / "calls.jsonl", "g"), upstream, "gen") as proxy:
            _ask(proxy, "first")
            proxy.release()  # e.g. the judge is loaded next; the next unrecorded call starts the model again
            _ask(proxy, "second")
        assert len(threads) == 4 and len(set(threads)) == 1 and threads[0] != threading.get_ident()
        assert fake.calls == 2
    finally:
        fake.close()
