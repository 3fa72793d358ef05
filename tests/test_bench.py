"""`make bench`'s tables (bench/run.py): what the README's "Measured" figures are pasted from."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import run  # noqa: E402


def test_stage_table_lists_each_stage_with_the_total():
    table = run.stage_table({"generate": 300.4, "answer": 130.2, "judge": 120.0, "report": 3.1})
    assert table.splitlines()[2:] == ["| generate | 300 s |", "| answer | 130 s |", "| judge | 120 s |",
                                      "| report | 3 s |", "| all stages | 554 s (9.2 min) |"]


def test_last_setup_is_read_from_the_stamp_make_setup_writes(tmp_path, monkeypatch):
    monkeypatch.setattr(run, "ROOT", tmp_path)
    assert run.last_setup() is None  # never set up (or an old stamp without figures)
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / ".installed").write_text('{"seconds": 412, "finished": "2026-11-26T22:14:37Z"}\n')
    assert run.last_setup() == {"seconds": 412, "finished": "2026-11-26T22:14:37Z"}
    (tmp_path / ".venv" / ".installed").write_text("")
    assert run.last_setup() is None


def test_make_setup_writes_its_duration_into_the_stamp(tmp_path):
    stamp = tmp_path / "installed"
    subprocess.run(["make", "--no-print-directory", "setup", f"SETUP={stamp}", "UV=true"], cwd=ROOT, check=True,
                   capture_output=True)  # the real recipe, with `true` standing in for uv
    written = json.loads(stamp.read_text())
    assert isinstance(written["seconds"], int) and 0 <= written["seconds"] < 60
    assert written["finished"].endswith("Z")


def test_each_stage_is_set_against_its_engine_floor(tmp_path, monkeypatch):
    from bench import floor
    from pipeline import config

    cfg = config.load("default")
    (tmp_path / "yourbench").mkdir()
    calls = [{"kind": "single_hop", "seconds": 12.0,
              "response": json.dumps({"usage": {"prompt_tokens": 900, "completion_tokens": 100}})},
             {"kind": "round_trip", "seconds": 3.0,
              "response": json.dumps({"usage": {"prompt_tokens": 300, "completion_tokens": 20}})}]
    (tmp_path / "yourbench" / "calls.jsonl").write_text("".join(json.dumps(c) + "\n" for c in calls))
    assert floor.call_tokens(tmp_path) == {"generator": {"calls": 2, "prompt_tokens": 1200, "output_tokens": 120,
                                                         "calls_s": 15.0}}
    monkeypatch.setattr(floor, "engine_speeds", lambda model: {"model": model.name, "prompt_tokens_per_s": 100.0,
                                                               "output_tokens_per_s": 30.0})
    engine_rows = [{"stage": "answer", "engine_s": 20.0}, {"stage": "answer", "engine_s": 10.0},
                   {"stage": "judge", "engine_s": 40.0}]
    rows = floor.stage_floors(cfg, {"generate": 32.0, "answer": 60.0, "judge": 50.0, "report": 3.0}, tmp_path,
                              engine_rows)
    # generate: 1200 / 100 + 120 / 30 = 16 s; answer: 30 s of replay; judge 40 s; report: no model work
    assert [(r["stage"], r["floor_s"], r["ratio"]) for r in rows] == [("generate", 16.0, 2.0), ("answer", 30.0, 2.0),
                                                                      ("judge", 40.0, 1.25)]
    assert floor.floor_table(rows).splitlines()[2] == (
        "| generate | 32 s | 16 s | 2.00 | the run's call tokens at llama.cpp's measured speeds, no prefix reuse; "
        "its calls took 15 s |")


def test_a_verdict_replayed_in_process_is_read_from_its_log_probabilities_as_the_stage_reads_it():
    from bench.engine import _p_yes

    # llama-cpp-python's in-process reply: plain dicts (the server's client gives objects to grading.p_yes)
    logprobs = {"content": [{"token": "yes", "logprob": -0.5, "top_logprobs": [
        {"token": "yes", "logprob": -0.5, "bytes": None}, {"token": " no", "logprob": -1.5, "bytes": None},
        {"token": "maybe", "logprob": -3.0, "bytes": None}]}]}
    yes, no = 2.718281828 ** -0.5, 2.718281828 ** -1.5
    assert abs(_p_yes(logprobs) - yes / (yes + no)) < 1e-6
    assert _p_yes(None) is None and _p_yes({"content": []}) is None
