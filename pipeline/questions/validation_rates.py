"""How often each validation check is wrong, measured on the hand-labelled sets in ``labelled/``.

Validation (:mod:`pipeline.questions.validate`) is measured the way the judge is
(:func:`pipeline.verdicts.calibration.calibrate`): on items whose right outcome a person
decided, one JSON object a line, each with an ``id``, a ``case`` tag saying
what kind of case it is and a ``language``. The rule sets also carry a
``split``: ``dev`` items were written first and the rules written from their
kinds of cases; ``held_out_1``, ``held_out_2`` and ``held_out_3`` were each
written after the rules of the time, and measured on once before the rules
changed again (labelled/README.md keeps what each measured):

* ``about_the_text.jsonl``: questions and gold answers, ``about_the_text``
  true or false (the "about the text" check);
* ``question_form.jsonl``: questions and gold answers, ``expected`` the reason
  they fail ("not a question", "restates the question") or null;
* ``duplicates.jsonl``: pairs of questions with their gold answers,
  ``duplicate`` true when both ask for the same fact (the duplicate check,
  with the real all-MiniLM-L6-v2 embedder);
* ``gold_check.jsonl``: an excerpt, a question, a proposed gold answer and
  ``supported`` (the judge model's gold-answer check).

For each check, with the items that should pass as "good" and those that
should be rejected as "bad": false-rejection rate = good items the check
rejects / good items; false-acceptance rate = bad items it lets through / bad
items. Every rate comes with its counts. The rule checks are computed
directly; the gold check needs the judge model, so its verdicts are recorded
per item under the profile's runs folder, keyed by the gold-check key
(:func:`pipeline.questions.validate.gold_check_key`), and reused until the judge, the
prompt or the item changes (``make calibrate`` grades what is missing).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pipeline.config import ROOT, Config, fingerprint
from pipeline.io import append_jsonl, read_jsonl
from pipeline.questions import question_form, validate

LABELLED = ROOT / "labelled"
ABOUT_THE_TEXT = LABELLED / "about_the_text.jsonl"
QUESTION_FORM = LABELLED / "question_form.jsonl"
DUPLICATES = LABELLED / "duplicates.jsonl"
GOLD_CHECK = LABELLED / "gold_check.jsonl"
KEPT_QUESTIONS = LABELLED / "kept_questions.jsonl"
FIT_CHECK = LABELLED / "fit_check.jsonl"  # every held-out question the fit check decided on, labelled blind
GOLD_CHECK_REASON = "gold answer not supported"
TARGET = 0.10  # the most each rate should be (issue 20)


def error_rates(should_pass: list[bool], passed: list[bool | None]) -> dict:
    """A check's error counts and rates on labelled items (:func:`pipeline.measure.stats.judge_error_rates`).

    ``should_pass``: the label (a good question, two different facts, a supported answer);
    ``passed``: whether the check let the item through (None: it gave no verdict; not counted).
    """
    from pipeline.measure.stats import judge_error_rates

    r = judge_error_rates(should_pass, passed)
    nan = float("nan")
    return {"good": r["positives"], "rejected_good": r["fn"], "bad": r["negatives"], "accepted_bad": r["fp"],
            "false_rejection": r["fn"] / r["positives"] if r["positives"] else nan,
            "false_acceptance": r["fp"] / r["negatives"] if r["negatives"] else nan,
            "unparsed": r["unparsed"]}


HELD_OUT = "held-out"  # the split argument meaning: each set's latest held-out batch, the one no rule was fixed on


def _in_split(items: list[dict], split: str | None) -> list[dict]:
    if split == HELD_OUT:  # held_out_1 < held_out_2 < ...: the last was measured once and changed nothing
        held_out = sorted({item.get("split", "dev") for item in items} - {"dev"})
        split = held_out[-1] if held_out else "none"
    return [item for item in items if split is None or item.get("split", "dev") == split]


def rule_rates(duplicate_similarity: float, embed: Callable[[list[str]], object],
               split: str | None = None) -> dict[str, dict]:
    """Error rates of the rule checks (``about the text``, ``not a question``, ``restates the question``,
    ``duplicate by meaning``) on the labelled sets, every item, one ``split``, or :data:`HELD_OUT` (each set's
    latest held-out batch: the items no rule was written or fixed on). Gold answers lose their preamble first,
    as in validation (:func:`pipeline.questions.question_form.strip_preamble`)."""
    rates = {}
    about = _in_split(read_jsonl(ABOUT_THE_TEXT), split)
    rates["about the text"] = error_rates(
        [not item["about_the_text"] for item in about],
        [not question_form.about_the_text(item["question"], question_form.strip_preamble(item["gold"])) for item in about])
    form = _in_split(read_jsonl(QUESTION_FORM), split)
    for reason in ("not a question", "restates the question"):
        check = question_form.CHEAP_CHECKS[reason]
        items = [item for item in form if item["expected"] in (None, reason)]
        rates[reason] = error_rates([item["expected"] is None for item in items],
                                    [not check(item["question"], question_form.strip_preamble(item["gold"]))
                                     for item in items])
    pairs = _in_split(read_jsonl(DUPLICATES), split)
    rates["duplicate by meaning"] = error_rates([not pair["duplicate"] for pair in pairs],
                                                [not same for same in duplicate_verdicts(pairs, duplicate_similarity,
                                                                                         embed)])
    return rates


def duplicate_verdicts(pairs: list[dict], duplicate_similarity: float, embed) -> list[bool]:
    """The duplicate rule (:func:`pipeline.questions.validate.same_fact`) on each labelled pair."""
    if not pairs:
        return []
    golds = [(question_form.strip_preamble(p["gold_a"]), question_form.strip_preamble(p["gold_b"])) for p in pairs]
    questions = embed([text for p in pairs for text in (p["question_a"], p["question_b"])])
    answers = embed([text for pair in golds for text in pair])
    return [validate.same_fact(p["question_a"], ga, p["question_b"], gb,
                               float(questions[2 * k] @ questions[2 * k + 1]),
                               float(answers[2 * k] @ answers[2 * k + 1]), duplicate_similarity)
            for k, (p, (ga, gb)) in enumerate(zip(pairs, golds))]


# ----------------------------------------------------------------------------- the gold-answer check
def gold_check_path(runs_dir: Path, key: str) -> Path:
    """Gold-check verdicts on the labelled set depend on the judge and the check's prompts only (the key): shared
    by every document and profile, beside the judge's calibration verdicts."""
    return runs_dir / "_calibration" / f"gold-check-{key}.jsonl"


def shipped_gold_check_path(key: str) -> Path:
    """The default judge's gold-check verdicts on the labelled set as measured when the set was last changed,
    shipped with the repository (provenance in the ``.json`` beside it), so that a fresh machine's first report
    need not grade it (about two minutes here); ``make calibrate`` measures it again on the machine."""
    return ROOT / "labelled" / "shipped" / f"gold-check-{key}.jsonl"


def gold_check_measured(runs_dir: Path, cfg: Config, items: list[dict] | None = None) -> tuple[Path, str] | None:
    """Where the gold check's verdicts on the labelled set come from: this machine's measurement when it covers
    every item, else the shipped one when it does, else this machine's partial one (None: nothing at all)."""
    items = gold_check_items() if items is None else items
    key = validate.gold_check_key(cfg)
    local, shipped = gold_check_path(runs_dir, key), shipped_gold_check_path(key)
    if not gold_check_todo(local, items):
        return local, "measured on this machine"
    if shipped.exists() and not gold_check_todo(shipped, items):
        return shipped, "shipped measurement (" + json.loads(shipped.with_suffix(".json").read_text()).get(
            "date", "undated") + ")"
    return (local, "measured on this machine, partly") if local.exists() else None


def gold_check_items(path: Path = GOLD_CHECK) -> list[dict]:
    """The labelled gold-check set as validation would ask about it (the gold answer's preamble stripped),
    each item with a hash of its content (an edited item is re-graded)."""
    items = []
    for item in read_jsonl(path):
        content = [item[k] for k in ("excerpt", "question", "gold", "supported")]
        items.append({"id": item["id"], "case": item["case"], "supported": item["supported"],
                      "question": item["question"], "gold": question_form.strip_preamble(item["gold"]),
                      "chunk_text": item["excerpt"], "language": item.get("language", "en"), "prediction": "",
                      "item_hash": fingerprint(*map(str, content))})
    return sorted(items, key=lambda item: (item["chunk_text"], item["id"]))  # consecutive prompts share a prefix


def _latest(path: Path, items: list[dict]) -> dict[str, dict]:
    current = {(item["id"], item["item_hash"]) for item in items}
    return {r["id"]: r for r in read_jsonl(path) if (r["id"], r.get("item_hash")) in current}


def gold_check_todo(path: Path, items: list[dict]) -> list[dict]:
    """Items with no verdict on record for their current content (a failed call is asked again)."""
    done = {i for i, r in _latest(path, items).items() if r.get("status") != "error"}
    return [item for item in items if item["id"] not in done]


def grade_gold_check_set(client, model: str, cfg: Config, path: Path, items: list[dict],
                         progress: Callable[[], None] | None = None) -> int:
    """Ask the profile's judge about each item still to grade, exactly as generation's gold check does (the
    same prompt file, constraint and :func:`pipeline.verdicts.grading.grade`); append each verdict to ``path``.
    Returns how many items were graded."""
    from pipeline.verdicts.grading import Pass, grade

    judge_pass = Pass("gold_check", cfg.judge)
    key = validate.gold_check_key(cfg)
    todo = gold_check_todo(path, items)
    with ThreadPoolExecutor(cfg.judge.concurrent_requests) as pool:
        graded = pool.map(lambda item: (item, grade(client, model, judge_pass,
                                                    validate.gold_check_prompt(item["language"], cfg.judge.verdict),
                                                    item)), todo)
        for item, result in graded:
            append_jsonl(path, {"id": item["id"], "case": item["case"], "supported": item["supported"],
                                "item_hash": item["item_hash"], "gold_check_key": key, **result})
            if progress:
                progress()
    return len(todo)


def gold_check_rates(runs_dir: Path, cfg: Config, items: list[dict] | None = None) -> dict | None:
    """The gold check's error rates from the verdicts on record (None when none is), with ``by_case``:
    {case: [agreeing verdicts, items]}."""
    items = gold_check_items() if items is None else items
    measured = gold_check_measured(runs_dir, cfg, items)
    records = list(_latest(measured[0], items).values()) if measured else []
    if not records:
        return None
    passed = [None if r["verdict"] is None else r["verdict"] == 1 for r in records]
    rates = error_rates([bool(r["supported"]) for r in records], passed)
    by_case: dict[str, list[int]] = {}
    for r, verdict in zip(records, passed):
        counts = by_case.setdefault(r["case"], [0, 0])
        counts[0] += verdict is not None and verdict == bool(r["supported"])
        counts[1] += 1
    return {**rates, "items": len(items), "graded": len(records), "by_case": by_case, "source": measured[1]}


def calibrate_gold_check(cfg: Config, runs_dir: Path) -> dict | None:
    """Grade the labelled gold-check set with the profile's judge (items graded before are reused); its rates."""
    from openai import OpenAI

    from pipeline.progress import Progress
    from pipeline.serving.servers import machine_lock, serve

    path = gold_check_path(runs_dir, validate.gold_check_key(cfg))
    items = gold_check_items()
    todo = gold_check_todo(path, items)
    print(f"calibrate: {len(todo)} of {len(items)} labelled gold answers to check with {cfg.judge.name}", flush=True)
    if todo:
        with machine_lock(cfg.judge), serve(cfg.judge, runs_dir / cfg.profile / "logs") as endpoint:
            client = OpenAI(base_url=endpoint.base_url, api_key=endpoint.api_key, max_retries=5, timeout=600)
            progress = Progress("calibrate", "gold-answer checks", len(todo), unit="items")
            grade_gold_check_set(client, endpoint.model, cfg, path, items, lambda: progress.advance())
    return gold_check_rates(runs_dir, cfg, items)


# ----------------------------------------------------------------------------- every check
def all_rates(cfg: Config, runs_dir: Path, embed) -> dict[str, dict]:
    """Each check's rates, keyed by its rejection reason: the rule checks on their held-out items only (rates on
    the items the rules were fixed on would flatter them), the gold check when its verdicts on the labelled set
    are on record (the generate stage grades them once per judge configuration; its set has no held-out part,
    which :func:`rates_sentence` says)."""
    rates = rule_rates(cfg.questions.duplicate_similarity, embed, HELD_OUT)
    if cfg.questions.check_gold and (gold := gold_check_rates(runs_dir, cfg)) is not None:
        rates[GOLD_CHECK_REASON] = gold
    return rates


# ----------------------------------------------------------------------------- what validation let through
def kept_question_rates(generation: str) -> dict | None:
    """How many kept questions of ``generation`` (the generation code: :func:`pipeline.questions.generate.
    generation_id`) were unsound — unclear, or with a wrong gold answer — by blind labels on the held-out
    documents of ``labelled/kept_questions.jsonl`` (real public documents, never used to choose anything); None
    when none of them is labelled."""
    from pipeline.measure.stats import wilson_interval

    rows = [r for r in read_jsonl(KEPT_QUESTIONS) if r.get("generation") == generation and r.get("split") == "heldout"]
    if not rows:
        return None
    documents: dict[str, list[int]] = {}
    for row in rows:
        counts = documents.setdefault(row["document"], [0, 0])
        counts[0] += not (row["question_sound"] and row["gold_sound"])
        counts[1] += 1
    unsound = sum(bad for bad, _ in documents.values())
    low, high = wilson_interval(unsound, len(rows))
    return {"generation": generation, "labelled": len(rows), "unsound": unsound, "interval": [low, high],
            "documents": documents}


def kept_questions_sentence(rates: dict | None, generation: str) -> str:
    """The report's sentence on what validation let through, measured (or that it is not)."""
    if not rates:
        return (f"How many kept questions of this generation ({generation}) are unclear or have a wrong gold answer "
                "is not measured: no held-out document's questions of it are labelled.")
    worst = max(rates["documents"].items(), key=lambda kv: kv[1][0] / kv[1][1])
    count = len(rates["documents"])
    return (f"Kept questions of this generation ({generation}), labelled blind on {count} held-out "
            f"real document{'' if count == 1 else 's'}: {rates['unsound']} of {rates['labelled']} "
            f"({rates['unsound'] / rates['labelled']:.0%}, 95% interval {rates['interval'][0]:.0%}–"
            f"{rates['interval'][1]:.0%}) were unclear or had a wrong gold answer (at most {worst[1][0]} of "
            f"{worst[1][1]} on one document, {worst[0]}); `labelled/kept_questions.jsonl`.")


def fit_check_rates() -> dict | None:
    """The fit check's errors on the held-out questions it decided on, labelled blind (``labelled/fit_check.jsonl``:
    kept or not, with its P(yes) and whether it passed); None when none is labelled."""
    from pipeline.measure.stats import wilson_interval

    rows = [r for r in read_jsonl(FIT_CHECK) if r.get("split") == "heldout"]
    if not rows:
        return None
    sound = [r["question_sound"] and r["gold_sound"] for r in rows]
    turned_down = [not r["fit_passed"] for r in rows]
    good = sum(sound)
    rates = {"documents": len({r["document"] for r in rows}), "labelled": len(rows),
             "good": good, "rejected_good": sum(s and t for s, t in zip(sound, turned_down)),
             "bad": len(rows) - good, "rejected_bad": sum(not s and t for s, t in zip(sound, turned_down))}
    rates["rejected_good_interval"] = list(wilson_interval(rates["rejected_good"], good)) if good else None
    rates["rejected_bad_interval"] = list(wilson_interval(rates["rejected_bad"], rates["bad"])) if rates["bad"] else None
    return rates


def fit_check_sentence(rates: dict | None) -> str:
    """The report's sentence on the fit check, measured (or that it is not)."""
    if not rates:
        return "The fit check's error rates are not measured: none of its held-out decisions is labelled."
    return (f"The fit check, on the held-out questions it decided on ({rates['documents']} real documents, labelled "
            f"blind): it turned down {_share(rates['rejected_good'], rates['good'])} sound ones and "
            f"{_share(rates['rejected_bad'], rates['bad'])} unsound ones (`labelled/fit_check.jsonl`; README, "
            "\"Sound questions\", point 10).")


def _share(count: int, total: int) -> str:
    return f"{count}/{total} ({count / total:.0%})" if total else "n/a"


def rates_table(rates: dict[str, dict]) -> str:
    """Console text: one line per check, with a Wilson 95% interval on each rate."""
    from pipeline.measure.stats import wilson_interval

    def cell(count: int, total: int) -> str:
        if not total:
            return "n/a"
        low, high = wilson_interval(count, total)
        return f"{_share(count, total)} [{low:.0%}, {high:.0%}]"

    lines = [f"{'check':26}{'false rejections':>28}{'false acceptances':>28}"]
    for reason, r in rates.items():
        mark = "  (above 10%)" if r["false_rejection"] > TARGET or r["false_acceptance"] > TARGET else ""
        mark += f"  ({r['unparsed']} without a verdict)" if r.get("unparsed") else ""
        lines.append(f"{reason:26}{cell(r['rejected_good'], r['good']):>28}{cell(r['accepted_bad'], r['bad']):>28}"
                     f"{mark}")
    lines.append("false rejections: good items the check rejects / good items; false acceptances: bad items it "
                 "lets through / bad items; [95% Wilson interval]")
    return "\n".join(lines)


def rates_sentence(rates: dict[str, dict], check_gold: bool = True) -> str:
    """One sentence for the report: each check's rates on the labelled sets, with their counts (``check_gold``:
    whether the run checked its gold answers with the judge model)."""
    if not rates:
        return ""
    parts = [f"{reason} wrongly rejects {_share(r['rejected_good'], r['good'])} good items and lets through "
             f"{_share(r['accepted_bad'], r['bad'])} bad ones" for reason, r in rates.items()]
    if not check_gold:
        missing = (" The gold-answer check is off (`questions.check_gold`); the round trip, where it is on, has no "
                   "labelled set of its own: what it let through is in the kept questions' labels.")
    elif GOLD_CHECK_REASON in rates:
        missing = " The gold-answer check's set has no held-out part (its prompt was chosen on it): its rates flatter it."
    else:
        missing = " The gold-answer check is not measured yet (`make calibrate` grades its labelled set with the judge)."
    return ("Measured on the held-out items of the hand-labelled sets in `labelled/` (written after the rules, never "
            f"used to change them): {'; '.join(parts)}.{missing}")
