"""Stage 2: one candidate answers every question, through Lighteval, under CodeCarbon.

The candidate's server is started (CodeCarbon phase ``load``), then Lighteval's
``Pipeline`` runs the ``document_qa`` task against it with its LiteLLM backend
(phase ``answer``). A LiteLLM success callback appends one record per question
to ``answers/<candidate>.jsonl`` as soon as the answer arrives (prediction,
input/output tokens, latency), so an interrupted run resumes with only the
missing questions. ``answers/<candidate>.parquet`` is written at the end.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType

import pandas as pd

from pipeline.config import Candidate, Config, fingerprint
from pipeline.energy import EnergyMeter
from pipeline.errors import UserError
from pipeline.io import append_jsonl, atomic_write_parquet, read_jsonl
from pipeline.judge import strip_reasoning
from pipeline.serving import Endpoint, machine_lock, serve

ANSWER_COLUMNS = ["question_id", "candidate", "prediction", "raw_prediction", "input_tokens",
                  "output_tokens", "latency_s", "lexical_f1", "fingerprint"]


def answers_fingerprint(cfg: Config, candidate: Candidate) -> str:
    """What the answers depend on (not the size or device count, which only label them)."""
    settings = candidate.model_dump(mode="json", exclude={"params_b", "devices", "startup_timeout_s"})
    return fingerprint(settings, cfg.questions.candidate_context, cfg.questions.seed)


def _lighteval_dataset(pending: pd.DataFrame, cfg: Config, folder: Path) -> None:
    # The task builds its prompt from these columns with the same function as _prompts().
    """A local dataset folder that ``datasets.load_dataset(folder, 'questions')`` reads."""
    rows = pending[["question_id", "question", "gold"]].copy()
    rows["context"] = pending["chunk_text"] if cfg.questions.candidate_context == "chunk" else ""
    (folder / "data").mkdir(parents=True, exist_ok=True)
    rows.to_parquet(folder / "data" / "test.parquet", index=False)
    (folder / "README.md").write_text(
        "---\nconfigs:\n- config_name: questions\n  data_files:\n  - split: test\n    path: data/test.parquet\n---\n")


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _prompts(questions: pd.DataFrame, cfg: Config) -> dict[str, str]:
    """The exact prompt of every question (what the task sends), mapped to its question id."""
    from tasks.document_qa import prompt_text

    context = questions["chunk_text"] if cfg.questions.candidate_context == "chunk" else [""] * len(questions)
    return {prompt_text(q, c): qid for q, c, qid in zip(questions["question"], context, questions["question_id"])}


class _Recorder:
    """LiteLLM callback: one record per answered question, appended as it completes."""

    def __init__(self, prompts: dict[str, str], path: Path, base: dict):
        from litellm.integrations.custom_logger import CustomLogger

        recorder = self

        class Callback(CustomLogger):
            def log_success_event(self, kwargs, response_obj, start_time, end_time):
                recorder.record(kwargs, response_obj, start_time, end_time)

        self.callback = Callback()
        self.prompts, self.path, self.base = prompts, path, base
        self.lock = threading.Lock()
        self.seen: set[str] = set()

    def wait(self, expected: int, timeout_s: float) -> None:
        """LiteLLM runs success callbacks on a background thread: give the last ones time to land."""
        deadline = time.monotonic() + timeout_s
        while len(self.seen) < expected and time.monotonic() < deadline:
            time.sleep(0.2)

    def record(self, kwargs, response, start_time, end_time) -> None:
        messages = kwargs.get("messages") or []
        question_id = self.prompts.get(messages[-1].get("content") if messages else None)
        if question_id is None:
            return
        usage = getattr(response, "usage", None)
        raw = response.choices[0].message.content or ""
        row = {**self.base, "question_id": question_id, "prompt_hash": _hash(messages[-1]["content"]),
               "raw_prediction": raw,
               "prediction": strip_reasoning(raw),
               "input_tokens": getattr(usage, "prompt_tokens", None),
               "output_tokens": getattr(usage, "completion_tokens", None),
               "latency_s": (end_time - start_time).total_seconds()}
        with self.lock:
            if question_id not in self.seen:
                self.seen.add(question_id)
                append_jsonl(self.path, row)


def _run_lighteval(pending: pd.DataFrame, cfg: Config, candidate: Candidate, endpoint: Endpoint,
                   work: Path, recorder: _Recorder) -> dict[str, float]:
    """Run Lighteval on ``pending``; returns Lighteval's token-F1 per question id."""
    from pipeline import lighteval_shims

    lighteval_shims.install()
    import litellm
    from lighteval.logging.evaluation_tracker import EvaluationTracker
    from lighteval.models.endpoints.litellm_model import LiteLLMModelConfig
    from lighteval.models.model_input import GenerationParameters
    from lighteval.pipeline import ParallelismManager, Pipeline, PipelineParameters

    from tasks.document_qa import task_config

    # A new folder name each session: `datasets` caches local folders by path and would otherwise
    # hand Lighteval the questions of an earlier session.
    dataset_dir = work / f"dataset-{uuid.uuid4().hex[:8]}"
    _lighteval_dataset(pending, cfg, dataset_dir)
    tasks_module = ModuleType("document_qa_run")
    tasks_module.TASKS_TABLE = [task_config(str(dataset_dir), candidate.max_new_tokens)]
    model_config = LiteLLMModelConfig(
        model_name=f"openai/{endpoint.model}", base_url=endpoint.base_url, api_key=endpoint.api_key,
        concurrent_requests=candidate.concurrent_requests, max_model_length=candidate.context_length,
        generation_parameters=GenerationParameters(temperature=0.0, seed=cfg.questions.seed),
        cache_dir=str(work / "cache"), api_max_retry=4, timeout=600,
    )
    pipeline = Pipeline(
        tasks="document_qa|0",
        pipeline_parameters=PipelineParameters(launcher_type=ParallelismManager.NONE,
                                               custom_tasks_directory=tasks_module),
        evaluation_tracker=EvaluationTracker(output_dir=str(work / "lighteval"), save_details=True),
        model_config=model_config,
    )
    litellm.callbacks = [recorder.callback]
    try:
        pipeline.evaluate()
        pipeline.save_and_push_results()
        recorder.wait(len(pending), timeout_s=30)
    except BaseException:
        recorder.wait(len(pending), timeout_s=2)
        raise
    finally:
        litellm.callbacks = []
    f1 = {}
    for details in pipeline.get_details().values():
        for detail in details:
            question_id = recorder.prompts.get(detail.doc.query)  # Lighteval renumbers doc.id
            f1[question_id] = detail.metric.get("f1") if isinstance(detail.metric, dict) else None
    return f1


def run(questions_path: Path, run_dir: Path, cfg: Config, name: str) -> Path:
    """Answer every question with candidate ``name``; resumes from ``answers/<name>.jsonl``."""
    candidate = cfg.candidate(name)
    with machine_lock(candidate):  # first: a run of the same document in another shell may be answering
        return _answer(questions_path, run_dir, cfg, candidate)


def _answer(questions_path: Path, run_dir: Path, cfg: Config, candidate: Candidate) -> Path:
    name = candidate.name
    questions = pd.read_parquet(questions_path)
    out_dir = run_dir / "answers"
    records_path = out_dir / f"{name}.jsonl"
    sessions_path = out_dir / f"{name}.sessions.jsonl"
    key = answers_fingerprint(cfg, candidate)
    if any(r.get("fingerprint") != key for r in read_jsonl(records_path)):  # configuration changed: start over
        for path in (records_path, sessions_path, out_dir / f"{name}.f1.jsonl"):
            path.unlink(missing_ok=True)
    prompts = _prompts(questions, cfg)
    current = {(qid, _hash(prompt)) for prompt, qid in prompts.items()}

    def valid_records() -> list[dict]:  # answers to the questions as they are asked now
        return [r for r in read_jsonl(records_path) if (r["question_id"], r.get("prompt_hash")) in current]

    answered = {r["question_id"] for r in valid_records()}
    pending = questions[~questions["question_id"].isin(answered)]
    print(f"answer: {name}: {len(pending)} of {len(questions)} questions to answer", flush=True)

    if len(pending):
        prompts = {prompt: qid for prompt, qid in prompts.items() if qid in set(pending["question_id"])}
        recorder = _Recorder(prompts, records_path, {"candidate": name, "fingerprint": key})
        work = out_dir / f".{name}.work"
        shutil.rmtree(work, ignore_errors=True)
        meter = EnergyMeter(cfg.energy)
        session = {"fingerprint": key, "started": datetime.now(timezone.utc).isoformat(), "outcome": "interrupted"}
        endpoint = None
        try:
            with contextlib.ExitStack() as stack:
                with meter.phase("load") as session["load"]:
                    endpoint = stack.enter_context(serve(candidate, run_dir / "logs"))
                with meter.phase("answer") as session["answer"]:
                    f1 = _run_lighteval(pending, cfg, candidate, endpoint, work, recorder)
            session["outcome"] = "finished"
        finally:  # an interrupted session's energy counts too: its answers are kept
            session["questions_answered"] = len(recorder.seen)
            if endpoint is not None:
                session.update(local_server=endpoint.local, peak_rss_mb=endpoint.peak_rss_mb,
                               peak_gpu_mb=endpoint.peak_gpu_mb)
            append_jsonl(sessions_path, session)
        for question_id, value in f1.items():
            append_jsonl(out_dir / f"{name}.f1.jsonl", {"question_id": question_id, "f1": value, "fingerprint": key})
        shutil.rmtree(work / "cache", ignore_errors=True)

    records = valid_records()
    missing = set(questions["question_id"]) - {r["question_id"] for r in records}
    if missing:
        raise UserError(f"{name} returned no answer for {len(missing)} questions; "
                        f"rerun to retry them (log: {run_dir / 'logs' / f'{name}.server.log'})")
    answers = pd.DataFrame(records).drop_duplicates("question_id", keep="first")
    f1 = {r["question_id"]: r["f1"] for r in read_jsonl(out_dir / f"{name}.f1.jsonl") if r.get("fingerprint") == key}
    answers["lexical_f1"] = answers["question_id"].map(f1)
    answers = answers[answers["question_id"].isin(questions["question_id"])]
    out = out_dir / f"{name}.parquet"
    atomic_write_parquet(answers.reindex(columns=ANSWER_COLUMNS), out)
    return out
