"""Stage 1: generate questions and gold answers from a document with YourBench.

We run YourBench's own pipeline (ingestion, summarization, chunking, single-hop
and multi-hop question generation, Lighteval preparation) as a subprocess with a
config written from ours, against the generator served by :mod:`pipeline.serving`.

Small generators rarely follow YourBench's output format, so when
``json_schema_decoding`` is on, the question-generation calls carry a JSON
schema (through YourBench's ``extra_parameters``) that the server enforces with
a grammar: every generation then parses. Summarization is left free-form by
routing it to a second model alias of the same server.

Output: ``questions.parquet`` (one row per kept question) and
``generation.json`` (what was generated, what failed to parse, what was kept).
"""

from __future__ import annotations

import hashlib
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

from pipeline.config import ROOT, Config, Generator
from pipeline.document import SUPPORTED_SUFFIXES
from pipeline.errors import UserError
from pipeline.io import atomic_write_json, atomic_write_parquet, tool_env
from pipeline.serving import Endpoint, die_with_parent, machine_lock, serve

QUESTION_TYPES = ["factual", "analytical", "conceptual", "application-based", "clarification",
                  "counterfactual", "true-false", "edge-case", "open-ended", "false-premise"]
KEY_ENV = "EVAL_GENERATOR_API_KEY"  # YourBench expands $VARS: the key never lands in the yaml


def question_schema(count: int) -> dict:
    """JSON schema for one generation: exactly ``count`` questions in YourBench's field names."""
    item = {
        "type": "object",
        "properties": {
            "question_type": {"type": "string", "enum": QUESTION_TYPES},
            "question": {"type": "string"},
            "answer": {"type": "string"},
            "estimated_difficulty": {"type": "integer", "minimum": 1, "maximum": 10},
            "citations": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 1},
        },
        "required": ["question_type", "question", "answer", "estimated_difficulty", "citations"],
    }
    return {"type": "array", "items": item, "minItems": count, "maxItems": count}


def _response_format(gen: Generator, count: int) -> dict:
    schema = question_schema(count)
    if gen.engine == "llama-cpp":
        return {"type": "json_object", "schema": schema}
    return {"type": "json_schema", "json_schema": {"name": "questions", "schema": schema}}


def yourbench_config(cfg: Config, endpoint: Endpoint, work: Path) -> dict:
    gen, q = cfg.generator, cfg.questions
    model = {"base_url": endpoint.base_url, "api_key": f"${KEY_ENV}",
             "max_concurrent_requests": gen.concurrent_requests}
    decoding = {"max_tokens": gen.max_new_tokens, "temperature": 0.0, "seed": q.seed}  # reproducible questions
    models = [{**model, "model_name": endpoint.model,
               "extra_parameters": {**decoding, "max_tokens": gen.summary_max_tokens}}]
    question_model = endpoint.model
    if gen.json_schema_decoding:
        question_model = f"{endpoint.model}-json"
        models.append({**model, "model_name": question_model, "extra_parameters": {
            **decoding, "response_format": _response_format(gen, q.questions_per_chunk)}})
    instructions = (f"Write exactly {q.questions_per_chunk} questions. Each answer must be short "
                    "(one sentence) and stated in the text; cite one short quote from the text.")
    stages = {
        "ingestion": {"source_documents_dir": str(work / "raw"), "output_dir": str(work / "processed"),
                      "supported_file_extensions": list(SUPPORTED_SUFFIXES)},
        "summarization": {"max_tokens": max(1024, gen.context_length // 2), "token_overlap": 64,
                          **({"summarization_user_prompt": str(ROOT / "generator_prompts" / gen.summarization_prompt)}
                             if gen.summarization_prompt else {})},
        "chunking": {"l_max_tokens": q.chunk_tokens, "token_overlap": 0, "h_min": 2, "h_max": 2},
        "single_hop_question_generation": {"additional_instructions": instructions},
        "prepare_lighteval": {},
    }
    if q.multi_hop:
        stages["multi_hop_question_generation"] = {"additional_instructions": instructions}
    roles = {"summarization": [endpoint.model], "single_hop_question_generation": [question_model],
             "multi_hop_question_generation": [question_model], "ingestion": [endpoint.model]}
    return {
        "hf_configuration": {"hf_dataset_name": "questions", "local_dataset_dir": str(work / "dataset"),
                             "local_saving": True, "push_to_hub": False, "upload_card": False},
        "model_list": models,
        "model_roles": roles,
        "pipeline": stages,
    }


def question_id(question: str) -> str:
    return hashlib.sha256(question.strip().lower().encode()).hexdigest()[:12]


def _select(prepared: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    """Usable questions (non-empty question and gold, no duplicates), ``target`` of them at most."""
    df = prepared.copy()
    df["question"] = df["question"].astype(str).str.strip()
    df["gold"] = df["ground_truth_answer"].astype(str).str.strip()
    df = df[(df["question"].str.len() >= 10) & (df["gold"].str.len() > 0)]
    df["question_id"] = df["question"].map(question_id)
    df = df.drop_duplicates("question_id")
    if len(df) > cfg.questions.target:
        keep = sorted(random.Random(cfg.questions.seed).sample(range(len(df)), cfg.questions.target))
        df = df.iloc[keep]
    df["chunk_text"] = df["chunks"].map(lambda chunks: "\n\n".join(chunks))
    columns = ["question_id", "question", "gold", "kind", "question_category", "estimated_difficulty",
               "citations", "chunk_ids", "chunk_text", "document_summary", "document_id",
               "question_generating_model"]
    return df[columns].reset_index(drop=True)


def _generation_stats(dataset_dir: Path) -> dict:
    """How many generator calls there were and how many yielded no parseable questions."""
    from datasets import load_from_disk

    subsets = load_from_disk(str(dataset_dir))
    calls = {}
    chunked = subsets["chunked"]
    calls["single_hop"] = sum(len(row["chunks"]) for row in chunked)
    calls["multi_hop"] = sum(len(row.get("multihop_chunks") or []) for row in chunked)
    stats = {}
    for kind, subset in (("single_hop", "single_hop_questions"), ("multi_hop", "multi_hop_questions")):
        rows = subsets[subset] if subset in subsets else []
        parsed_calls = len({row["raw_response"] for row in rows})
        stats[kind] = {"calls": calls[kind], "questions": len(rows),
                       "calls_without_parseable_questions": max(calls[kind] - parsed_calls, 0)}
    return stats


def run(doc: Path, run_dir: Path, cfg: Config) -> Path:
    """Generate ``run_dir/questions.parquet`` from ``doc``."""
    run_dir = run_dir.resolve()  # YourBench runs in its own working directory
    with machine_lock(cfg.generator):  # first: a run of the same document in another shell may be generating
        out, key = run_dir / "questions.parquet", run_dir / "keys" / "generate.key"
        if out.exists() and key.exists() and out.stat().st_mtime > key.stat().st_mtime:
            print("generate: another run has just made the questions; nothing to do", flush=True)
            return out
        return _generate(doc, run_dir, cfg)


def _generate(doc: Path, run_dir: Path, cfg: Config) -> Path:
    work = run_dir / "yourbench"
    shutil.rmtree(work, ignore_errors=True)
    (work / "raw").mkdir(parents=True)
    shutil.copyfile(doc, work / "raw" / f"document{doc.suffix.lower()}")
    started = time.time()
    with serve(cfg.generator, run_dir / "logs") as endpoint:
        config_path = work / "yourbench.yaml"
        config_path.write_text(yaml.safe_dump(yourbench_config(cfg, endpoint, work), sort_keys=False))
        env = tool_env() | {KEY_ENV: endpoint.api_key, "YOURBENCH_LOG_DIR": str(work / "logs")}
        log_path = run_dir / "logs" / "yourbench.log"
        print(f"generate: YourBench with {cfg.generator.name} (log: {log_path})", flush=True)
        with log_path.open("w") as log:
            done = subprocess.run([sys.executable, "-m", "yourbench", "run", "--no-banner", str(config_path)],
                                  stdout=log, stderr=subprocess.STDOUT, env=env, cwd=work,
                                  preexec_fn=die_with_parent)
    if done.returncode != 0:
        raise UserError(f"YourBench failed (exit {done.returncode}); see {log_path}")
    if not (work / "processed" / "document.md").is_file() or not (work / "processed" / "document.md").read_text().strip():
        raise UserError(f"YourBench could not extract any text from {doc.name} "
                        f"(a scanned/image-only PDF needs OCR first); see {log_path}")
    return keep_usable(work / "dataset", doc.name, run_dir, cfg, seconds=round(time.time() - started, 1))


def keep_usable(dataset_dir: Path, doc_name: str, run_dir: Path, cfg: Config, seconds: float = 0.0) -> Path:
    """Select the usable questions of YourBench's dataset; refuse (with the counts) below ``min_usable``."""
    from datasets import load_from_disk

    subsets = load_from_disk(str(dataset_dir))
    log_path = run_dir / "logs" / "yourbench.log"
    if "prepared_lighteval" not in subsets or len(subsets["prepared_lighteval"]) == 0:
        raise UserError(f"YourBench produced no questions for {doc_name}; see {log_path}")
    questions = _select(subsets["prepared_lighteval"].to_pandas(), cfg)
    by_kind = _generation_stats(dataset_dir)
    stats = {"document": doc_name, "generator": cfg.generator.name, "seconds": seconds, "by_kind": by_kind,
             "generated": len(subsets["prepared_lighteval"]), "usable": len(questions),
             "target": cfg.questions.target, "min_usable": cfg.questions.min_usable}
    atomic_write_json(run_dir / "generation.json", stats)
    if len(questions) < cfg.questions.min_usable:
        failed = sum(k["calls_without_parseable_questions"] for k in by_kind.values())
        calls = sum(k["calls"] for k in by_kind.values())
        dropped = stats["generated"] - len(questions)
        raise UserError(f"only {len(questions)} usable questions from {doc_name} (need "
                        f"{cfg.questions.min_usable}): {failed} of {calls} generation calls gave no parseable "
                        f"questions, {dropped} of {stats['generated']} generated were empty or duplicates. "
                        f"A longer document, a stronger generator or a lower questions.min_usable helps; "
                        f"details in {run_dir / 'generation.json'}")
    out = run_dir / "questions.parquet"
    atomic_write_parquet(questions, out)
    print(f"generate: {len(questions)} questions kept of {stats['generated']} generated", flush=True)
    return out
