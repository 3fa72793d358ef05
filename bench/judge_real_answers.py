"""Levers for the default judge, chosen on the dev documents of the labelled real answers, reported on held-out.

    .venv/bin/python bench/judge_real_answers.py grade VARIANT [SPLIT]   # VARIANT's verdicts (and P(yes)) on SPLIT
    .venv/bin/python bench/judge_real_answers.py compare                 # every lever on dev, then held-out

``labelled/answers/items.jsonl`` (real answers of the embedded candidates, labelled by a person; see its
README) is graded by the default judge model (llama.cpp, greedy, in excerpt order, as the judge stage does)
with each prompt variant, asking for the log-probabilities of the verdict's first token, so that one pass
gives both the hard verdict and P(yes) / (P(yes) + P(no)):

* ``M``: the default prompt until 2026-12-03 (``judge_prompts/small_yes_no.txt``: question, gold, answer;
  no excerpt);
* ``I``: the same with the excerpt (``judge_prompts/small_yes_no_excerpt.txt``, the default since): can
  invented claims be caught, and at what cost in time;
* ``faithful``: a second question with the excerpt — does the answer state anything the excerpt contradicts
  or does not support (``bench/judge_variants/faithful-yes-no.txt``) — for the *faithful* label.

``compare`` then measures, against the person's *key fact* label on every judge-graded item (labelled against
the gold as written, which is what the judge compares with): the verdict as graded; P(yes) above a threshold
chosen on dev (the one with the best kappa); the figure rules in front of the judge
(:mod:`pipeline.verdicts.figure_rules`); and, for the *faithful* label, key fact and no unsupported statement.
Every lever's threshold or rule is chosen on dev; the same choice is then applied to held-out and reported. Results: ``bench/results/judge-real-answers-<time>.json``.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VARIANTS = {
    "M": ROOT / "judge_prompts" / "small_yes_no.txt",
    "I": ROOT / "judge_prompts" / "small_yes_no_excerpt.txt",
    "faithful": ROOT / "bench" / "judge_variants" / "faithful-yes-no.txt",
}
OUT = ROOT / "bench" / "results"


def graded_path(variant: str) -> Path:
    return OUT / f"judge-real-answers-{variant}.jsonl"


def grade(variant: str, split: str | None = None) -> None:
    """Grade the judge-graded items of ``split`` (all when None) with ``variant``; resumes where it stopped.

    Each item goes through the pipeline's own grading (:func:`pipeline.verdicts.grading.grade`: the request, the
    grammar, P(yes) from the first token's log-probabilities, the parsing), so that the bench measures the
    verdicts the judge stage gives: ``token`` is the verdict token the judge chose, ``p_yes`` P(yes) / (P(yes) +
    P(no)) as the pipeline reads it, ``verdict`` the verdict at the default judge's ``yes_threshold``."""
    from openai import OpenAI

    from pipeline import config
    from pipeline.io import append_jsonl, read_jsonl
    from pipeline.serving.servers import machine_lock, serve
    from pipeline.verdicts import grading, real_answers

    judge = config.load("default").judge  # served as the judge stage serves it (log-probabilities included)
    template = VARIANTS[variant].read_text(encoding="utf-8")
    # the key of these verdicts when the variant is the judge's own prompt (what `ship-bench` may ship), else none
    key = grading.judge_fingerprint(judge) if template == judge.prompt_text() else None
    path = graded_path(variant)
    done = {r["id"] for r in read_jsonl(path)}
    staging = ROOT / "labelled" / "answers" / "staging.jsonl"  # answers collected, labelled or not yet
    if staging.exists():
        from pipeline.verdicts.non_answers import non_answer_reason

        pool = [{**i, "chunk_text": i["excerpt"], "prediction": i["answer"],
                 "rule": non_answer_reason(i["question"], i["answer"], i["gold"])} for i in read_jsonl(staging)
                if split is None or i["split"] == split]
    else:
        pool = real_answers.items(split)
    todo = sorted((i for i in pool if i["rule"] is None and i["id"] not in done),
                  key=lambda i: (i["chunk_text"], i["question"]))
    print(f"{variant}: {len(todo)} items to grade", flush=True)
    if not todo:
        return
    judge_pass = grading.Pass("judge", judge)
    with machine_lock(judge), serve(judge, OUT / "logs") as endpoint:
        client = OpenAI(base_url=endpoint.base_url, api_key=endpoint.api_key, max_retries=5, timeout=600)
        for n, item in enumerate(todo, 1):
            found = grading.grade(client, endpoint.model, judge_pass, template, item)
            append_jsonl(path, {"id": item["id"], "verdict": found["verdict"],
                                "token": grading.parse_verdict(found["raw_judge_output"]),
                                "raw": found["raw_judge_output"], "p_yes": found.get("p_yes"),
                                "seconds": found.get("judge_latency_s"),
                                "prompt_tokens": found.get("judge_input_tokens"),
                                "judge_fingerprint": key})
            if n % 25 == 0:
                print(f"{variant}: {n}/{len(todo)}", flush=True)


# --------------------------------------------------------------------------- comparison

def _rates(pairs: list[tuple[bool, bool]]) -> dict:
    from pipeline.measure.stats import judge_error_rates, wilson_interval

    found = judge_error_rates([label for label, _ in pairs], [verdict for _, verdict in pairs])
    found["false_acceptance_ci"] = wilson_interval(found["fp"], found["negatives"])
    return {k: found[k] for k in ("parsed", "tp", "fn", "tn", "fp", "accuracy", "kappa", "sensitivity",
                                  "specificity", "false_acceptance_ci")}


def compare() -> dict:
    from pipeline.io import read_jsonl
    from pipeline.verdicts import real_answers
    from pipeline.verdicts.figure_rules import figure_verdict
    from pipeline.verdicts.grading import read_at_threshold

    graded = {v: {r["id"]: r for r in read_jsonl(graded_path(v))} for v in VARIANTS}
    # every judge-graded item: key fact is labelled against the gold as written, which is what the judge compares with
    items = [i for i in real_answers.items() if i["rule"] is None]
    split = {s: [i for i in items if i["split"] == s] for s in ("dev", "heldout")}

    def verdicts(variant: str, threshold: float | None, rules: bool, subset: list[dict]) -> list[tuple[bool, bool]]:
        out = []
        for item in subset:
            found = graded[variant].get(item["id"])
            if found is None:
                continue
            ruled = figure_verdict(item["gold"], item["answer"], item.get("language") or "en") if rules else None
            ruled = None if ruled is None else ruled[0]
            token = found.get("token", found["verdict"])  # the verdict token (older files: "verdict" held it)
            verdict = ruled if ruled is not None else read_at_threshold(token, found.get("p_yes"), threshold)
            out.append((bool(item["key_fact"]), bool(verdict)))
        return out

    levers = {}
    for variant in ("M", "I"):
        for rules in (False, True):
            name = f"{variant}{' + rules' if rules else ''}"
            levers[name] = {"variant": variant, "threshold": None, "rules": rules}
            grid = [t / 100 for t in range(5, 100, 5)]
            best = max(grid, key=lambda t: (_rates(verdicts(variant, t, rules, split["dev"]))["kappa"] or -1))
            levers[f"{name}, P(yes) >= {best:.2f}"] = {"variant": variant, "threshold": best, "rules": rules}
    result = {"measured": datetime.now(timezone.utc).isoformat(timespec="seconds"), "levers": {}}
    for name, lever in levers.items():
        result["levers"][name] = {s: _rates(verdicts(lever["variant"], lever["threshold"], lever["rules"], split[s]))
                                  for s in ("dev", "heldout")}
        result["levers"][name]["choice"] = lever
    for variant in ("M", "I", "faithful"):
        seconds = [r["seconds"] for r in graded[variant].values()]
        result.setdefault("seconds_per_verdict", {})[variant] = sum(seconds) / len(seconds) if seconds else None
    # the faithful label: key fact (the default verdict) and nothing the excerpt does not support
    for s in ("dev", "heldout"):
        pairs = []
        for item in split[s]:
            key, faithful = graded["M"].get(item["id"]), graded["faithful"].get(item["id"])
            if key and faithful:
                # the faithful prompt asks whether something is unsupported: "yes" (1) means not faithful
                pairs.append((bool(item["faithful"]), bool(key["verdict"]) and not bool(faithful["verdict"])))
        result.setdefault("faithful", {})[s] = _rates(pairs)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"judge-real-answers-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(result, indent=1, default=str) + "\n")
    for name, found in result["levers"].items():
        dev, held = found["dev"], found["heldout"]
        print(f"{name:28} dev: agree {dev['accuracy']:.1%} kappa {dev['kappa']:.2f} | held-out: agree "
              f"{held['accuracy']:.1%} kappa {held['kappa']:.2f} (n {held['parsed']})")
    print("faithful:", {s: f"agree {r['accuracy']:.1%} kappa {r['kappa']:.2f}" for s, r in result["faithful"].items()})
    print("seconds per verdict:", result["seconds_per_verdict"])
    print(path)
    return result


if __name__ == "__main__":
    if sys.argv[1:2] == ["grade"]:
        grade(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
    elif sys.argv[1:2] == ["compare"]:
        compare()
    else:
        sys.exit(__doc__)
