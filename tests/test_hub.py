"""pipeline.report.hub: the report as a Hugging Face dataset folder, and its upload.

No test reaches a real Hub: uploads go to a small recording HTTP server on
127.0.0.1 (``FakeHub`` below) that stands in for the Hugging Face Hub API.
"""

import base64
import hashlib
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import huggingface_hub
import pandas as pd
import pytest
import yaml
from huggingface_hub import constants as hf_constants

from pipeline.config import load
from pipeline.errors import UserError
from pipeline.report import hub
from pipeline.report.aggregation import aggregate

FAKE_TOKEN = "hf_" + "abcdefghijklmnopqrstuvwxyzABCD"  # 30 letters: the shape of a real token
OTHER_TOKEN = "hf_" + "ZYXWVUTSRQPONMLKJIHGFEDCBAzyxw"  # never in the environment, only in the data
REPO = "someone/eval-results"


LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Network to 127.0.0.1 only: any other name is refused before a connection is tried. (huggingface_hub
    2.x builds its User-Agent from a registry it fetches from huggingface.co; that fetch fails here, harmlessly.)"""
    real = socket.getaddrinfo
    refused = []

    def guarded(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in LOOPBACK:
            refused.append(name)
            raise socket.gaierror(socket.EAI_NONAME, f"tests are loopback-only: {name}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    return refused


# --------------------------------------------------------------------------- a tiny finished run


def _fake_run(tmp_path, prediction_extra=""):
    cfg = load("default")
    run_dir = tmp_path / "runs" / "default" / "abc123"
    report_dir = tmp_path / "reports" / "doc"
    run_dir.mkdir(parents=True)
    report_dir.mkdir(parents=True)
    questions = pd.DataFrame([
        {"question_id": f"q{i}", "question": f"What is fact {i}?", "gold": f"Fact {i}.", "kind": kind,
         "question_category": "factual", "estimated_difficulty": i + 2, "citations": [f"fact {i} is"],
         "chunk_ids": [f"c{i}", "c9"] if kind == "multi_hop" else [f"c{i}"], "chunk_text": f"Fact {i} is true.",
         "document_summary": "A summary.", "document_id": "doc", "question_generating_model": cfg.generator.name}
        for i, kind in enumerate(["single_shot", "single_shot", "multi_hop"])
    ])
    questions.to_parquet(run_dir / "questions.parquet", index=False)
    rows = []
    for c, candidate in enumerate(cfg.candidates[:2]):
        for i, q in questions.iterrows():
            correct = (i + c) % 2 == 0
            rows.append({
                "candidate": candidate.name, "question_id": q["question_id"],
                "prediction": f"Fact {i}." if correct else "No idea." + prediction_extra,
                "raw_prediction": "raw " + prediction_extra, "input_tokens": 50, "output_tokens": 5,
                "latency_s": 0.5, "verdict": 1.0 if correct else (float("nan") if i == 2 else 0.0),
                "status": "judged" if (correct or i != 2) else "unparsed",
                "raw_judge_output": "YES" if correct else "NO", "judge": cfg.judge.name,
                "params_b": candidate.params_b, "energy_wh": 0.01, "duration_s": 0.5, "co2_kg": 1e-6,
                "energy_method": "RAPL (test)", "hardware": "test cpu", "question": q["question"], "gold": q["gold"],
                "kind": q["kind"], "question_category": q["question_category"],
                "estimated_difficulty": q["estimated_difficulty"], "chunk_text": q["chunk_text"],
                "fingerprint": "f" * 16, "lexical_f1": 0.5,
            })
    details = pd.DataFrame(rows)
    details.to_parquet(report_dir / "details.parquet", index=False)
    aggregate(details).to_csv(report_dir / "results.csv", index=False)
    run_info = {
        "profile": cfg.profile, "config_hash": "abc123", "generator": cfg.generator.name,
        "candidates": [{"name": c.name, "model": c.model, "params_b": c.params_b} for c in cfg.candidates[:2]],
        "judge": {"name": cfg.judge.name, "prompt": cfg.judge.prompt},
        "library_versions": hub.library_versions(),
        "started": "2025-01-01T00:00:00Z", "finished": "2025-01-01T00:10:00Z", "machine": "test machine",
    }
    return cfg, run_dir, report_dir, run_info


@pytest.fixture
def built(tmp_path):
    cfg, run_dir, report_dir, run_info = _fake_run(tmp_path)
    folder = hub.build_dataset(run_dir, report_dir, cfg, "doc", run_info)
    return folder


def _snapshot(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- building


def test_every_config_loads(built, tmp_path):
    import datasets

    assert built.name == "hub"
    assert sorted(_snapshot(built)) == ["README.md", "data/details.parquet", "data/labels.parquet",
                                        "data/questions.parquet", "data/results.parquet", "data/run.parquet"]
    # every config loads, labels included before anyone labelled anything (issue 33, 13: the empty labels table
    # failed with "BatchSize must be greater than 0"): one row per answer, no label yet
    expected = {"questions": 3, "details": 6, "results": 2, "run": 1, "labels": 6}
    for name, count in expected.items():
        ds = datasets.load_dataset(str(built), name, cache_dir=str(tmp_path / "ds_cache"))
        assert list(ds) == ["train"]
        assert ds["train"].num_rows == count, name
    run = datasets.load_dataset(str(built), "run", cache_dir=str(tmp_path / "ds_cache"))["train"][0]
    assert json.loads(run["candidates"])[0]["params_b"] == pytest.approx(0.135)
    assert run["profile"] == "default"
    labels = datasets.load_dataset(str(built), "labels", cache_dir=str(tmp_path / "ds_cache"))["train"]
    assert labels.to_pandas()["label"].isna().all()
    # no temp folder left beside it
    assert sorted(p.name for p in built.parent.iterdir()) == ["details.parquet", "hub", "results.csv"]


def test_card_header(built):
    text = (built / "README.md").read_text()
    assert text.startswith("---\n")
    header = yaml.safe_load(text.split("---\n")[1])
    assert header["license"] == hub.LICENSE == "cc-by-4.0"
    assert header["pretty_name"] and header["tags"]
    configs = {c["config_name"]: c["data_files"] for c in header["configs"]}
    assert sorted(configs) == ["details", "labels", "questions", "results", "run"]
    for name, files in configs.items():
        assert files == [{"split": "train", "path": f"data/{name}.parquet"}]
    cfg = load("default")
    body = text.split("---\n", 2)[2]
    for needle in ["doc", cfg.generator.name, cfg.candidates[0].name, "135M", cfg.judge.name, cfg.judge.prompt,
                   "RAPL (test)", "load_dataset", '"results"', "datasets"]:
        assert needle in body, needle


def test_rebuild_replaces_folder(tmp_path):
    cfg, run_dir, report_dir, run_info = _fake_run(tmp_path)
    folder = hub.build_dataset(run_dir, report_dir, cfg, "doc", run_info)
    (folder / "stale.txt").write_text("old")
    again = hub.build_dataset(run_dir, report_dir, cfg, "doc", run_info)
    assert again == folder and not (folder / "stale.txt").exists()
    assert sorted(p.name for p in report_dir.iterdir()) == ["details.parquet", "hub", "results.csv"]


def test_no_token_in_any_file(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    cfg, run_dir, report_dir, run_info = _fake_run(tmp_path, prediction_extra=f" {FAKE_TOKEN} {OTHER_TOKEN}")
    run_info["machine"] = f"box with {FAKE_TOKEN}"
    folder = hub.build_dataset(run_dir, report_dir, cfg, "doc", run_info)
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert FAKE_TOKEN.encode() not in data, path
            assert OTHER_TOKEN.encode() not in data, path
    for name in hub.CONFIGS:
        frame = pd.read_parquet(folder / "data" / f"{name}.parquet")
        text = frame.astype(str).to_csv()
        assert FAKE_TOKEN not in text and OTHER_TOKEN not in text and "hf_" not in text, name
    details = pd.read_parquet(folder / "data" / "details.parquet")
    assert details["prediction"].str.contains("[redacted]", regex=False).any()
    assert hub._scrub(f"a {FAKE_TOKEN} b") == "a [redacted] b"


# --------------------------------------------------------------------------- pushing


class FakeHub(ThreadingHTTPServer):
    """Stands in for the Hugging Face Hub API on 127.0.0.1: answers what create_repo + upload_folder need
    and records every request (method, path, body size, body of commits)."""

    daemon_threads = True

    def __init__(self, status=200):
        super().__init__(("127.0.0.1", 0), _HubHandler)
        self.status = status  # anything but 200: every request is answered with it
        self.requests = []
        self.lock = threading.Lock()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"


class _HubHandler(BaseHTTPRequestHandler):
    timeout = 10  # a stuck client cannot hold a handler thread forever
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            for _ in range(100_000):  # bounded
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _answer(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _handle(self):
        body = self._body()
        path = self.path.split("?")[0]
        record = {"method": self.command, "path": path, "size": len(body),
                  "auth": self.headers.get("Authorization", ""), "body": body}
        server = self.server
        prefix = f"/api/datasets/{REPO}"
        if server.status != 200:
            status, payload = server.status, {"error": "Invalid credentials in Authorization header"}
        elif (self.command, path) == ("POST", "/api/repos/create"):
            request = json.loads(body)
            status, payload = 200, {"url": f"{server.url}/datasets/{request['organization']}/{request['name']}"}
        elif (self.command, path) == ("POST", "/api/validate-yaml"):
            status, payload = 200, {"errors": [], "warnings": []}
        elif (self.command, path) == ("POST", f"{prefix}/preupload/main"):
            files = json.loads(body)["files"]
            status, payload = 200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                              for f in files]}
        elif (self.command, path) == ("POST", f"{prefix}/commit/main"):
            status, payload = 200, {"commitUrl": f"{server.url}/datasets/{REPO}/commit/{'0' * 40}",
                                    "commitOid": "0" * 40, "success": True}
        else:
            status, payload = 404, {"error": "not emulated"}
        record["status"] = status
        with server.lock:
            server.requests.append(record)
        self._answer(status, payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle


@pytest.fixture
def fake_hub_factory(monkeypatch):
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)  # even if a test run sets it
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    servers = []

    def start(status=200):
        server = FakeHub(status)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        servers.append((server, thread))
        return server

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _commit_files(body):
    """Paths and contents of the files in an NDJSON commit payload."""
    files = {}
    for line in body.decode().splitlines():
        item = json.loads(line)
        if item["key"] == "file":
            value = item["value"]
            assert value["encoding"] == "base64"
            files[value["path"]] = base64.b64decode(value["content"])
    return files


def test_push_uploads_every_file(built, fake_hub_factory):
    server = fake_hub_factory()
    url = hub.push(built, REPO, private=True, token=FAKE_TOKEN, endpoint=server.url)
    assert url == f"{server.url}/datasets/{REPO}"
    seen = [(r["method"], r["path"], r["status"]) for r in server.requests]
    assert [s for s in seen if s[2] != 200] == [], seen  # nothing the fake Hub had to refuse
    assert seen[0] == ("POST", "/api/repos/create", 200)
    create = json.loads(server.requests[0]["body"])
    assert create == {"name": "eval-results", "organization": "someone", "visibility": "private", "type": "dataset"}
    assert all(r["auth"] == f"Bearer {FAKE_TOKEN}" for r in server.requests)
    commits = [r for r in server.requests if r["path"] == f"/api/datasets/{REPO}/commit/main"]
    assert len(commits) == 1 and commits[0]["size"] > 0
    files = _commit_files(commits[0]["body"])
    local = {str(p.relative_to(built)): p.read_bytes() for p in built.rglob("*") if p.is_file()}
    assert files == local


def test_push_without_token(built, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    before = _snapshot(built)
    with pytest.raises(UserError, match="no Hugging Face token: set HF_TOKEN or run `hf auth login`"):
        hub.push(built, REPO)
    assert _snapshot(built) == before


def test_push_unauthorized(built, fake_hub_factory):
    server = fake_hub_factory(status=401)
    before = _snapshot(built)
    with pytest.raises(UserError) as info:
        hub.push(built, REPO, token=FAKE_TOKEN, endpoint=server.url)
    message = str(info.value)
    assert "token" in message and REPO in message
    assert FAKE_TOKEN not in message and FAKE_TOKEN[3:] not in message
    assert server.requests and all(r["status"] == 401 for r in server.requests)
    assert _snapshot(built) == before


def test_push_unreachable(built, fake_hub_factory):
    with socket.socket() as sock:  # a port that was free a moment ago and is now closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    before = _snapshot(built)
    with pytest.raises(UserError) as info:
        hub.push(built, REPO, token=FAKE_TOKEN, endpoint=endpoint)
    message = str(info.value)
    assert endpoint in message and "intact" in message and "rerun" in message
    assert FAKE_TOKEN not in message
    assert _snapshot(built) == before
