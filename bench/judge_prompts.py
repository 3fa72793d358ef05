"""Which judge prompt and verdict format measure best: the embedded 1.5B judge on three sets of known truth.

    .venv/bin/python bench/judge_prompts.py [VARIANT ...]      # all variants when none is named

Each variant (a prompt file and how its verdict is asked for) grades, with the default profile's
judge model on llama.cpp, greedy, in excerpt order (as the judge stage sends them):

* the hand-labelled calibration set (``judge_prompts/calibration.jsonl``, 66 items);
* 22 short answers written for this comparison (``bench/judge_variants/short-answers.jsonl``:
  paraphrases such as "Roughly a dozen days a year" for "12 days per year", and wrong ones);
* control answers (:mod:`pipeline.verdicts.controls`) built from 30 of the calibration set's questions:
  a reworded gold answer, and wrong ones (another question's answer, a changed number or
  name, a refusal, a neighbouring question's answer).

It prints and writes (``bench/results/judge-prompts-<time>.json``) each variant's
sensitivity and specificity per set, its overall agreement, and the mean seconds per
verdict. The variants were measured on these same sets, so the winner's figures are
optimistic for it; the per-document controls of every run keep measuring it afterwards.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VARIANTS_DIR = ROOT / "bench" / "judge_variants"
REASON_FIRST = r'root ::= "Reason: " [^\n<]{1,300} "\n<final_answer>" [01] "</final_answer>"'
# name: (prompt file, verdict format: "final_answer", "yes_no", "reason_first", or "flipped" (1 means wrong))
VARIANTS = {
    "A": (ROOT / "judge_prompts" / "small_binary.txt", "final_answer"),
    "B": (VARIANTS_DIR / "B-excerpt-reworded.txt", "final_answer"),
    "C": (VARIANTS_DIR / "C-excerpt-reason-first.txt", "reason_first"),
    "D": (VARIANTS_DIR / "D-no-excerpt.txt", "final_answer"),
    "F": (VARIANTS_DIR / "F-excerpt-is-it-wrong.txt", "flipped"),
    "H": (VARIANTS_DIR / "H-excerpt-answers-repeated.txt", "final_answer"),
    "I": (ROOT / "judge_prompts" / "small_yes_no_excerpt.txt", "yes_no"),  # the default judge's since 2026-12-03
    "J": (VARIANTS_DIR / "J-excerpt-yes-no-repeated.txt", "yes_no"),
    "K": (VARIANTS_DIR / "K-no-excerpt-yes-no.txt", "yes_no"),
    "L": (VARIANTS_DIR / "L-excerpt-last-yes-no.txt", "yes_no"),
    "M": (ROOT / "judge_prompts" / "small_yes_no.txt", "yes_no"),
}


def items() -> list[dict]:
    """The three sets, as items to grade (set, id, case, question, gold, chunk, answer, correct)."""
    import pandas as pd

    from pipeline.io import read_jsonl
    from pipeline.verdicts import controls
    from pipeline.verdicts.calibration import CALIBRATION_SET

    calibration = read_jsonl(CALIBRATION_SET)
    found = [{"set": "calibration", **{k: i[k] for k in ("id", "case", "question", "gold", "chunk", "answer",
                                                           "correct")}} for i in calibration]
    found += [{"set": "short answers", "case": "short", **{k: i[k] for k in ("id", "question", "gold", "chunk",
                                                                              "answer", "correct")}}
              for i in read_jsonl(VARIANTS_DIR / "short-answers.jsonl")]
    questions = pd.DataFrame([{"question_id": f"c{k}", "question": i["question"], "gold": i["gold"],
                               "chunk_text": i["chunk"]} for k, i in enumerate(calibration)])
    questions = questions.drop_duplicates("question").sample(n=30, random_state=1)
    by_id = questions.set_index("question_id")
    for c in controls.build(questions, per_question=3).itertuples():
        q = by_id.loc[c.question_id]
        found.append({"set": "controls", "id": c.control_id, "case": c.control, "question": q["question"],
                      "gold": q["gold"], "chunk": q["chunk_text"], "answer": c.prediction, "correct": bool(c.correct)})
    return sorted(found, key=lambda i: (i["chunk"], i["question"]))


def verdict_of(raw: str, kind: str) -> int | None:
    from pipeline.verdicts.grading import parse_verdict

    found = parse_verdict(raw)
    return None if found is None else 1 - found if kind == "flipped" else found


def grade(name: str, graded: list[dict]) -> list[dict]:
    from openai import OpenAI

    from pipeline import config
    from pipeline.serving.servers import serve
    from pipeline.verdicts.grading import FORMATS, render_prompt

    path, kind = VARIANTS[name]
    template = path.read_text(encoding="utf-8")
    grammar = REASON_FIRST if kind == "reason_first" else FORMATS["yes_no" if kind == "yes_no" else "final_answer"].grammar
    max_tokens = 110 if kind == "reason_first" else 16
    judge = config.load("default").judge
    out = []
    with serve(judge, ROOT / "bench" / "results" / "logs") as endpoint:
        client = OpenAI(base_url=endpoint.base_url, api_key=endpoint.api_key, timeout=600)
        for item in graded:
            started = time.monotonic()
            reply = client.chat.completions.create(
                model=endpoint.model, temperature=0, max_tokens=max_tokens, extra_body={"grammar": grammar},
                messages=[{"role": "user", "content": render_prompt(template, item["question"], item["gold"],
                                                                    item["chunk"], item["answer"])}])
            raw = reply.choices[0].message.content or ""
            out.append({**item, "raw": raw, "verdict": verdict_of(raw, kind),
                        "seconds": round(time.monotonic() - started, 3)})
    return out


def summary(rows: list[dict]) -> dict:
    """Per set: right answers accepted, wrong answers rejected; overall agreement; mean seconds per verdict."""
    found = {}
    for name in ("calibration", "short answers", "controls"):
        mine = [r for r in rows if r["set"] == name]
        right, wrong = [r for r in mine if r["correct"]], [r for r in mine if not r["correct"]]
        found[name] = {"accepted_right": sum(r["verdict"] == 1 for r in right), "right": len(right),
                       "rejected_wrong": sum(r["verdict"] == 0 for r in wrong), "wrong": len(wrong)}
    agree = sum((r["verdict"] == 1) == bool(r["correct"]) for r in rows if r["verdict"] is not None)
    return {**found, "agreement": f"{agree}/{len(rows)}",
            "seconds_per_verdict": round(sum(r["seconds"] for r in rows) / max(len(rows), 1), 2)}


def main(names: list[str]) -> None:
    graded = items()
    results = {}
    for name in names or list(VARIANTS):
        results[name] = {"prompt": str(VARIANTS[name][0].relative_to(ROOT)), "verdict": VARIANTS[name][1],
                         **summary(grade(name, graded))}
        print(name, json.dumps(results[name]), flush=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = ROOT / "bench" / "results" / f"judge-prompts-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(out)


if __name__ == "__main__":
    main(sys.argv[1:])
