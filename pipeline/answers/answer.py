"""Stage 2: one candidate answers every question, through Lighteval, under CodeCarbon.

One answering *session* (:class:`pipeline.measure.energy.Session`, appended to
``answers/<candidate>.sessions.jsonl``): the machine's serving lock, the idle
baseline (nothing running; the first candidate's, shared by the process's later
ones), the candidate's server started (phase ``load``),
Lighteval set up, then Lighteval's request loop against the server (phase
``answer``, plus ``answer.2`` ... when ``energy.repeats`` > 1). Only the
request loop is inside the answering window: Lighteval's import, task registry,
``Pipeline`` and dataset set-up come before it, its metrics, result saving and
the wait for the last callbacks after it.

A LiteLLM success callback appends one record per question to
``answers/<candidate>.jsonl`` as soon as the answer arrives (prediction,
input/output tokens, latency, the session that produced it), so an interrupted
run resumes with only the missing questions, and the report can charge each
session's energy to the answers it produced. ``answers/<candidate>.parquet`` is
written at the end.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import shutil
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from types import ModuleType

import pandas as pd

from pipeline import keys
from pipeline.config import Candidate, Config, fingerprint
from pipeline.errors import UserError
from pipeline.io import append_jsonl, atomic_write_parquet, read_jsonl
from pipeline.measure.energy import EnergyMeter, Session
from pipeline.progress import Progress
from pipeline.serving.servers import Endpoint, machine_lock, pinned_gpus, serve, strip_reasoning

ANSWER_COLUMNS = ["question_id", "candidate", "prediction", "raw_prediction", "input_tokens",
                  "output_tokens", "latency_s", "lexical_f1", "fingerprint", "session"]


def answers_fingerprint(cfg: Config, candidate: Candidate) -> str:
    """What the answers and their measured energy depend on (:mod:`pipeline.keys`): the candidate's settings,
    what it sees of each question, the seed, how the energy is measured (idle baseline, repeated windows, the
    GPUs pinned), and the text of its prompt and Lighteval task (:data:`pipeline.keys.TEXT_FILES`)."""
    return fingerprint(keys.settings(candidate, keys.ANSWER, "candidates[]"),
                       keys.settings(cfg, keys.ANSWER, skip=("candidates",)), *keys.texts(keys.ANSWER))


def _lighteval_dataset(pending: pd.DataFrame, cfg: Config, folder: Path) -> None:
    # The task builds its prompt from these columns with the same function as _prompts().
    """A local dataset folder that ``datasets.load_dataset(folder, 'questions')`` reads."""
    rows = pending[["question_id", "question", "gold"]].copy()
    rows["context"] = pending["chunk_text"] if cfg.questions.candidate_context == "chunk" else ""
    rows["language"] = pending["language"] if "language" in pending else "en"
    (folder / "data").mkdir(parents=True, exist_ok=True)
    rows.to_parquet(folder / "data" / "test.parquet", index=False)
    (folder / "README.md").write_text(
        "---\nconfigs:\n- config_name: questions\n  data_files:\n  - split: test\n    path: data/test.parquet\n---\n")


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _prompts(questions: pd.DataFrame, cfg: Config) -> dict[str, str]:
    """The exact prompt of every question (what the task sends), mapped to its question id."""
    from pipeline.answers.qa_prompt import prompt_text

    context = questions["chunk_text"] if cfg.questions.candidate_context == "chunk" else [""] * len(questions)
    language = questions["language"] if "language" in questions else ["en"] * len(questions)
    return {prompt_text(q, c, lang): qid
            for q, c, lang, qid in zip(questions["question"], context, language, questions["question_id"])}


class _Recorder:
    """LiteLLM callback: one record per answered question, appended as it completes.

    It also keeps when every successful request started and ended (repeats and
    Lighteval's own retries included), to set beside each measured window.
    """

    def __init__(self, prompts: dict[str, str], path: Path, base: dict, progress: Progress | None = None):
        from litellm.integrations.custom_logger import CustomLogger

        recorder = self

        class Callback(CustomLogger):
            def log_success_event(self, kwargs, response_obj, start_time, end_time):
                recorder.record(kwargs, response_obj, start_time, end_time)

        self.callback = Callback()
        self.prompts, self.path, self.base, self.progress = prompts, path, base, progress
        self.lock = threading.Lock()
        self.seen: set[str] = set()
        self.requests: list[tuple[float, float]] = []  # (start, end), seconds since the epoch

    def wait(self, expected: int, timeout_s: float) -> None:
        """LiteLLM runs success callbacks on a background thread: give the last ones time to land."""
        deadline = time.monotonic() + timeout_s
        while len(self.requests) < expected and time.monotonic() < deadline:
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
            self.requests.append((start_time.timestamp(), end_time.timestamp()))  # LiteLLM's local datetimes
            if question_id not in self.seen:
                self.seen.add(question_id)
                append_jsonl(self.path, row)
                if self.progress:
                    self.progress.advance(seconds=row["latency_s"])

    def in_window(self, window: dict) -> dict:
        """The requests that started inside a measured window: how many, and their summed latency."""
        start = datetime.fromisoformat(window["started"]).timestamp()
        inside = [(a, b) for a, b in self.requests if start <= a <= start + window["duration_s"]]
        return {"requests": len(inside), "requests_s": round(sum(b - a for a, b in inside), 3)}


class Lighteval:
    """Lighteval's set-up, kept out of the energy windows.

    Constructing it imports Lighteval and installs the shims (tens of seconds on
    a small CPU); :meth:`pipeline` builds a ``Pipeline`` for the pending
    questions of one candidate; :meth:`answer` runs its request loop inside
    measured windows. Nothing here is tied to one candidate, so one instance can
    serve every candidate of a run.
    """

    def __init__(self):
        from pipeline.answers import lighteval_shims

        lighteval_shims.install()  # imports LiteLLM and Lighteval's task registry: the slow part
        import lighteval.pipeline  # noqa: F401

    def pipeline(self, pending: pd.DataFrame, cfg: Config, candidate: Candidate, endpoint: Endpoint, work: Path):
        """A ``Pipeline`` for ``pending`` against ``endpoint`` (dataset folder, task, model client)."""
        from lighteval.logging.evaluation_tracker import EvaluationTracker
        from lighteval.models.endpoints.litellm_model import LiteLLMModelConfig
        from lighteval.models.model_input import GenerationParameters
        from lighteval.pipeline import ParallelismManager, Pipeline, PipelineParameters

        from pipeline.answers import lighteval_shims
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
        lighteval_shims.no_sample_cache(pipeline)
        return pipeline

    def answer(self, pipeline, session: Session, recorder: _Recorder, repeats: int) -> dict[str, float]:
        """Run the questions, the request loop in window ``answer`` (then ``answer.2`` ... for repeats).

        The window is the model client's ``greedy_until`` call, Lighteval's loop
        over the requests; its prompt building, metrics and result saving stay
        outside. Returns Lighteval's token-F1 per question id.
        """
        import litellm
        from lighteval.tasks.requests import SamplingMethod

        model = pipeline.model
        request_loop = model.greedy_until
        docs = pipeline.sampling_docs[SamplingMethod.GENERATIVE]

        def measured(requests):
            with session.phase("answer"):
                return request_loop(requests)

        model.greedy_until = measured
        litellm.callbacks = [recorder.callback]
        try:
            pipeline.evaluate()
            pipeline.save_and_push_results()
            for repeat in range(2, repeats + 1):  # same requests, fixed output (temperature 0): energy only
                with session.phase(f"answer.{repeat}"):
                    request_loop(docs)
            recorder.wait(len(docs) * repeats, timeout_s=30)
        except BaseException:
            recorder.wait(len(docs), timeout_s=2)
            raise
        finally:
            # LiteLLM copies a callback into its success lists, and adds no second one of the same class
            # there: take this one out everywhere, or the next candidate's answers would reach this recorder.
            litellm.logging_callback_manager.remove_callback_from_all_lists(recorder.callback)
            model.greedy_until = request_loop
            for name in ["answer", *(f"answer.{r}" for r in range(2, repeats + 1))]:
                if isinstance(session.record.get(name), dict):
                    session.record[name].update(recorder.in_window(session.record[name]))
        f1 = {}
        for details in pipeline.get_details().values():
            for detail in details:
                question_id = recorder.prompts.get(detail.doc.query)  # Lighteval renumbers doc.id
                f1[question_id] = detail.metric.get("f1") if isinstance(detail.metric, dict) else None
        return f1


def run(questions_path: Path, run_dir: Path, cfg: Config, name: str, also: tuple[str, ...] = ()) -> Path:
    """Answer every question with candidate ``name``; resumes from ``answers/<name>.jsonl``.

    Then, in the same process, each candidate of ``also`` whose answers are missing or out of date
    (:func:`out_of_date`): `make report` passes the run's other candidates, so Python and Lighteval
    start once per run rather than once per candidate (about 30 s each on a 2-core CPU). Make then
    finds their answers up to date and skips their own steps. One of them failing leaves it to its
    own step, which gives the error.
    """
    out = _answer_locked(questions_path, run_dir, cfg, name)
    for other in also:
        if other != name and out_of_date(questions_path, run_dir, other):
            try:
                _answer_locked(questions_path, run_dir, cfg, other)
            except Exception as exc:  # noqa: BLE001 - reported by the candidate's own step
                print(f"answer: {other}: left to its own step ({exc})", flush=True)
                break
    return out


def out_of_date(questions_path: Path, run_dir: Path, name: str) -> bool:
    """Whether Make would answer ``name`` again: no answers file, or one older than the questions or its key."""
    out = run_dir / "answers" / f"{name}.parquet"
    inputs = [p for p in (questions_path, run_dir / "keys" / f"answer-{name}.key") if p.exists()]
    return not out.exists() or any(p.stat().st_mtime_ns > out.stat().st_mtime_ns for p in inputs)


def _answer_locked(questions_path: Path, run_dir: Path, cfg: Config, name: str) -> Path:
    candidate = cfg.candidate(name)
    with machine_lock(candidate):  # first: a run of the same document in another shell may be answering
        return _answer(questions_path, run_dir, cfg, candidate)


@functools.cache
def _lighteval() -> Lighteval:
    """One Lighteval set-up per process, whichever candidates it answers with."""
    return Lighteval()


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
        recorder = _Recorder(prompts, records_path, {"candidate": name, "fingerprint": key},
                             Progress("answer", name, len(pending), unit="questions"))
        work = out_dir / f".{name}.work"
        shutil.rmtree(work, ignore_errors=True)
        lighteval = _lighteval()  # imports before any window opens
        meter = EnergyMeter(cfg.energy, gpus=pinned_gpus(candidate))
        with Session(sessions_path, meter, fingerprint=key, candidate=name, engine=candidate.engine) as session:
            recorder.base["session"] = session.id
            endpoint = None
            try:
                if candidate.engine != "openai":  # a remote endpoint's energy is not measured here
                    session.idle(share=True)  # the process's candidates share one baseline
                with contextlib.ExitStack() as stack:
                    with session.phase("load"):
                        endpoint = stack.enter_context(serve(candidate, run_dir / "logs"))
                    pipeline = lighteval.pipeline(pending, cfg, candidate, endpoint, work)
                    f1 = lighteval.answer(pipeline, session, recorder, cfg.energy.repeats)
            finally:  # an interrupted session's energy counts too: its answers are kept
                session.record["questions_answered"] = len(recorder.seen)
                if endpoint is not None:
                    session.record.update(local_server=endpoint.local, peak_rss_mb=endpoint.peak_rss_mb,
                                          peak_gpu_mb=endpoint.peak_gpu_mb,
                                          prefix_hit_tokens=endpoint.prefix_hit_tokens)
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
