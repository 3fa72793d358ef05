"""Validation measured the way the judge is: error rates of each check on the hand-labelled sets in labelled/."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from pipeline import config
from pipeline.io import append_jsonl, read_jsonl
from pipeline.questions import validate, validation_rates


@pytest.mark.parametrize("path, label, least", [
    (validation_rates.ABOUT_THE_TEXT, "about_the_text", 60),
    (validation_rates.QUESTION_FORM, "expected", 30),
    (validation_rates.DUPLICATES, "duplicate", 40),
    (validation_rates.GOLD_CHECK, "supported", 40),
])
def test_the_labelled_sets_are_large_enough_and_balanced(path, label, least):
    items = read_jsonl(path)
    assert len(items) >= least and len({item["id"] for item in items}) == len(items)
    assert all(item["case"] and item["language"] in ("en", "fr") for item in items)
    positives = sum(bool(item[label]) for item in items)
    assert 0.35 <= positives / len(items) <= 0.65  # about half each label
    if path == validation_rates.GOLD_CHECK:  # report-like excerpts, not toy sentences
        assert all(80 <= len(item["excerpt"].split()) <= 200 for item in items)
    else:
        assert {item["split"] for item in items} <= {"dev", "held_out_1", "held_out_2", "held_out_3"}


def test_error_rates_count_good_items_rejected_and_bad_items_accepted():
    rates = validation_rates.error_rates([True, True, True, False, False, False], [True, False, True, True, False, None])
    assert rates == {"good": 3, "rejected_good": 1, "bad": 2, "accepted_bad": 1, "false_rejection": 1 / 3,
                     "false_acceptance": 0.5, "unparsed": 1}


RATES = {"about the text": {"good": 20, "rejected_good": 1, "bad": 10, "accepted_bad": 0, "false_rejection": 0.05,
                            "false_acceptance": 0.0, "unparsed": 0},
         "duplicate by meaning": {"good": 8, "rejected_good": 0, "bad": 10, "accepted_bad": 2, "false_rejection": 0.0,
                                  "false_acceptance": 0.2, "unparsed": 0}}


def test_the_report_sentence_gives_each_rate_with_its_counts():
    sentence = validation_rates.rates_sentence(RATES)
    assert "about the text wrongly rejects 1/20 (5%) good items and lets through 0/10 (0%) bad ones" in sentence
    assert "duplicate by meaning wrongly rejects 0/8 (0%)" in sentence
    assert "gold-answer check is not measured yet" in sentence
    assert validation_rates.rates_sentence({}) == ""
    off = validation_rates.rates_sentence(RATES, check_gold=False)  # answer-first: the round trip checks the golds
    assert "gold-answer check is off" in off and "not measured yet" not in off


def test_the_console_table_flags_a_rate_above_ten_percent():
    lines = validation_rates.rates_table(RATES).splitlines()
    assert "above 10%" not in lines[1] and lines[2].endswith("(above 10%)")
    assert "2/10 (20%) [6%, 51%]" in lines[2]  # Wilson 95% interval


def _items(tmp_path, golds: list[str]) -> list[dict]:
    excerpt = ("The new solar-powered pumping station at Bexley cut the Authority's electricity bill by 22 percent. "
               "Water use per person fell for the fifth year in a row, to 118 litres per day.")
    path = tmp_path / "gold_check.jsonl"
    path.write_text("".join(json.dumps({"id": f"gc-{k}", "excerpt": excerpt, "question": "By how much?",
                                        "gold": gold, "supported": "22" in gold or "118" in gold, "case": "c",
                                        "language": "en"}) + "\n" for k, gold in enumerate(golds)))
    return validation_rates.gold_check_items(path)


def test_the_gold_check_set_is_graded_as_generation_checks_and_reused(tmp_path):
    """Same prompt file, constraint and grade(); verdicts recorded under the profile's runs folder by the
    gold-check key; graded items are reused and an edited item is graded again."""
    from fakes import FakeJudgeEndpoint
    from openai import OpenAI

    def verdict(body):  # a judge that says "supported" when the answer's numbers are in the excerpt
        prompt = body["messages"][-1]["content"]
        excerpt = prompt.split("Document excerpt:")[1].split("Question:")[0]
        answer = prompt.split("Proposed answer:")[1].split("\n")[0]
        return int(all(n in excerpt for n in re.findall(r"\d+", answer)) and "percent" in answer)

    cfg = config.load("default")
    profile_dir = tmp_path / "runs" / cfg.profile
    path = validation_rates.gold_check_path(profile_dir, validate.gold_check_key(cfg))
    items = _items(tmp_path, ["By 22 percent.", "To 118 litres per day.", "By 40 percent.",
                              "The text states that it fell by 30 percent."])
    endpoint = FakeJudgeEndpoint("ok", verdict=verdict)
    try:
        client = OpenAI(base_url=endpoint.url, api_key="sk-test", max_retries=0)
        assert validation_rates.grade_gold_check_set(client, "judge", cfg, path, items) == 4
        prompts = [r["messages"][-1]["content"] for r in endpoint.requests]
        prompt = validate.gold_check_prompt("en", cfg.judge.verdict)  # the judge's verdict format: yes/no
        assert all(p.startswith(prompt.split("{chunk}")[0]) for p in prompts) and "Reply with yes" in prompt
        assert any("Proposed answer: It fell by 30 percent." in p for p in prompts)  # preamble stripped first
        assert all(r["grammar"] == 'root ::= "yes" | "no"' for r in endpoint.requests)
        rates = validation_rates.gold_check_rates(profile_dir, cfg, items)
        # supported: 22 percent (judged 1), 118 litres (judged 0: no "percent"); unsupported: 40 and 30 (judged 0)
        assert (rates["good"], rates["rejected_good"], rates["bad"], rates["accepted_bad"]) == (2, 1, 2, 0)
        assert rates["false_rejection"] == 0.5 and rates["false_acceptance"] == 0.0
        assert validation_rates.grade_gold_check_set(client, "judge", cfg, path, items) == 0  # reused
        edited = _items(tmp_path, ["By 22 percent.", "To 118 litres per day.", "By 40 percent.", "By 22 percent."])
        assert validation_rates.grade_gold_check_set(client, "judge", cfg, path, edited) == 1
        again = validation_rates.gold_check_rates(profile_dir, cfg, edited)
        assert (again["good"], again["rejected_good"], again["bad"], again["accepted_bad"]) == (3, 1, 1, 0)
    finally:
        endpoint.close()
    assert all(r["gold_check_key"] == validate.gold_check_key(cfg) for r in read_jsonl(path))


def test_a_fresh_machine_uses_the_shipped_gold_check_measurement():
    """Issue 28: the gold check's labelled set was graded on every fresh machine (two minutes of its first report);
    the default judge's measurement ships with the repository and says so (for a profile that checks gold answers
    with the judge: the default profile's round trip replaced it)."""
    cfg = _checking_gold(config.load("default"))
    embed = lambda texts: np.eye(len(texts))  # noqa: E731
    rates = validation_rates.all_rates(cfg, Path("/nonexistent"), embed)[validation_rates.GOLD_CHECK_REASON]
    assert rates["graded"] == rates["items"] and rates["source"].startswith("shipped measurement")


def _checking_gold(cfg):
    return cfg.model_copy(update={"questions": cfg.questions.model_copy(update={"check_gold": True})})


def test_generation_json_gets_the_gold_check_rates_once_its_verdicts_exist(tmp_path, monkeypatch):
    cfg = _checking_gold(config.load("default"))
    profile_dir = tmp_path / cfg.profile
    embed = lambda texts: np.eye(len(texts))  # noqa: E731 - no two texts alike: no duplicate found
    monkeypatch.setattr(validation_rates, "shipped_gold_check_path", lambda key: tmp_path / "none.jsonl")
    assert validation_rates.GOLD_CHECK_REASON not in validation_rates.all_rates(cfg, profile_dir, embed)
    path = validation_rates.gold_check_path(profile_dir, validate.gold_check_key(cfg))
    for item in validation_rates.gold_check_items():  # a judge that agrees with every label
        append_jsonl(path, {"id": item["id"], "case": item["case"], "supported": item["supported"],
                            "item_hash": item["item_hash"], "verdict": int(item["supported"]), "status": "judged"})
    rates = validation_rates.all_rates(cfg, profile_dir, embed)
    gold = rates[validation_rates.GOLD_CHECK_REASON]
    assert gold["good"] + gold["bad"] == len(read_jsonl(validation_rates.GOLD_CHECK))
    assert gold["rejected_good"] == gold["accepted_bad"] == 0
    assert rates["duplicate by meaning"]["rejected_good"] == 0  # orthogonal embeddings merge nothing


def test_the_report_gets_the_rule_checks_rates_on_their_held_out_items_only():
    """Issue 26: the rates reported were counted on every item, the ones the rules were written from included.
    Only each set's latest held-out batch (never used to change a rule) counts now."""
    cfg = config.load("default")
    embed = lambda texts: np.eye(len(texts))  # noqa: E731
    rates = validation_rates.all_rates(cfg, Path("/nonexistent"), embed)
    about = read_jsonl(validation_rates.ABOUT_THE_TEXT)
    latest = sorted({item["split"] for item in about} - {"dev"})[-1]
    held_out = [item for item in about if item["split"] == latest]
    assert 0 < len(held_out) < len(about)
    assert rates["about the text"]["good"] + rates["about the text"]["bad"] == len(held_out)
    assert "held-out items" in validation_rates.rates_sentence(rates)


def test_the_kept_questions_unsound_share_is_counted_on_held_out_labels_of_the_runs_generation(tmp_path, monkeypatch):
    """Issue 32: the report gives the measured share of unsound kept questions for its own generation code, from
    blind labels on held-out documents only."""
    rows = [{"document": "a", "split": "heldout", "generation": "g1", "question_sound": True, "gold_sound": True},
            {"document": "a", "split": "heldout", "generation": "g1", "question_sound": False, "gold_sound": True},
            {"document": "b", "split": "heldout", "generation": "g1", "question_sound": True, "gold_sound": False},
            {"document": "b", "split": "heldout", "generation": "g1", "question_sound": True, "gold_sound": True},
            {"document": "b", "split": "heldout", "generation": "g1", "question_sound": True, "gold_sound": True},
            {"document": "c", "split": "dev", "generation": "g1", "question_sound": False, "gold_sound": False},
            {"document": "a", "split": "heldout", "generation": "g0", "question_sound": False, "gold_sound": False}]
    path = tmp_path / "kept.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    monkeypatch.setattr(validation_rates, "KEPT_QUESTIONS", path)
    rates = validation_rates.kept_question_rates("g1")
    assert (rates["unsound"], rates["labelled"], rates["documents"]) == (2, 5, {"a": [1, 2], "b": [1, 3]})
    assert rates["interval"][0] < 0.4 < rates["interval"][1]
    sentence = validation_rates.kept_questions_sentence(rates, "g1")
    assert "2 of 5 (40%" in sentence and "2 held-out real documents" in sentence and "1 of 2 on one document, a" in sentence
    assert validation_rates.kept_question_rates("g2") is None
    assert "not measured" in validation_rates.kept_questions_sentence(None, "g2")


def test_the_fit_checks_rates_count_the_held_out_questions_it_turned_down_sound_and_unsound(tmp_path, monkeypatch):
    def row(document, split, sound, passed):
        return {"document": document, "split": split, "question_sound": sound, "gold_sound": True,
                "fit_passed": passed}

    path = tmp_path / "fit_check.jsonl"
    for item in (row("a", "heldout", True, True), row("a", "heldout", True, False), row("b", "heldout", False, False),
                 row("b", "heldout", False, True), row("b", "heldout", False, False), row("c", "dev", True, False)):
        append_jsonl(path, item)
    monkeypatch.setattr(validation_rates, "FIT_CHECK", path)
    rates = validation_rates.fit_check_rates()
    assert (rates["documents"], rates["labelled"], rates["good"], rates["rejected_good"], rates["bad"],
            rates["rejected_bad"]) == (2, 5, 2, 1, 3, 2)  # the dev row is left out
    assert "turned down 1/2 (50%) sound ones and 2/3 (67%) unsound ones" in validation_rates.fit_check_sentence(rates)
    monkeypatch.setattr(validation_rates, "FIT_CHECK", tmp_path / "none.jsonl")
    assert validation_rates.fit_check_rates() is None
    assert "not measured" in validation_rates.fit_check_sentence(None)
