"""A long document's generation: planned by the questions wanted, resumed after a kill, following the target.

A 32-page French PDF made by the test is ingested, planned and its questions generated and
validated on the embedded models (profile tests/fixtures/configs/e2e-long.yaml);
the later stages are the same for any document and are tested on the short ones
(test_e2e.py). Generation must cost what the questions need, not what the pages
hold. The first generation replays recorded generator replies (tests/recordings.py);
then the target is lowered (nothing is generated), raised (only the added chunks
are, for real), and the raised run is killed with SIGKILL mid-way: the rerun makes
no call that had already finished, and the questions of the calls made for real are in
French, the document's language. About five minutes on 2 CPU cores.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import recordings
import yaml
from documents import make_pdf

from pipeline import runs
from pipeline.io import read_jsonl
from pipeline.questions import selection
from pipeline.questions.document import content_hash
from pipeline.questions.generate import GENERATOR_CALLS

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
PAGES = 32
RECORDING = "long-report"
FIRST_RUN_CALLS = runs.RUNS / "e2e-long" / "first-run-calls"  # what tests/recordings.py saves

pytestmark = pytest.mark.e2e


def _env(config_dir: Path = FIXTURES / "configs") -> dict:
    return {**os.environ, "EVAL_CONFIG_DIR": str(config_dir)}


def last_run_dir() -> Path:
    return FIRST_RUN_CALLS


@pytest.fixture(scope="module")
def long_run(tmp_path_factory):
    shutil.rmtree(runs.RUNS / "e2e-long", ignore_errors=True)
    doc = make_pdf(tmp_path_factory.mktemp("long") / "long-report.pdf", PAGES, seed=5, language="fr")
    run_dir = runs.RUNS / "e2e-long" / content_hash(doc)
    recordings.install(RECORDING, run_dir)
    locate = _locate(doc, FIXTURES / "configs", tmp_path_factory.mktemp("located"))
    proc = _generate_only(run_dir, FIXTURES / "configs", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(timeout=3000)
    assert proc.returncode == 0, out[-3000:] + err[-3000:]
    recordings.warn_if_stale(RECORDING, out)
    # The first run's calls, as tests/recordings.py saves them; a stale recording's unused replies are dropped,
    # so that the record holds exactly the calls this run rests on (what the tests below count).
    used = set(json.loads((run_dir / "generation.json").read_text())["calls_used"])
    for path in recordings.RECORDS.values():
        rows = [r for r in read_jsonl(run_dir / path) if r["key"] in used]
        (run_dir / path).write_text("".join(json.dumps(r) + "\n" for r in rows))
        (FIRST_RUN_CALLS / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(run_dir / path, FIRST_RUN_CALLS / path)
    return run_dir, subprocess.CompletedProcess(proc.args, proc.returncode, locate + out, err)


def test_a_long_document_is_planned_by_the_questions_wanted(long_run):
    run_dir, done = long_run
    plan_line = next(line for line in done.stdout.splitlines() if line.startswith(f"generate: {PAGES} pages,"))
    # target 4, 2 questions per call, overdraw 1.5: 3 question calls (one a multi-hop pair) and the summary
    assert "4 generator calls planned (1 summary over" in plan_line and "2 single-hop, 1 multi-hop" in plan_line
    assert "generate: single-hop questions 2/2 calls" in done.stdout  # progress on the console
    generation = json.loads((run_dir / "generation.json").read_text())
    plan, rounds = generation["plan"], generation["rounds"]
    assert plan["chunks"] > 40 and rounds[0]["question_calls"] == 3
    # A top-up round only when validation kept fewer than the target, each reading further chunks.
    assert all(r["kept"] < 4 for r in rounds[:-1])
    assert all(b["question_calls"] > a["question_calls"] for a, b in zip(rounds, rounds[1:]))
    assert len(plan["single_hop"]) + len(plan["multi_hop"]) == rounds[-1]["question_calls"]
    # Each call made once: a top-up round asks YourBench again for the earlier rounds' chunks, and those
    # calls are answered from the record (here every call is: the first run replays a recording).
    asked = generation["fresh_calls"] + generation["reused_calls"]
    assert asked == plan["calls"] + sum(r["question_calls"] for r in rounds[:-1])
    keys = [r["key"] for r in read_jsonl(run_dir / GENERATOR_CALLS)]
    assert len(keys) == len(set(keys)) == plan["calls"]
    questions = pd.read_parquet(run_dir / "questions.parquet")
    assert len(questions) >= 3 and (questions["language"] == "fr").all()
    assert set(generation["calls_used"]) >= {r["key"] for r in read_jsonl(run_dir / GENERATOR_CALLS)}


def _config_dir(tmp_path: Path, **questions) -> Path:
    data = yaml.safe_load((FIXTURES / "configs" / "e2e-long.yaml").read_text())
    data["questions"].update(questions)
    (tmp_path / "configs").mkdir(exist_ok=True)
    (tmp_path / "configs" / "e2e-long.yaml").write_text(yaml.safe_dump(data))
    return tmp_path / "configs"


PYTHON = str(ROOT / ".venv" / "bin" / "python")


def _locate(doc: Path, config_dir: Path, out_dir: Path) -> str:
    """``locate``, as make runs it first: the document checked and staged, the stage keys written."""
    located = subprocess.run([PYTHON, "-m", "pipeline", "locate", "--profile", "e2e-long", "--doc", str(doc),
                              "--out", str(out_dir / "located.mk")],
                             cwd=ROOT, env=_env(config_dir), capture_output=True, text=True)
    assert located.returncode == 0, located.stderr
    return located.stdout


def _generate(run_dir: Path, config_dir: Path, **popen):
    """The generate stage alone, after ``locate`` wrote its key for this configuration (as make does)."""
    _locate(run_dir / "document.pdf", config_dir, config_dir)
    return _generate_only(run_dir, config_dir, **popen)


def _generate_only(run_dir: Path, config_dir: Path, **popen):
    command = [PYTHON, "-m", "pipeline", "generate", "--profile", "e2e-long", "--run-dir", str(run_dir)]
    return subprocess.Popen(command, cwd=ROOT, env=_env(config_dir), text=True, **popen)


def _made_and_reused(stdout: str) -> tuple[int, int]:
    found = re.search(r"generate: (\d+) generator calls made, (\d+) reused", stdout)
    assert found, stdout[-2000:]
    return int(found.group(1)), int(found.group(2))


def _question_calls(plan: dict) -> int:
    return len(plan["single_hop"]) + len(plan["multi_hop"])


def test_target_changes_and_a_kill_during_generation(long_run, tmp_path):
    run_dir, _ = long_run
    calls = run_dir / "yourbench" / "calls.jsonl"
    server_log = run_dir / "logs" / "qwen2.5-coder-1.5b-instruct.server.log"
    recorded = len(read_jsonl(calls))
    first_plan = json.loads((run_dir / "generation.json").read_text())["plan"]
    assert recorded == first_plan["calls"]

    # A lower target reads a prefix of the same chunks: no generator call, no model loaded.
    def starts() -> int:  # the first run replayed a recording: the generator may never have started
        return server_log.read_text().count("=== start") if server_log.exists() else 0

    started = starts()
    lower = _generate(run_dir, _config_dir(tmp_path, target=2, min_usable=1, top_up_rounds=0),
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = lower.communicate(timeout=600)
    assert lower.returncode == 0, err[-2000:]
    assert _made_and_reused(out)[0] == 0 and "extracting the text" not in out
    assert starts() == started and len(read_jsonl(calls)) == recorded

    # A higher target, two or more question calls beyond what the first run read (top-up rounds included);
    # no top-up this time, so the calls are known in advance. kill -9 after the first new call.
    target = next(t for t in range(5, 40)
                  if selection.question_calls_wanted(t, 2, 1.5) >= _question_calls(first_plan) + 2)
    higher = _config_dir(tmp_path, target=target, min_usable=1, top_up_rounds=0)
    proc = _generate(run_dir, higher, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 900
    while len(read_jsonl(calls)) == recorded and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    made_before_kill = len(read_jsonl(calls)) - recorded
    assert made_before_kill == 1, "the kill should land after the first new call"

    resumed = _generate(run_dir, higher, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = resumed.communicate(timeout=1800)
    assert resumed.returncode == 0, err[-2000:]
    made, reused = _made_and_reused(out)
    plan = json.loads((run_dir / "generation.json").read_text())["plan"]
    # Every call on record before the rerun is reused; only the calls never finished are made.
    assert reused == recorded + 1 and made == plan["calls"] - recorded - 1 >= 1
    keys = [r["key"] for r in read_jsonl(calls)]
    assert len(keys) == len(set(keys)) == plan["calls"]  # no call made twice
    assert plan["single_hop"][:len(first_plan["single_hop"])] == first_plan["single_hop"]
    assert plan["multi_hop"][:len(first_plan["multi_hop"])] == first_plan["multi_hop"]
    # The calls made for real here wrote their questions in the document's language.
    from pipeline import language

    fresh = {q for r in read_jsonl(calls)[recorded:] for q in _questions_in(r["response"])}
    assert fresh and language.detect(" ".join(fresh)) == "fr", fresh


def _questions_in(reply: str) -> list[str]:
    """The questions a recorded generator reply holds (none for a summary's reply)."""
    content = json.loads(reply)["choices"][0]["message"]["content"]
    try:
        return [item["question"] for item in json.loads(content)]
    except (ValueError, TypeError, KeyError):
        return []
