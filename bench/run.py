"""Serving and generation benchmark for a profile: `make bench [PROFILE=...] [REPEATS=3]`.

1. Serving: for every locally served model (generator, candidates, judge) it
   takes the machine's serving lock, measures the idle baseline, starts the
   server the pipeline would start (phase ``load``), sends one warm-up request
   (not measured), then sends a fixed set of prompts one at a time (batch 1) in
   ``REPEATS`` measured windows, as the answer stage does with
   ``energy.repeats`` (:class:`pipeline.measure.energy.Session`). It records decode
   speed, latency, the server's peak memory and, per window, net energy
   (gross - idle), reported as mean ± standard deviation and as joules per
   output token.
2. Generation cost against pages: PDFs of 3, 40 and 300 pages (made here, from
   varied text) are ingested and planned; generator calls planned per size, and
   the seconds per call measured on this machine by a short real generation on
   the 40-page one (a summary and two question calls), give the time each size
   needs.

3. DOC's report from scratch, stage by stage, each stage's wall time; then
   pipeline against engine (bench/engine.py): the answer and judge stages'
   prompts sent again to llama.cpp in this process: tokens/s of each, their
   ratio, the prefix-cache hit rate, and whether the outputs are the same;
   then each stage's wall time against its engine-speed floor (bench/floor.py:
   the replayed requests' time, and for generation its calls' tokens at
   llama.cpp's measured prompt and decode speeds).
   With them, the last `make setup`'s duration on this checkout.
4. CPU serving settings (bench/engine.py): 1 against 2 requests in flight, all
   cores against one thread, per model file.

Results go to ``bench/results/<profile>-<UTC time>.json`` (the energy sessions
beside it, as ``.sessions.jsonl``); nothing here is a pass/fail test.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.engine import bench_run_dir, cpu_settings, pipeline_vs_engine  # noqa: E402
from bench.floor import floor_table, stage_floors  # noqa: E402
from pipeline import config  # noqa: E402
from pipeline.io import atomic_write_text, use_tool_env  # noqa: E402
from pipeline.measure.energy import EnergyMeter, Session, idle_power_w, net_energy, session_energy, windows  # noqa: E402
from pipeline.serving.servers import machine_lock, pinned_gpus, serve  # noqa: E402
# Not `tests.documents`: ppi-python 0.2.3's wheel installs a top-level `tests` package of its own, which shadows
# this checkout's tests/ folder (a namespace package) as `tests`.
sys.path.insert(0, str(ROOT / "tests"))
from documents import make_pdf  # noqa: E402

PROMPTS = [
    "In two sentences, why does a lake level fall in a dry summer?",
    "List three ways a water utility can reduce leakage.",
    "Explain what a kilowatt-hour is to a twelve-year-old.",
]
MAX_TOKENS = 96


def _ask(endpoint, prompt: str) -> dict:
    started = time.perf_counter()
    response = requests.post(f"{endpoint.base_url}/chat/completions", timeout=600,
                             headers={"Authorization": f"Bearer {endpoint.api_key}"},
                             json={"model": endpoint.model, "max_tokens": MAX_TOKENS, "temperature": 0,
                                   "messages": [{"role": "user", "content": prompt}]})
    response.raise_for_status()
    usage = response.json()["usage"]
    return {"latency_s": time.perf_counter() - started, "prompt_tokens": usage["prompt_tokens"],
            "completion_tokens": usage["completion_tokens"]}


def bench_model(model, cfg, log_dir: Path, sessions: Path, repeats: int) -> dict:
    rows: list[list[dict]] = []
    meter = EnergyMeter(cfg.energy, gpus=pinned_gpus(model))
    with machine_lock(model):  # alone on the machine, or timings and energy lie
        with Session(sessions, meter, model=model.name, engine=model.engine) as session:
            session.idle()
            with contextlib.ExitStack() as stack:
                with session.phase("load"):
                    endpoint = stack.enter_context(serve(model, log_dir))
                _ask(endpoint, PROMPTS[0])  # warm-up, outside every window
                for repeat in range(1, repeats + 1):
                    with session.phase("answer" if repeat == 1 else f"answer.{repeat}"):
                        rows.append([_ask(endpoint, prompt) for prompt in PROMPTS])
    first = rows[0]
    latency = [r["latency_s"] for r in first]
    tokens = [sum(r["completion_tokens"] for r in window) for window in rows]
    found = session_energy(session.record, "answer")
    idle_w = idle_power_w(session.record)
    nets = [net_energy(w, idle_w)["net_wh"] for w in windows(session.record, "answer")]
    joules_per_token = [net * 3600 / t for net, t in zip(nets, tokens) if t]
    return {
        "model": model.name, "engine": model.engine, "requests": len(first), "repeats": repeats,
        "tokens_per_s": sum(r["completion_tokens"] for r in first) / sum(latency),
        "latency_mean_s": statistics.mean(latency), "latency_max_s": max(latency),
        "peak_rss_mb": endpoint.peak_rss_mb, "peak_gpu_mb": endpoint.peak_gpu_mb,
        "energy_method": found["method"], "gpus_measured": found["gpus_measured"], "idle_w": found["idle_w"],
        "net_wh_mean": found["net_wh"], "net_wh_sd": found["sd_wh"],
        "j_per_token_mean": statistics.mean(joules_per_token) if joules_per_token else None,
        "j_per_token_sd": statistics.stdev(joules_per_token) if len(joules_per_token) > 1 else None,
    }


def generation_cost(cfg, work: Path, sizes=(3, 40, 300), measured_on: int = 40) -> dict:
    """Generator calls planned per document size, and measured seconds per call of each kind."""
    import shutil

    from pipeline.io import read_jsonl
    from pipeline.questions import generate

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    rows = []
    for pages in sizes:
        doc = make_pdf(work / f"report-{pages}.pdf", pages, seed=pages)
        started = time.perf_counter()
        plan = generate.plan_document(doc, work / f"run-{pages}", cfg)
        rows.append({"pages": pages, "tokens": plan.tokens, "chunks": plan.chunks, "calls_planned": plan.calls,
                     "summary_calls": plan.summary_calls, "single_hop_calls": len(plan.single_hop),
                     "multi_hop_calls": len(plan.multi_hop), "ingestion_s": round(time.perf_counter() - started, 1)})
    # A short real generation (target = one call's questions: the summary and two question calls).
    q = cfg.questions
    small = cfg.model_copy(update={"questions": q.model_copy(update={"target": q.questions_per_chunk,
                                                                     "min_usable": 1, "top_up_rounds": 0})})
    run_dir = work / f"run-{measured_on}"
    generate.run(work / f"report-{measured_on}.pdf", run_dir, small)
    calls = read_jsonl(run_dir / "yourbench" / "calls.jsonl")
    per_kind = {}
    for kind in ("summary", "single_hop", "multi_hop"):
        seconds = [c["seconds"] for c in calls if c["kind"] == kind]
        per_kind[kind] = statistics.mean(seconds) if seconds else None
    known = [v for v in per_kind.values() if v]
    for row in rows:
        row["estimated_generation_s"] = round(sum(
            n * (per_kind[k] or statistics.mean(known)) for k, n in
            (("summary", row["summary_calls"]), ("single_hop", row["single_hop_calls"]),
             ("multi_hop", row["multi_hop_calls"]))), 1) if known else None
    return {"seconds_per_call": per_kind, "measured_on_pages": measured_on, "measured_calls": len(calls),
            "sizes": rows}


def last_setup() -> dict | None:
    """How long this checkout's last `make setup` took (the Makefile writes it into .venv/.installed)."""
    try:
        return json.loads((ROOT / ".venv" / ".installed").read_text())
    except (OSError, ValueError):
        return None


def stage_table(stages: dict[str, float]) -> str:
    """Wall time of each stage of the report made from scratch, as a Markdown table."""
    total = sum(stages.values())
    return "\n".join(["| stage | wall time |", "|---|---|", *(f"| {k} | {v:.0f} s |" for k, v in stages.items()),
                      f"| all stages | {total:.0f} s ({total / 60:.1f} min) |"])


def ratio_table(rows: list[dict]) -> str:
    """The pipeline-against-engine rows as a Markdown table (printed, and pasted into the README)."""
    def num(value, spec):
        return "n/a" if value is None else format(value, spec)

    lines = ["| stage | model | requests | pipeline tokens/s | engine tokens/s | ratio | prefix-cache hits "
             "| same output |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['stage']} | {r['model']} | {r['requests']} | {num(r['pipeline_tokens_per_s'], '.1f')} "
                     f"| {num(r['engine_tokens_per_s'], '.1f')} | {num(r['ratio'], '.2f')} "
                     f"| {num(r['prefix_hit_rate'], '.0%')} | {r['same_output']}/{r['requests']} |")
    return "\n".join(lines)


def main(profile: str = "default", repeats: int = 3, doc: Path = ROOT / "samples" / "sample-report.pdf") -> Path:
    use_tool_env()  # offline LiteLLM, no progress bars, as the pipeline's own stages run
    cfg = config.load(profile)
    served = [cfg.generator, *cfg.candidates, cfg.judge, *filter(None, [cfg.second_judge])]
    models = {m.name: m for m in served if m.engine != "openai"}
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = ROOT / "bench" / "results" / f"{profile}-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    results = {"profile": profile, "time": stamp, "machine": platform.processor() or platform.machine(),
               "cores": os.cpu_count(), "max_tokens": MAX_TOKENS, "idle_s": cfg.energy.idle_s,
               "last_setup": last_setup(), "models": []}

    def save() -> None:  # after each part: a failure later keeps what was measured
        atomic_write_text(out, json.dumps(results, indent=2) + "\n")

    for model in models.values():
        print(f"bench: {model.name} ...", flush=True)
        row = bench_model(model, cfg, ROOT / "bench" / "results" / "logs", out.with_suffix(".sessions.jsonl"),
                          repeats)
        results["models"].append(row)
        spread = f" ± {row['j_per_token_sd']:.3g}" if row["j_per_token_sd"] is not None else ""
        print(f"  {row['tokens_per_s']:.1f} tokens/s, mean latency {row['latency_mean_s']:.1f} s, "
              f"peak memory {row['peak_rss_mb'] or 0:.0f} MB, {row['j_per_token_mean'] or 0:.3g}{spread} J/token "
              f"net ({row['energy_method']}, idle {row['idle_w']:.3g} W)", flush=True)
        save()
    print(f"bench: {doc.name} from scratch, stage by stage, then pipeline against engine ...", flush=True)
    results["report_stages_s"], results["pipeline_vs_engine"] = pipeline_vs_engine(cfg, doc)
    save()
    print(stage_table(results["report_stages_s"]), flush=True)
    print(ratio_table(results["pipeline_vs_engine"]), flush=True)
    for row in results["pipeline_vs_engine"]:
        print(f"  {row['stage']} {row['model']}: {row['window_s']} s of requests", flush=True)
    print("bench: each stage against its engine-speed floor ...", flush=True)
    results["stage_floors"] = stage_floors(cfg, results["report_stages_s"], bench_run_dir(cfg, doc),
                                           results["pipeline_vs_engine"])
    save()
    print(floor_table(results["stage_floors"]), flush=True)
    print("bench: CPU serving settings ...", flush=True)
    log_dir = ROOT / "bench" / "results" / "logs"
    distinct = {m.model: m for m in models.values() if m.engine == "llama-cpp"}  # one per model file
    results["cpu_settings"] = [row for m in distinct.values() for row in cpu_settings(m, log_dir, PROMPTS, _ask)]
    for row in results["cpu_settings"]:
        print(f"  {row['model']}: {row['threads']} threads, {row['in_flight']} in flight: "
              f"{row['tokens_per_s']:.1f} tokens/s", flush=True)
    save()
    print("bench: generation cost against pages ...", flush=True)
    results["generation"] = generation_cost(cfg, ROOT / "bench" / "results" / "generation")
    per_call = results["generation"]["seconds_per_call"]
    print("  seconds per generator call: " + ", ".join(f"{k} {v:.1f}" for k, v in per_call.items() if v))
    for row in results["generation"]["sizes"]:
        print(f"  {row['pages']:>4} pages: {row['chunks']:>5} chunks, {row['calls_planned']} calls planned, "
              f"ingestion {row['ingestion_s']} s, generation about {row['estimated_generation_s']} s", flush=True)
    save()
    print(f"bench: {out.relative_to(ROOT)}")
    return out


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "default", int(sys.argv[2]) if len(sys.argv) > 2 else 3,
         *(Path(a) for a in sys.argv[3:4]))
