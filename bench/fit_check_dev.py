"""How well the fit check separates sound from unsound kept questions, on the dev labels (issue 32).

    .venv/bin/python bench/fit_check_dev.py score OUT.jsonl      # P(yes) of every labelled answer-first question
    .venv/bin/python bench/fit_check_dev.py table OUT.jsonl      # AUC, and the rates at each threshold

``score`` grades each distinct answer-first question of ``labelled/kept_questions.jsonl`` (every row there is dev for
the sixth generation: their documents were read once labelled) with the fit check's prompt
(``judge_prompts/fit_check.txt``) through the default profile's judge, the gold answer's sentence found in the
excerpt as the check finds it (:func:`pipeline.questions.model_checks.answer_sentence`), and appends each P(yes) with
the label (resumable). ``table`` prints the AUC (Mann–Whitney) and, per threshold, the unsound share of what it
would keep, the sound questions it would reject and the unsound ones it would catch, and Youden's J, by which the
threshold was chosen (the largest J; the record of 2026-12-07 is ``bench/results/fit-check-dev-20261207.jsonl``).
Nothing else may run on the machine meanwhile.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.io import append_jsonl, read_jsonl  # noqa: E402

KEPT = ROOT / "labelled" / "kept_questions.jsonl"
THRESHOLDS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9)


def items() -> list[dict]:
    seen, found = set(), []
    for row in read_jsonl(KEPT):
        key = (row["document"], row["question"], row["gold"])
        if row["generation"].startswith("answer-first") and key not in seen:
            seen.add(key)
            found.append(row)
    return found


def score(out: Path) -> None:
    from openai import OpenAI

    from pipeline.config import load
    from pipeline.questions.model_checks import FitCheck
    from pipeline.serving.servers import serve

    cfg = load("default")
    done = {r["id"] for r in read_jsonl(out)}
    with serve(cfg.judge, out.parent / "logs") as endpoint:
        check = FitCheck(cfg, endpoint, "en")
        check.client = OpenAI(base_url=endpoint.base_url, api_key=endpoint.api_key)
        for row in items():
            if row["id"] in done:
                continue
            kept, reply = check({"question": row["question"], "gold": row["gold"], "chunk_text": row["excerpt"],
                                 "citations": []})
            p_yes = float(reply.removeprefix("P(yes) ")) if reply.startswith("P(yes) ") else None
            append_jsonl(out, {"id": row["id"], "document": row["document"], "generation": row["generation"],
                               "language": row.get("language"), "p_yes": p_yes, "reply": reply,
                               "sound": bool(row["question_sound"] and row["gold_sound"])})


def table(out: Path) -> str:
    from scipy.stats import mannwhitneyu

    rows = [r for r in read_jsonl(out) if r.get("p_yes") is not None]
    sound = [r["p_yes"] for r in rows if r["sound"]]
    unsound = [r["p_yes"] for r in rows if not r["sound"]]
    auc = mannwhitneyu(sound, unsound).statistic / (len(sound) * len(unsound))
    lines = [f"{len(rows)} questions ({len(unsound)} unsound), AUC {auc:.3f}",
             "threshold | unsound among kept | sound rejected | unsound caught | J"]
    for t in THRESHOLDS:
        kept = [r for r in rows if r["p_yes"] >= t]
        bad_kept = sum(not r["sound"] for r in kept)
        good_out = sum(p < t for p in sound)
        bad_out = sum(p < t for p in unsound)
        lines.append(f"{t:.2f} | {bad_kept}/{len(kept)} | {good_out}/{len(sound)} | {bad_out}/{len(unsound)} | "
                     f"{bad_out / len(unsound) - good_out / len(sound):.3f}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("score", "table"))
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    if args.command == "score":
        score(args.out)
    print(table(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
