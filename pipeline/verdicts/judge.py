"""Stage 3: grade every candidate answer, once, with one judge loaded once per run.

What gets a verdict, and from whom:

* **non-answers, by rule**: an empty answer, punctuation, a list of references, a
  copy of the prompt, the question's own words (:mod:`pipeline.verdicts.non_answers`) is
  wrong, with its reason; it never reaches the judge, which marked such answers correct;
  with ``judge.figure_rules``, figures settle what they can (:mod:`pipeline.verdicts.figure_rules`);
* **every other answer, by the judge** (:mod:`pipeline.verdicts.grading`: prompt file,
  constrained verdict, parsing);
* **control answers**, built from the run's own questions with a truth known by
  construction (:mod:`pipeline.verdicts.controls`), graded as the candidates' answers are (the
  same rules first, then the judge, interleaved with the candidates' answers): a gate on the
  verdicts as this document gets them;
* the **held-out real answers** a person labelled (:mod:`pipeline.verdicts.real_answers`), once per judge
  configuration and only when no measurement of it exists (one ships with the repository for the default
  judge), and only those made as one of the profile's candidates makes its answers (the same model and
  answering settings): the error rates each candidate's accuracy is corrected with.

Records are appended as they complete, to ``judgements/<candidate>.jsonl`` (and
``judgements/_controls.jsonl``), keyed by (question, gold answer and excerpt,
answer text, judge config): adding a candidate judges only its answers, changing
the judge prompt re-judges everything, a regenerated question with the same words
but another gold answer or excerpt is judged again, a rerun with nothing changed
judges nothing. Verdicts by rule are not recorded: they are worked out again each
time the verdicts table is built.

Optional reliability checks (``second_judge`` and ``self_consistency`` in the
config) grade the same answers again: with a second judge model, or with the
judge sampled twice at temperature > 0 under fixed seeds. Each is a further
*pass* over the same records (its own fingerprint), reported beside the
ranking; a check never changes a verdict and skips the non-answers.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

import pandas as pd

from pipeline import keys
from pipeline.config import Config, Judge, fingerprint
from pipeline.errors import UserError
from pipeline.io import append_jsonl, atomic_write_parquet, read_jsonl
from pipeline.verdicts import calibration, controls, real_answers
from pipeline.verdicts.grading import Pass, grade_all, judge_fingerprint
from pipeline.verdicts.figure_rules import figure_verdict
from pipeline.verdicts.non_answers import non_answer_reason

CHECKS = ("second_judge", "self_consistency_1", "self_consistency_2")
CONTROLS = "_controls"  # the "candidate" whose answers are the control answers (records, grading order)
CONTROL_COLUMNS = ["question_id", "control", "prediction", "correct", "faithful", "verdict", "status",
                   "raw_judge_output", "graded_by"]


def judge_key(cfg: Config) -> str:
    """What ``judgements.parquet`` (and ``controls.parquet``) depend on: each pass's verdicts, the candidates
    graded, the control answers asked for (and the code that builds them), the non-answer rules (a verdict by
    rule is a verdict), and the held-out real answers graded with them."""
    return fingerprint(*[p.key for p in passes(cfg)], keys.settings(cfg, keys.JUDGE), *keys.texts(keys.JUDGE))


def passes(cfg: Config) -> list[Pass]:
    """The judge's pass, then the optional checks: self-consistency (two seeded samples), a second judge."""
    found = [Pass("judge", cfg.judge)]
    if cfg.self_consistency:
        found += [Pass(f"self_consistency_{i}", cfg.judge, cfg.self_consistency.temperature, seed=i) for i in (1, 2)]
    if cfg.second_judge:
        found.append(Pass("second_judge", cfg.second_judge))
    return found


def answer_hash(prediction: str) -> str:
    return hashlib.sha256((prediction or "").encode()).hexdigest()[:16]


def question_hash(question: str, gold: str, chunk_text: str) -> str:
    """What a verdict depends on besides the answer: the question, its gold answer and its excerpt (the
    question id hashes the question's words only). A record without it (older ones) matches nothing."""
    return fingerprint(question, gold, chunk_text)


def _record_key(item: dict) -> tuple:
    return (item["question_id"], question_hash(item["question"], item["gold"], item["chunk_text"]),
            answer_hash(item["prediction"]))


def _answers(cfg: Config, questions: pd.DataFrame, answers_dir: Path) -> list[dict]:
    """Every candidate's answers, each with its question, gold answer and excerpt."""
    found = []
    for candidate in cfg.candidates:
        path = answers_dir / f"{candidate.name}.parquet"
        if not path.exists():
            raise UserError(f"no answers for {candidate.name} yet ({path}); run the answer stage first")
        found += pd.read_parquet(path).merge(questions, on="question_id").to_dict("records")
    return found


def control_answers(cfg: Config, questions: pd.DataFrame) -> list[dict]:
    """The control answers of ``questions`` (:func:`pipeline.verdicts.controls.build`), as items to grade."""
    built = controls.build(questions, cfg.controls.per_question, cfg.questions.seed)
    by_id = questions.set_index("question_id")
    return [{**by_id.loc[c["question_id"]].to_dict(), **c, "candidate": CONTROLS} for c in built.to_dict("records")]


def _pending(items: list[dict], out_dir: Path, key: str) -> list[dict]:
    """The items not graded yet under ``key``, each looked up in its candidate's records (a call that failed
    outright is graded again)."""
    done = {}
    for name in {item["candidate"] for item in items}:
        done[name] = {(r["question_id"], r.get("question_hash"), r["answer_hash"])
                      for r in read_jsonl(out_dir / f"{name}.jsonl")
                      if r.get("judge_fingerprint") == key and r.get("status") != "error"}
    return [item for item in items if _record_key(item) not in done[item["candidate"]]]


def grading_order(item: dict) -> tuple:
    """The order answers are sent to the judge in: by excerpt, then question, then candidate.

    Consecutive prompts then share the excerpt (questions of one chunk) or everything
    up to the answer (one question's candidates and control answers), which llama.cpp
    and vLLM reuse from their prefix cache instead of reading it again.
    """
    return item["chunk_text"], item["question_id"], item["candidate"]


def _fail_on_errors(run_dir: Path, cfg: Config, judge: Judge, keys: list[str], attempted: int) -> None:
    """Calls that failed outright stop the stage (finished judgements are kept for the rerun)."""
    errors = [r for found in latest_records(run_dir, cfg, keys).values() for r in found if r["status"] == "error"]
    errors += [r for r in _control_records(run_dir, cfg, keys[0]) if r["status"] == "error"] if keys else []
    if errors:
        where = f"; server log: {run_dir / 'logs' / f'{judge.name}.server.log'}" if judge.engine != "openai" \
            else f" at {judge.base_url}"
        raise UserError(f"judge {judge.name}: {len(errors)} of {attempted} calls failed "
                        f"({errors[-1]['raw_judge_output'][7:120]}){where}; finished judgements are kept, "
                        "rerun to retry the rest")


def _run_judge(judge: Judge, its_passes: list[Pass], questions: pd.DataFrame, run_dir: Path, cfg: Config) -> None:
    """Serve ``judge`` once and grade what its passes (and its calibration) still lack."""
    from pipeline.serving.servers import machine_lock

    with machine_lock(judge):  # taken first: another document's run may be calibrating this judge now
        _grade_pending(judge, its_passes, questions, run_dir, cfg)


def by_rule(answer: dict, cfg: Config) -> tuple[int, str, str] | None:
    """(verdict, who, why) when a rule grades ``answer``: a non-answer, wrong ("rule"), or, with
    ``judge.figure_rules``, a figure comparison ("figure rule", :mod:`pipeline.verdicts.figure_rules`); else None."""
    if (reason := non_answer_reason(answer["question"], answer["prediction"], answer["gold"])) is not None:
        return 0, "rule", reason
    if cfg.judge.figure_rules and (found := figure_verdict(answer["gold"], answer["prediction"],
                                                           answer.get("language") or "en")) is not None:
        return found[0], "figure rule", found[1]
    return None


def _grade_pending(judge: Judge, its_passes: list[Pass], questions: pd.DataFrame, run_dir: Path,
                   cfg: Config) -> None:
    out_dir = run_dir / "judgements"
    answers = _answers(cfg, questions, run_dir / "answers")
    judged = [a for a in answers if by_rule(a, cfg) is None]
    todo = {}
    for p in its_passes:
        items = judged + ([c for c in control_answers(cfg, questions) if by_rule(c, cfg) is None]
                          if p.label == "judge" else [])
        todo[p.label] = sorted(_pending(items, out_dir, p.key), key=grading_order)
    judge_key = judge_fingerprint(judge)
    runs_dir = calibration.runs_root(run_dir)
    # only the held-out answers made as this profile's candidates make theirs: the rates a correction will use
    producers = [real_answers.candidate_producer(c, cfg) for c in cfg.candidates]
    heldout_todo = real_answers.todo(runs_dir, judge, ("heldout",), producers=producers) if judge.calibrate else []
    for p in its_passes:
        pending = todo[p.label]
        shown = sum(item["candidate"] != CONTROLS for item in pending)
        line = f"judge: {shown} answers to grade with {judge.name}"
        if p.label == "judge":
            line += (f", {len(pending) - shown} control answers ({cfg.controls.per_question} per question, "
                     f"{len(control_answers(cfg, questions))} in all); {len(answers) - len(judged)} of "
                     f"{len(answers)} answers graded by rule")
        print(line + ("" if p.label == "judge" else f" ({p.label.replace('_', ' ')})"), flush=True)
    if heldout_todo:
        print(f"judge: {len(heldout_todo)} held-out labelled real answers for {judge.name} (once per judge "
              "configuration: its error rates on them correct each candidate's accuracy)", flush=True)
    if not (any(todo.values()) or heldout_todo):
        return
    from openai import OpenAI

    from pipeline.measure.energy import EnergyMeter, Session
    from pipeline.serving.servers import pinned_gpus, serve

    meter = EnergyMeter(cfg.energy, gpus=pinned_gpus(judge))
    with Session(out_dir / "judge.sessions.jsonl", meter, judge_name=judge.name, judge_fingerprint=judge_key,
                 engine=judge.engine) as session:

        def answer_writer(p: Pass):
            def write(item, result):
                control = {"control": item["control"], "correct": bool(item["correct"]),
                           "faithful": bool(item.get("faithful", item["correct"]))} \
                    if item["candidate"] == CONTROLS else {}
                append_jsonl(out_dir / f"{item['candidate']}.jsonl", {
                    "question_id": item["question_id"], "candidate": item["candidate"],
                    "question_hash": question_hash(item["question"], item["gold"], item["chunk_text"]),
                    "answer_hash": answer_hash(item["prediction"]), **control, "judge": judge.name,
                    "pass": p.label, "judge_fingerprint": p.key, "session": session.id, **result})
            return write

        try:
            if judge.engine != "openai":
                session.idle()
            with contextlib.ExitStack() as stack:
                with session.phase("load"):
                    endpoint = stack.enter_context(serve(judge, run_dir / "logs"))
                client = OpenAI(base_url=endpoint.base_url, api_key=endpoint.api_key, max_retries=5, timeout=600)
                for p in its_passes:
                    with session.phase(p.label):
                        grade_all(client, endpoint.model, p, todo[p.label], answer_writer(p), p.label)
                if heldout_todo:
                    with session.phase("calibration"):
                        real_answers.grade(client, endpoint.model, judge, heldout_todo, runs_dir, session=session.id)
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
        current = {_record_key(r) for r in answers.to_dict("records")}
        for record in read_jsonl(run_dir / "judgements" / f"{candidate.name}.jsonl"):
            key = record.get("judge_fingerprint")
            if key in latest and (record["question_id"], record.get("question_hash"), record["answer_hash"]) in current:
                latest[key][(candidate.name, record["question_id"])] = record
    return {key: list(found.values()) for key, found in latest.items()}


def _control_records(run_dir: Path, cfg: Config, key: str) -> list[dict]:
    """The verdict on every control answer of the current questions: by rule where a rule grades it (as a
    candidate's answer would be), else the latest record graded under ``key``."""
    wanted, latest = {}, {}
    for item in control_answers(cfg, pd.read_parquet(run_dir / "questions.parquet")):
        if (found := by_rule(item, cfg)) is None:
            wanted[_record_key(item)] = item
            continue
        verdict, who, reason = found
        latest[_record_key(item)] = {
            "question_id": item["question_id"], "control": item["control"], "correct": bool(item["correct"]),
            "faithful": bool(item.get("faithful", item["correct"])), "prediction": item["prediction"],
            "verdict": verdict, "status": "judged", "graded_by": who,
            "raw_judge_output": f"{'right' if verdict else 'wrong'} by rule: {reason}"}
    for record in read_jsonl(run_dir / "judgements" / f"{CONTROLS}.jsonl"):
        found = (record["question_id"], record.get("question_hash"), record["answer_hash"])
        if record.get("judge_fingerprint") == key and found in wanted:
            latest[found] = {**record, "prediction": wanted[found]["prediction"], "graded_by": "judge"}
    return list(latest.values())


def rule_verdicts(answers: list[dict], cfg: Config) -> pd.DataFrame:
    """The answers a rule grades (:func:`by_rule`: non-answers, and figure comparisons when on), as verdict rows."""
    rows = []
    for a in answers:
        if (found := by_rule(a, cfg)) is not None:
            verdict, who, reason = found
            rows.append({"question_id": a["question_id"], "candidate": a["candidate"], "verdict": verdict,
                         "status": "judged", "judge": who, "graded_by": who, "rule": reason,
                         "raw_judge_output": f"{'right' if verdict else 'wrong'} by rule: {reason}"})
    return pd.DataFrame(rows, columns=["question_id", "candidate", "verdict", "status", "judge", "graded_by", "rule",
                                       "raw_judge_output"])


def run(questions_path: Path, run_dir: Path, cfg: Config) -> Path:
    """Grade every (candidate, question) not graded yet, per pass; write ``judgements.parquet`` and
    ``controls.parquet``.

    One row per answer with its verdict, ``graded_by`` ("judge" or "rule") and ``rule`` (the reason of a
    verdict by rule); each reliability check adds ``<check>_verdict``, ``<check>_status`` and
    ``<check>_output`` columns. ``controls.parquet``: one row per control answer with its truth and verdict.
    """
    questions = pd.read_parquet(questions_path)
    questions = questions[[c for c in ("question_id", "question", "gold", "chunk_text", "language")
                           if c in questions]]
    all_passes = passes(cfg)
    for judge in dict.fromkeys(p.judge.name for p in all_passes):
        its_passes = [p for p in all_passes if p.judge.name == judge]
        _run_judge(its_passes[0].judge, its_passes, questions, run_dir, cfg)
    latest = latest_records(run_dir, cfg, [p.key for p in all_passes])
    by_judge = pd.DataFrame(latest[all_passes[0].key]).assign(graded_by="judge", rule="")
    ruled = rule_verdicts(_answers(cfg, questions, run_dir / "answers"), cfg)
    if len(ruled) and len(by_judge):  # a judge's record of an answer a rule now grades (graded before) stays unused
        settled = set(zip(ruled["question_id"], ruled["candidate"]))
        by_judge = by_judge[[key not in settled for key in zip(by_judge["question_id"], by_judge["candidate"])]]
    judgements = pd.concat([by_judge, ruled], ignore_index=True) if len(ruled) else by_judge
    for check in all_passes[1:]:
        found = pd.DataFrame(latest[check.key]).reindex(
            columns=["question_id", "candidate", "verdict", "status", "raw_judge_output"])
        found = found.rename(columns={"verdict": f"{check.label}_verdict", "status": f"{check.label}_status",
                                      "raw_judge_output": f"{check.label}_output"})
        judgements = judgements.merge(found, on=["question_id", "candidate"], how="left")
    atomic_write_parquet(pd.DataFrame(_control_records(run_dir, cfg, all_passes[0].key)).reindex(
        columns=CONTROL_COLUMNS),
                         run_dir / "controls.parquet")
    out = run_dir / "judgements.parquet"
    atomic_write_parquet(judgements, out)
    return out
