"""Each stage against its engine-speed floor: a part of `make bench` (bench/run.py).

The floor of a stage is the time llama.cpp itself, in this process, needs for the stage's own model work:

* answer and judge: the same requests replayed in process (:func:`bench.engine.engine_replay`, made by
  :func:`bench.engine.pipeline_vs_engine`): the replay's seconds;
* generate: the generator's calls (summary, questions, round trip) and the judge model's gold checks, from the
  run's call records (their prompt and output tokens, as the server counted them), at the engine's measured
  prompt-evaluation and decode speeds (:func:`engine_speeds`) with no prefix reused;
* report: no model work, no floor.

The ratio wall time / floor is what the pipeline (servers, YourBench, Lighteval, validation, records, loading the
models) costs on top of the engine: 1.0 is the engine alone. The generate floor counts every prompt token as read
afresh; the server reuses the prefix its previous prompt shared (system prompt, instructions, summary), so the
generator's calls can take less than it (0.47-0.77 of it on four real documents, 2026-12-07): its row also gives the
calls' own time, and wall / calls is then what the stage adds around them.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from pipeline.config import Config, Served
from pipeline.io import read_jsonl
from pipeline.serving.models import gguf_path
from pipeline.serving.servers import machine_lock

# What the generate stage's call records hold (pipeline/questions/call_cache.py), and whose model made them.
CALL_RECORDS = {("yourbench", "calls.jsonl"): "generator", ("validation", "calls.jsonl"): "judge"}
FILLER = ("The basin authority measured the river at twelve stations and reported the flow, the rainfall and the "
          "water used by each town over the year. ")


def engine_speeds(model: Served, prompt_tokens: int = 1024, output_tokens: int = 128) -> dict:
    """llama.cpp's prompt-evaluation and decode speeds for ``model`` in this process (tokens/s): a prompt of about
    ``prompt_tokens`` answered with one token, then a short prompt answered with ``output_tokens`` (its end of
    sequence masked, so that it runs to the end)."""
    from llama_cpp import Llama

    threads = os.cpu_count() or 2
    with machine_lock(model):
        llm = Llama(model_path=str(gguf_path(model.model)), n_ctx=max(model.context_length, prompt_tokens + 256),
                    n_threads=threads, n_threads_batch=threads, verbose=False)
        try:
            words = FILLER * (prompt_tokens // len(llm.tokenize(FILLER.encode())) + 1)
            prompt = llm.detokenize(llm.tokenize(words.encode())[:prompt_tokens]).decode(errors="ignore")
            started = time.perf_counter()
            first = llm.create_completion(prompt, max_tokens=1, temperature=0.0)
            prompt_s = time.perf_counter() - started
            llm.reset()
            started = time.perf_counter()
            second = llm.create_completion("Count the towns of the basin:", max_tokens=output_tokens, temperature=0.0,
                                           logit_bias={llm.token_eos(): float("-inf")})
            decode_s = time.perf_counter() - started
        finally:
            del llm
    prompt_tps = first["usage"]["prompt_tokens"] / prompt_s
    short_prompt_s = second["usage"]["prompt_tokens"] / prompt_tps
    return {"model": model.name, "prompt_tokens_per_s": round(prompt_tps, 1),
            "output_tokens_per_s": round(second["usage"]["completion_tokens"] / max(decode_s - short_prompt_s, 1e-6),
                                         1)}


def call_tokens(run_dir: Path) -> dict[str, dict]:
    """The generate stage's model calls in ``run_dir`` by whose model made them: calls, prompt and output tokens,
    and the seconds the calls took."""
    found: dict[str, dict] = {}
    for (folder, name), who in CALL_RECORDS.items():
        for record in read_jsonl(run_dir / folder / name):
            usage = json.loads(record["response"]).get("usage") or {}
            row = found.setdefault(who, {"calls": 0, "prompt_tokens": 0, "output_tokens": 0, "calls_s": 0.0})
            row["calls"] += 1
            row["prompt_tokens"] += usage.get("prompt_tokens") or 0
            row["output_tokens"] += usage.get("completion_tokens") or 0
            row["calls_s"] += record.get("seconds") or 0.0
    return found


def stage_floors(cfg: Config, stages: dict[str, float], run_dir: Path, engine_rows: list[dict]) -> list[dict]:
    """One row per stage: its wall time, its floor, their ratio, and how the floor was obtained."""
    rows = []
    if "generate" in stages:
        models = {"generator": cfg.generator, "judge": cfg.judge}
        floor, speeds = 0.0, []
        for who, used in call_tokens(run_dir).items():
            model = models[who]
            if model.engine != "llama-cpp":
                floor = None
                break
            speed = engine_speeds(model)
            speeds.append({**speed, **used})
            floor += used["prompt_tokens"] / speed["prompt_tokens_per_s"] + \
                used["output_tokens"] / speed["output_tokens_per_s"]
        rows.append({"stage": "generate", "wall_s": stages["generate"], "floor_s": floor, "models": speeds,
                     "calls_s": round(sum(m["calls_s"] for m in speeds), 1),
                     "floor_from": "the run's call tokens at llama.cpp's measured speeds, no prefix reuse"})
    for stage in ("answer", "judge"):
        replayed = [r for r in engine_rows if r["stage"] == stage]
        if stage in stages and replayed:
            rows.append({"stage": stage, "wall_s": stages[stage], "floor_s": sum(r["engine_s"] for r in replayed),
                         "floor_from": "the same requests replayed in llama.cpp in process"})
    for row in rows:
        row["ratio"] = row["wall_s"] / row["floor_s"] if row["floor_s"] else None
    return rows


def floor_table(rows: list[dict]) -> str:
    """The rows as a Markdown table (printed, and pasted into the README)."""
    lines = ["| stage | wall time | engine floor | wall / floor | floor from |", "|---|---|---|---|---|"]
    for r in rows:
        floor = "n/a" if r["floor_s"] is None else f"{r['floor_s']:.0f} s"
        ratio = "n/a" if r["ratio"] is None else f"{r['ratio']:.2f}"
        calls = f"; its calls took {r['calls_s']:.0f} s" if r.get("calls_s") is not None else ""
        lines.append(f"| {r['stage']} | {r['wall_s']:.0f} s | {floor} | {ratio} | {r['floor_from']}{calls} |")
    return "\n".join(lines)
