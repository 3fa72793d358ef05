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
keyed by (question, gold answer and excerpt, answer text, judge config): adding
a candidate judges only its answers, changing the judge prompt re-judges
everything, a regenerated question with the same words but another gold answer
or excerpt is judged again, a rerun with nothing changed judges nothing.

Optional reliability checks (``second_judge`` and ``self_consistency`` in the
config) grade the same answers again: with a second judge model, or with the
judge sampled twice at temperature > 0 under fixed seeds. Each is a further
*pass* over the same records (its own fingerprint), reported beside the
ranking; a check never changes a verdict.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd

from pipeline import keys
from pipeline.config import ROOT, Config, Judge, fingerprint
from pipeline.errors import UserError
from pipeline.io import append_jsonl, atomic_write_parquet, read_jsonl
from pipeline.progress import Progress

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


def judge_fingerprint(judge: Judge) -> str:
    """What a judge's verdicts depend on (:mod:`pipeline.keys`, the same for the judge and a second judge):
    its model, how it is served and asked, and its prompt's text."""
    return fingerprint(keys.settings(judge, keys.VERDICTS, "judge"), judge.prompt_text())


@dataclass(frozen=True)
class Pass:
    """One grading of every answer: by the judge (the verdicts that count) or by a reliability check."""

    label: str  # "judge", or one of CHECKS
    judge: Judge
    temperature: float = 0.0
    seed: int | None = None

    @cached_property  # hashes the prompt file: once per pass, not once per record written
    def key(self) -> str:
        base = judge_fingerprint(self.judge)
        return base if self.label == "judge" else fingerprint(base, self.label, self.temperature)


CHECKS = ("second_judge", "self_consistency_1", "self_consistency_2")


def judge_key(cfg: Config) -> str:
    """What ``judgements.parquet`` depends on: each pass's verdicts, the candidates graded, and the calibration
    set graded with them (an edited set is graded again, and the report uses all of it)."""
    return fingerprint(*[p.key for p in passes(cfg)], keys.settings(cfg, keys.JUDGE),
                       CALIBRATION_SET.read_text(encoding="utf-8"))


def passes(cfg: Config) -> list[Pass]:
    """The judge's pass, then the optional checks: self-consistency (two seeded samples), a second judge."""
    found = [Pass("judge", cfg.judge)]
    if cfg.self_consistency:
        found += [Pass(f"self_consistency_{i}", cfg.judge, cfg.self_consistency.temperature, seed=i) for i in (1, 2)]
    if cfg.second_judge:
        found.append(Pass("second_judge", cfg.second_judge))
    return found


def _answer_hash(prediction: str) -> str:
    return hashlib.sha256((prediction or "").encode()).hexdigest()[:16]


def _question_hash(question: str, gold: str, chunk_text: str) -> str:
    """What a verdict depends on besides the answer: the question, its gold answer and its excerpt (the
    question id hashes the question's words only). A record without it (older ones) matches nothing."""
    return fingerprint(question, gold, chunk_text)


VERDICT_GRAMMAR = 'root ::= "<final_answer>" [01] "</final_answer>"'  # llama.cpp GBNF
VERDICT_REGEX = r"<final_answer>[01]</final_answer>"  # vLLM structured outputs
RETRY_PROMPT = ("Your reply did not end with a verdict. Reply now with only <final_answer>1</final_answer> "
                "(yes) or <final_answer>0</final_answer> (no).")


def verdict_constraint(judge: Judge) -> dict:
    """Request fields that make the reply a verdict, on the servers the pipeline starts.

    llama.cpp gets a grammar, vLLM a structured-output regex; a reply without a
    verdict then cannot happen. vLLM applies the regex after the reasoning when
    the server runs with ``--reasoning-parser`` (the paper profile's QwQ-32B: it
    thinks first, then its verdict is constrained). Remote endpoints get nothing:
    their support for constraints varies, so their reply is parsed.
    """
    if not judge.constrained or judge.engine == "openai":
        return {}
    if judge.engine == "llama-cpp":
        return {"grammar": VERDICT_GRAMMAR}
    return {"structured_outputs": {"regex": VERDICT_REGEX}}


def _ask(client, model: str, messages: list[dict], judge_pass: Pass) -> tuple[str, dict]:
    import openai

    started = time.monotonic()
    seed = {} if judge_pass.seed is None else {"seed": judge_pass.seed}
    try:
        response = client.chat.completions.create(
            model=model, messages=messages, temperature=judge_pass.temperature,
            max_tokens=judge_pass.judge.max_new_tokens, extra_body=verdict_constraint(judge_pass.judge) or None,
            **seed)
    except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
        raise UserError(f"the judge endpoint refused the API key ({exc.status_code}): check the token") from None
    usage = response.usage
    return response.choices[0].message.content or "", {
        "judge_latency_s": round(time.monotonic() - started, 3),
        "judge_input_tokens": getattr(usage, "prompt_tokens", None),
        "judge_output_tokens": getattr(usage, "completion_tokens", None),
    }


def grade(client, model: str, judge_pass: Pass, template: str, item: dict) -> dict:
    """One verdict on ``item`` (question, gold, chunk_text, prediction) with the prompt ``template``.

    A reply without a verdict is followed up once with a short request for the
    verdict alone (a new request: resending the same one at temperature 0 would
    give the same reply); a call that fails outright is retried once as it was.
    """
    prompt = render_prompt(template, item["question"], item["gold"], item["chunk_text"], item["prediction"])
    messages = [{"role": "user", "content": prompt}]
    raw, stats = "", {}
    for _attempt in range(2):
        try:
            raw, stats = _ask(client, model, messages, judge_pass)
        except UserError:
            raise
        except Exception as exc:  # the client already retried transient errors
            raw, stats = f"ERROR: {type(exc).__name__}: {exc}", {}
            continue
        if parse_verdict(raw) is not None:
            break
        messages = [*messages, {"role": "assistant", "content": raw}, {"role": "user", "content": RETRY_PROMPT}]
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
        done = {(r["question_id"], r.get("question_hash"), r["answer_hash"])
                for r in read_jsonl(out_dir / f"{candidate.name}.jsonl")
                if r.get("judge_fingerprint") == key and r.get("status") != "error"}
        for row in answers.to_dict("records"):
            question = _question_hash(row["question"], row["gold"], row["chunk_text"])
            if (row["question_id"], question, _answer_hash(row["prediction"])) not in done:
                todo.append(row)
    return sorted(todo, key=grading_order)


def grading_order(item: dict) -> tuple:
    """The order answers are sent to the judge in: by excerpt, then question, then candidate.

    Consecutive prompts then share the excerpt (questions of one chunk) or everything
    up to the answer (one question's candidates), which llama.cpp and vLLM reuse from
    their prefix cache instead of reading it again.
    """
    return item["chunk_text"], item["question_id"], item["candidate"]


def _fail_on_errors(run_dir: Path, cfg: Config, judge: Judge, keys: list[str], attempted: int) -> None:
    """Calls that failed outright stop the stage (finished judgements are kept for the rerun)."""
    errors = [r for found in latest_records(run_dir, cfg, keys).values() for r in found if r["status"] == "error"]
    if errors:
        where = f"; server log: {run_dir / 'logs' / f'{judge.name}.server.log'}" if judge.engine != "openai" \
            else f" at {judge.base_url}"
        raise UserError(f"judge {judge.name}: {len(errors)} of {attempted} calls failed "
                        f"({errors[-1]['raw_judge_output'][7:120]}){where}; finished judgements are kept, "
                        "rerun to retry the rest")


def calibration_path(run_dir: Path, key: str) -> Path:
    """Calibration verdicts depend on the judge only: shared by every document of a profile."""
    return run_dir.parent / "judge-calibration" / f"{key}.jsonl"


def _calibration_items() -> list[dict]:
    """The hand-labelled calibration set, each item with a hash of its content (an edited item is re-graded)."""
    items = []
    for item in read_jsonl(CALIBRATION_SET):
        content = [item[k] for k in ("question", "gold", "chunk", "answer", "correct")]
        items.append({"id": item["id"], "correct": item["correct"], "case": item["case"],
                      "question": item["question"], "gold": item["gold"], "chunk_text": item["chunk"],
                      "prediction": item["answer"], "item_hash": fingerprint(*map(str, content))})
    return items


def _calibration_todo(judge: Judge, path: Path) -> list[dict]:
    if not judge.calibrate:
        return []
    done = {(r["id"], r.get("item_hash")) for r in read_jsonl(path) if r.get("status") != "error"}
    return [item for item in _calibration_items() if (item["id"], item["item_hash"]) not in done]


def calibration_summary(run_dir: Path, judge: Judge) -> dict | None:
    """The judge's error rates on the hand-labelled calibration set (:func:`stats.judge_error_rates`,
    plus ``agree`` and ``by_case``), or None when it was not graded."""
    from pipeline.stats import judge_error_rates

    current = {(item["id"], item["item_hash"]): item for item in _calibration_items()}
    latest = {}
    for record in read_jsonl(calibration_path(run_dir, judge_fingerprint(judge))):
        if (record["id"], record.get("item_hash")) in current:
            latest[record["id"]] = record
    if not latest:
        return None
    records = list(latest.values())
    rates = judge_error_rates([bool(r["correct"]) for r in records],
                              [None if r["verdict"] is None else bool(r["verdict"]) for r in records])
    by_case: dict[str, list[int]] = {}
    for r in records:
        counts = by_case.setdefault(r["case"], [0, 0])
        counts[0] += r["verdict"] is not None and bool(r["verdict"]) == bool(r["correct"])
        counts[1] += 1
    return {**rates, "agree": rates["tp"] + rates["tn"], "by_case": by_case}


def calibrate(cfg: Config, runs_dir: Path) -> dict:
    """Grade the calibration set with the profile's judge (items graded before are reused); its error rates."""
    from openai import OpenAI

    from pipeline.serving import machine_lock, serve

    judge = cfg.judge.model_copy(update={"calibrate": True})
    run_dir = runs_dir / cfg.profile / "_calibrate"  # calibration_path() keeps verdicts beside the profile's runs
    key = judge_fingerprint(judge)
    path = calibration_path(run_dir, key)
    todo = _calibration_todo(judge, path)
    print(f"calibrate: {len(todo)} of {len(_calibration_items())} calibration items to grade with {judge.name}",
          flush=True)
    if todo:
        with machine_lock(judge), serve(judge, runs_dir / cfg.profile / "logs") as endpoint:
            client = OpenAI(base_url=endpoint.base_url, api_key=endpoint.api_key, max_retries=5, timeout=600)
            _grade_all(client, endpoint.model, Pass("judge", judge), todo,
                       lambda item, result: append_jsonl(path, {
                           "id": item["id"], "case": item["case"], "correct": item["correct"],
                           "item_hash": item["item_hash"], "judge_fingerprint": key, **result}), "calibration")
    return calibration_summary(run_dir, judge)


def calibration_table(rates: dict) -> str:
    """The judge's confusion matrix and error rates as console text."""
    def share(value):
        return "n/a" if value != value else f"{value:.1%}"

    lines = [
        f"{'':18}{'judged correct':>16}{'judged wrong':>14}",
        f"{'correct answer':18}{rates['tp']:>16}{rates['fn']:>14}",
        f"{'wrong answer':18}{rates['fp']:>16}{rates['tn']:>14}",
        f"sensitivity {share(rates['sensitivity'])} (correct answers recognised), specificity "
        f"{share(rates['specificity'])} (wrong answers recognised), agreement {share(rates['accuracy'])}, "
        f"Cohen's kappa {rates['kappa']:.2f}, unparsed {rates['unparsed']} of {rates['items']}",
        "by case: " + ", ".join(f"{case} {agree}/{n}" for case, (agree, n) in sorted(rates["by_case"].items())),
    ]
    return "\n".join(lines)


def _grade_all(client, model: str, judge_pass: Pass, items: list[dict], write, desc: str) -> None:
    template = judge_pass.judge.prompt_text()  # read once: the fingerprint was taken of this text
    label = "grading" if desc == "judge" else desc.replace("_", " ")  # "judge: grading 3/24 answers"
    progress = Progress("judge", label, len(items), unit="items" if desc == "calibration" else "answers")
    with ThreadPoolExecutor(judge_pass.judge.concurrent_requests) as pool:
        grade_one = lambda item: (item, grade(client, model, judge_pass, template, item))  # noqa: E731
        try:
            for item, result in pool.map(grade_one, items):
                write(item, result)
                progress.advance(seconds=result.get("judge_latency_s"))
        except BaseException:  # a refused token, Ctrl-C: do not send the queued calls
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _run_judge(judge: Judge, its_passes: list[Pass], questions: pd.DataFrame, run_dir: Path, cfg: Config) -> None:
    """Serve ``judge`` once and grade what its passes (and its calibration) still lack."""
    from pipeline.serving import machine_lock

    with machine_lock(judge):  # taken first: another document's run may be calibrating this judge now
        _grade_pending(judge, its_passes, questions, run_dir, cfg)


def _grade_pending(judge: Judge, its_passes: list[Pass], questions: pd.DataFrame, run_dir: Path,
                   cfg: Config) -> None:
    out_dir = run_dir / "judgements"
    todo = {p.label: _pending(cfg, questions, run_dir / "answers", out_dir, p.key) for p in its_passes}
    judge_key = judge_fingerprint(judge)
    calibration = calibration_path(run_dir, judge_key)
    calibration_todo = _calibration_todo(judge, calibration)
    for p in its_passes:
        print(f"judge: {len(todo[p.label])} answers to grade with {judge.name}"
              + ("" if p.label == "judge" else f" ({p.label.replace('_', ' ')})"), flush=True)
    if calibration_todo:
        print(f"judge: {len(calibration_todo)} calibration items for {judge.name}", flush=True)
    if not (any(todo.values()) or calibration_todo):
        return
    from openai import OpenAI

    from pipeline.energy import EnergyMeter, Session
    from pipeline.serving import pinned_gpus, serve

    meter = EnergyMeter(cfg.energy, gpus=pinned_gpus(judge))
    with Session(out_dir / "judge.sessions.jsonl", meter, judge_name=judge.name, judge_fingerprint=judge_key,
                 engine=judge.engine) as session:

        def answer_writer(p: Pass):
            return lambda item, result: append_jsonl(out_dir / f"{item['candidate']}.jsonl", {
                "question_id": item["question_id"], "candidate": item["candidate"],
                "question_hash": _question_hash(item["question"], item["gold"], item["chunk_text"]),
                "answer_hash": _answer_hash(item["prediction"]), "judge": judge.name, "pass": p.label,
                "judge_fingerprint": p.key, "session": session.id, **result})

        def write_calibration(item, result):
            append_jsonl(calibration, {"id": item["id"], "case": item["case"], "correct": item["correct"],
                                       "item_hash": item["item_hash"], "judge_fingerprint": judge_key,
                                       "session": session.id, **result})

        try:
            if judge.engine != "openai":
                session.idle()
            with contextlib.ExitStack() as stack:
                with session.phase("load"):
                    endpoint = stack.enter_context(serve(judge, run_dir / "logs"))
                client = OpenAI(base_url=endpoint.base_url, api_key=endpoint.api_key, max_retries=5, timeout=600)
                for p in its_passes:
                    with session.phase(p.label):
                        _grade_all(client, endpoint.model, p, todo[p.label], answer_writer(p), p.label)
                if calibration_todo:
                    with session.phase("calibration"):
                        _grade_all(client, endpoint.model, Pass("judge", judge), calibration_todo,
                                   write_calibration, "calibration")
            # Prompt tokens taken from llama.cpp's prefix cache: what grading_order() saves.
            session.record["prefix_hit_tokens"] = endpoint.prefix_hit_tokens
        finally:  # an interrupted session's energy counts too: its judgements are kept
            session.record["answers_judged"] = sum(len(t) for t in todo.values())
    _fail_on_errors(run_dir, cfg, judge, [p.key for p in its_passes], session.record["answers_judged"])


def latest_records(run_dir: Path, cfg: Config, keys: list[str]) -> dict[str, list[dict]]:
    """Per pass key, the latest record for every current answer (a later "judged" replaces an "unparsed")."""
    latest: dict[str, dict] = {key: {} for key in keys}
    questions = pd.read_parquet(run_dir / "questions.parquet", columns=["question_id", "question", "gold",
                                                                        "chunk_text"])
    for candidate in cfg.candidates:
        answers = pd.read_parquet(run_dir / "answers" / f"{candidate.name}.parquet").merge(questions, on="question_id")
        current = {(r["question_id"], _question_hash(r["question"], r["gold"], r["chunk_text"]),
                    _answer_hash(r["prediction"])) for r in answers.to_dict("records")}
        for record in read_jsonl(run_dir / "judgements" / f"{candidate.name}.jsonl"):
            key = record.get("judge_fingerprint")
            if key in latest and (record["question_id"], record.get("question_hash"), record["answer_hash"]) in current:
                latest[key][(candidate.name, record["question_id"])] = record
    return {key: list(found.values()) for key, found in latest.items()}


def run(questions_path: Path, run_dir: Path, cfg: Config) -> Path:
    """Grade every (candidate, question) not graded yet, per pass; write ``judgements.parquet``.

    One row per answer with the judge's verdict; each reliability check adds
    ``<check>_verdict``, ``<check>_status`` and ``<check>_output`` columns.
    """
    questions = pd.read_parquet(questions_path)[["question_id", "question", "gold", "chunk_text"]]
    all_passes = passes(cfg)
    for judge in dict.fromkeys(p.judge.name for p in all_passes):
        its_passes = [p for p in all_passes if p.judge.name == judge]
        _run_judge(its_passes[0].judge, its_passes, questions, run_dir, cfg)
    latest = latest_records(run_dir, cfg, [p.key for p in all_passes])
    judgements = pd.DataFrame(latest[all_passes[0].key])
    for check in all_passes[1:]:
        found = pd.DataFrame(latest[check.key])[["question_id", "candidate", "verdict", "status", "raw_judge_output"]]
        found = found.rename(columns={"verdict": f"{check.label}_verdict", "status": f"{check.label}_status",
                                      "raw_judge_output": f"{check.label}_output"})
        judgements = judgements.merge(found, on=["question_id", "candidate"], how="left")
    out = run_dir / "judgements.parquet"
    atomic_write_parquet(judgements, out)
    return out
