"""The judge against hand-labelled answers: its sensitivity, specificity and kappa.

``judge_prompts/calibration.jsonl`` holds answers labelled correct or wrong by a
person (exact, paraphrase, numbers in words, unit changes, French, wrong numbers,
wrong entities, negations, partial answers, refusals, added false claims). Each
judge configuration grades them once; the verdicts are kept in
``runs/_calibration/judge-<judge fingerprint>.jsonl``, shared by every document and
profile (they depend on the judge only), and an edited item is graded again.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.config import ROOT, Config, Judge, fingerprint
from pipeline.io import append_jsonl, read_jsonl
from pipeline.verdicts.grading import Pass, grade_all, judge_fingerprint

CALIBRATION_SET = ROOT / "judge_prompts" / "calibration.jsonl"  # hand-labelled answers, see its cases


def records_path(runs_dir: Path, key: str) -> Path:
    """Where a judge's calibration verdicts are kept: beside every profile's runs, by judge fingerprint."""
    return runs_dir / "_calibration" / f"judge-{key}.jsonl"


def runs_root(run_dir: Path) -> Path:
    """The ``runs`` folder of a run folder (``runs/<profile>/<document hash>``)."""
    return run_dir.parent.parent


def items() -> list[dict]:
    """The hand-labelled calibration set, each item with a hash of its content (an edited item is re-graded)."""
    found = []
    for item in read_jsonl(CALIBRATION_SET):
        content = [item[k] for k in ("question", "gold", "chunk", "answer", "correct")]
        found.append({"id": item["id"], "correct": item["correct"], "case": item["case"],
                      "question": item["question"], "gold": item["gold"], "chunk_text": item["chunk"],
                      "prediction": item["answer"], "item_hash": fingerprint(*map(str, content))})
    return found


def todo(judge: Judge, path: Path) -> list[dict]:
    """The items ``judge`` has not graded yet (none when it is not to be calibrated), grouped by excerpt."""
    if not judge.calibrate:
        return []
    done = {(r["id"], r.get("item_hash")) for r in read_jsonl(path) if r.get("status") != "error"}
    return sorted((item for item in items() if (item["id"], item["item_hash"]) not in done),
                  key=lambda item: (item["chunk_text"], item["question"]))  # consecutive prompts share a prefix


def summary(run_dir: Path, judge: Judge) -> dict | None:
    """The judge's error rates on the hand-labelled calibration set (:func:`stats.judge_error_rates`,
    plus ``agree`` and ``by_case``), or None when it was not graded."""
    from pipeline.measure.stats import judge_error_rates

    current = {(item["id"], item["item_hash"]): item for item in items()}
    latest = {}
    for record in read_jsonl(records_path(runs_root(run_dir), judge_fingerprint(judge))):
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

    from pipeline.serving.servers import machine_lock, serve

    judge = cfg.judge.model_copy(update={"calibrate": True})
    key = judge_fingerprint(judge)
    path = records_path(runs_dir, key)
    pending = todo(judge, path)
    print(f"calibrate: {len(pending)} of {len(items())} calibration items to grade with {judge.name}", flush=True)
    if pending:
        with machine_lock(judge), serve(judge, runs_dir / cfg.profile / "logs") as endpoint:
            client = OpenAI(base_url=endpoint.base_url, api_key=endpoint.api_key, max_retries=5, timeout=600)
            grade_all(client, endpoint.model, Pass("judge", judge), pending,
                      lambda item, result: append_jsonl(path, record(item, key, result)), "calibration")
    return summary(runs_dir / cfg.profile / "_calibrate", judge)


def record(item: dict, key: str, result: dict, **more) -> dict:
    """One calibration verdict as it is kept on disk."""
    return {"id": item["id"], "case": item["case"], "correct": item["correct"], "item_hash": item["item_hash"],
            "judge_fingerprint": key, **more, **result}


def table(rates: dict) -> str:
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
