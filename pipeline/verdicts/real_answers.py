"""The judge on real answers a person labelled: the error rates the report uses, per model and per label.

``labelled/answers/items.jsonl`` holds answers the embedded candidates actually gave on documents of
several kinds and languages, each labelled by a person reading the excerpt (and the document): *key fact*
(the answer states the gold answer's key fact; other wording, units or rounding are fine; nothing
contradicts it) and *faithful* (key fact, and no false statement about the question's subject), plus
whether the question and its gold answer are sound (policy and provenance: ``labelled/answers/README.md``).
The set is split **by document**: ``dev`` documents are the ones prompts, thresholds and rules may be
chosen on; ``heldout`` documents are meant to choose nothing — only their rates are reported, and only they
feed the report's correction — and what some were used for all the same is listed in ``heldout_use.json``
(the card quotes it).

A judge's verdicts on the items are a measurement of that judge configuration (its fingerprint): made
locally by ``make calibrate`` (or by the judge stage, when no measurement exists) into
``runs/_calibration/real-answers-<fingerprint>.jsonl``, or shipped with the repository in
``labelled/answers/verdicts/<fingerprint>.jsonl`` with its provenance (machine, date, versions) in the
``.json`` beside it, so that a fresh machine need not grade hundreds of answers before its first report.
A local measurement wins over the shipped one; the report says which it used.

**Whose answers.** The judge errs differently on different models' answers, and on answers made differently (with
or without the excerpt, cut at another length), so the rates a candidate's accuracy is corrected with are the
judge's on answers *made as that candidate makes them*: the same model (``model``), engine, ``candidate_context``
and ``max_new_tokens`` (:func:`producer`; an item records them in ``answered_with``, and items without it were made
by the default profile of 2026-12-01: :data:`LEGACY_ANSWERED_WITH`). A candidate with no such held-out answers has
no correction; the judge stage grades only the held-out items some candidate of the profile will use.

**Which documents, and what they were used for.** ``heldout_use.json`` (beside ``items.jsonl``) names, per held-out
document, anything that was chosen with it; the card says so rather than calling them untouched.

**Documents differ.** The judge's error rates vary from one document to another; :func:`rates` keeps the counts per
document, and the report's intervals and corrections use their effective counts
(:func:`pipeline.measure.correction.document_rate`: a beta-binomial over the documents).

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
USES = FOLDER / "heldout_use.json"  # per held-out document: what was chosen with it (none: untouched)
# How the items without ``answered_with`` were made: the default profile of 2026-12-01 (configs/default.yaml then).
LEGACY_ANSWERED_WITH = {"engine": "llama-cpp", "candidate_context": "chunk", "max_new_tokens": 64}
ANSWERING_SETTINGS = tuple(LEGACY_ANSWERED_WITH)
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


def producer(item: dict) -> dict:
    """What produced a labelled answer: its model and answering settings (``answered_with``, else the legacy
    ones)."""
    settings = {**LEGACY_ANSWERED_WITH, **(item.get("answered_with") or {})}
    return {"model": item["model"], **{key: settings[key] for key in ANSWERING_SETTINGS}}


def candidate_producer(candidate, cfg: Config) -> dict:
    """What produces a candidate's answers in this profile, in :func:`producer`'s terms."""
    return {"model": candidate.model, "engine": candidate.engine,
            "candidate_context": cfg.questions.candidate_context, "max_new_tokens": candidate.max_new_tokens}


def uses() -> dict[str, list[str]]:
    """Per held-out document, what was chosen with it (``heldout_use.json``; absent: nothing)."""
    if not USES.exists():
        return {}
    return {doc: list(found) for doc, found in json.loads(USES.read_text(encoding="utf-8")).items()
            if not doc.startswith("_")}


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


def measurement(runs_dir: Path, judge: Judge,
                producers: list[dict] | None = None) -> tuple[dict[str, dict], dict | None]:
    """The judge's verdicts on the items (id -> record) and where they come from: the local measurement
    when it covers every judge-graded item (with ``producers``, every held-out one made as one of them makes its
    answers: what a report uses), else the shipped one (with its provenance), else what the local one has.
    Provenance is None when nothing was measured for this judge."""
    key, current = judge_fingerprint(judge), {item["id"]: item for item in items()}
    wanted = {i for i, item in current.items() if item["rule"] is None
              and (producers is None or (item["split"] == "heldout" and producer(item) in producers))}
    local = _latest(local_path(runs_dir, key), current)
    if local and wanted <= set(local):
        return local, {"source": "measured on this machine", "path": str(local_path(runs_dir, key))}
    shipped = _latest(shipped_path(key), current)
    about = shipped_path(key).with_suffix(".json")
    if shipped and about.exists():
        return shipped, {"source": "shipped", **json.loads(about.read_text())}
    return local, ({"source": "measured on this machine (partly)", "path": str(local_path(runs_dir, key))}
                   if local else None)


def todo(runs_dir: Path, judge: Judge, splits: tuple[str, ...] = SPLITS, local: bool = False,
         producers: list[dict] | None = None) -> list[dict]:
    """The judge-graded items of ``splits`` with no verdict of this judge yet (none in the measurement in use, or,
    with ``local``, none measured on this machine), grouped by excerpt; with ``producers``, only answers made as
    one of them makes its answers (:func:`producer`): what a report of those candidates will use."""
    if local:
        have = _latest(local_path(runs_dir, judge_fingerprint(judge)), {item["id"]: item for item in items()})
    else:
        have, _ = measurement(runs_dir, judge, producers)
    return sorted((item for item in items() if item["split"] in splits and item["rule"] is None
                   and item["id"] not in have and (producers is None or producer(item) in producers)),
                  key=lambda item: (item["chunk_text"], item["question"]))


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
          sound_only: bool = False, figure_rules: bool = False, producers: list[dict] | None = None,
          rho: float | None = None) -> dict:
    """The judge's error rates on the judge-graded items of ``split`` (of one candidate ``model`` when given; of the
    answers made as one of ``producers`` makes them, :func:`producer`, when given), against the person's ``label``:
    :func:`stats.judge_error_rates`, the counts per document (``by_document``), whose answers they are
    (``answered_by``), the intervals of sensitivity and specificity over documents that differ
    (:func:`pipeline.measure.correction.document_rate`: ``sensitivity_ci``, ``specificity_ci``, and
    ``documents_right`` / ``documents_wrong`` with each class's effective count) with the intra-document correlation
    ``rho`` (given, or fitted on the chosen items' models and classes together:
    :func:`pipeline.measure.correction.document_correlation`), and the rule's own counts. Every item counts by
    default, those whose question or gold answer the person found unsound too: the judge compares an answer with the
    gold answer as written, and *key fact* is labelled against the gold as written, so the judge errs or not
    whatever the gold's worth (``sound_only`` leaves them out)."""
    from pipeline.measure.correction import document_correlation, document_rate
    from pipeline.measure.stats import judge_error_rates

    chosen = [item for item in items(split) if (model is None or item["model"] == model)
              and (producers is None or producer(item) in producers)
              and (not sound_only or (item.get("question_sound", True) and item.get("gold_sound", True)))]
    judged = [item for item in chosen if item["rule"] is None]
    labels = [bool(item[label]) for item in judged]
    verdicts = [verdict_of(item, records, figure_rules) for item in judged]
    found = judge_error_rates(labels, [None if v is None else bool(v) for v in verdicts])
    by_document: dict[str, dict] = {}
    by_model: dict[str, dict[str, dict]] = {}  # the same per model: the groups rho is fitted on
    for item, truth, verdict in zip(judged, labels, verdicts):
        if verdict is None:
            continue
        cell = ("tp" if verdict else "fn") if truth else ("fp" if verdict else "tn")
        for counts in (by_document.setdefault(item["document"], {"tp": 0, "fn": 0, "tn": 0, "fp": 0}),
                       by_model.setdefault(item["model"], {}).setdefault(item["document"],
                                                                         {"tp": 0, "fn": 0, "tn": 0, "fp": 0})):
            counts[cell] += 1
    if rho is None:
        rho = document_correlation([([c[hit] for c in docs.values()], [c[hit] + c[miss] for c in docs.values()])
                                    for docs in by_model.values() for hit, miss in (("tp", "fn"), ("tn", "fp"))])
    right = document_rate([c["tp"] for c in by_document.values()], [c["tp"] + c["fn"] for c in by_document.values()],
                          rho)
    wrong = document_rate([c["tn"] for c in by_document.values()], [c["tn"] + c["fp"] for c in by_document.values()],
                          rho)
    found["sensitivity_ci"], found["specificity_ci"] = right["interval"], wrong["interval"]
    by_rule = [item for item in chosen if item["rule"] is not None]
    return {**found, "label": label, "split": split, "model": model, "by_document": by_document, "rho": rho,
            "documents_right": right, "documents_wrong": wrong,
            "documents": sorted({item["document"] for item in chosen}),
            "answered_by": sorted({item.get("candidate") or item["model"] for item in chosen}),
            "rule_graded": len(by_rule), "rule_rejected_right": sum(bool(item[label]) for item in by_rule)}


def effective_counts(found: dict) -> dict:
    """(tp, fn, tn, fp) as many independent answers as the documents' variation leaves
    (:func:`pipeline.measure.correction.document_rate`): what a correction for a new document uses."""
    right, wrong = found["documents_right"], found["documents_wrong"]
    return {"tp": right["effective_successes"], "fn": right["effective_trials"] - right["effective_successes"],
            "tn": wrong["effective_successes"], "fp": wrong["effective_trials"] - wrong["effective_successes"]}


def model_counts(runs_dir: Path, judge: Judge, candidate, cfg: Config, label: str = "key_fact") -> dict | None:
    """The held-out counts (tp, fn, tn, fp, and their effective counts over documents, ``effective``) of ``judge``
    on real answers made as ``candidate`` makes them in ``cfg`` (:func:`candidate_producer`), for the report's
    per-model correction; None when the judge was not measured or no such answers are labelled."""
    wanted, everyone = [candidate_producer(candidate, cfg)], [candidate_producer(c, cfg) for c in cfg.candidates]
    records, about = measurement(runs_dir, judge, everyone)
    if about is None or not any(producer(item) in wanted for item in items("heldout")):
        return None
    # rho from every candidate's held-out answers together (a model alone has two groups of a few documents)
    rho = rates(records, label, "heldout", figure_rules=judge.figure_rules, producers=everyone)["rho"]
    found = rates(records, label, "heldout", figure_rules=judge.figure_rules, producers=wanted, rho=rho)
    if not found["parsed"]:
        return None
    return {**found, "effective": effective_counts(found), "provenance": about}


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
