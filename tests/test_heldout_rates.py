"""The judge's rates on held-out real answers (pipeline/verdicts/real_answers.py): keyed by what produced the answers,
measured only where a profile will use them, and said truthfully on the card (issue 33, points 7, 8 and 11)."""

import json

import pytest
from fakes import FakeJudgeEndpoint, answered_run_dir

from pipeline import config
from pipeline.config import Controls, Judge
from pipeline.io import append_jsonl, read_jsonl
from pipeline.report import trust
from pipeline.verdicts import judge, real_answers
from pipeline.verdicts.grading import judge_fingerprint


def _measured(runs_dir, cfg):
    """A local measurement of ``cfg.judge`` on every judge-graded item: "yes" to every answer."""
    key = judge_fingerprint(cfg.judge)
    for item in real_answers.items():
        if item["rule"] is None:
            append_jsonl(real_answers.local_path(runs_dir, key),
                         real_answers.record(item, key, {"verdict": 1, "status": "judged", "raw_judge_output": "yes"}))


def _with(cfg, **candidate):
    return cfg.model_copy(update={"candidates": [c.model_copy(update=candidate) for c in cfg.candidates]})


def test_the_rates_are_those_of_answers_made_the_same_way(tmp_path):
    """The rates were looked up by the model's name: another candidate_context or max_new_tokens reused them."""
    cfg = config.load("default")
    _measured(tmp_path, cfg)
    candidate = cfg.candidates[2]
    found = real_answers.model_counts(tmp_path, cfg.judge, candidate, cfg)
    items = [i for i in real_answers.items("heldout") if i["model"] == candidate.model and i["rule"] is None]
    assert found is not None and found["parsed"] == len(items) and found["answered_by"] == [candidate.name]
    assert real_answers.producer(items[0]) == real_answers.candidate_producer(candidate, cfg)  # the legacy settings
    longer = _with(cfg, max_new_tokens=128)
    assert real_answers.model_counts(tmp_path, cfg.judge, longer.candidates[2], longer) is None
    blind = cfg.model_copy(update={"questions": cfg.questions.model_copy(update={"candidate_context": "none"})})
    assert real_answers.model_counts(tmp_path, cfg.judge, blind.candidates[2], blind) is None
    # an item that says how it was answered is matched on that
    item = {**items[0], "answered_with": {"max_new_tokens": 128}}
    assert real_answers.producer(item) == real_answers.candidate_producer(longer.candidates[2], longer)


@pytest.mark.parametrize("max_new_tokens, graded", [(64, True), (128, False)])
def test_the_judge_stage_measures_only_the_held_out_answers_its_candidates_will_use(tmp_path, monkeypatch,
                                                                                    max_new_tokens, graded):
    """The paper profile's judge graded the 195 held-out answers of the tiny models and used none of them; a judge
    stage now grades the held-out answers made as one of its candidates makes its answers, and no others."""
    monkeypatch.setenv("FAKE_JUDGE_KEY", "sk-test-not-a-secret")
    endpoint = FakeJudgeEndpoint("ok")
    try:
        base = config.load("default")
        cfg = _with(base, max_new_tokens=max_new_tokens).model_copy(update={
            "judge": Judge(name="main-judge", engine="openai", model="judge", base_url=endpoint.url,
                           api_key_env="FAKE_JUDGE_KEY", prompt=base.judge.prompt, verdict=base.judge.verdict),
            "controls": Controls(per_question=0)})
        run_dir = tmp_path / "runs" / "default" / "abc"
        run_dir.mkdir(parents=True)
        answered_run_dir(run_dir)
        judge.run(run_dir / "questions.parquet", run_dir, cfg)
        used = [i for i in real_answers.items("heldout") if i["rule"] is None]
        assert endpoint.calls == 9 + (len(used) if graded else 0)  # 3 candidates x 3 answers, then the held-out
        measured = read_jsonl(real_answers.local_path(tmp_path / "runs", judge_fingerprint(cfg.judge)))
        assert {r["id"] for r in measured} == ({i["id"] for i in used} if graded else set())
    finally:
        endpoint.close()


def test_the_card_says_whose_answers_and_what_the_documents_were_used_for(tmp_path):
    """The card said "3 documents not used to tune anything" of documents that were; and not whose answers the rates
    come from. It names both, and states the assumption a correction makes."""
    cfg = config.load("default")
    _measured(tmp_path, cfg)
    producers = [real_answers.candidate_producer(c, cfg) for c in cfg.candidates]
    records, about = real_answers.measurement(tmp_path, cfg.judge, producers)
    found = {**real_answers.rates(records, producers=producers), "provenance": about}
    line = trust.heldout_line(found, real_answers.uses())
    used = [i for i in real_answers.items("heldout") if i["rule"] is None and real_answers.producer(i) in producers]
    names = sorted({i["candidate"] for i in used})
    documents = sorted({i["document"] for i in real_answers.items("heldout")
                        if real_answers.producer(i) in producers})
    assert "not used to tune anything" not in line
    assert f"{len(used)} held-out real answers of {', '.join(names[:-1])} and {names[-1]}" in line
    assert f"{len(documents)} documents: {', '.join(documents)}" in line
    assert "not a clean hold-out" in line and "choosing the default judge" in line  # today's three documents
    assert "assumes your document is one more like these" in line and "beta-binomial" in line
    assert "nothing was chosen with them" in trust.heldout_line(found, {})
    uses = json.loads(real_answers.USES.read_text())
    assert {"science-en", "actualites-fr", "annual-en"} <= set(uses)  # the documents choices were made with


def test_the_rates_intervals_carry_the_variation_between_documents(tmp_path):
    """Point 8: the counts are kept per document, and the intervals come from their effective counts."""
    cfg = config.load("default")
    _measured(tmp_path, cfg)
    found = real_answers.model_counts(tmp_path, cfg.judge, cfg.candidates[0], cfg)
    assert sum(sum(c.values()) for c in found["by_document"].values()) == found["parsed"]
    assert set(found["by_document"]) == set(found["documents"])
    effective = found["effective"]
    assert effective["tp"] + effective["fn"] <= found["positives"] + 1e-9
    assert effective["tn"] + effective["fp"] <= found["negatives"] + 1e-9
