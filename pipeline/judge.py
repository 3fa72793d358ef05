"""Stage 3: grade every candidate answer with one LLM judge, loaded once per run.

The judge sees question, gold answer, source excerpt and the candidate's answer
through the prompt file in ``judge_prompts/`` and must end with
``<final_answer>1</final_answer>`` (correct) or ``<final_answer>0</final_answer>``.
Reasoning traces (``<think>...</think>``) are stripped before parsing. A reply
with no verdict is retried once, then recorded as *unparsed*; a call that
failed outright is recorded as *error* and retried on the next run. Both are
counted in the report, never scored as wrong.

We call the judge with the ``openai`` client rather than Lighteval's ``JudgeLM``:
JudgeLM's template cannot carry the source excerpt, and on a failed call it
hands the parser an error string that its YourBench parser scores as 0. The
client retries 429/5xx with backoff (honouring ``Retry-After``) and does not
retry 401/403.

Records are appended to ``judgements/<candidate>.jsonl`` as they complete and
keyed by (question, answer text, judge config): adding a candidate judges only
its answers, changing the judge prompt re-judges everything, a rerun with
nothing changed judges nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from pipeline.config import ROOT, Config, fingerprint
from pipeline.errors import UserError
from pipeline.io import append_jsonl, atomic_write_parquet, read_jsonl

CALIBRATION_SET = ROOT / "judge_prompts" / "calibration.jsonl"  # hand-labelled answers, see its cases
# A reply cut off by max_tokens right after the digit ("...<final_answer>1") still counts.
VERDICT = re.compile(r"<final_answer>\s*([01])\s*(?:</final_answer>|$)", re.IGNORECASE)
THINK_BLOCK = re.compile(r"<think>.*?</think>", re.IGNORECASE | re.DOTALL)


def strip_reasoning(text: str | None) -> str:
    """Remove ``<think>...</think>`` traces; a reply cut off inside one has no answer left."""
    text = THINK_BLOCK.sub("", text or "")
    if "</think>" in text.lower():  # the opening tag was in the prompt (QwQ, Qwen3 templates)
        text = re.split(r"</think>", text, flags=re.IGNORECASE)[-1]
    if "<think>" in text.lower():  # unterminated trace
        text = re.split(r"<think>", text, flags=re.IGNORECASE)[0]
    return text.strip()


def parse_verdict(text: str | None) -> int | None:
    """1 or 0 from the judge's reply, or None when it gave no verdict."""
    answer = strip_reasoning(text)
    found = VERDICT.findall(answer)
    if found:
        return int(found[-1])
    if answer in {"0", "1"}:
        return int(answer)
    return None


def render_prompt(template: str, question: str, gold: str, chunk: str, answer: str) -> str:
    """Fill the prompt file's placeholders (plain replacement: prompts may contain braces)."""
    values = {"{question}": question, "{gold}": gold, "{chunk}": chunk, "{answer}": answer}
    for placeholder, value in values.items():
        template = template.replace(placeholder, value)
    return template


def judge_fingerprint(cfg: Config) -> str:
    settings = cfg.judge.model_dump(mode="json", exclude={"calibrate", "startup_timeout_s"})
    return fingerprint(settings, cfg.judge.prompt_text())


def _answer_hash(prediction: str) -> str:
    return hashlib.sha256((prediction or "").encode()).hexdigest()[:16]


def _ask(client, model: str, prompt: str, max_tokens: int) -> tuple[str, dict]:
    import openai

    started = time.monotonic()
    try:
        response = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": prompt}], temperature=0.0,
            max_tokens=max_tokens)
    except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
        raise UserError(f"the judge endpoint refused the API key ({exc.status_code}): check the token") from None
    usage = response.usage
    return response.choices[0].message.content or "", {
        "judge_latency_s": round(time.monotonic() - started, 3),
        "judge_input_tokens": getattr(usage, "prompt_tokens", None),
        "judge_output_tokens": getattr(usage, "completion_tokens", None),
    }


def _grade(client, model: str, cfg: Config, template: str, item: dict) -> dict:
    prompt = render_prompt(template, item["question"], item["gold"], item["chunk_text"], item["prediction"])
    raw, stats = "", {}
    for _attempt in range(2):  # one retry when the reply holds no verdict
        try:
            raw, stats = _ask(client, model, prompt, cfg.judge.max_new_tokens)
        except UserError:
            raise
        except Exception as exc:  # the client already retried transient errors
            raw, stats = f"ERROR: {type(exc).__name__}: {exc}", {}
            continue
        if parse_verdict(raw) is not None:
            break
    verdict = parse_verdict(raw)
    status = "judged" if verdict is not None else "error" if raw.startswith("ERROR: ") else "unparsed"
    return {"verdict": verdict, "status": status,
            "raw_judge_output": raw, **stats}


def _pending(cfg: Config, questions: pd.DataFrame, answers_dir: Path, out_dir: Path, key: str) -> list[dict]:
    todo = []
    for candidate in cfg.candidates:
        path = answers_dir / f"{candidate.name}.parquet"
        if not path.exists():
            raise UserError(f"no answers for {candidate.name} yet ({path}); run the answer stage first")
        answers = pd.read_parquet(path).merge(questions, on="question_id")
        done = {(r["question_id"], r["answer_hash"]) for r in read_jsonl(out_dir / f"{candidate.name}.jsonl")
                if r.get("judge_fingerprint") == key and r.get("status") != "error"}
        for row in answers.to_dict("records"):
            if (row["question_id"], _answer_hash(row["prediction"])) not in done:
                todo.append(row)
    # Grouped by question, the prompts of consecutive calls share everything up to the answer,
    # which llama.cpp and vLLM reuse from their prefix cache.
    return sorted(todo, key=lambda row: (row["question_id"], row["candidate"]))


def _fail_on_errors(out_dir: Path, cfg: Config, key: str, attempted: int, run_dir: Path) -> None:
    """Calls that failed outright stop the stage (finished judgements are kept for the rerun)."""
    errors = []
    for candidate in cfg.candidates:
        latest = {}
        for record in read_jsonl(out_dir / f"{candidate.name}.jsonl"):
            if record.get("judge_fingerprint") == key:
                latest[(record["question_id"], record["answer_hash"])] = record
        errors += [r for r in latest.values() if r["status"] == "error"]
    if errors:
        where = f"; server log: {run_dir / 'logs' / f'{cfg.judge.name}.server.log'}" if cfg.judge.engine != "openai" \
            else f" at {cfg.judge.base_url}"
        raise UserError(f"judge {cfg.judge.name}: {len(errors)} of {attempted} calls failed "
                        f"({errors[-1]['raw_judge_output'][7:120]}){where}; finished judgements are kept, "
                        "rerun to retry the rest")


def calibration_path(run_dir: Path, key: str) -> Path:
    """Calibration verdicts depend on the judge only: shared by every document of a profile."""
    return run_dir.parent / "judge-calibration" / f"{key}.jsonl"


def _calibration_todo(cfg: Config, path: Path) -> list[dict]:
    if not cfg.judge.calibrate:
        return []
    done = {r["id"] for r in read_jsonl(path) if r.get("status") != "error"}
    return [{"id": item["id"], "correct": item["correct"], "case": item["case"], "question": item["question"],
             "gold": item["gold"], "chunk_text": item["chunk"], "prediction": item["answer"]}
            for item in read_jsonl(CALIBRATION_SET) if item["id"] not in done]


def calibration_summary(run_dir: Path, cfg: Config) -> dict | None:
    """The judge's agreement with the hand-labelled calibration set, or None when not run."""
    from pipeline.stats import judge_calibration_accuracy

    latest = {r["id"]: r for r in read_jsonl(calibration_path(run_dir, judge_fingerprint(cfg)))}
    if not latest:
        return None
    records = list(latest.values())
    return judge_calibration_accuracy([bool(r["correct"]) for r in records],
                                      [None if r["verdict"] is None else bool(r["verdict"]) for r in records])


def _grade_all(client, model: str, cfg: Config, items: list[dict], write, desc: str) -> None:
    template = cfg.judge.prompt_text()  # read once: the fingerprint was taken of this text
    with ThreadPoolExecutor(cfg.judge.concurrent_requests) as pool:
        grade = lambda item: (item, _grade(client, model, cfg, template, item))  # noqa: E731
        try:
            for item, result in tqdm(pool.map(grade, items), total=len(items), desc=desc, unit="answer"):
                write(item, result)
        except BaseException:  # a refused token, Ctrl-C: do not send the queued calls
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def run(questions_path: Path, run_dir: Path, cfg: Config) -> Path:
    """Judge every (candidate, question) not judged yet; write ``judgements.parquet``."""
    questions = pd.read_parquet(questions_path)[["question_id", "question", "gold", "chunk_text"]]
    out_dir = run_dir / "judgements"
    key = judge_fingerprint(cfg)
    todo = _pending(cfg, questions, run_dir / "answers", out_dir, key)
    calibration = calibration_path(run_dir, key)
    calibration_todo = _calibration_todo(cfg, calibration)
    print(f"judge: {len(todo)} answers to grade with {cfg.judge.name}"
          + (f", plus {len(calibration_todo)} calibration items" if calibration_todo else ""), flush=True)
    if todo or calibration_todo:
        from openai import OpenAI

        from pipeline.energy import EnergyMeter
        from pipeline.serving import serve

        def write_answer(item, result):
            append_jsonl(out_dir / f"{item['candidate']}.jsonl", {
                "question_id": item["question_id"], "candidate": item["candidate"],
                "answer_hash": _answer_hash(item["prediction"]), "judge": cfg.judge.name,
                "judge_fingerprint": key, **result})

        def write_calibration(item, result):
            append_jsonl(calibration, {"id": item["id"], "case": item["case"], "correct": item["correct"],
                                       "judge_fingerprint": key, **result})

        meter = EnergyMeter(cfg.energy)
        session = {"judge_fingerprint": key, "started": datetime.now(timezone.utc).isoformat()}
        with contextlib.ExitStack() as stack:
            with meter.phase("load") as session["load"]:
                endpoint = stack.enter_context(serve(cfg.judge, run_dir / "logs"))
            client = OpenAI(base_url=endpoint.base_url, api_key=endpoint.api_key, max_retries=5, timeout=600)
            with meter.phase("judge") as session["judge"]:
                _grade_all(client, endpoint.model, cfg, todo, write_answer, "judge")
            if calibration_todo:
                with meter.phase("calibration") as session["calibration"]:
                    _grade_all(client, endpoint.model, cfg, calibration_todo, write_calibration, "calibration")
        session["answers_judged"] = len(todo)
        append_jsonl(out_dir / "judge.sessions.jsonl", session)
        _fail_on_errors(out_dir, cfg, key, len(todo), run_dir)

    rows = []
    for candidate in cfg.candidates:
        answers = pd.read_parquet(run_dir / "answers" / f"{candidate.name}.parquet")
        current = {(qid, _answer_hash(p)) for qid, p in zip(answers["question_id"], answers["prediction"])}
        latest = {}
        for record in read_jsonl(out_dir / f"{candidate.name}.jsonl"):
            if record.get("judge_fingerprint") == key and (record["question_id"], record["answer_hash"]) in current:
                latest[record["question_id"]] = record  # a later "judged" replaces an earlier "unparsed"
        rows.extend(latest.values())
    out = run_dir / "judgements.parquet"
    atomic_write_parquet(pd.DataFrame(rows), out)
    return out
