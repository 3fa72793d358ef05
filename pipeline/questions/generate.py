"""Stage 1: generate questions and gold answers from a document with YourBench.

YourBench's own stages run in this process, one at a time, with our chunk
selection between them (:mod:`pipeline.questions.selection`), so that the generator's
work is bounded by the questions wanted rather than by the page count:

1. ingestion (YourBench: PDF/HTML/text to Markdown) — kept in
   ``yourbench/ingested`` and reused while the document is the same;
2. the plan: pages, tokens, chunks, generator calls and an estimated time,
   printed before any model work;
3. summarization (YourBench) of a bounded, evenly spread excerpt, in a dataset
   folder of its own (``yourbench/summary``);
4. chunking (YourBench) of the whole text, then the selection: the ``chunked``
   subset keeps only the chosen chunks and multi-hop pairs;
5. single-hop and multi-hop question generation and Lighteval preparation
   (YourBench) on those chunks;
6. usable questions are selected; when fewer than the target survive, further
   chunks of the same spread order are read (``questions.top_up_rounds``).

Every model call goes through :class:`pipeline.questions.call_cache.CallProxy`: a call
that finished once is never made again (rerun after a crash or ``kill -9``,
a lower target, a higher one), the console shows calls done / planned with an
ETA, and the model server starts only when a call is not on record.

Small generators rarely follow YourBench's output format, so when
``json_schema_decoding`` is on, the question-generation calls carry a JSON
schema (through YourBench's ``extra_parameters``) that the server enforces with
a grammar: every generation then parses. Summarization is left free-form by
routing it to a second model alias, which the proxy sends to the same server.

How YourBench is configured, run and its text ingested: :mod:`pipeline.questions.yourbench_stages`.

Output: ``questions.parquet`` (one row per kept question) and
``generation.json`` (the plan, what was generated, what failed, what was kept).
"""

from __future__ import annotations

import hashlib
import math
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from pipeline import keys, runs
from pipeline import language as languages
from pipeline.config import Config, Questions, fingerprint
from pipeline.errors import UserError
from pipeline.io import atomic_write_json, atomic_write_parquet
from pipeline.progress import SpeedLog, duration
from pipeline.questions import (
    answer_first,
    question_form,
    selection,
    validate,
    validation_rates,
)
from pipeline.questions.answer_spans import choose as choose_answers
from pipeline.questions.answer_spans import common_names
from pipeline.questions.call_cache import PLACEHOLDER_KEY, CallProxy, CallRecord
from pipeline.questions.document import page_count
from pipeline.questions.model_checks import Checks, FitCheck, GoldCheck, RoundTrip, fit_check_key
from pipeline.questions.yourbench_stages import (
    KEY_ENV,
    QUESTION_TYPES,
    SUMMARY_OVERLAP,
    YourBench,
    ingest,
    load_subset,
    prompt_files,
    save_dataset,
    summary_window,
)
from pipeline.serving.servers import machine_lock, pinned_gpus, serve, served_name
from pipeline.verdicts import calibration

# The records of finished model calls in a run folder: the generator's, and the judge model's gold-answer checks.
GENERATOR_CALLS, GOLD_CHECK_CALLS = Path("yourbench/calls.jsonl"), Path("validation/calls.jsonl")


# Which generation code made a run's questions: the labels of kept questions (labelled/kept_questions.jsonl) carry it,
# and a run reports the unsound share measured for its own generation. A change to how questions are made or kept
# is a new generation: its share is unmeasured until its held-out questions are labelled.
GENERATIONS = {True: "answer-first-9", False: "question-first-4"}  # questions.answer_first -> generation


def generation_id(cfg: Config) -> str:
    """The generation code. The fit check (``questions.fit_check``) on answer-first questions was the sixth (as
    frozen at 4b3631d) and the seventh (its rejections make up the minimum) on the fifth's answers; on the eighth's
    answers it is a generation of its own, not measured."""
    if cfg.questions.answer_first and cfg.questions.fit_check:
        return f"{GENERATIONS[True]}-fit-check"
    return GENERATIONS[cfg.questions.answer_first]


def generate_key(cfg: Config) -> str:
    """What the questions depend on: the generator's and the question settings that :mod:`pipeline.keys` places
    in ``generate``, the generator's prompt files, the question types, and the gold-answer check (when on)."""
    q = cfg.questions
    prompts = [path.read_text(encoding="utf-8") for path in prompt_files(cfg)]
    # the rules that choose the answers and judge a round trip (keys.TEXT_FILES) are part of what the questions are
    rules = keys.texts(keys.GENERATE) if q.answer_first or q.round_trip else []
    return fingerprint(keys.settings(cfg, keys.GENERATE, skip=("judge",)), prompts, *rules,
                       QUESTION_TYPES, validate.gold_check_key(cfg) if q.check_gold else "",
                       *([fit_check_key(cfg)] if q.fit_check else []))


def question_id(question: str) -> str:
    return hashlib.sha256(question.strip().lower().encode()).hexdigest()[:12]


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


def make_plan(document: dict, pages: int | None, cfg: Config, calls: int | None = None) -> selection.Plan:
    """The plan for ``document`` (YourBench's ingested row); ``calls`` overrides the target's call count."""
    q = cfg.questions
    return selection.plan(document["document_text"], pages, target=q.target, calls=calls,
                          questions_per_chunk=q.questions_per_chunk, overdraw=q.overdraw,
                          chunk_tokens=q.chunk_tokens, multi_hop=q.multi_hop, multi_hop_share=q.multi_hop_share,
                          seed=q.seed, summary_budget=q.summary_excerpt_tokens,
                          summary_window=summary_window(cfg.generator), summary_overlap=SUMMARY_OVERLAP,
                          askable=_askable(document["document_text"]) if q.answer_first else None)


def _askable(text: str):
    common = common_names(text)
    return lambda excerpt: bool(choose_answers(excerpt, 1, common))


def plan_document(doc: Path, run_dir: Path, cfg: Config) -> selection.Plan:
    """Ingest ``doc`` (or reuse its ingestion) and plan its generation; no model is involved."""
    yb = YourBench(cfg, run_dir / "yourbench", run_dir / "logs" / "yourbench.log")
    try:
        return make_plan(ingest(doc, yb.work, yb, sys.stdout), page_count(doc), cfg)
    finally:
        yb.close()


def plan_line(plan: selection.Plan, cfg: Config, speed: SpeedLog) -> str:
    """One line: pages, tokens, chunks, calls planned, estimated time from this machine's earlier runs."""
    name = served_name(cfg.generator)
    per_kind = {"summary": plan.summary_calls, "single_hop": len(plan.single_hop), "multi_hop": len(plan.multi_hop)}
    known = {k: speed.seconds_per_call(name, k) for k in per_kind}
    rates = [v for v in known.values() if v]
    if rates:
        seconds = sum(n * (known[k] or sum(rates) / len(rates)) for k, n in per_kind.items())
        estimate = f"about {duration(seconds)} at this machine's measured speed (at most; finished calls are reused)"
    else:
        estimate = "no time estimate yet (no generator call measured on this machine)"
    pages = f"{plan.pages} pages, " if plan.pages is not None else ""
    coverage = "" if plan.summary_coverage >= 1 else f" over {plan.summary_coverage:.0%} of the text"
    why = "figure or table debris, or no sentence to ask about" if cfg.questions.answer_first else \
        "mostly figure or table debris"
    skipped = f" ({len(plan.skipped)} {why}: not read)" if plan.skipped else ""
    return (f"generate: {pages}{plan.tokens:,} tokens, {plan.chunks} chunks of {cfg.questions.chunk_tokens} tokens"
            f"{skipped}; "
            f"{plan.calls} generator calls planned ({plan.summary_calls} summary{coverage}, "
            f"{len(plan.single_hop)} single-hop, {len(plan.multi_hop)} multi-hop) for {cfg.questions.target} "
            f"questions; {estimate}")


def _summarize(document: dict, plan: selection.Plan, cfg: Config, yb: YourBench, proxy: CallProxy) -> dict:
    """YourBench's summarization of the bounded excerpt, in a dataset folder of its own."""
    excerpt, _ = selection.summary_excerpt(document["document_text"], cfg.questions.summary_excerpt_tokens)
    dataset_dir = yb.work / "summary"
    save_dataset(dataset_dir, {"ingested": [{**document, "document_text": excerpt}]})
    proxy.step("summary", "summary", plan.summary_calls)
    yb.stage("summarization", dataset_dir)
    row = load_subset(dataset_dir, "summarized")[0]
    return {"document_summary": row["document_summary"], "summarization_model": row["summarization_model"]}


def _generate_questions(document: dict, summary: dict, plan: selection.Plan, yb: YourBench,
                        proxy: CallProxy) -> Path:
    """Chunking, selection, question generation and Lighteval preparation, in a fresh dataset folder."""
    dataset_dir = yb.work / "dataset"
    save_dataset(dataset_dir, {"summarized": [{**document, **summary}]})
    yb.stage("chunking", dataset_dir)
    from datasets import Dataset
    from yourbench.utils.dataset_engine import custom_save_dataset

    row = load_subset(dataset_dir, "chunked")[0]
    chunks = row["chunks"]
    if len(chunks) != plan.chunks:
        raise RuntimeError(f"YourBench made {len(chunks)} chunks, the plan expected {plan.chunks}")
    # What is read of each chunk: whole sentences and list items, no runs of figure debris (selection.excerpt).
    texts = [chunk["chunk_text"] for chunk in chunks]
    q = yb.cfg.questions

    common = common_names(document["document_text"]) if q.answer_first else frozenset()

    def single_hop_text(i: int) -> str:  # answer-first: the excerpt and the answers to ask about
        text = selection.excerpt(texts, i)
        if not q.answer_first:
            return text
        return answer_first.generator_input(text, choose_answers(text, q.questions_per_chunk, common), yb.language)

    row["chunks"] = [{**chunks[i], "chunk_text": single_hop_text(i)} for i in sorted(plan.single_hop)]
    row["multihop_chunks"] = [{"chunk_ids": [chunks[i]["chunk_id"] for i in pair],
                               "chunks_text": [selection.excerpt(texts, i) for i in pair]} for pair in plan.multi_hop]
    config = yb.config(dataset_dir)
    custom_save_dataset(Dataset.from_list([row]), config=config, subset="chunked", push_to_hub=False)
    proxy.step("single_hop", "single-hop questions", len(plan.single_hop))
    yb.stage("single_hop_question_generation", dataset_dir)
    if plan.multi_hop:
        proxy.step("multi_hop", "multi-hop questions", len(plan.multi_hop))
        yb.stage("multi_hop_question_generation", dataset_dir)
    yb.stage("prepare_lighteval", dataset_dir)
    yb.stage("citation_score_filtering", dataset_dir)
    return dataset_dir


def run(doc: Path, run_dir: Path, cfg: Config) -> Path:
    """Generate ``run_dir/questions.parquet`` from ``doc``."""
    run_dir = run_dir.resolve()
    with machine_lock(cfg.generator):  # first: a run of the same document in another shell may be generating
        out, key = run_dir / "questions.parquet", run_dir / "keys" / "generate.key"
        if out.exists() and key.exists() and out.stat().st_mtime > key.stat().st_mtime:
            print("generate: another run has just made the questions; nothing to do", flush=True)
            return out
        return _generate(doc, run_dir, cfg)


def _served_fingerprint(model, at: str) -> str:
    """The call record's key for ``model`` (at ``at`` in the profile): what changes a reply beyond the request."""
    return fingerprint(keys.settings(model, keys.CALLS, at))


class _Embedder:
    """all-MiniLM-L6-v2, loaded on first use only (importing torch takes seconds)."""

    def __init__(self):
        self.embed = None

    def __call__(self, texts: list[str]):
        if self.embed is None:
            self.embed = validate.minilm_embedder()
        return self.embed(texts)


def _generate(doc: Path, run_dir: Path, cfg: Config) -> Path:
    import os

    from pipeline.measure.energy import EnergyMeter, Session

    console = sys.stdout
    work = run_dir / "yourbench"  # kept between runs: ingestion and every finished call are reused
    work.mkdir(parents=True, exist_ok=True)
    log_path = run_dir / "logs" / "yourbench.log"
    gen, q = cfg.generator, cfg.questions
    started = time.time()
    yb = YourBench(cfg, work, log_path)
    speed = SpeedLog()
    generator_calls = CallRecord(run_dir / GENERATOR_CALLS, _served_fingerprint(gen, "generator"))
    judge_calls = CallRecord(run_dir / GOLD_CHECK_CALLS, _served_fingerprint(cfg.judge, "judge"))
    try:
        document = ingest(doc, work, yb, console)
        yb.language = q.language if q.language != "auto" else languages.detect(document["document_text"])
        plan = first_plan = make_plan(document, page_count(doc), cfg)
        print(plan_line(plan, cfg, speed), flush=True)
        print(f"generate: YourBench with {gen.name}, questions in {languages.name(yb.language)} "
              f"({'detected' if q.language == 'auto' else 'set in the profile'}; log: {log_path})", flush=True)
        os.environ[KEY_ENV] = PLACEHOLDER_KEY  # the proxy holds the real key, if any
        proxy = CallProxy(generator_calls, lambda: serve(gen, run_dir / "logs"), served_name(gen), speed, console)
        judge_proxy = CallProxy(judge_calls, lambda: serve(cfg.judge, run_dir / "logs"), served_name(cfg.judge),
                                speed, console)
        rounds, embed = [], _Embedder()
        # One energy session for the stage (generator and the judge's gold-answer checks), charged to the
        # questions of this configuration: the report keeps the sessions whose fingerprint is generate.key.
        meter = EnergyMeter(cfg.energy, gpus=sorted({*pinned_gpus(gen), *pinned_gpus(cfg.judge)}))
        with Session(run_dir / "generation.sessions.jsonl", meter, fingerprint=generate_key(cfg),
                     generator=gen.name, engine=gen.engine) as session:
            generator_calls.session = judge_calls.session = session.id  # each fresh call names its session
            try:
                if gen.engine != "openai":
                    session.idle()
                with proxy, judge_proxy, session.phase("generate"):
                    yb.base_url = proxy.base_url
                    summary = _summarize(document, plan, cfg, yb, proxy)
                    for _round in range(q.top_up_rounds + 1):
                        dataset_dir = _generate_questions(document, summary, plan, yb, proxy)
                        if q.check_gold:
                            proxy.release()  # one model loaded at a time: the judge checks the gold answers next
                        gold_check = Checks([check(cfg, served, yb.language) for check, served, on in
                                             ((GoldCheck, judge_proxy, q.check_gold),
                                              (RoundTrip, proxy, q.round_trip),
                                              (FitCheck, judge_proxy, q.fit_check)) if on])
                        first_read = selection.first_read(plan.chunks, plan.question_calls,
                                                          q.multi_hop_share if q.multi_hop else 0.0, q.seed,
                                                          plan.skipped)
                        answers = q.questions_per_chunk if q.answer_first else 0
                        kept, rejected = validate.validate(candidates(_load_prepared(dataset_dir), first_read, answers,
                                                                      common_names(document["document_text"])),
                                                           cfg,
                                                           embed=embed, ask_support=gold_check,
                                                           expect=gold_check.expect,
                                                           document_text=document["document_text"])
                        if q.check_gold:
                            gold_check.checks[0].measure(calibration.runs_root(run_dir))
                        judge_proxy.release()
                        proxy.release()
                        rounds.append({"question_calls": plan.question_calls, "kept": len(kept),
                                       "rejected": len(rejected)})
                        more = _top_up(plan, len(kept), document, cfg) if _round < q.top_up_rounds else None
                        if more is None:  # enough questions, no chunk left, or no round left
                            break
                        print(f"generate: {len(kept)} questions passed validation of {q.target} wanted; "
                              f"reading {more.question_calls - plan.question_calls} more chunks", flush=True)
                        if (warning := longer_than_planned(first_plan, more, len(kept), speed, cfg,
                                                              runs.document_given(run_dir, doc.name))):
                            print(warning, flush=True)
                        plan = more
            finally:
                session.record.update({"fresh_calls": proxy.fresh_calls + judge_proxy.fresh_calls,
                                       "reused_calls": proxy.reused_calls + judge_proxy.reused_calls})
    finally:
        yb.close()
    print(f"generate: {proxy.fresh_calls} generator calls made, {proxy.reused_calls} reused from earlier runs; "
          f"{judge_proxy.fresh_calls} judge-model checks made, {judge_proxy.reused_calls} reused", flush=True)
    extra = {"plan": {**asdict(plan), "calls": plan.calls}, "rounds": rounds,
             "fresh_calls": proxy.fresh_calls, "reused_calls": proxy.reused_calls,
             "gold_checks": judge_proxy.fresh_calls + judge_proxy.reused_calls,
             # every call these questions rest on, made now or replayed: the report charges each its energy
             "calls_used": [*generator_calls.used, *judge_calls.used],
             "validation_error_rates": validation_rates.all_rates(cfg, calibration.runs_root(run_dir), embed),
             "generation": generation_id(cfg),
             "kept_questions_unsound": validation_rates.kept_question_rates(generation_id(cfg)),
             **({"fit_check_rates": validation_rates.fit_check_rates()} if q.fit_check else {}),
             "language": yb.language,
             "seconds": round(time.time() - started, 1)}
    return write_questions(kept, rejected, _generation_stats(dataset_dir), doc.name, run_dir, cfg, extra)


def _load_prepared(dataset_dir: Path) -> pd.DataFrame:
    from datasets import load_from_disk

    subsets = load_from_disk(str(dataset_dir))
    if "prepared_lighteval" not in subsets or len(subsets["prepared_lighteval"]) == 0:
        return pd.DataFrame(columns=["question", "ground_truth_answer", "chunks"])
    return subsets["prepared_lighteval"].to_pandas()


def candidates(prepared: pd.DataFrame, first_read: dict | None = None, answers_per_chunk: int = 0,
               common: frozenset[str] = frozenset()) -> pd.DataFrame:
    """YourBench's prepared questions, one row each, in our column names (before validation).

    ``first_read`` (:func:`pipeline.questions.selection.first_read` of the plan) gives each row ``plan_step``: the number
    of generator calls at which the plan first reads the chunk, or multi-hop pair, that the question came
    from (NaN when not known). Validation considers questions in that order (:func:`validate.validation_order`).

    Answer-first generation (``answers_per_chunk``: the answers offered a call): a single-hop question's gold
    answer becomes the offered answer its generated one copies — the span as the excerpt writes it, its kind as
    the question's category, its sentence as the citation — and ``offered_answer`` says whether it copied one
    (False: an answer of the generator's own, which validation rejects).
    """
    df = prepared.copy()
    # "...in 2025??" and "... mentioned in the text?" (question_form.strip_scaffolding): the question the generator meant
    df["question"] = df["question"].astype(str).str.strip().str.replace(r"\?{2,}$", "?", regex=True).map(
        question_form.strip_scaffolding)
    df["gold"] = df["ground_truth_answer"].astype(str).str.strip()
    df["question_id"] = df["question"].map(question_id)
    df["chunk_text"] = df["chunks"].map(lambda chunks: "\n\n".join(answer_first.excerpt_of(c) for c in chunks))
    if "citation_score" not in df:
        df["citation_score"] = float("nan")
    offered, golds, kinds, citations, scores = [], [], [], [], []
    for row in df.to_dict("records"):
        chunks = list(row["chunks"])
        found = None
        answer_first_call = (answers_per_chunk and row.get("kind") == "single_hop" and len(chunks) == 1
                             and chunks[0] != row["chunk_text"])
        if answer_first_call:
            found = answer_first.match(row["gold"], answer_first.offered(chunks[0], answers_per_chunk, common),
                                       row["chunk_text"])
        offered.append(None if not answer_first_call else found is not None)
        gold, kind, citation = found or (row["gold"], row.get("question_category"), None)
        golds.append(gold)
        kinds.append(kind)
        citations.append(([citation] if citation else []) if found else row.get("citations"))
        scores.append(100.0 if found else row["citation_score"])  # an offered answer is the excerpt's own words
    df["offered_answer"] = pd.Series(offered, index=df.index, dtype=object)
    df["gold"], df["question_category"], df["citation_score"] = golds, kinds, scores
    df["citations"] = pd.Series(citations, index=df.index, dtype=object)
    ids = df["chunk_ids"] if "chunk_ids" in df else pd.Series([[]] * len(df), index=df.index, dtype=object)
    df["plan_step"] = [_plan_step(list(chunk_ids), first_read or {}) for chunk_ids in ids]
    return df


def _plan_step(chunk_ids: list[str], first_read: dict) -> float:
    """The plan step of the generator call that read ``chunk_ids`` (YourBench names chunk i of a document
    ``<document_id>_<i>``; a multi-hop question cites its pair's two chunks)."""
    try:
        indices = sorted(int(str(chunk_id).rsplit("_", 1)[1]) for chunk_id in chunk_ids)
    except (IndexError, ValueError):
        return float("nan")
    read = indices[0] if len(indices) == 1 else tuple(indices) if len(indices) == 2 else None
    return float(first_read.get(read, float("nan")))


def _top_up(plan: selection.Plan, kept: int, document: dict, cfg: Config) -> selection.Plan | None:
    """A larger plan when fewer than ``target`` questions passed and unread chunks remain, else None."""
    q = cfg.questions
    if kept >= q.target or len(plan.single_hop) >= plan.chunks - len(plan.skipped):
        return None
    extra = top_up_calls(q.target - kept, kept, plan.question_calls, q)
    return make_plan(document, plan.pages, cfg, calls=plan.question_calls + extra)


LONGER = 2.0  # a top-up that makes the plan this many times the first one is said at once, with the choices


def longer_than_planned(first: selection.Plan, now: selection.Plan, kept: int, speed: SpeedLog, cfg: Config,
                        document: str) -> str | None:
    """A warning when the plan has grown to :data:`LONGER` times the first one's question calls: how many calls
    and how long at this machine's speed, and what to do instead (fewer questions of ``document``, the name the
    user gave it; the calls made are kept)."""
    if now.question_calls < LONGER * first.question_calls:
        return None
    per_call = speed.seconds_per_call(served_name(cfg.generator), "single_hop")
    left = now.question_calls - first.question_calls
    when = f", about {duration(left * per_call)} at this machine's speed" if per_call else ""
    fewer = max(cfg.questions.min_usable, kept)
    command = runs.more_questions_command(document, cfg.profile)
    return (f"generate: ⚠ only {kept} questions have passed so far: {cfg.questions.target} need "
            f"{now.question_calls} question calls in all, {now.question_calls / first.question_calls:.1f}x the "
            f"{first.question_calls} first planned ({left} more{when}). To stop sooner, press Ctrl-C (every call made "
            f"is kept) and ask for fewer: `{command(fewer)}`, or lower "
            "questions.target / top_up_rounds in the profile.")


def top_up_calls(missing: int, kept: int, calls_made: int, q: Questions) -> int:
    """How many more question calls should bring ``missing`` more kept questions.

    Planned from what this run's calls have kept so far (kept / calls), not from the questions a call is asked
    for: on the sample, 3 asked for gave 1.4 to 1.6 kept a call (2026-12-01), so a top-up planned at the nominal
    rate fell short round after round. The overdraw is the margin on top; with nothing kept yet, the nominal rate.
    """
    per_call = min(kept / calls_made, q.questions_per_chunk) if kept and calls_made else q.questions_per_chunk
    return max(1, math.ceil(q.overdraw * missing / per_call))


QUESTION_COLUMNS = ["question_id", "question", "gold", "gold_original", "kind", "question_category",
                    "estimated_difficulty", "citations", "chunk_ids", "chunk_text", "document_summary", "document_id",
                    "question_generating_model", "citation_score", "gold_check", "doubt", "language"]
REJECTED_COLUMNS = ["question_id", "question", "gold", "gold_original", "kind", "rejection", "citation_score",
                    "gold_check", "chunk_text"]


def write_questions(kept: pd.DataFrame, rejected: pd.DataFrame, by_kind: dict, doc_name: str, run_dir: Path,
                    cfg: Config, extra: dict | None = None) -> Path:
    """``questions.parquet`` and ``rejected.parquet``; refuse (with the counts) below ``min_usable``."""
    counts = rejected["rejection"].str.replace(r":.*", "", regex=True).value_counts().to_dict() if len(rejected) else {}
    reasons = dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
    generated = sum(k["questions"] for k in by_kind.values())
    stats = {"document": doc_name, "generator": cfg.generator.name, "by_kind": by_kind, "generated": generated,
             "usable": len(kept), "rejected": len(rejected), "rejected_by_reason": reasons,
             "target": cfg.questions.target, "min_usable": cfg.questions.min_usable, **(extra or {})}
    atomic_write_json(run_dir / "generation.json", stats)
    atomic_write_parquet(rejected.reindex(columns=REJECTED_COLUMNS), run_dir / "rejected.parquet")
    if len(kept) < cfg.questions.min_usable:
        failed = sum(k["calls_without_parseable_questions"] for k in by_kind.values())
        calls = sum(k["calls"] for k in by_kind.values())
        why = ", ".join(f"{n} {reason}" for reason, n in reasons.items()) or "none rejected"
        raise UserError(f"only {len(kept)} usable questions from {doc_name} (need "
                        f"{cfg.questions.min_usable}): {failed} of {calls} generation calls gave no parseable "
                        f"questions; of {generated} generated, validation rejected {len(rejected)} ({why}). "
                        f"A longer document, a stronger generator or a lower questions.min_usable helps; "
                        f"details in {run_dir / 'generation.json'} and {run_dir / 'rejected.parquet'}")
    out = run_dir / "questions.parquet"
    kept = kept.assign(language=(extra or {}).get("language", "en"))
    atomic_write_parquet(kept.reindex(columns=QUESTION_COLUMNS), out)
    unread = generated - len(kept) - len(rejected)  # left unchecked once the target was reached
    print(f"generate: {len(kept)} questions kept of {generated} generated ({len(rejected)} rejected by "
          f"validation: {', '.join(f'{n} {r}' for r, n in reasons.items()) or 'none'}"
          f"{f'; {unread} not needed once the target was reached' if unread > 0 else ''})", flush=True)
    return out
