"""The pipeline against its engine, and the CPU serving settings: two parts of `make bench` (bench/run.py).

Pipeline against engine (:func:`pipeline_vs_engine`): one document's report
is made from scratch, stage by stage as `make report` runs them (each timed),
in a fresh folder beside the profile's runs (so the judge's calibration
verdicts are reused, not redone). The answer and judge stages' speed, output
tokens over the measured request window, is set beside llama.cpp's own in this
process: llama-cpp-python's ``Llama`` with the
same GGUF, threads and context, sent the same prompts with the same max tokens,
stop sequences and verdict grammar (sampled the servers' way,
pipeline/serving/llama_server.py), in the same order; the judge's requests
are all that its stage sent (control answers included) and ask the same
log-probabilities, each verdict read from P(yes) as the stage reads it. Both figures include
prompt evaluation and both get llama.cpp's reuse of the previous request's
prefix, so their ratio is what the pipeline (HTTP server, LiteLLM, Lighteval,
our records) costs on top of the engine. The outputs are compared too: greedy
answers and verdicts should not depend on the path they took.

Serving settings (:func:`cpu_settings`): on a CPU, 1 against 2 requests in
flight and all cores against one thread per server, so that the profile keeps
the faster setting with a number behind it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from pipeline import runs
from pipeline.answers import answer
from pipeline.config import Config, Served
from pipeline.io import read_jsonl
from pipeline.measure import energy
from pipeline.serving.models import EMBEDDED_MODELS, gguf_path
from pipeline.serving.servers import machine_lock, serve
from pipeline.verdicts import grading, judge


def engine_replay(model: Served, requests: list[dict]) -> list[dict]:
    """Send ``requests`` (messages, max_tokens, stop, grammar, top_logprobs) to llama.cpp in this process, one at a
    time.

    With the servers' workarounds (pipeline/serving/llama_server.py) installed, as they run it; when a request asks
    for log-probabilities (the judge's P(yes)), the model keeps its scores (``logits_all``), as the judge's server
    does.
    """
    from llama_cpp import Llama, LlamaGrammar

    from pipeline.serving import llama_server

    llama_server.install()

    threads = os.cpu_count() or 2
    scored = any(r.get("top_logprobs") for r in requests)
    with machine_lock(model):
        llm = Llama(model_path=str(gguf_path(model.model)), n_ctx=model.context_length, n_threads=threads,
                    n_threads_batch=threads, chat_format=EMBEDDED_MODELS[model.model].chat_format,
                    logits_all=scored, verbose=False)
        grammars: dict[str, LlamaGrammar] = {}
        results = []
        try:
            for request in requests:
                grammar = request.get("grammar")
                if grammar and grammar not in grammars:
                    grammars[grammar] = LlamaGrammar.from_string(grammar, verbose=False)
                logprobs = ({"logprobs": True, "top_logprobs": request["top_logprobs"]}
                            if request.get("top_logprobs") else {})
                started = time.perf_counter()
                # repeat_penalty: the server's default (1.1; the in-process default is 1.0), which the
                # pipeline's requests get since neither Lighteval nor our judge sends one.
                reply = llm.create_chat_completion(messages=request["messages"], max_tokens=request["max_tokens"],
                                                   temperature=0.0, stop=request.get("stop"), repeat_penalty=1.1,
                                                   grammar=grammars.get(grammar) if grammar else None, **logprobs)
                results.append({"seconds": time.perf_counter() - started,
                                "prompt_tokens": reply["usage"]["prompt_tokens"],
                                "completion_tokens": reply["usage"]["completion_tokens"],
                                "text": reply["choices"][0]["message"]["content"] or "",
                                "logprobs": reply["choices"][0].get("logprobs")})
        finally:
            del llm
    return results


def _p_yes(logprobs: dict | None) -> float | None:
    """:func:`grading.p_yes` of a reply made in process (plain dicts, where the server's client gives objects)."""
    content = [SimpleNamespace(top_logprobs=[SimpleNamespace(**t) for t in c.get("top_logprobs") or []])
               for c in (logprobs or {}).get("content") or []]
    return grading.p_yes(SimpleNamespace(content=content))


def _last_session(path: Path) -> dict:
    sessions = energy.read_sessions(path)
    return sessions[-1] if sessions else {}


def _row(stage: str, model: str, records: list[dict], window_s: float, hits: int | None, engine: list[dict],
         same: int, tokens_key: str, prompt_key: str, latency_key: str) -> dict:
    tokens = sum(r[tokens_key] or 0 for r in records)
    prompt_tokens = sum(r[prompt_key] or 0 for r in records)
    engine_tokens = sum(e["completion_tokens"] for e in engine)
    engine_s = sum(e["seconds"] for e in engine)
    pipeline_tps = tokens / window_s if window_s else None
    engine_tps = engine_tokens / engine_s if engine_s else None
    return {
        "stage": stage, "model": model, "requests": len(records),
        "prompt_tokens": prompt_tokens, "output_tokens": tokens, "engine_output_tokens": engine_tokens,
        "window_s": round(window_s, 2), "requests_s": round(sum(r[latency_key] or 0 for r in records), 2),
        "engine_s": round(engine_s, 2),
        "pipeline_tokens_per_s": pipeline_tps, "engine_tokens_per_s": engine_tps,
        "ratio": pipeline_tps / engine_tps if pipeline_tps and engine_tps else None,
        "prefix_hit_tokens": hits, "prefix_hit_rate": hits / prompt_tokens if hits is not None and prompt_tokens
        else None,
        "same_prompt_tokens": sum(r[prompt_key] == e["prompt_tokens"] for r, e in zip(records, engine)),
        "same_output": same,
    }


def _stage(cfg: Config, bench_dir: Path, *args: str) -> float:
    """Run one stage as `make report` does (its own process: Lighteval's start-up included); its wall time."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pipeline", *args, "--run-dir", str(bench_dir), "--profile", cfg.profile],
                   cwd=runs.ROOT, check=True)
    return round(time.perf_counter() - started, 1)


def _answer_rows(cfg: Config, questions: pd.DataFrame, bench_dir: Path, before: Path) -> tuple[float, list[dict]]:
    """The answer stage as `make report` runs it (one process, every candidate); its wall time and rows."""
    from tasks.document_qa import STOP_SEQUENCES

    names = [c.name for c in cfg.candidates]
    stage_s = _stage(cfg, bench_dir, "answer", "--candidate", names[0], "--also-out-of-date", ",".join(names))
    by_id = {qid: prompt for prompt, qid in answer._prompts(questions, cfg).items()}
    rows = []
    for candidate in cfg.candidates:
        if candidate.engine != "llama-cpp":
            continue
        session = _last_session(bench_dir / "answers" / f"{candidate.name}.sessions.jsonl")
        records = [r for r in read_jsonl(bench_dir / "answers" / f"{candidate.name}.jsonl")
                   if r.get("session") == session.get("session")]
        requests = [{"messages": [{"role": "user", "content": by_id[r["question_id"]]}],
                     "max_tokens": candidate.max_new_tokens, "stop": STOP_SEQUENCES} for r in records]
        print(f"bench: {candidate.name}: the same {len(requests)} prompts in process ...", flush=True)
        engine = engine_replay(candidate, requests)
        row = _row("answer", candidate.name, records, session["answer"]["duration_s"],
                   session.get("prefix_hit_tokens"), engine,
                   sum(r["raw_prediction"].strip() == e["text"].strip() for r, e in zip(records, engine)),
                   "output_tokens", "input_tokens", "latency_s")
        idle = session["idle"]  # a baseline shared from an earlier candidate's session took this one no time
        row["load_s"] = session["load"]["duration_s"]
        row["idle_s"] = 0.0 if "shared_from" in idle else idle["duration_s"]
        earlier = before / "answers" / f"{candidate.name}.parquet"
        if earlier.exists():  # the answers of the document's own run, made before this bench
            made = pd.read_parquet(earlier).set_index("question_id")["prediction"].to_dict()
            row["same_as_report_run"] = sum(made.get(r["question_id"]) == r["prediction"] for r in records)
        rows.append(row)
    return stage_s, rows


def _judge_row(cfg: Config, questions: pd.DataFrame, bench_dir: Path) -> dict | None:
    """The judge stage's requests — the candidates' answers and the control answers, as the stage graded them —
    replayed in process with the same log-probabilities asked, each verdict read as the stage reads it (P(yes)
    against ``judge.yes_threshold`` where one is set)."""
    the_judge = cfg.judge
    if the_judge.engine != "llama-cpp":
        return None
    stage_s = _stage(cfg, bench_dir, "judge")
    session = _last_session(bench_dir / "judgements" / "judge.sessions.jsonl")
    names = [c.name for c in cfg.candidates] + [judge.CONTROLS]
    records = [r for name in names for r in read_jsonl(bench_dir / "judgements" / f"{name}.jsonl")
               if r.get("session") == session.get("session") and r.get("pass") == "judge"]
    by_id = questions.set_index("question_id")
    records.sort(key=lambda r: judge.grading_order({**r, "chunk_text": by_id.loc[r["question_id"], "chunk_text"]}))
    predictions = {(c.name, qid): p for c in cfg.candidates for qid, p in
                   pd.read_parquet(bench_dir / "answers" / f"{c.name}.parquet")[["question_id", "prediction"]]
                   .itertuples(index=False)}
    predictions.update({(judge.CONTROLS, c["question_id"], c["control"]): c["prediction"]
                        for c in judge.control_answers(cfg, questions)})
    template = the_judge.prompt_text()
    grammar = grading.verdict_constraint(the_judge).get("grammar")
    scored = {"top_logprobs": 20} if the_judge.yes_threshold is not None else {}  # as grading._ask asks them
    requests = []
    for r in records:
        q = by_id.loc[r["question_id"]]
        key = (r["candidate"], r["question_id"], r["control"]) if r["candidate"] == judge.CONTROLS else \
            (r["candidate"], r["question_id"])
        prompt = grading.render_prompt(template, q["question"], q["gold"], q["chunk_text"], predictions[key])
        requests.append({"messages": [{"role": "user", "content": prompt}],
                         "max_tokens": the_judge.max_new_tokens, "grammar": grammar, **scored})
    print(f"bench: {the_judge.name}: the same {len(requests)} prompts in process ...", flush=True)
    engine = engine_replay(the_judge, requests)
    same = sum(r["verdict"] == grading.read_at_threshold(grading.parse_verdict(e["text"]), _p_yes(e["logprobs"]),
                                                         the_judge.yes_threshold)
               for r, e in zip(records, engine))
    return {**_row("judge", the_judge.name, records, session["judge"]["duration_s"], session.get("prefix_hit_tokens"),
                   engine, same, "judge_output_tokens", "judge_input_tokens", "judge_latency_s"), "stage_s": stage_s}


def bench_run_dir(cfg: Config, doc: Path) -> Path:
    """Where the bench makes ``doc``'s report from scratch: beside the profile's runs, so that the judge's calibration
    verdicts are shared."""
    return runs.run_dir(cfg.profile, doc).parent / "_bench"


def pipeline_vs_engine(cfg: Config, doc: Path) -> tuple[dict, list[dict]]:
    """``doc``'s report made from scratch, stage by stage, then its answers and verdicts against llama.cpp.

    Returns the wall time of each stage (seconds) and one ratio row per model.
    """
    bench_dir = bench_run_dir(cfg, doc)
    shutil.rmtree(bench_dir, ignore_errors=True)
    bench_dir.mkdir(parents=True)
    shutil.copy2(doc, bench_dir / f"document{doc.suffix.lower()}")
    stages = {"generate": _stage(cfg, bench_dir, "generate")}
    questions = pd.read_parquet(bench_dir / "questions.parquet")
    stages["answer"], rows = _answer_rows(cfg, questions, bench_dir, runs.run_dir(cfg.profile, doc))
    judged = _judge_row(cfg, questions, bench_dir)
    if judged:
        stages["judge"] = judged["stage_s"]
    stages["report"] = _stage(cfg, bench_dir, "report", "--report-dir", str(bench_dir / "report"),
                              "--document", doc.name)
    return stages, rows + ([judged] if judged else [])


def cpu_settings(model: Served, log_dir: Path, prompts: list[str], ask) -> list[dict]:
    """Tokens/s of ``model``'s server with all cores or one thread, and 1 or 2 requests in flight.

    ``ask(endpoint, prompt)`` sends one request and returns its usage (bench/run.py's ``_ask``).
    """
    cores = os.cpu_count() or 2
    rows = []
    with machine_lock(model):
        for threads in dict.fromkeys([cores, 1]):
            variant = model.model_copy(update={"server_args": [*model.server_args, "--n_threads", str(threads),
                                                               "--n_threads_batch", str(threads)]})
            with serve(variant, log_dir) as endpoint:
                ask(endpoint, prompts[0])  # warm-up
                for in_flight in ([1, 2] if threads == cores else [1]):
                    started = time.perf_counter()
                    with ThreadPoolExecutor(in_flight) as pool:
                        tokens = sum(pool.map(lambda p: ask(endpoint, p)["completion_tokens"], prompts))
                    seconds = time.perf_counter() - started
                    rows.append({"model": model.name, "threads": threads, "in_flight": in_flight,
                                 "tokens": tokens, "seconds": round(seconds, 2), "tokens_per_s": tokens / seconds})
    return rows
