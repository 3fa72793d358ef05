"""A recording proxy in front of the question generator: no finished call is ever made twice.

YourBench keeps no record of the model calls it made: a run stopped half-way
(Ctrl-C, ``kill -9``, a crash) starts its stage over, and every call is paid
again. YourBench talks to an OpenAI-compatible URL, so we hand it the URL of
this proxy instead of the model server's. The proxy:

* answers a request it has answered before from ``calls.jsonl`` (a request is
  keyed by its body, less the model alias, and the served model: :mod:`pipeline.keys`); every fresh
  answer is appended and fsync'ed before it is returned, so it survives a kill;
* sends one request at most once at a time: YourBench's retry of a call that
  is still running upstream (its 300 s client timeout) waits for that call
  instead of queueing a second copy on a busy CPU;
* starts the model server only on the first request it cannot answer from the
  record, so a rerun that changes nothing (or a lower question target) loads
  no model at all. It is started (and stopped) from one long-lived thread of
  the proxy's: a server dies with the thread that started it
  (``PR_SET_PDEATHSIG``, :func:`pipeline.serving.servers.die_with_parent`), and a
  request's thread ends with the request;
* counts calls for the console (:class:`pipeline.progress.Progress`) and
  records this machine's seconds per call for the next run's time estimate;
* holds the real API key of a remote generator: YourBench only ever sees a
  local placeholder.

Only successful (HTTP 200) answers are recorded; errors pass through unrecorded
so that YourBench's own retries still apply.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from pipeline.io import append_jsonl, read_jsonl
from pipeline.progress import Progress, SpeedLog

PLACEHOLDER_KEY = "sk-proxy-local"


class CallRecord:
    """``calls.jsonl``: one line per finished call (key, response body, seconds, kind, and the energy session
    that made it, so that a call replayed by a later run can be charged what it cost when it was made).

    ``session``: the id of the energy session making fresh calls now (set by the stage); ``used``: every call
    answered through this record in this process, fresh or replayed, in order.
    """

    def __init__(self, path: Path, fingerprint: str):
        self.path, self.fingerprint = path, fingerprint
        self.answers = {r["key"]: r for r in read_jsonl(path)}
        self.lock = threading.Lock()
        self.session: str | None = None
        self.used: dict[str, None] = {}

    def key(self, path: str, body: bytes) -> str:
        """The call's key: the record's fingerprint (the model and how it is served) and the request.

        The same request with its keys in another order is the same request. Its ``model`` is left out: it
        is the alias the client used, which the proxy replaces with the upstream's own id before the call
        (renaming the generator in the profile changes no reply).
        """
        try:
            request = json.loads(body)
            if isinstance(request, dict):
                request.pop("model", None)
            canonical = json.dumps(request, sort_keys=True, ensure_ascii=False).encode()
        except ValueError:
            canonical = body
        return hashlib.sha256(self.fingerprint.encode() + b"\0" + path.encode() + b"\0" + canonical).hexdigest()

    def get(self, key: str) -> dict | None:
        return self.answers.get(key)

    def add(self, key: str, body: str, seconds: float, kind: str) -> None:
        row = {"key": key, "kind": kind, "seconds": round(seconds, 3), "session": self.session, "response": body}
        with self.lock:
            append_jsonl(self.path, row)
            self.answers[key] = row
            self.used[key] = None

    def use(self, key: str) -> None:
        """A recorded call answered again: what is made now rests on it too."""
        with self.lock:
            self.used[key] = None


class CallProxy:
    """``with CallProxy(record, upstream, model) as proxy:`` — ``proxy.base_url`` goes to YourBench.

    ``upstream()`` makes a context manager yielding an :class:`pipeline.serving.servers.Endpoint`
    (``lambda: serve(generator, log_dir)``); one is entered on the first
    unrecorded call and left when the proxy closes or :meth:`release` is called.
    Call :meth:`step` before each YourBench stage to name the calls it makes and
    how many are planned.
    """

    def __init__(self, record: CallRecord, upstream, model: str, speed: SpeedLog | None = None, stream=None):
        self.record, self.upstream, self.model = record, upstream, model
        self.starter = ThreadPoolExecutor(1, thread_name_prefix="call-proxy-upstream")
        self.speed, self.stream = speed, stream
        self.endpoint = None
        self.stack = contextlib.ExitStack()
        self.start_lock = threading.Lock()
        self.inflight: dict[str, Future] = {}
        self.inflight_lock = threading.Lock()
        self.progress: Progress | None = None
        self.kind = "call"
        self.fresh_calls = self.reused_calls = 0
        self.server: ThreadingHTTPServer | None = None

    # -- life cycle ------------------------------------------------------------------------------

    def __enter__(self) -> "CallProxy":
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet: progress lines say what happens
                pass

            def do_GET(self):
                proxy._send(self, 200, json.dumps({"object": "list", "data": [
                    {"id": proxy.model, "object": "model"}]}).encode())

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, payload = proxy.handle(self.path, body)
                proxy._send(self, status, payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name="call-proxy", daemon=True).start()
        return self

    def __exit__(self, *exc) -> bool | None:
        self.server.shutdown()
        self.server.server_close()
        try:  # the exception, if any, reaches serve(): a server that died is reported as such
            with self.start_lock:
                return self.starter.submit(self.stack.__exit__, *exc).result()
        finally:
            self.starter.shutdown()

    def release(self) -> None:
        """Stop the model server now, e.g. before another model is loaded; the next unrecorded call restarts it."""
        with self.start_lock:
            self.starter.submit(self.stack.close).result()
            self.stack = contextlib.ExitStack()
            self.endpoint = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def step(self, kind: str, label: str, planned: int, stage: str = "generate") -> Progress:
        """Name the calls that follow (``kind`` for speed records, ``label`` for the console)."""
        prior = self.speed.seconds_per_call(self.model, kind) if self.speed else None
        self.kind = kind
        self.progress = Progress(stage, label, planned, seconds_per_item=prior, stream=self.stream)
        return self.progress

    # -- requests --------------------------------------------------------------------------------

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, payload: bytes) -> None:
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout); the answer is recorded all the same

    def _upstream(self):
        with self.start_lock:
            if self.endpoint is None:
                self.endpoint = self.starter.submit(self.stack.enter_context, self.upstream()).result()
            return self.endpoint

    def handle(self, path: str, body: bytes) -> tuple[int, bytes]:
        suffix = path.split("/v1", 1)[-1] if "/v1" in path else path
        key = self.record.key(suffix, body)
        if (found := self.record.get(key)) is not None:
            self.record.use(key)
            self._count(reused=True)
            return 200, found["response"].encode()
        with self.inflight_lock:
            future = self.inflight.get(key)
            owner = future is None
            if owner:
                future = self.inflight[key] = Future()
        if not owner:  # the same request is running already: wait for it
            return future.result()
        try:
            result = self._forward(key, suffix, body)
            future.set_result(result)
            return result
        except BaseException as exc:
            future.set_result((502, json.dumps({"error": f"proxy: {type(exc).__name__}"}).encode()))
            raise
        finally:
            with self.inflight_lock:
                self.inflight.pop(key, None)

    def _forward(self, key: str, suffix: str, body: bytes) -> tuple[int, bytes]:
        import requests  # here, not at the top: `locate` (run on every make) imports this module

        try:
            endpoint = self._upstream()
        except Exception as exc:  # noqa: BLE001 - the model could not be served: tell the client
            return 503, json.dumps({"error": f"generator not available: {exc}"}).encode()
        payload = json.loads(body)
        payload["model"] = endpoint.model
        started = time.monotonic()
        try:
            response = requests.post(f"{endpoint.base_url}{suffix}", json=payload, timeout=3600,
                                     headers={"Authorization": f"Bearer {endpoint.api_key}"})
        except requests.RequestException as exc:
            return 502, json.dumps({"error": f"generator unreachable: {type(exc).__name__}"}).encode()
        seconds = time.monotonic() - started
        if response.status_code == 200:
            self.record.add(key, response.text, seconds, self.kind)
            self._count(reused=False, seconds=seconds)
        return response.status_code, response.content

    def _count(self, reused: bool, seconds: float | None = None) -> None:
        if reused:
            self.reused_calls += 1
        else:
            self.fresh_calls += 1
            if self.speed:
                self.speed.record(self.model, self.kind, seconds or 0.0, 1)
        if self.progress:
            self.progress.advance(reused=reused, seconds=seconds)
