"""Serving benchmark for the models a profile uses: `make bench [PROFILE=...]`.

For every locally served model (generator, candidates, judge) it starts the
server the pipeline would start, sends a fixed set of prompts one at a time,
and records decode speed, prompt speed, latency and the server's peak memory.
Results go to ``bench/results/<profile>-<UTC time>.json``; nothing here is a
pass/fail test.
"""

from __future__ import annotations

import json
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline import config  # noqa: E402
from pipeline.serving import machine_lock, serve  # noqa: E402

PROMPTS = [
    "In two sentences, why does a lake level fall in a dry summer?",
    "List three ways a water utility can reduce leakage.",
    "Explain what a kilowatt-hour is to a twelve-year-old.",
]
MAX_TOKENS = 96


def bench_model(model, log_dir: Path) -> dict:
    rows = []
    with machine_lock(model), serve(model, log_dir) as endpoint:  # alone on the machine, or timings lie
        for prompt in PROMPTS:
            started = time.perf_counter()
            response = requests.post(f"{endpoint.base_url}/chat/completions", timeout=600,
                                     headers={"Authorization": f"Bearer {endpoint.api_key}"},
                                     json={"model": endpoint.model, "max_tokens": MAX_TOKENS, "temperature": 0,
                                           "messages": [{"role": "user", "content": prompt}]})
            response.raise_for_status()
            usage = response.json()["usage"]
            rows.append({"latency_s": time.perf_counter() - started, "prompt_tokens": usage["prompt_tokens"],
                         "completion_tokens": usage["completion_tokens"]})
    latency = [r["latency_s"] for r in rows]
    return {
        "model": model.name, "engine": model.engine, "requests": len(rows),
        "tokens_per_s": sum(r["completion_tokens"] for r in rows) / sum(latency),
        "latency_mean_s": statistics.mean(latency), "latency_max_s": max(latency),
        "peak_rss_mb": endpoint.peak_rss_mb, "peak_gpu_mb": endpoint.peak_gpu_mb,
    }


def main(profile: str = "default") -> Path:
    cfg = config.load(profile)
    served = [cfg.generator, *cfg.candidates, cfg.judge, *filter(None, [cfg.second_judge])]
    models = {m.name: m for m in served if m.engine != "openai"}
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    results = {"profile": profile, "time": stamp, "machine": platform.processor() or platform.machine(),
               "max_tokens": MAX_TOKENS, "models": []}
    for model in models.values():
        print(f"bench: {model.name} ...", flush=True)
        results["models"].append(bench_model(model, ROOT / "bench" / "results" / "logs"))
        row = results["models"][-1]
        print(f"  {row['tokens_per_s']:.1f} tokens/s, mean latency {row['latency_mean_s']:.1f} s, "
              f"peak memory {row['peak_rss_mb'] or 0:.0f} MB", flush=True)
    out = ROOT / "bench" / "results" / f"{profile}-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"bench: {out.relative_to(ROOT)}")
    return out


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "default")
