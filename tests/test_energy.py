"""Energy accounting (pipeline/measure/energy.py): hand-computed figures, and one test per problem of the energy issue.

1. fixed overhead in the window      -> tests/test_energy_window.py
2. stale sessions                    -> test_a_smaller_question_set_does_not_inflate_the_energy_per_answer
3. no idle baseline, every GPU       -> test_the_table_shows_net_energy..., test_only_the_pinned_gpus_are_counted,
                                        tests/test_serving.py::test_a_vllm_server_is_pinned_to_its_gpus
4. remote candidates look free       -> test_a_remote_candidate_is_never_measured...
5. labels that mislead               -> test_the_report_names_the_method_and_says_energy_restates_duration
6. missing energy                    -> test_generation_energy_has_its_own_line,
                                        test_a_session_killed_with_sigkill_keeps_its_energy_up_to_the_last_checkpoint,
                                        test_answers_whose_session_left_no_record_are_flagged

Hand-computed numbers: every expected value below is worked out in the comment beside it.
"""

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from fakes import FakeNVML, install_fake_nvml

from pipeline import config
from pipeline.config import Candidate, Energy
from pipeline.io import append_jsonl
from pipeline.measure import energy, stats
from pipeline.measure.energy import EnergyMeter
from pipeline.report import aggregation, decision, formatting, report
from pipeline.report.costs import evaluation_cost

ROOT = Path(__file__).resolve().parent.parent


def window(energy_wh, duration_s, **extra):
    return {"phase": "answer", "energy_wh": energy_wh, "duration_s": duration_s, "co2_kg": energy_wh * 1e-4,
            "energy_method": "estimated (CodeCarbon CPU model)", "gpus_measured": [], "cpu_model": "cpu",
            "gpu_model": "", **extra}


# --------------------------------------------------------------------------- hand-computed accounting


def test_net_energy_subtracts_idle_power_times_duration():
    found = energy.net_energy(window(0.05, 36.0), idle_w=2.0)
    # idle: 2 W x 36 s = 72 J = 0.02 Wh; net 0.05 - 0.02 = 0.03 Wh; CO2 scales with energy: 5e-6 x 0.6
    assert found["idle_wh"] == pytest.approx(0.02) and found["net_wh"] == pytest.approx(0.03)
    assert found["co2_kg"] == pytest.approx(3e-6)
    # below the baseline: negative, as measured (the report flags it), never clipped to a free 0
    assert energy.net_energy(window(0.01, 36.0), idle_w=2.0)["net_wh"] == pytest.approx(-0.01)
    no_baseline = energy.net_energy(window(0.05, 36.0), idle_w=None)
    assert no_baseline["net_wh"] == 0.05 and math.isnan(no_baseline["idle_wh"])


def test_idle_power_and_repeated_windows():
    session = {"idle": window(0.01, 6.0), "answer": window(0.05, 36.0), "answer.2": window(0.07, 36.0)}
    assert energy.idle_power_w(session) == pytest.approx(6.0)  # 0.01 Wh x 3600 / 6 s
    found = energy.session_energy(session, "answer")
    # idle share 6 W x 36 s = 0.06 Wh: nets 0.05 - 0.06 = -0.01 and 0.07 - 0.06 = 0.01, mean 0 (clipping each
    # window first would have given (0 + 0.01) / 2 = 0.005: biased upwards); one window not above idle
    assert found["windows"] == 2 and found["net_wh"] == pytest.approx(0.0)
    assert found["not_above_idle"] == 1 and found["idle_s"] == 6.0
    assert found["sd_wh"] == pytest.approx(math.sqrt(2) * 0.01)  # stdev of {-0.01, 0.01}
    assert found["gross_wh"] == pytest.approx(0.06) and found["idle_wh"] == pytest.approx(0.06)


def test_charge_shares_by_latency_within_each_session():
    sessions = [
        {"session": "A", "outcome": "finished", "idle": window(0.002, 2.0), "answer": window(0.1, 50.0)},
        {"session": "B", "outcome": "killed", "answer": window(0.02, 10.0)},
    ]
    records = pd.DataFrame({"question_id": ["q1", "q2", "q3", "q4", "q5"], "session": ["A", "A", "A", "B", "C"],
                            "latency_s": [10.0, 30.0, 10.0, 5.0, 5.0]})
    charged = energy.charge(records, sessions, "answer", "latency_s").set_index("question_id")
    # A: idle 0.002 Wh / 2 s = 3.6 W; x 50 s = 0.05 Wh; net 0.1 - 0.05 = 0.05, shared 10:30:10
    assert charged.loc[["q1", "q2", "q3"], "energy_wh"].tolist() == pytest.approx([0.01, 0.03, 0.01])
    assert charged.loc["q2", "energy_gross_wh"] == pytest.approx(0.06) and charged.loc["q2", "duration_s"] == 30.0
    # B was killed: no baseline, its checkpointed 0.02 Wh all to q4, flagged partial
    assert charged.loc["q4", "energy_wh"] == pytest.approx(0.02)
    assert charged.loc["q4", "energy_status"] == energy.PARTIAL
    # C left no record: no energy, flagged
    assert math.isnan(charged.loc["q5", "energy_wh"]) and charged.loc["q5", "energy_status"] == energy.MISSING


def test_estimates_tdp_and_ecologits():
    assert energy.tdp_estimate_wh(700, 8, 90.0) == pytest.approx(140.0)  # 700 W x 8 x 90 s / 3600
    one = energy.ecologits_wh(8.0, 100, 5.0, "FRA")
    assert one > 0 and energy.ecologits_wh(70.0, 100, 5.0, "FRA") > one  # a bigger model costs more per token
    assert energy.ecologits_wh(8.0, 0, 5.0, "FRA") == 0.0


def test_read_sessions_keeps_the_last_line_of_each_session(tmp_path):
    from pipeline.measure.energy import read_sessions

    path = tmp_path / "s.sessions.jsonl"
    for line in ({"session": "A", "outcome": "running"}, {"session": "B", "outcome": "running", "load": {}},
                 {"session": "A", "outcome": "finished", "answer": window(0.1, 1.0)},
                 {"started": "x", "outcome": "finished"}):  # a writer without session ids: a session per line
        append_jsonl(path, line)
    found = read_sessions(path)
    assert [s.get("session") for s in found] == ["A", "B", None]
    assert [s["outcome"] for s in found] == ["finished", "killed", "finished"]


# --------------------------------------------------------------------------- a run folder on disk


def _run_dir(tmp_path: Path, cfg, answered: int, used: int, sessions: dict, records_session=None,
             generation_sessions=None) -> Path:
    """Questions q0..q{used-1} in use; every candidate answered q0..q{answered-1} (latency 2 s each)."""
    run = tmp_path / "run"
    (run / "answers").mkdir(parents=True)
    ids = [f"q{i}" for i in range(used)]
    pd.DataFrame({"question_id": ids, "question": [f"Question {i}?" for i in range(used)], "gold": ["g"] * used,
                  "kind": ["single_hop"] * used, "question_category": ["factual"] * used,
                  "estimated_difficulty": [3] * used, "chunk_text": ["text"] * used}).to_parquet(
        run / "questions.parquet")
    (run / "generation.json").write_text(json.dumps({"usable": used, "generator": "g", "by_kind": {
        "single_hop": {"calls": 1, "calls_without_parseable_questions": 0}}}))
    judgements = []
    for candidate in cfg.candidates:
        name = candidate.name
        rows = [{"question_id": f"q{i}", "candidate": name, "prediction": "a", "raw_prediction": "a",
                 "input_tokens": 50, "output_tokens": 10, "latency_s": 2.0, "lexical_f1": 0.5, "fingerprint": "k",
                 "session": (records_session or {}).get(f"q{i}", "S1")} for i in range(answered)]
        for row in rows:
            append_jsonl(run / "answers" / f"{name}.jsonl", row)
        pd.DataFrame(rows[:used]).to_parquet(run / "answers" / f"{name}.parquet")
        for session in sessions.get(name, []):
            append_jsonl(run / "answers" / f"{name}.sessions.jsonl", {"fingerprint": "k", **session})
        judgements += [{"question_id": f"q{i}", "candidate": name, "verdict": i % 2, "status": "judged",
                        "raw_judge_output": "<final_answer>1</final_answer>", "judge": "j"} for i in range(used)]
    pd.DataFrame(judgements).to_parquet(run / "judgements.parquet")
    for session in generation_sessions or []:
        append_jsonl(run / "generation.sessions.jsonl", session)
    return run


def _cfg(*candidates, **energy_settings):
    cfg = config.load("default")
    return cfg.model_copy(update={"candidates": list(candidates),
                                  "energy": cfg.energy.model_copy(update=energy_settings)})


LOCAL = Candidate(name="local-model", engine="llama-cpp", model="smollm2-135m-instruct", params_b=0.135)


def test_a_smaller_question_set_does_not_inflate_the_energy_per_answer(tmp_path):
    """Problem 2: one session answered 4 questions; the question set is now 2 of them."""
    cfg = _cfg(LOCAL)
    session = {"session": "S1", "started": "2026-01-01T00:00:00+00:00", "outcome": "finished",
               "answer": window(0.08, 8.0)}
    run = _run_dir(tmp_path, cfg, answered=4, used=2, sessions={"local-model": [session]})
    results = aggregation.aggregate(aggregation.build_details(run, cfg))
    # 0.08 Wh for 4 answers of equal latency: the 2 answers in use carry 0.04 Wh, not all 0.08
    assert results["energy_wh"].iloc[0] == pytest.approx(0.04)
    assert results["duration_s"].iloc[0] == pytest.approx(4.0)


def test_the_table_shows_net_energy_and_keeps_gross_and_idle(tmp_path):
    """Problem 3a: the idle baseline is subtracted; gross, idle and net are all kept."""
    cfg = _cfg(LOCAL)
    session = {"session": "S1", "started": "2026-01-01T00:00:00+00:00", "outcome": "finished",
               "idle": window(0.005, 5.0), "answer": window(0.08, 8.0)}
    run = _run_dir(tmp_path, cfg, answered=2, used=2, sessions={"local-model": [session]})
    details = aggregation.build_details(run, cfg)
    results = aggregation.aggregate(details)
    # idle 0.005 Wh / 5 s = 3.6 W; x 8 s = 0.008 Wh; net 0.08 - 0.008 = 0.072 Wh
    assert results["energy_wh"].iloc[0] == pytest.approx(0.072)
    assert results["energy_gross_wh"].iloc[0] == pytest.approx(0.08)
    assert results["energy_idle_wh"].iloc[0] == pytest.approx(0.008)
    assert details["energy_wh"].tolist() == pytest.approx([0.036, 0.036])
    # per output token: 0.072 Wh x 3600 / 20 tokens = 12.96 J; per query 0.036 Wh
    assert results["j_per_output_token"].iloc[0] == pytest.approx(12.96)
    assert results["energy_per_query_wh"].iloc[0] == pytest.approx(0.036)


@pytest.fixture
def eight_gpus(monkeypatch):
    from codecarbon.core import hardware_cache

    fake = FakeNVML(count=8, watts=lambda i: 100.0 + 10.0 * i)
    install_fake_nvml(monkeypatch, fake)
    yield fake
    hardware_cache.clear_cache()


def test_only_the_pinned_gpus_are_counted(eight_gpus):
    """Problem 3b: on an 8-GPU machine, a model pinned to GPU 3 is charged for GPU 3 only (130 W)."""
    meter = EnergyMeter(Energy(), gpus=[3])
    with meter.phase("answer") as record:
        time.sleep(1.0)
    assert record.get("gpus_measured") == [3] and meter.method().startswith("measured (NVML)")
    expected = 130.0 * record["duration_s"] / 3600.0  # GPU 3 draws 100 + 10 x 3 W
    assert record["gpu_energy_wh"] == pytest.approx(expected, rel=0.05)  # all eight would be 1080 W
    for _ in range(2):  # a CPU-only model counts no GPU, however many meters a process makes (CodeCarbon cache)
        cpu_only = EnergyMeter(Energy(), gpus=[])
        assert cpu_only.measured_gpus() == [] and cpu_only.method() == energy.CPU_MODEL


def test_one_process_shares_its_idle_baseline_between_sessions_measured_the_same_way(eight_gpus, tmp_path,
                                                                                     monkeypatch):
    """The answer stage's candidates share the first one's baseline (one wait, not one per candidate); a session
    measuring other GPUs, one asked not to share, or one after the baseline has aged measures its own."""
    monkeypatch.setattr(energy, "_SHARED_IDLE", {})
    settings = Energy(idle_s=0.3)

    def session(gpus, share=True):
        with energy.Session(tmp_path / "s.jsonl", EnergyMeter(settings, gpus=gpus)) as s:
            started = time.monotonic()
            record = s.idle(share=share)
            return s, record, time.monotonic() - started

    first, measured, _ = session([3])
    _, shared, waited = session([3])
    assert "shared_from" not in measured and shared["shared_from"] == first.id
    assert waited < 0.3 and shared["energy_wh"] == measured["energy_wh"] and shared["started"] == measured["started"]
    on_disk = energy.read_sessions(tmp_path / "s.jsonl")
    assert on_disk[1]["idle"]["shared_from"] == first.id  # traceable
    assert energy.idle_power_w(on_disk[1]) == pytest.approx(energy.idle_power_w(on_disk[0]))
    assert "shared_from" not in session([4])[1]  # other GPUs: another floor
    assert "shared_from" not in session([3], share=False)[1]
    monkeypatch.setattr(energy, "SHARED_IDLE_MAX_AGE_S", 0.0)
    assert "shared_from" not in session([3])[1]  # too old: measured again


def test_a_remote_candidate_is_never_measured_unless_its_hardware_is_declared(tmp_path):
    """Problem 4: the client's energy is not the model's."""
    from pipeline.config import EndpointHardware

    remote = Candidate(name="remote", engine="openai", model="m", base_url="http://x/v1", params_b=70.0)
    declared = Candidate(name="declared", engine="openai", model="m", base_url="http://x/v1", params_b=8.0,
                         devices=8, endpoint_hardware=EndpointHardware(description="8x H100 (provider)",
                                                                       tdp_watts=700))
    cfg = _cfg(LOCAL, remote, declared)
    client = {"session": "S1", "started": "2026-01-01T00:00:00+00:00", "outcome": "finished",
              "engine": "openai", "answer": window(0.0001, 9.0)}  # the client machine, nearly idle
    local = {**client, "engine": "llama-cpp", "answer": window(0.05, 9.0)}
    run = _run_dir(tmp_path, cfg, answered=3, used=3,
                   sessions={"local-model": [local], "remote": [client], "declared": [client]})
    results = aggregation.aggregate(aggregation.build_details(run, cfg)).set_index("model")
    assert math.isnan(results.loc["remote", "energy_wh"]) and results.loc["remote", "energy_method"] == "not measured"
    assert not results.loc["remote", "on_frontier"] and results.loc["remote", "ecologits_wh"] > 0
    # declared: 700 W x 8 GPUs x 9 s / 3600 = 14 Wh, labelled as the estimate it is
    assert results.loc["declared", "energy_wh"] == pytest.approx(14.0)
    assert results.loc["declared", "energy_method"] == "estimated (TDP × time)"
    table = formatting.table_markdown(results.reset_index())
    assert "| remote | 70B |" in table and "not measured" in table
    front = report.efficiency_table(results.reset_index()).set_index("Model")["Frontier"]
    assert front["local-model"] == "yes (estimate)"  # CodeCarbon's CPU model is an estimate too


def test_the_report_names_the_method_and_says_energy_restates_duration(tmp_path):
    """Problem 5: "Energy (Wh)" with a method column, and the one line on duration."""
    other = Candidate(name="other-model", engine="llama-cpp", model="gemma-3-270m", params_b=0.27)
    cfg = _cfg(LOCAL, other)
    fast = {"session": "S1", "started": "2026-01-01T00:00:00+00:00", "outcome": "finished",
            "idle": window(0.001, 2.0), "answer": window(0.02, 4.0)}
    slow = {**fast, "answer": window(0.06, 12.0)}
    run = _run_dir(tmp_path, cfg, answered=2, used=2, sessions={"local-model": [fast], "other-model": [slow]})
    report.run(run, tmp_path / "report", cfg, "doc.md")
    markdown = (tmp_path / "report" / "results.md").read_text()
    header = next(line for line in markdown.splitlines() if line.startswith("| Model | # Params"))
    assert "| Energy (Wh) | Method |" in header and "Estimated Energy" not in markdown
    assert "| estimated (CodeCarbon CPU model) |" in markdown
    assert "the energy ranking equals the duration ranking (as it does here)" in markdown
    assert "Idle baseline: every answering session first measured 2.0 s with nothing running" in markdown


def test_generation_energy_has_its_own_line(tmp_path):
    """Problem 6a: question generation's sessions are reported; absent, it says "not measured"."""
    cfg = _cfg(LOCAL)
    answer = {"session": "S1", "started": "2026-01-01T00:00:00+00:00", "outcome": "finished",
              "answer": window(0.02, 4.0)}
    generation = {"session": "G1", "started": "2026-01-01T00:00:00+00:00", "outcome": "finished",
                  "idle": window(0.002, 2.0), "load": window(0.01, 3.0), "generate": window(0.5, 100.0)}
    run = _run_dir(tmp_path, cfg, 2, 2, {"local-model": [answer]}, generation_sessions=[generation])
    costs = evaluation_cost(run, cfg, aggregation.build_details(run, cfg)).set_index("Stage")
    # idle 3.6 W: load 0.01 - 0.003 = 0.007, generate 0.5 - 0.1 = 0.4; 103 s
    assert costs.loc["Question generation", "Net energy (Wh)"] == formatting.num(0.407)
    assert costs.loc["Question generation", "Duration (s)"] == "103.0"
    (run / "generation.sessions.jsonl").unlink()
    costs = evaluation_cost(run, cfg, aggregation.build_details(run, cfg)).set_index("Stage")
    assert costs.loc["Question generation", "Net energy (Wh)"] == "not measured"


def test_replayed_generation_calls_carry_the_energy_they_cost_when_made(tmp_path):
    """Stale before: only the sessions under the current generate.key counted, so the calls a run replayed from
    the call record (made under an earlier key) looked free."""
    cfg = _cfg(LOCAL)
    answer = {"session": "S1", "started": "2026-01-01T00:00:00+00:00", "outcome": "finished",
              "answer": window(0.02, 4.0)}
    earlier = {"session": "G0", "fingerprint": "earlier-key", "started": "2026-01-01T00:00:00+00:00",
               "outcome": "finished", "idle": window(0.002, 2.0), "generate": window(0.5, 100.0)}
    now = {**earlier, "session": "G1", "fingerprint": "current-key", "generate": window(0.2, 50.0)}
    run = _run_dir(tmp_path, cfg, 2, 2, {"local-model": [answer]}, generation_sessions=[earlier, now])
    (run / "keys").mkdir()
    (run / "keys" / "generate.key").write_text("current-key\n")
    for path, rows in (("yourbench/calls.jsonl", [("c1", "G0", 30.0), ("c2", "G0", 10.0), ("c3", "G0", 60.0),
                                                  ("c4", "G1", 20.0)]),
                       ("validation/calls.jsonl", [("c5", None, 9.0)])):  # c5: recorded before calls named a session
        for key, session, seconds in rows:
            append_jsonl(run / path, {"key": key, "kind": "single_hop", "seconds": seconds, "session": session,
                                      "response": "{}"})
    stats = json.loads((run / "generation.json").read_text())
    (run / "generation.json").write_text(json.dumps({**stats, "calls_used": ["c1", "c2", "c4", "c5"]}))
    costs = evaluation_cost(run, cfg, aggregation.build_details(run, cfg)).set_index("Stage")
    row = costs.loc["Question generation"]
    # idle 3.6 W. G1 (this configuration): 0.2 - 3.6 W x 50 s (0.05) = 0.15 Wh, 50 s.
    # G0 (an earlier one): 0.5 - 0.1 = 0.4 Wh over its calls c1:c2:c3 = 30:10:60 s; c3 is not used now:
    # c1 0.12 + c2 0.04 = 0.16 Wh carried over, and 30 + 10 of its 100 s. c5's energy is unknown.
    assert row["Net energy (Wh)"] == formatting.num(0.31) and row["Duration (s)"] == "90.0"
    assert "0.15 Wh measured by this configuration's generate runs (1 sessions)" in row["Note"]
    assert "0.16 Wh carried over: 2 calls replayed from earlier runs" in row["Note"]
    assert "1 replayed calls whose session's energy is unknown" in row["Note"]


KILLED_SESSION = """
import sys, time
sys.path.insert(0, {root!r})
from pipeline.config import Energy
from pipeline.measure.energy import EnergyMeter, Session
meter = EnergyMeter(Energy(checkpoint_s=0.3))
with Session({path!r}, meter, fingerprint="k") as session:
    with session.phase("answer"):
        print("window open", flush=True)
        time.sleep(600)
"""


def test_a_session_killed_with_sigkill_keeps_its_energy_up_to_the_last_checkpoint(tmp_path):
    """Problem 6b: kill -9 cannot run any end-of-session code; the checkpoints survive it."""
    from pipeline.measure.energy import read_sessions

    path = tmp_path / "x.sessions.jsonl"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_SESSION.format(root=str(ROOT), path=str(path))],
                            stdout=subprocess.PIPE, text=True, env=os.environ)
    assert proc.stdout.readline().strip() == "window open"
    time.sleep(1.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    (session,) = read_sessions(path)
    assert session["outcome"] == "killed"
    assert 0.6 <= session["answer"]["duration_s"] <= 1.6 and session["answer"]["energy_wh"] > 0
    assert session["answer"]["segments"] >= 2


def test_answers_whose_session_left_no_record_are_flagged(tmp_path):
    """Problem 6c: an answer kept from a session that left no energy is shown, not hidden or given others' energy."""
    cfg = _cfg(LOCAL)
    session = {"session": "S1", "started": "2026-01-01T00:00:00+00:00", "outcome": "finished",
               "answer": window(0.03, 6.0)}
    run = _run_dir(tmp_path, cfg, answered=4, used=4, sessions={"local-model": [session]},
                   records_session={"q3": "LOST"})
    details = aggregation.build_details(run, cfg)
    lost = details.set_index("question_id").loc["q3"]
    assert math.isnan(lost["energy_wh"]) and lost["energy_status"] == "missing: no surviving session record"
    results = aggregation.aggregate(details)
    assert results["energy_wh"].iloc[0] == pytest.approx(0.03)  # S1's energy, all on its own 3 answers
    assert results["energy_per_query_wh"].iloc[0] == pytest.approx(0.01)  # per answer with energy
    assert "(3 of 4 answers)" in formatting.table_markdown(results)


OTHER = Candidate(name="other-model", engine="llama-cpp", model="gemma-3-270m", params_b=0.27)


def test_a_killed_candidate_is_ranked_by_energy_per_query_not_by_its_smaller_total(tmp_path):
    """Before: the frontier and the pick ranked by the sum over the answers whose energy survived, so a candidate
    whose session was killed was charged for fewer answers and could be recommended."""
    cfg = _cfg(LOCAL, OTHER)
    started = "2026-01-01T00:00:00+00:00"
    # q0-q2 answered in session K, q3 in S1 (latency 2 s each). local-model: both finished, 0.01 Wh per answer.
    # other-model: K killed, its last checkpoint holding only 0.003 Wh; S1 finished, 0.012 Wh for q3.
    local = [{"session": "K", "started": started, "outcome": "finished", "answer": window(0.03, 6.0)},
             {"session": "S1", "started": started, "outcome": "finished", "answer": window(0.01, 2.0)}]
    other = [{"session": "K", "started": started, "outcome": "running", "answer": window(0.003, 1.0)},
             {"session": "S1", "started": started, "outcome": "finished", "answer": window(0.012, 2.0)}]
    run = _run_dir(tmp_path, cfg, answered=4, used=4, sessions={"local-model": local, "other-model": other},
                   records_session={"q0": "K", "q1": "K", "q2": "K", "q3": "S1"})
    results = aggregation.aggregate(aggregation.build_details(run, cfg)).set_index("model")
    # totals: local 0.04 Wh, other 0.003 + 0.012 = 0.015 Wh (it looks cheaper); the same accuracy (2 of 4)
    assert results["energy_wh"].tolist() == pytest.approx([0.04, 0.015])
    # per query over the answers measured in full: local 0.04 / 4 = 0.01, other 0.012 / 1 (q3) = 0.012
    assert results["energy_per_query_wh"].tolist() == pytest.approx([0.01, 0.012])
    assert results.loc["other-model", "energy_ranked_answers"] == 1
    assert results["on_frontier"].tolist() == [True, False]
    pairs = stats.pairwise_significance(aggregation.build_details(run, cfg))
    assert decision.decision(results.reset_index(), decision.judged(pairs), 0.05)[0].startswith("Pick **local-model**")
    cell = formatting.table_markdown(results.reset_index())
    assert "0.015 (⚠ 3 from a partial window)" in cell
    assert "0.012 (1 answers)" in report.efficiency_table(results.reset_index()).set_index("Model").loc[
        "other-model", "Wh per query"]


def test_a_window_at_or_below_the_idle_baseline_is_shown_flagged_and_not_ranked(tmp_path):
    """Before: net = max(gross - idle, 0), silently: a 0 Wh model that wins. Now: the measured (negative) net,
    flagged in the table and the notes, and no energy per query to rank by."""
    cfg = _cfg(LOCAL, OTHER)
    idle = window(0.002, 2.0)  # 3.6 W
    fine = {"session": "S1", "started": "2026-01-01T00:00:00+00:00", "outcome": "finished", "idle": idle,
            "answer": window(0.02, 8.0)}  # 0.02 - 0.008 = 0.012 Wh
    below = {**fine, "answer": window(0.007, 8.0)}  # 0.007 - 0.008 = -0.001 Wh
    run = _run_dir(tmp_path, cfg, answered=2, used=2, sessions={"local-model": [fine], "other-model": [below]})
    details = aggregation.build_details(run, cfg)
    results = aggregation.aggregate(details).set_index("model")
    assert results.loc["other-model", "energy_wh"] == pytest.approx(-0.001)  # not clipped to 0
    assert math.isnan(results.loc["other-model", "energy_per_query_wh"])
    assert results["on_frontier"].tolist() == [True, False]
    assert set(details.loc[details["candidate"] == "other-model", "energy_status"]) == {energy.NOT_ABOVE_IDLE}
    report.run(run, tmp_path / "report", cfg, "doc.md")
    markdown = (tmp_path / "report" / "results.md").read_text()
    assert "| -0.001 (⚠ 2 net ≤ 0, below idle) |" in markdown
    assert "Net energy at or below the idle baseline" in markdown and "other-model: 2 answers" in markdown
    assert "Pick **local-model**" in markdown
    assert "⚠ 2 net ≤ 0, below idle" in (tmp_path / "report" / "report.html").read_text()


def test_the_spread_of_several_sessions_adds_in_quadrature(tmp_path):
    """Before: each answer's share of its session's spread was summed, across sessions too."""
    cfg = _cfg(LOCAL)
    sessions = [{"session": sid, "started": "2026-01-01T00:00:00+00:00", "outcome": "finished",
                 "answer": window(0.03, 4.0), "answer.2": window(0.05, 4.0)} for sid in ("S1", "S2")]
    run = _run_dir(tmp_path, cfg, answered=4, used=4, sessions={"local-model": sessions},
                   records_session={"q0": "S1", "q1": "S1", "q2": "S2", "q3": "S2"})
    results = aggregation.aggregate(aggregation.build_details(run, cfg))
    # each session: windows 0.03 and 0.05 Wh, mean 0.04, sd 0.01414; two sessions: sqrt(2) x 0.01414 = 0.02
    assert results["energy_wh"].iloc[0] == pytest.approx(0.08)
    assert results["energy_sd_wh"].iloc[0] == pytest.approx(0.02)  # added linearly it would be 0.0283


def test_the_co2_projection_rests_on_the_same_answers_as_the_energy_projection(tmp_path):
    """Before: CO2 per query divided by all questions, energy per query by the answers with energy."""
    cfg = _cfg(LOCAL)
    session = {"session": "S1", "started": "2026-01-01T00:00:00+00:00", "outcome": "finished",
               "answer": window(0.03, 6.0)}  # 0.03 Wh, 3e-6 kg CO2
    run = _run_dir(tmp_path, cfg, answered=4, used=4, sessions={"local-model": [session]},
                   records_session={"q3": "LOST"})
    results = aggregation.aggregate(aggregation.build_details(run, cfg))
    projected = report.projection_table(results, 1000).iloc[0]
    # 3 answers with energy: 0.01 Wh and 1e-3 g per query; x 1000 = 0.01 kWh and 1e-3 kg (not 0.75e-3)
    assert projected["Energy for 1,000 queries (kWh)"] == formatting.num(0.01)
    # CO2 = net energy x the profile's country's carbon intensity (CodeCarbon's energy-mix data), per query
    intensity = energy.carbon_intensity_kg_per_kwh(cfg.energy.country_iso_code)
    assert projected["CO2 (kg)"] == formatting.num(0.01 * intensity)
    assert projected["Time at measured speed (h)"] == formatting.num(2.0 * 1000 / 3600)  # 2 s per timed answer


def test_the_report_says_what_the_sessions_recorded_not_what_the_profile_now_says(tmp_path):
    """Before: energy.repeats 3 in the profile made the report say "measured 3 times" of windows measured once."""
    cfg = _cfg(LOCAL, repeats=3, idle_s=9.0)
    session = {"session": "S1", "started": "2026-01-01T00:00:00+00:00", "outcome": "finished",
               "idle": window(0.002, 2.0), "answer": window(0.03, 6.0), "answer.2": window(0.031, 6.0)}
    run = _run_dir(tmp_path, cfg, answered=2, used=2, sessions={"local-model": [session]})
    report.run(run, tmp_path / "report", cfg, "doc.md")
    markdown = (tmp_path / "report" / "results.md").read_text()
    assert "Each answering window was measured 2 times, as the sessions recorded" in markdown
    assert "first measured 2.0 s with nothing running" in markdown
    assert "3 times" not in markdown and "9 s" not in markdown
    results = pd.read_csv(tmp_path / "report" / "results.csv")
    info = report.run_info(run, cfg, results)
    assert info["energy_repeats"] == {"local-model": 2} and info["idle_baseline_s"] == {"local-model": 2.0}


def test_judge_energy_counts_only_the_judgements_in_use(tmp_path):
    """Problem 2, judge side: a session graded with an earlier prompt does not count; the current one is
    charged to its judgements by judge latency."""
    from pipeline.verdicts import grading, judge

    cfg = _cfg(LOCAL)
    answer_session = {"session": "S1", "started": "2026-01-01T00:00:00+00:00", "outcome": "finished",
                      "answer": window(0.02, 4.0)}
    run = _run_dir(tmp_path, cfg, 2, 2, {"local-model": [answer_session]})
    key = judge.passes(cfg)[0].key
    for session, fingerprint, judging in (("OLD", "an-earlier-prompt", window(0.5, 50.0)),
                                          ("J1", key, window(0.04, 4.0))):
        append_jsonl(run / "judgements" / "judge.sessions.jsonl",
                     {"session": session, "judge_fingerprint": grading.judge_fingerprint(cfg.judge) if session == "J1"
                      else fingerprint, "outcome": "finished", "engine": "llama-cpp",
                      "idle": window(0.001, 1.0), "load": window(0.01, 2.0), "judge": judging})
        for qid, latency in (("q0", 1.0), ("q1", 3.0)):
            append_jsonl(run / "judgements" / "local-model.jsonl", {
                "question_id": qid, "candidate": "local-model", "answer_hash": judge.answer_hash("a"),
                "question_hash": judge.question_hash(f"Question {qid[1:]}?", "g", "text"),
                "pass": "judge", "judge_fingerprint": fingerprint, "session": session, "verdict": 1,
                "status": "judged", "raw_judge_output": "1", "judge_latency_s": latency})
    details = aggregation.build_details(run, cfg).set_index("question_id")
    # J1: idle 3.6 W x 4 s = 0.004 Wh; net 0.04 - 0.004 = 0.036 Wh, shared 1:3
    assert details["judge_energy_wh"].tolist() == pytest.approx([0.009, 0.027])
    costs = evaluation_cost(run, cfg, details.reset_index()).set_index("Stage")
    assert costs.loc["Judging", "Net energy (Wh)"] == formatting.num(0.036)
    # loading: 0.01 Wh - 3.6 W x 2 s (0.002 Wh) = 0.008 Wh, J1's only (with OLD's it would be 0.016)
    assert costs.loc["Loading the judge(s)", "Net energy (Wh)"] == formatting.num(0.008)
