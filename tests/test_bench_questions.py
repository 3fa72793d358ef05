"""bench/questions.py: the blind labelling of kept questions and the README's per-document table."""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import questions  # noqa: E402


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_merge_keeps_split_source_and_generation_and_the_table_counts_unsound(tmp_path, monkeypatch):
    monkeypatch.setattr(questions, "DOCUMENTS", _jsonl(tmp_path / "documents.jsonl", [
        {"document": "reg", "path": "reg.pdf", "split": "heldout", "source": "org/repo:reg.pdf"}]))
    monkeypatch.setattr(questions, "KEPT", _jsonl(tmp_path / "kept.jsonl", []))
    key = _jsonl(tmp_path / "key.jsonl", [{"item": f"i{n}", "document": "reg", "generation": gen, "question_id": f"q{n}",
                                           "language": "en"} for n, gen in enumerate(["af", "af", "af", "qf"])])
    labels = _jsonl(tmp_path / "labels.jsonl", [
        {"item": f"i{n}", "question": "Q?", "gold": "G", "excerpt": "E", "question_sound": sound, "gold_sound": True}
        for n, sound in enumerate([True, False, True, False])])
    assert questions.merge(labels, key, "helper") == 4
    assert questions.merge(labels, key, "helper") == 0  # a row already there is left as it is
    rows = [json.loads(line) for line in questions.KEPT.read_text().splitlines()]
    assert {(r["split"], r["source"], r["generation"]) for r in rows} == {
        ("heldout", "org/repo:reg.pdf", "af"), ("heldout", "org/repo:reg.pdf", "qf")}
    record = _jsonl(tmp_path / "questions-run.jsonl", [
        {"document": "reg", "generation": "af", "generated": 10, "kept": 3, "model_calls": 7, "call_seconds": 90.0}])
    table = questions.table(works=[record]).splitlines()
    assert "| reg | heldout | af | 10 | 3 | 1/3 (33%) |" in table[2]
    assert table[2].endswith("| 7 | 1.5 min |")
    assert "| reg | heldout | qf |  |  | 1/1 (100%) |" in table[3]


def test_merge_writes_every_question_the_fit_check_decided_on_with_its_p_yes_and_verdict(tmp_path, monkeypatch):
    monkeypatch.setattr(questions, "DOCUMENTS", _jsonl(tmp_path / "documents.jsonl", [
        {"document": "reg", "path": "reg.pdf", "split": "heldout", "source": "org/repo:reg.pdf"}]))
    monkeypatch.setattr(questions, "KEPT", _jsonl(tmp_path / "kept.jsonl", []))
    monkeypatch.setattr(questions, "FIT_CHECK", _jsonl(tmp_path / "fit.jsonl", []))
    base = {"document": "reg", "generation": "af", "language": "en"}
    key = _jsonl(tmp_path / "key.jsonl", [
        {**base, "item": "i0", "question_id": "q0", "check_reply": "812 mm [the gold] | P(yes) 0.91", "doubt": ""},
        {**base, "item": "i1", "question_id": "q1", "check_reply": "x | P(yes) 0.40",
         "rejection": "fit check: the answer does not fit the question"},
        {**base, "item": "i2", "question_id": "q2", "check_reply": "y | P(yes) 0.70",  # kept to make up the minimum
         "doubt": "the fit check doubts that the gold answers this very question (P(yes) 0.70, below 0.85)"},
        {**base, "item": "i3", "question_id": "q3", "check_reply": "z [the gold]", "doubt": ""}])  # no fit check
    labels = _jsonl(tmp_path / "labels.jsonl", [
        {"item": f"i{n}", "question": "Q?", "gold": "G", "excerpt": "E", "question_sound": True, "gold_sound": True}
        for n in range(4)])
    assert questions.merge(labels, key, "helper") == 4
    kept = {r["question_id"] for r in map(json.loads, questions.KEPT.read_text().splitlines())}
    assert kept == {"q0", "q2", "q3"}  # the rejected one is no kept question
    fit = {r["question_id"]: (r["p_yes"], r["fit_passed"], r["kept"])
           for r in map(json.loads, questions.FIT_CHECK.read_text().splitlines())}
    assert fit == {"q0": (0.91, True, True), "q1": (0.40, False, False), "q2": (0.70, False, True)}
