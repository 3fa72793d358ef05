"""Build the labelled set of real answers (labelled/answers/) from finished runs, blind.

    .venv/bin/python bench/labelled_answers.py collect RUN_DIR DOCUMENT SPLIT [GENERATION]  # one run -> staging
    .venv/bin/python bench/labelled_answers.py blind DOCUMENT OUT.jsonl [GENERATION] # what a labeller sees (no verdict)
    .venv/bin/python bench/labelled_answers.py merge LABELS.jsonl                # labels -> labelled/answers/items.jsonl
    .venv/bin/python bench/labelled_answers.py ship RUN_DIR [RUN_DIR ...]        # the runs' verdicts, as a measurement
    .venv/bin/python bench/labelled_answers.py ship-bench VARIANT                # bench/judge_real_answers.py's verdicts
    .venv/bin/python bench/labelled_answers.py ship-local                        # make calibrate's verdicts
    .venv/bin/python bench/labelled_answers.py agreement RUN_DIR DOCUMENT [GENERATION]  # the run's verdicts vs labels

``collect`` takes every candidate's answer of a finished run (questions.parquet, answers/*.parquet) with the
question, its gold answer and its excerpt; the staging file (``labelled/answers/staging.jsonl``, not committed)
keeps them until they are labelled. ``blind`` writes the items of one document without any verdict, model name
or rule, in a shuffled order, for a labeller who reads the excerpt and the document. ``merge`` adds the labels
(key_fact, faithful, question_sound, gold_sound, note) and writes the labelled items. ``ship`` writes the verdicts
the runs' judge gave these answers (``judgements.parquet``: the pipeline's own verdicts) as the shipped
measurement of that judge configuration, with its provenance.
"""

from __future__ import annotations

import hashlib
import json
import platform
import random
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402

from pipeline.io import append_jsonl, read_jsonl  # noqa: E402

FOLDER = ROOT / "labelled" / "answers"
STAGING = FOLDER / "staging.jsonl"
MODEL_KEYS = {"SmolLM2-135M-Instruct": "smollm2-135m-instruct", "gemma-3-270m": "gemma-3-270m",
              "Qwen2.5-Coder-0.5B-Instruct": "qwen2.5-coder-0.5b-instruct"}


def _id(document: str, candidate: str, question_id: str, generation: str = "before") -> str:
    where = document if generation == "before" else f"{document}@{generation}"
    return f"{where}:{MODEL_KEYS.get(candidate, candidate)}:{question_id}"


def collect(run_dir: Path, document: str, split: str, generation: str = "before") -> int:
    """Stage a run's answers; ``generation`` names the question generation that made its questions ("before":
    the pipeline of 2026-12-01, "after": with issue 28's whole-sentence excerpts, debris and grounding rules)."""
    questions = pd.read_parquet(run_dir / "questions.parquet")
    have = {r["id"] for r in read_jsonl(STAGING)}
    added = 0
    for path in sorted((run_dir / "answers").glob("*.parquet")):
        answers = pd.read_parquet(path).merge(questions, on="question_id")
        for row in answers.to_dict("records"):
            item_id = _id(document, row["candidate"], row["question_id"], generation)
            if item_id in have:
                continue
            append_jsonl(STAGING, {
                "id": item_id, "document": document, "split": split, "generation": generation,
                "language": row.get("language") or "en",
                "candidate": row["candidate"], "model": MODEL_KEYS.get(row["candidate"], row["candidate"]),
                "question_id": row["question_id"], "question": row["question"], "gold": row["gold"],
                "excerpt": row["chunk_text"], "answer": row["prediction"] or ""})
            added += 1
    return added


def blind(document: str, out: Path, generation: str = "before") -> int:
    """The document's items as a labeller sees them: grouped by question (excerpt once), answers shuffled, with
    no model name and no verdict."""
    items = [r for r in read_jsonl(STAGING) if r["document"] == document and r.get("generation", "before") == generation]
    by_question: dict[str, list[dict]] = {}
    for item in items:
        by_question.setdefault(item["question_id"], []).append(item)
    rng = random.Random(f"blind-{document}")
    order = sorted(by_question)
    rng.shuffle(order)
    rows = []
    for qid in order:
        answers = by_question[qid]
        rng.shuffle(answers)
        first = answers[0]
        rows.append({"question_id": qid, "question": first["question"], "gold": first["gold"],
                     "excerpt": first["excerpt"],
                     "answers": [{"answer_id": hashlib.sha256(a["id"].encode()).hexdigest()[:10], "answer": a["answer"]}
                                 for a in answers]})
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return len(rows)


def merge(labels_path: Path) -> int:
    """Labels (one line per question: question_sound, gold_sound, answers: [{answer_id, key_fact, faithful,
    note}]) into the labelled set; items already labelled are replaced."""
    staged = {hashlib.sha256(r["id"].encode()).hexdigest()[:10]: r for r in read_jsonl(STAGING)}
    labelled = {r["id"]: r for r in read_jsonl(FOLDER / "items.jsonl")}
    count = 0
    for line in read_jsonl(labels_path):
        for answer in line["answers"]:
            item = staged[answer["answer_id"]]
            labelled[item["id"]] = {**item, "key_fact": int(answer["key_fact"]), "faithful": int(answer["faithful"]),
                                    "question_sound": bool(line["question_sound"]),
                                    "gold_sound": bool(line["gold_sound"]),
                                    "note": answer.get("note") or line.get("note") or ""}
            count += 1
    ordered = sorted(labelled.values(), key=lambda r: (r["split"], r["document"], r["question_id"], r["model"]))
    (FOLDER / "items.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ordered),
                                        encoding="utf-8")
    return count


def agreement(run_dir: Path, document: str, generation: str = "before") -> dict:
    """How often the run's own verdicts (``judgements.parquet``: the judge's, the figure rules' and the non-answer
    rule's) agree with the labels
    (``key_fact``) of its answers, on every question and on the sound ones only (both labels true)."""
    from pipeline.measure.stats import cohen_kappa

    verdicts = pd.read_parquet(run_dir / "judgements.parquet")
    by_answer = {(r["candidate"], r["question_id"]): r["verdict"] for r in verdicts.to_dict("records")}
    rows = [r for r in read_jsonl(FOLDER / "items.jsonl")
            if r["document"] == document and r.get("generation", "before") == generation]
    found = {}
    for part, keep in (("all", lambda r: True), ("sound", lambda r: r["question_sound"] and r["gold_sound"])):
        pairs = [(int(by_answer[(r["candidate"], r["question_id"])]), int(r["key_fact"])) for r in rows
                 if keep(r) and (r["candidate"], r["question_id"]) in by_answer
                 and by_answer[(r["candidate"], r["question_id"])] is not None]
        agree = sum(v == k for v, k in pairs)
        found[part] = {"answers": len(pairs), "agree": agree,
                       "kappa": round(cohen_kappa([v for v, _ in pairs], [k for _, k in pairs]), 2) if pairs else None}
    return found


def ship(run_dirs: list[Path]) -> Path:
    """The default judge's verdicts on the labelled items, taken from the runs that produced the answers."""
    from pipeline import config
    from pipeline.verdicts import real_answers
    from pipeline.verdicts.grading import judge_fingerprint

    from pipeline.config import fingerprint

    judge = config.load("default").judge
    key = judge_fingerprint(judge)
    by_hash = {r["item_hash"]: r for r in real_answers.items() if r["rule"] is None}
    rows = []
    for run_dir in run_dirs:  # an item is the run's answer whose question, gold, excerpt and text are the same
        questions = pd.read_parquet(run_dir / "questions.parquet")
        judgements = pd.read_parquet(run_dir / "judgements.parquet")
        for path in sorted((run_dir / "answers").glob("*.parquet")):
            answers = pd.read_parquet(path).merge(questions, on="question_id").merge(
                judgements, on=["question_id", "candidate"])
            for row in answers.to_dict("records"):
                item = by_hash.get(fingerprint(row["question"], row["gold"], row["chunk_text"], row["prediction"] or ""))
                if item is None or row.get("graded_by", "judge") != "judge":
                    continue
                rows.append(real_answers.record(item, key, {"verdict": row["verdict"], "status": row["status"],
                                                            "raw_judge_output": row["raw_judge_output"]},
                                                run=run_dir.name))
    return _write_shipped(judge, key, rows, "the verdicts the judge stage gave these answers in the runs that "
                                            "produced them")


def ship_bench(variant: str) -> Path:
    """The default judge's verdicts on the labelled items from ``bench/judge_real_answers.py`` (``grade VARIANT``:
    the same model, prompt, grammar and log-probabilities as the judge stage), each read as the judge stage reads
    it: P(yes) against the profile's ``yes_threshold``."""
    from pipeline import config
    from pipeline.verdicts import real_answers
    from pipeline.verdicts.grading import judge_fingerprint, read_at_threshold

    sys.path.insert(0, str(ROOT / "bench"))
    from judge_real_answers import VARIANTS, graded_path

    judge = config.load("default").judge
    assert VARIANTS[variant].read_text() == judge.prompt_text(), "the variant's prompt is not the profile's"
    key = judge_fingerprint(judge)
    # only verdicts graded by this grading code (their key): a bench file from other code is not this judge's
    graded = {r["id"]: r for r in read_jsonl(graded_path(variant)) if r.get("judge_fingerprint") == key}
    if not graded:
        raise SystemExit(f"no verdict of {graded_path(variant)} was graded under the judge's key {key}: grade again")
    rows = []
    for item in real_answers.items():
        found = graded.get(item["id"])
        if item["rule"] is not None or found is None:
            continue
        verdict = read_at_threshold(found["token"], found.get("p_yes"), judge.yes_threshold)
        rows.append(real_answers.record(item, key, {"verdict": verdict, "status": "judged",
                                                    "raw_judge_output": found["raw"], "p_yes": found.get("p_yes")}))
    return _write_shipped(judge, key, rows, f"bench/judge_real_answers.py grade {variant} (the judge stage's "
                                            "model, prompt, grammar and log-probabilities), read at yes_threshold")


def ship_local() -> Path:
    """The default judge's verdicts measured on this machine (``make calibrate``: the pipeline's own grading, in
    ``runs/_calibration/real-answers-<judge key>.jsonl``), shipped as they are: the usual way to ship a measurement
    after the labelled items or the judge changed."""
    from pipeline import config, runs
    from pipeline.verdicts import real_answers
    from pipeline.verdicts.grading import judge_fingerprint

    judge = config.load("default").judge
    key = judge_fingerprint(judge)
    current = {item["id"]: item for item in real_answers.items()}
    latest = real_answers._latest(real_answers.local_path(runs.RUNS, key), current)
    missing = [i for i, item in current.items() if item["rule"] is None and i not in latest]
    if missing:
        raise SystemExit(f"{len(missing)} judge-graded items have no local verdict under key {key}: "
                         "make calibrate first")
    return _write_shipped(judge, key, list(latest.values()), "make calibrate on this machine (the judge stage's "
                                                             "grading: pipeline/verdicts/grading.py)")


def _write_shipped(judge, key: str, rows: list[dict], how: str) -> Path:
    from importlib.metadata import version

    from pipeline.verdicts import real_answers

    real_answers.SHIPPED.mkdir(parents=True, exist_ok=True)
    path = real_answers.shipped_path(key)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    path.with_suffix(".json").write_text(json.dumps({
        "judge": judge.name, "model": judge.model, "prompt": judge.prompt, "yes_threshold": judge.yes_threshold,
        "fingerprint": key, "verdicts": len(rows), "how": how,
        "machine": f"{platform.system()} {platform.machine()}, 2 cores (this project's machine kind)",
        "date": datetime.now(timezone.utc).date().isoformat(),
        "llama_cpp_python": version("llama-cpp-python")}, indent=1) + "\n")
    return path


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "collect":
        print(collect(Path(args[0]), args[1], args[2], *args[3:4]), "answers staged")
    elif command == "blind":
        print(blind(args[0], Path(args[1]), *args[2:3]), "questions written")
    elif command == "merge":
        print(merge(Path(args[0])), "answers labelled")
    elif command == "ship":
        print(ship([Path(a) for a in args]))
    elif command == "ship-bench":
        print(ship_bench(args[0]))
    elif command == "ship-local":
        print(ship_local())
    elif command == "agreement":
        print(json.dumps(agreement(Path(args[0]), args[1], *args[2:3])))
    else:
        sys.exit(__doc__)
