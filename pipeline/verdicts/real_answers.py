"""The judge on real answers a person labelled: the error rates the report uses, per model and per label.

``labelled/answers/items.jsonl`` holds answers the embedded candidates actually gave on documents of
several kinds and languages, each labelled by a person reading the excerpt (and the document): *key fact*
(the answer states the gold answer's key fact; other wording, units or rounding are fine; nothing
contradicts it) and *faithful* (key fact, and no false statement about the question's subject), plus
whether the question and its gold answer are sound (policy and provenance: ``labelled/answers/README.md``).
The set is split **by document**: ``dev`` documents are the ones prompts, thresholds and rules may be
chosen on; ``heldout`` documents are never used to choose anything — only their rates are reported, and
only they feed the report's correction.

A judge's verdicts on the items are a measurement of that judge configuration (its fingerprint): made
locally by ``make calibrate`` (or by the judge stage, when no measurement exists) into
``runs/_calibration/real-answers-<fingerprint>.jsonl``, or shipped with the repository in
``labelled/answers/verdicts/<fingerprint>.jsonl`` with its provenance (machine, date, versions) in the
``.json`` beside it, so that a fresh machine need not grade hundreds of answers before its first report.
A local measurement wins over the shipped one; the report says which it used.

Each item is graded as the pipeline grades an answer: a non-answer is wrong by rule
(:mod:`pipeline.verdicts.non_answers`), everything else goes to the judge. The judge's error rates are
counted on the judge-graded items; the rule's own misses and false rejections are counted apart.
"""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.config import ROOT, Config, Judge, fingerprint
from pipeline.io import append_jsonl, read_jsonl
from pipeline.verdicts.figure_rules import figure_verdict
from pipeline.verdicts.grading import Pass, grade_all, judge_fingerprint

FOLDER = ROOT / "labelled" / "answers"
ITEMS = FOLDER / "items.jsonl"
SHIPPED = FOLDER / "verdicts"
LABELS = ("key_fact", "faithful")
LABEL_NAMES = {"key_fact": "key fact", "faithful": "faithful"}
SPLITS = ("dev", "heldout")


def items(split: str | None = None) -> list[dict]:
    """The labelled answers (of ``split`` when given), each with ``item_hash`` (what a verdict depends on)."""
    from pipeline.verdicts.non_answers import non_answer_reason

    found = []
    for item in read_jsonl(ITEMS):
        if split and item["split"] != split:
            continue
        found.append({**item, "chunk_text": item["excerpt"], "prediction": item["answer"],
                      "item_hash": fingerprint(item["question"], item["gold"], item["excerpt"], item["answer"]),
                      "rule": non_answer_reason(item["question"], item["answer"], item["gold"])})
    return found


def local_path(runs_dir: Path, key: str) -> Path:
    return runs_dir / "_calibration" / f"real-answers-{key}.jsonl"


def shipped_path(key: str) -> Path:
    return SHIPPED / f"{key}.jsonl"


def _latest(path: Path, current: dict) -> dict[str, dict]:
    latest = {}
    for record in read_jsonl(path):
        if current.get(record["id"], {}).get("item_hash") == record.get("item_hash") and record.get("status") != "error":
            latest[record["id"]] = record
    return latest


def measurement(runs_dir: Path, judge: Judge) -> tuple[dict[str, dict], dict | None]:
    """The judge's verdicts on the items (id -> record) and where they come from: the local measurement
    when it covers every judge-graded item, else the shipped one (with its provenance), else what the local
    one has. Provenance is None when nothing was measured for this judge."""
    key, current = judge_fingerprint(judge), {item["id"]: item for item in items()}
    wanted = {i for i, item in current.items() if item["rule"] is None}
    local = _latest(local_path(runs_dir, key), current)
    if local and wanted <= set(local):
        return local, {"source": "measured on this machine", "path": str(local_path(runs_dir, key))}
    shipped = _latest(shipped_path(key), current)
    about = shipped_path(key).with_suffix(".json")
    if shipped and about.exists():
        return shipped, {"source": "shipped", **json.loads(about.read_text())}
    return local, ({"source": "measured on this machine (partly)", "path": str(local_path(runs_dir, key))}
                   if local else None)


def todo(runs_dir: Path, judge: Judge, splits: tuple[str, ...] = SPLITS, local: bool = False) -> list[dict]:
    """The judge-graded items of ``splits`` with no verdict of this judge yet (none in the measurement in use, or,
    with ``local``, none measured on this machine), grouped by excerpt."""
    if local:
        have = _latest(local_path(runs_dir, judge_fingerprint(judge)), {item["id"]: item for item in items()})
    else:
        have, _ = measurement(runs_dir, judge)
    return sorted((item for item in items() if item["split"] in splits and item["rule"] is None
                   and item["id"] not in have), key=lambda item: (item["chunk_text"], item["question"]))


def record(item: dict, key: str, result: dict, **more) -> dict:
    return {"id": item["id"], "item_hash": item["item_hash"], "judge_fingerprint": key, **more, **result}


def grade(client, model: str, judge: Judge, pending: list[dict], runs_dir: Path, **more) -> None:
    """Grade ``pending`` items with a served ``judge``, appending each verdict to the local measurement."""
    key = judge_fingerprint(judge)
    path = local_path(runs_dir, key)
    grade_all(client, model, Pass("judge", judge), pending,
              lambda item, result: append_jsonl(path, record(item, key, result, **more)), "real answers")


def verdict_of(item: dict, records: dict[str, dict], figure_rules: bool = False) -> float | None:
    """The pipeline's verdict on an item: 0 by rule for a non-answer, a figure rule's when ``figure_rules``
    (:mod:`pipeline.verdicts.figure_rules`), else the judge's (None: not graded)."""
    if item["rule"] is not None:
        return 0.0
    if figure_rules and (found := figure_verdict(item["gold"], item["answer"], item.get("language") or "en")):
        return float(found[0])
    found = records.get(item["id"])
    return None if found is None or found.get("verdict") is None else float(found["verdict"])


def rates(records: dict[str, dict], label: str = "key_fact", split: str = "heldout", model: str | None = None,
          sound_only: bool = False, figure_rules: bool = False) -> dict:
    """The judge's error rates on the judge-graded items of ``split`` (of one candidate ``model`` when given),
    against the person's ``label``: :func:`stats.judge_error_rates` plus Wilson intervals of sensitivity and
    specificity, the documents and the rule's own counts. Every item counts by default, those whose question or
    gold answer the person found unsound too: the judge compares an answer with the gold answer as written, and
    *key fact* is labelled against the gold as written, so the judge errs or not whatever the gold's worth
    (``sound_only`` leaves them out)."""
    from pipeline.measure.stats import judge_error_rates, wilson_interval

    chosen = [item for item in items(split) if (model is None or item["model"] == model)
              and (not sound_only or (item.get("question_sound", True) and item.get("gold_sound", True)))]
    judged = [item for item in chosen if item["rule"] is None]
    labels = [bool(item[label]) for item in judged]
    verdicts = [verdict_of(item, records, figure_rules) for item in judged]
    found = judge_error_rates(labels, [None if v is None else bool(v) for v in verdicts])
    found["sensitivity_ci"] = wilson_interval(found["tp"], found["positives"])
    found["specificity_ci"] = wilson_interval(found["tn"], found["negatives"])
    by_rule = [item for item in chosen if item["rule"] is not None]
    return {**found, "label": label, "split": split, "model": model,
            "documents": sorted({item["document"] for item in chosen}),
            "rule_graded": len(by_rule), "rule_rejected_right": sum(bool(item[label]) for item in by_rule)}


def model_counts(runs_dir: Path, judge: Judge, model: str, label: str = "key_fact") -> dict | None:
    """The held-out counts (tp, fn, tn, fp) of ``judge`` on ``model``'s real answers, for the report's
    per-model correction; None when the judge was not measured or the model has no labelled answers."""
    records, about = measurement(runs_dir, judge)
    if about is None or not any(item["model"] == model for item in items("heldout")):
        return None
    found = rates(records, label, "heldout", model, figure_rules=judge.figure_rules)
    if not found["parsed"]:
        return None
    return {**found, "provenance": about}


def measure(cfg: Config, runs_dir: Path) -> dict:
    """Grade on this machine every labelled item the profile's judge has no local verdict on (``make calibrate``:
    a shipped measurement is checked, not trusted blindly); the verdicts in use and their provenance."""
    from openai import OpenAI

    from pipeline.serving.servers import machine_lock, serve

    judge = cfg.judge
    pending = todo(runs_dir, judge, local=True)
    print(f"calibrate: {len(pending)} of {len(items())} labelled real answers to grade with {judge.name}",
          flush=True)
    if pending:
        with machine_lock(judge), serve(judge, runs_dir / cfg.profile / "logs") as endpoint:
            client = OpenAI(base_url=endpoint.base_url, api_key=endpoint.api_key, max_retries=5, timeout=600)
            grade(client, endpoint.model, judge, pending, runs_dir)
    records, about = measurement(runs_dir, judge)
    return {"records": records, "provenance": about}



def report(records: dict[str, dict], provenance: dict | None, judge: Judge) -> str:
    """Console text for ``make calibrate``: the judge's rates per label on the held-out documents (what the report
    uses), per model, the dev documents' apart (chosen on: not a measurement), the rule's counts, and how this
    machine's verdicts compare with the shipped ones."""
    from pipeline.measure.stats import wilson_interval

    def share(k: int, n: int) -> str:
        if not n:
            return "n/a"
        low, high = wilson_interval(k, n)
        return f"{k}/{n} ({k / n:.0%}, {low:.0%}-{high:.0%})"

    lines = [f"calibrate: {judge.name} on real answers a person labelled (labelled/answers/; verdicts: "
             f"{(provenance or {}).get('source', 'none yet')})"]
    for split in ("heldout", "dev"):
        for label in LABELS:
            found = rates(records, label, split, figure_rules=judge.figure_rules)
            if not found["items"]:
                continue
            what = "held-out" if split == "heldout" else "dev (prompts and rules were chosen on these)"
            lines.append(f"  {what}, {LABEL_NAMES[label]}: {found['parsed']} answers of {len(found['documents'])} "
                         f"documents; agreement {found['accuracy']:.0%}, kappa {found['kappa']:.2f}; sensitivity "
                         f"{share(found['tp'], found['positives'])}, specificity {share(found['tn'], found['negatives'])}"
                         f"; wrong answers accepted {share(found['fp'], found['negatives'])}")
        if split == "heldout":
            for model in sorted({item["model"] for item in items("heldout")}):
                found = rates(records, "key_fact", split, model, figure_rules=judge.figure_rules)
                lines.append(f"    {model}: wrong answers accepted {share(found['fp'], found['negatives'])}, right "
                             f"answers rejected {share(found['fn'], found['positives'])}")
            found = rates(records, "key_fact", split, sound_only=False)
            lines.append(f"  non-answer rule on the held-out answers: {found['rule_graded']} answers wrong by rule, "
                         f"{found['rule_rejected_right']} of them right according to the person")
    shipped = _latest(shipped_path(judge_fingerprint(judge)), {i["id"]: i for i in items()})
    if provenance and provenance.get("source", "").startswith("measured") and shipped:
        same = [i for i in records if i in shipped]
        agree = sum(records[i].get("verdict") == shipped[i].get("verdict") for i in same)
        lines.append(f"  this machine's verdicts against the shipped ones: the same on {agree} of {len(same)} answers")
    return "\n".join(lines)
