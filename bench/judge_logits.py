"""The judge stage with and without the last-token logits workaround (issue 34), on one finished run's answers.

    .venv/bin/python bench/judge_logits.py RUN_DIR [--order last,every]

The judge reads P(yes) from log-probabilities, which llama-cpp-python grants only with ``--logits_all True``; its
``Llama.eval`` then has llama.cpp compute the whole vocabulary's logits for every prompt token.
``pipeline/serving/llama_server.py`` computes each batch's last token's only (:func:`last_token_logits`). Here the
whole judge stage runs twice on copies of ``RUN_DIR`` (its questions and answers; no verdict): once as the pipeline
runs it, once with llama-cpp-python's own ``eval`` (``EVAL_BENCH_EVERY_TOKEN_LOGITS=1``), one after the other, in
the run's own work folder (so the judge's calibration there is reused, not redone). It records each stage's wall
time, its judge session's phases, and whether the verdicts and P(yes) are the same, in
``bench/results/judge-logits-<UTC time>.json``. Nothing else may run on the machine meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.io import atomic_write_text, read_jsonl  # noqa: E402
from pipeline.serving.llama_server import EVERY_TOKEN_LOGITS  # noqa: E402

VERDICTS = ("judgements", "judgements.parquet", "controls.parquet")


def stage(run_dir: Path, mode: str, profile: str) -> dict:
    """The judge stage on a copy of ``run_dir`` without its verdicts; ``mode`` "every" or "last" (token logits)."""
    copy = run_dir.parent / f"{run_dir.name}-logits-{mode}"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(run_dir, copy, ignore=lambda folder, names: [n for n in names if Path(folder) == run_dir
                                                                  and n in VERDICTS])
    env = {**os.environ, "EVAL_WORK_DIR": str(run_dir.parent.parent.parent)}  # WORK/runs/<profile>/<run>
    env.pop(EVERY_TOKEN_LOGITS, None)
    if mode == "every":
        env[EVERY_TOKEN_LOGITS] = "1"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pipeline", "judge", "--run-dir", str(copy), "--profile", profile],
                   cwd=ROOT, env=env, check=True)
    seconds = time.perf_counter() - started
    last = {}
    for record in read_jsonl(copy / "judgements" / "judge.sessions.jsonl"):  # appended as it goes: the last counts
        last[record["session"]] = record
    latencies = [r.get("judge_latency_s") or 0.0 for path in (copy / "judgements").glob("*.jsonl")
                 if path.name != "judge.sessions.jsonl" for r in read_jsonl(path)]
    return {"mode": mode, "run_dir": str(copy), "seconds": round(seconds, 1),
            "requests": len(latencies), "requests_s": round(sum(latencies), 1),
            "phases_s": [{k: v["duration_s"] for k, v in r.items() if isinstance(v, dict) and "duration_s" in v}
                         for r in last.values()],
            "answers_judged": [r.get("answers_judged") for r in last.values()],
            "prefix_hit_tokens": [r.get("prefix_hit_tokens") for r in last.values()]}


def same_verdicts(a: Path, b: Path) -> dict:
    """How many judge verdicts (and P(yes) to the fourth decimal, where recorded) the two copies share."""
    def records(run: Path) -> dict:
        found = {}
        for path in sorted((run / "judgements").glob("*.jsonl")):
            for r in read_jsonl(path):
                if "verdict" in r and path.name != "judge.sessions.jsonl":
                    found[(r["candidate"], r["question_id"], r.get("control"))] = r
        return found

    first, second = records(a), records(b)
    shared = first.keys() & second.keys()
    p_yes = [(first[k].get("p_yes"), second[k].get("p_yes")) for k in shared]
    return {"verdicts": len(shared), "same_verdict": sum(first[k]["verdict"] == second[k]["verdict"] for k in shared),
            "p_yes_recorded": sum(x is not None and y is not None for x, y in p_yes),
            "same_p_yes_4dp": sum(x is not None and y is not None and round(x, 4) == round(y, 4) for x, y in p_yes),
            "judgements_rows": [len(pd.read_parquet(r / "judgements.parquet")) for r in (a, b)]}


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--order", default="last,every", help="which stage runs first: last,every or every,last")
    parser.add_argument("--profile", default="default")
    args = parser.parse_args(argv)
    run_dir = args.run_dir.resolve()
    when = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    runs = {mode: stage(run_dir, mode, args.profile) for mode in args.order.split(",")}
    result = {"when": when, "commit": commit.strip(), "source_run": str(run_dir), "order": args.order, **runs,
              "same": same_verdicts(Path(runs["last"]["run_dir"]), Path(runs["every"]["run_dir"])),
              "ratio_last_over_every": round(runs["last"]["seconds"] / runs["every"]["seconds"], 3)}
    out = ROOT / "bench" / "results" / f"judge-logits-{when}.json"
    atomic_write_text(out, json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: result[k] for k in ("same", "ratio_last_over_every")}, indent=1))
    print(f"{runs['last']['seconds']} s (last-token logits) against {runs['every']['seconds']} s (every token's): {out}")
    return out


if __name__ == "__main__":
    main()
