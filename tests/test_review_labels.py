"""People's labels (make review): the sample to label, the store, the CSV round trip, make list, the page."""

import html
import io
import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipeline import config, runs
from pipeline.__main__ import main
from pipeline.errors import UserError
from pipeline.review import labels

CANDIDATES = ["alpha-model", "beta-model", "gamma-model"]
QUESTIONS = {
    "q-one": ("How many pumps does the plant run?", "12 pumps",
              "The plant runs 12   pumps around the clock.\nIt was built in 1,998 by the city."),
    "q-two": ("What was the 2023 budget?", "4.5 million euros",
              "In 2023 the budget was 4,5 million euros, up from 4 million."),
    "q-three": ("Who audits the accounts?", "The regional court",
                "Accounts are audited by the Regional Court every year."),
}
RULE_GRADED = ("q-two", "beta-model")  # a non-answer: wrong by rule, never shown
JUDGE_OUTPUT = "JUDGE-SAYS-VERDICT"


def prediction(qid: str, i: int) -> str:
    """A distinct answer text per question and candidate that names no model."""
    return f"Reply {list(QUESTIONS).index(qid)}{i} about it"


def write_answers(run: Path, candidate: str, texts: dict[str, str]) -> None:
    pd.DataFrame({"question_id": list(texts), "candidate": candidate, "prediction": list(texts.values())}) \
        .to_parquet(run / "answers" / f"{candidate}.parquet", index=False)


def write_questions(run: Path, questions: dict) -> None:
    pd.DataFrame([{"question_id": q, "question": t, "gold": g, "chunk_text": c, "kind": "single", "language": "en"}
                  for q, (t, g, c) in questions.items()]).to_parquet(run / "questions.parquet", index=False)


def make_run(tmp_path: Path, name: str = "3f2a9c1e0d4b") -> tuple[Path, config.Config, Path]:
    """A run folder with 3 questions x 3 candidates answered and graded, one answer wrong by rule; and a profile
    (written to a file, for the command line) whose candidates are those three."""
    run = tmp_path / "runs" / "default" / name
    (run / "answers").mkdir(parents=True)
    (run / "document.md").write_text("doc")
    write_questions(run, QUESTIONS)
    rows = []
    for i, candidate in enumerate(CANDIDATES):
        write_answers(run, candidate, {q: prediction(q, i) for q in QUESTIONS})
        for q in QUESTIONS:
            rule = (q, candidate) == RULE_GRADED
            rows.append({"question_id": q, "candidate": candidate, "verdict": 0 if rule else (i + len(q)) % 2,
                         "status": "judged", "judge": "rule" if rule else "the-judge",
                         "graded_by": "rule" if rule else "judge", "rule": "empty" if rule else "",
                         "raw_judge_output": "wrong by rule: empty" if rule else JUDGE_OUTPUT})
    pd.DataFrame(rows).to_parquet(run / "judgements.parquet", index=False)
    raw = config.load("default").model_dump(mode="json")
    for candidate, name_ in zip(raw["candidates"], CANDIDATES):
        candidate["name"] = name_
    raw["profile"] = "review-test"
    profile = tmp_path / "review-test.yaml"
    profile.write_text(yaml.safe_dump(raw))
    return run, config.load(profile), profile


@pytest.fixture
def run(tmp_path):
    return make_run(tmp_path)


def keys(frame: pd.DataFrame) -> list[tuple]:
    return list(zip(frame["question_id"], frame["candidate"]))


# --- the sample ---------------------------------------------------------------------------------------------

def test_the_sample_is_the_first_k_questions_with_every_judge_graded_answer(run):
    run_dir, cfg, _ = run
    order = labels.question_order(run_dir, cfg, QUESTIONS)
    assert sorted(order) == sorted(QUESTIONS)
    for n, k in ((1, 1), (3, 1), (4, 2), (6, 2), (9, 3), (100, 3)):  # k = ceil(n / 3 candidates)
        found = labels.sample(run_dir, cfg, n)
        assert list(dict.fromkeys(found["question_id"])) == order[:k], n
        expected = {(q, c) for q in order[:k] for c in CANDIDATES} - {RULE_GRADED}
        assert set(keys(found)) == expected and len(found) == len(expected)
        assert RULE_GRADED not in keys(found)  # known wrong: never shown
    smaller, larger = labels.sample(run_dir, cfg, 3), labels.sample(run_dir, cfg, 6)
    assert keys(larger)[:len(smaller)] == keys(smaller)  # a larger N extends the sample


def test_the_sample_is_stratified_by_model(run):
    run_dir, cfg, _ = run
    found = labels.sample(run_dir, cfg, 9)
    counts = found["candidate"].value_counts().to_dict()
    assert counts == {"alpha-model": 3, "gamma-model": 3, "beta-model": 2}  # equal, but for beta's non-answer
    for n in (3, 6):  # the first 1 or 2 questions
        found = labels.sample(run_dir, cfg, n)
        questions = set(found["question_id"])
        counts = found["candidate"].value_counts().to_dict()
        assert counts == {c: len(questions) - ((RULE_GRADED[0], c) == RULE_GRADED and RULE_GRADED[0] in questions)
                          for c in CANDIDATES if len(questions) > 1 or (RULE_GRADED[0], c) != RULE_GRADED
                          or RULE_GRADED[0] not in questions}


def test_the_sample_is_seeded_stable_and_blind_to_the_profile_order(run, tmp_path):
    run_dir, cfg, _ = run
    first, again = labels.sample(run_dir, cfg, 9), labels.sample(run_dir, cfg, 9)
    pd.testing.assert_frame_equal(first, again)
    orders = [list(g["candidate"]) for _, g in first.groupby("question_id", sort=False)]
    assert any(o != [c for c in CANDIDATES if c in o] for o in orders)  # shuffled within a question
    # another seed, or another document (run folder), gives another order
    other_seed = cfg.model_copy(update={"questions": cfg.questions.model_copy(update={"seed": 7})})
    other_run = make_run(tmp_path / "other", name="99aa00bb11cc")[0]
    drawn = {tuple(keys(labels.sample(r, c, 9))) for r, c in ((run_dir, cfg), (run_dir, other_seed),
                                                              (other_run, cfg))}
    assert len(drawn) > 1
    assert "candidate" in first and "verdict" not in first and "raw_judge_output" not in first


def test_continuation_starts_at_the_first_item_neither_labelled_nor_skipped(run):
    run_dir, cfg, _ = run
    items = labels.sample(run_dir, cfg, 9).to_dict("records")
    assert keys(labels.next_items(run_dir, cfg, 9)) == keys(pd.DataFrame(items))
    labels.append_label(run_dir, items[0], "correct")
    labels.append_label(run_dir, items[1], "skip")
    labels.append_label(run_dir, items[3], "unclear")
    rest = labels.next_items(run_dir, cfg, 9)
    assert keys(rest) == [keys(pd.DataFrame(items))[i] for i in range(len(items)) if i not in (0, 1, 3)]
    found = labels.sample(run_dir, cfg, 9)
    assert list(found["done"][:4]) == [True, True, False, True]
    assert list(found["labelled"][:4]) == [True, False, False, True]
    assert len(labels.current_labels(run_dir)) == 2  # a skip is not a label
    assert len(labels.current_labels(run_dir, include_skips=True)) == 3


def test_a_sample_without_verdicts_says_to_make_the_report_first(tmp_path):
    run_dir, cfg, _ = make_run(tmp_path)
    (run_dir / "judgements.parquet").unlink()
    with pytest.raises(UserError, match="make report"):
        labels.sample(run_dir, cfg, 9)


# --- the store ----------------------------------------------------------------------------------------------

def test_labels_are_appended_per_answer_and_the_latest_wins(run):
    run_dir, cfg, _ = run
    item = labels.sample(run_dir, cfg, 9).iloc[0].to_dict()
    labels.append_label(run_dir, item, "correct")
    labels.append_label(run_dir, item, "wrong")
    lines = labels.labels_path(run_dir).read_text().splitlines()
    assert len(lines) == 2
    record = json.loads(lines[-1])
    assert set(record) == {"question_id", "candidate", "question_hash", "answer_hash", "label", "source",
                           "labelled_at"}
    assert record["source"] == "review" and record["labelled_at"].endswith("+00:00")
    from pipeline.verdicts.judge import answer_hash, question_hash

    assert record["answer_hash"] == answer_hash(item["prediction"])
    assert record["question_hash"] == question_hash(item["question"], item["gold"], item["chunk_text"])
    current = labels.current_labels(run_dir)
    assert list(current.columns) == ["question_id", "candidate", "label", "label_value", "source", "labelled_at"]
    assert current.to_dict("records")[0] | {"labelled_at": ""} == {
        "question_id": item["question_id"], "candidate": item["candidate"], "label": "wrong", "label_value": 0.0,
        "source": "review", "labelled_at": ""}
    with pytest.raises(ValueError):
        labels.append_label(run_dir, item, "maybe")


def test_a_changed_answer_or_gold_answer_leaves_its_old_label_out(run):
    run_dir, cfg, _ = run
    by_key = {(i["question_id"], i["candidate"]): i for i in labels.sample(run_dir, cfg, 9).to_dict("records")}
    labels.append_label(run_dir, by_key[("q-one", "alpha-model")], "correct")
    labels.append_label(run_dir, by_key[("q-three", "gamma-model")], "wrong")
    labels.append_label(run_dir, by_key[("q-three", "alpha-model")], "gold_wrong")
    assert len(labels.current_labels(run_dir)) == 3 and labels.stale_labels(run_dir) == 0
    # alpha answers q-one again, in other words
    write_answers(run_dir, "alpha-model", {q: ("Twelve." if q == "q-one" else prediction(q, 0)) for q in QUESTIONS})
    current = labels.current_labels(run_dir)
    assert ("q-one", "alpha-model") not in keys(current) and len(current) == 2
    assert current.attrs["stale"] == 1 and labels.stale_labels(run_dir) == 1
    # q-three regenerated with the same words but another gold answer
    write_questions(run_dir, {**QUESTIONS, "q-three": (QUESTIONS["q-three"][0], "The court",
                                                       QUESTIONS["q-three"][2])})
    assert len(labels.current_labels(run_dir)) == 0 and labels.stale_labels(run_dir) == 3
    assert labels.label_count(run_dir) == 0
    # a new label of the new text is current again
    new = next(i for i in labels.sample(run_dir, cfg, 9).to_dict("records")
               if (i["question_id"], i["candidate"]) == ("q-one", "alpha-model"))
    labels.append_label(run_dir, new, "correct")
    assert keys(labels.current_labels(run_dir)) == [("q-one", "alpha-model")] and labels.stale_labels(run_dir) == 2


def test_a_torn_last_line_from_a_kill_is_ignored(run):
    run_dir, cfg, _ = run
    item = labels.sample(run_dir, cfg, 9).iloc[0].to_dict()
    labels.append_label(run_dir, item, "correct")
    with labels.labels_path(run_dir).open("a") as fh:
        fh.write('{"question_id": "q-one", "cand')
    assert keys(labels.current_labels(run_dir)) == [(item["question_id"], item["candidate"])]


def test_the_answers_frame_for_what_labels_bought(run):
    run_dir, cfg, _ = run
    item = labels.sample(run_dir, cfg, 9).iloc[0].to_dict()
    labels.append_label(run_dir, item, "wrong")
    found = labels.labelled_answers(run_dir)
    assert len(found) == 9 and {"question_id", "candidate", "verdict", "graded_by", "label_value"} <= set(found)
    assert found["label_value"].notna().sum() == 1
    assert found.set_index(["question_id", "candidate"]).loc[(item["question_id"], item["candidate"]),
                                                             "label_value"] == 0.0


# --- CSV ----------------------------------------------------------------------------------------------------

def test_csv_round_trip(run, tmp_path):
    run_dir, cfg, _ = run
    path = tmp_path / "review.csv"
    assert labels.export_csv(run_dir, cfg, 9, path) == 8
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # a spreadsheet reads it as UTF-8
    sheet = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert list(sheet.columns) == ["row", "question", "gold", "excerpt", "answer", "label", "gold_wrong", "unclear"]
    # issue 33, 4: blind means blind — no model name, no question id in the sheet; the rows' order is the sample's
    text = path.read_text(encoding="utf-8-sig")
    assert not any(name in text for name in CANDIDATES) and "q-one" not in text
    assert (sheet[["label", "gold_wrong", "unclear"]] == "").all().all()
    rows = labels.row_ids(run_dir)  # kept in the run folder, not in the sheet
    sheet["question_id"], sheet["candidate"] = zip(*(rows[r] for r in sheet["row"]))
    filled = ["1", "0", "correct", "no", "TRUE", "", "1", "0"]
    sheet["label"] = filled
    sheet.loc[6, "gold_wrong"] = "x"  # wins over its label
    sheet.loc[7, "unclear"] = "1"
    sheet.loc[3, "answer"] = "  " + sheet.loc[3, "answer"].replace(" ", "\n") + " "  # re-wrapped: the same
    sheet.drop(columns=["question_id", "candidate"]).to_csv(path, index=False)
    summary = labels.import_csv(run_dir, cfg, path)
    assert (summary.imported, summary.empty, summary.refused) == (7, 1, [])
    expected = dict(zip(keys(sheet), ["correct", "wrong", "correct", "wrong", "correct", None, "gold_wrong",
                                      "unclear"]))
    current = labels.current_labels(run_dir)
    assert dict(zip(keys(current), current["label"])) == {k: v for k, v in expected.items() if v}
    assert set(current["source"]) == {"import"}
    assert dict(zip(keys(current), current["label_value"].fillna(-1))) == {
        k: {"correct": 1.0, "wrong": 0.0}.get(v, -1) for k, v in expected.items() if v}
    assert labels.export_csv(run_dir, cfg, 9, tmp_path / "again.csv") == 8  # the same rows keep their ids
    assert pd.read_csv(tmp_path / "again.csv", dtype=str, encoding="utf-8-sig")["row"].tolist() == sheet["row"].tolist()
    again = labels.import_csv(run_dir, cfg, path)  # nothing new: nothing written
    assert (again.imported, again.unchanged) == (0, 7)
    assert len(labels.labels_path(run_dir).read_text().splitlines()) == 7


def _exported(run_dir, cfg, path) -> pd.DataFrame:
    """The blind export of the sample of 9, with each row's question and candidate looked up (for the test)."""
    labels.export_csv(run_dir, cfg, 9, path)
    sheet = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    rows = labels.row_ids(run_dir)
    return sheet.assign(question_id=[rows[r][0] for r in sheet["row"]], candidate=[rows[r][1] for r in sheet["row"]])


def test_rows_that_no_longer_match_the_run_are_refused_and_named(run, tmp_path):
    run_dir, cfg, _ = run
    path = tmp_path / "review.csv"
    sheet = _exported(run_dir, cfg, path)
    sheet["label"] = "1"
    changed = sheet.iloc[2]
    sheet.loc[2, "answer"] = "Something else entirely"
    sheet.loc[len(sheet)] = {**sheet.iloc[0].to_dict(), "row": "r-00000000"}
    sheet.loc[len(sheet)] = {**sheet.iloc[1].to_dict(), "label": "maybe"}
    sheet.drop(columns=["question_id", "candidate"]).to_csv(path, index=False, sep=";")  # a ";" locale
    with pytest.raises(UserError, match="nothing imported: refused 3 rows") as refused:
        labels.import_csv(run_dir, cfg, path)  # issue 33, 5: no silent partial import
    assert not labels.labels_path(run_dir).exists()
    text = str(refused.value)
    assert f"row {changed['row']}: its answer differs" in text and "row r-00000000: no export of this run" in text
    assert "label 'maybe' is not" in text
    assert not any(name in text for name in CANDIDATES)  # a blind export's rows are named by their ids
    summary = labels.import_csv(run_dir, cfg, path, go_on=True)
    assert summary.imported == 7 and len(summary.refused) == 3
    assert (changed["question_id"], changed["candidate"]) not in keys(labels.current_labels(run_dir))
    # a person's own file (question_id, candidate) is named by those
    (tmp_path / "own.csv").write_text("question_id,candidate,label\nq-gone,alpha-model,1\n")
    with pytest.raises(UserError, match="question_id q-gone, candidate alpha-model: the run has no such graded"):
        labels.import_csv(run_dir, cfg, tmp_path / "own.csv")


@pytest.mark.parametrize("cell, expected", [
    ("x", "gold_wrong"), ("X", "gold_wrong"), ("1", "gold_wrong"), ("oui", "gold_wrong"), ("vrai", "gold_wrong"),
    ("yes", "gold_wrong"), ("", "correct"), ("0", "correct"), ("non", "correct"), ("faux", "correct"),
    ("no", "correct"), ("false", "correct"), ("non?", None), ("x?", None), ("maybe", None), ("2", None)])
def test_flags_are_read_strictly(run, tmp_path, cell, expected):
    """Issue 33, 5: gold_wrong / unclear counted any value not in a list of false ones as true ("non" was "gold is
    wrong"). Now 1/0, yes/no, true/false, x/empty and their French forms are read, and anything else refuses the
    row (and the import, unless told to go on)."""
    run_dir, cfg, _ = run
    path = tmp_path / "flags.csv"
    path.write_text(f"question_id,candidate,label,gold_wrong\nq-one,alpha-model,1,{cell}\n")
    if expected is None:
        with pytest.raises(UserError, match=re.escape(f"gold_wrong '{cell}' is not 1/0, yes/no, true/false, x or")):
            labels.import_csv(run_dir, cfg, path)
        assert labels.label_count(run_dir) == 0
    else:
        assert labels.import_csv(run_dir, cfg, path).imported == 1
        assert labels.current_labels(run_dir)["label"].tolist() == [expected]


def test_a_refused_import_stops_make_review_before_the_report(run, tmp_path, monkeypatch, capsys):
    """The command exits non-zero (make then stops: the report is not rebuilt) unless told to go on."""
    run_dir, _, profile = run
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    (tmp_path / "bad.csv").write_text("question_id,candidate,label,unclear\nq-one,alpha-model,1,peut-être\n"
                                      "q-three,alpha-model,0,\n")
    argv = ["review", "--run-dir", str(run_dir), "--profile", str(profile), "--import", str(tmp_path / "bad.csv")]
    assert main(argv) == 2 and "nothing imported" in capsys.readouterr().err
    assert labels.label_count(run_dir) == 0
    assert main([*argv, "--skip-refused"]) == 0 and labels.label_count(run_dir) == 1
    from pipeline import cli

    assert cli.command(["review", "doc.pdf", "--import", "in.csv", "--skip-refused"])[-1] == "SKIP_REFUSED=1"
    make = (Path(__file__).resolve().parent.parent / "Makefile").read_text()
    assert "$(QSKIP)" in make and "QSKIP = $(if $(SKIP_REFUSED),--skip-refused)" in make


def test_a_persons_own_labels_of_the_whole_run_import(run, tmp_path):
    run_dir, cfg, _ = run
    path = tmp_path / "mine.csv"
    path.write_text("question_id,candidate,label,gold_wrong\n"
                    "q-one,alpha-model,1,\n"
                    "q-two,beta-model,0,\n"  # the non-answer: graded by rule, may be labelled too
                    "q-three,gamma-model,yes,\n"
                    "q-three,beta-model,false,\n"
                    "q-two,alpha-model,,1\n"
                    "q-two,gamma-model,,\n")
    summary = labels.import_csv(run_dir, cfg, path)
    assert (summary.imported, summary.empty, summary.refused) == (5, 1, [])
    current = labels.current_labels(run_dir)
    assert dict(zip(keys(current), current["label"])) == {
        ("q-one", "alpha-model"): "correct", ("q-two", "beta-model"): "wrong", ("q-three", "gamma-model"): "correct",
        ("q-three", "beta-model"): "wrong", ("q-two", "alpha-model"): "gold_wrong"}
    (tmp_path / "bad.csv").write_text("id,verdict\nq-one,1\n")
    with pytest.raises(UserError, match="needs the columns row .an export.s. or question_id and candidate, and label"):
        labels.import_csv(run_dir, cfg, tmp_path / "bad.csv")


def test_an_id_of_digits_a_spreadsheet_took_for_a_number_still_imports(run, tmp_path):
    run_dir, cfg, _ = run
    for path in [run_dir / "questions.parquet", run_dir / "judgements.parquet", *(run_dir / "answers").glob("*")]:
        pd.read_parquet(path).replace({"question_id": {"q-one": "012345678901"}}).to_parquet(path, index=False)
    (tmp_path / "sheet.csv").write_text("question_id,candidate,label\n12345678901,alpha-model,1\n")
    assert labels.import_csv(run_dir, cfg, tmp_path / "sheet.csv").imported == 1
    assert keys(labels.current_labels(run_dir)) == [("012345678901", "alpha-model")]


# --- the command line, make list, the page ------------------------------------------------------------------

def test_review_without_a_terminal_says_to_export_or_import(run, monkeypatch, capsys):
    run_dir, _, profile = run
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["review", "--run-dir", str(run_dir), "--profile", str(profile)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: review shows the answers one at a time in a terminal") and "\n" not in err[:-1]
    assert "EXPORT=review.csv" in err and "IMPORT=review.csv" in err
    assert not labels.labels_path(run_dir).exists()


def test_review_exports_and_imports_from_the_command_line(run, tmp_path, monkeypatch, capsys):
    run_dir, _, profile = run
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    sheet = tmp_path / "review.csv"
    assert main(["review", "--run-dir", str(run_dir), "--profile", str(profile), "--n", "3",
                 "--export", str(sheet)]) == 0
    filled = pd.read_csv(sheet, dtype=str, keep_default_na=False, encoding="utf-8-sig").assign(label="0")
    assert f"review: {len(filled)} answers to label written to {sheet}" in capsys.readouterr().out
    assert len(filled) in (2, 3)  # the first question's answers: 2 where it holds the non-answer
    filled.to_csv(sheet, index=False)
    assert main(["review", "--run-dir", str(run_dir), "--profile", str(profile), "--import", str(sheet)]) == 0
    assert f"imported {len(filled)} labels" in capsys.readouterr().out
    assert labels.label_count(run_dir) == len(filled)


def test_energy_eval_review_calls_make_review(tmp_path, monkeypatch):
    from pipeline import cli

    monkeypatch.chdir(tmp_path)
    found = cli.command(["review", "doc.pdf", "--n", "12", "--export", "sheet.csv", "--profile", "paper"])
    assert found[4:] == ["review", f"DOC={tmp_path / 'doc.pdf'}", "PROFILE=paper", "N=12",
                         f"EXPORT={tmp_path / 'sheet.csv'}"]
    assert cli.command(["review", "doc.pdf", "--import", "in.csv"])[-1] == f"IMPORT={tmp_path / 'in.csv'}"


def test_make_list_shows_each_runs_labels(run, monkeypatch, capsys):
    run_dir, cfg, _ = run
    root = run_dir.parent.parent.parent
    for name, value in (("ROOT", root), ("RUNS", root / "runs"), ("REPORTS", root / "reports")):
        monkeypatch.setattr(runs, name, value)
    for item in labels.sample(run_dir, cfg, 9).head(3).to_dict("records"):
        labels.append_label(run_dir, item, "correct")
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["state", "document", "profile", "date", "labels", "run", "report"]
    assert lines[1].split()[5] == "3"  # the date is two words
    assert "labels" not in runs.listing_text(runs.listing()).splitlines()[0]  # without counts: as before


def test_the_page_shows_the_persons_label_beside_the_verdict_and_filters_disagreements():
    from pipeline.report.html_report import SCRIPT, explorer

    details = pd.DataFrame({"question_id": ["q1", "q1", "q1", "q2"], "candidate": ["a", "b", "c", "a"],
                            "verdict": [1.0, 0.0, 1.0, 0.0], "question": ["Q1?"] * 3 + ["Q2?"],
                            "gold": ["g1"] * 3 + ["g2"], "prediction": ["p1", "p2", "p3", "p4"],
                            "label": ["wrong", "wrong", None, "gold_wrong"]})
    page = explorer(details, set())
    assert 'name="disagree"' in page and "<th>Person's label</th>" in page
    assert page.count('data-disagree="1"') == 1 and page.count('data-disagree="0"') == 3
    assert '<td class="label label-wrong">wrong</td>' in page and "gold is wrong" in page and "not labelled" in page
    plain = explorer(details.drop(columns="label"), set())
    assert "disagree" not in plain and "Person's label" not in plain
    assert 'querySelector("[name=disagree]")' in SCRIPT  # the filter is optional in the script


def test_the_disagreements_filter_in_a_browser(tmp_path):
    """The page's own script: ticking "disagreements only" keeps the rows whose label contradicts the verdict."""
    from test_html_report import _chromium

    from pipeline.report.html_report import explorer, render

    details = pd.DataFrame({"question_id": ["q1", "q1", "q2", "q2", "q3"], "candidate": ["a", "b", "a", "b", "a"],
                            "verdict": [1.0, 0.0, 0.0, 1.0, 1.0], "question": ["Q1?", "Q1?", "Q2?", "Q2?", "Q3?"],
                            "gold": "g", "prediction": "p", "label": ["wrong", "wrong", "correct", None, "correct"]})
    page = render(tmp_path / "report.html", "Labels", ["a line"], [], [], explorer_html=explorer(details, set()))
    probe = """<script>
    function visible() {
      return Array.prototype.filter.call(document.querySelectorAll("tr[data-model]"), function (r) {
        return !r.classList.contains("hidden") && !r.closest("article").classList.contains("hidden");
      }).map(function (r) { return r.closest("article").querySelector("h3").textContent + r.dataset.model; });
    }
    var out = {before: visible()}, box = document.querySelector("#explorer-filters [name=disagree]");
    box.checked = true;
    box.dispatchEvent(new Event("change", {bubbles: true}));
    out.after = visible();
    out.count = document.getElementById("explorer-count").textContent;
    var pre = document.createElement("pre");
    pre.id = "probe-result";
    pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
    </script>"""
    page.write_text(page.read_text(encoding="utf-8").replace("</body>", probe + "</body>"), encoding="utf-8")
    dom, _ = _chromium(["--dump-dom", page.as_uri()], tmp_path, "disagree")
    found = json.loads(html.unescape(re.search(r'<pre id="probe-result">(.*?)</pre>', dom, re.DOTALL).group(1)))
    assert len(found["before"]) == 5
    assert found["after"] == ["Q1?a", "Q2?a"] and found["count"] == "2 questions shown"


# --- the random sample the estimate uses (issue 33, 3) --------------------------------------------------------------

def _shown(run_dir, cfg, q):
    """The judge-graded answers of question ``q`` in the order the review shows them."""
    found = labels.sample(run_dir, cfg, 9)
    return found[found["question_id"] == q].to_dict("records")


def test_only_the_seeded_samples_labels_are_used(run, tmp_path):
    """Hand-picked rows (a CSV may label any graded answer), skipped answers and a question added later broke the
    random sample silently; the estimate now uses the done beginning of the seeded order, the rest is counted
    apart."""
    run_dir, cfg, _ = run
    first, second, third = labels.question_order(run_dir, cfg, QUESTIONS)
    assert labels.sampled_questions(run_dir, cfg) == []
    for item in _shown(run_dir, cfg, first):
        labels.append_label(run_dir, item, "correct")
    assert labels.sampled_questions(run_dir, cfg) == [first]
    # a row labelled by hand on the third question: kept, counted apart, not in the sample
    hand = _shown(run_dir, cfg, third)[-1]
    (tmp_path / "hand.csv").write_text(f"question_id,candidate,label\n{third},{hand['candidate']},0\n")
    summary = labels.import_csv(run_dir, cfg, tmp_path / "hand.csv")
    assert summary.imported == 1 and summary.outside == 1 and "outside the seeded random sample" in summary.text()
    assert labels.sampled_questions(run_dir, cfg) == [first]
    # the review goes on: the second question's first shown answer labelled, the next skipped
    shown = _shown(run_dir, cfg, second)
    labels.append_label(run_dir, shown[0], "wrong")
    assert labels.sampled_questions(run_dir, cfg) == [first, second]
    for item in shown[1:]:
        labels.append_label(run_dir, item, "skip")
    # the third question: only the hand-picked answer is labelled, not the first one the review shows there
    assert labels.sampled_questions(run_dir, cfg) == [first, second]
    answers = labels.labelled_answers(run_dir, cfg)
    assert set(answers.loc[answers["sampled"], "question_id"]) == {first, second}


def test_a_question_added_before_labelled_ones_takes_them_out_of_the_sample(run):
    """QUESTIONS=n: a new question takes its own place in the seeded order; labels after it are outside the sample
    until it is labelled (make review shows it first)."""
    run_dir, cfg, _ = run
    order = labels.question_order(run_dir, cfg, QUESTIONS)
    for q in order:
        for item in _shown(run_dir, cfg, q):
            labels.append_label(run_dir, item, "correct")
    assert labels.sampled_questions(run_dir, cfg) == order
    added = next(f"q-new-{i}" for i in range(1000)
                 if labels.question_order(run_dir, cfg, [*QUESTIONS, f"q-new-{i}"]).index(f"q-new-{i}") == 1)
    write_questions(run_dir, {**QUESTIONS, added: ("What is new?", "New", "New text.")})
    for i, candidate in enumerate(CANDIDATES):
        path = run_dir / "answers" / f"{candidate}.parquet"
        pd.concat([pd.read_parquet(path), pd.DataFrame({"question_id": [added], "candidate": [candidate],
                                                        "prediction": [f"New reply {i}"]})]).to_parquet(path)
    judgements = pd.read_parquet(run_dir / "judgements.parquet")
    new = judgements[judgements["question_id"] == "q-one"].assign(question_id=added, graded_by="judge", rule="")
    pd.concat([judgements, new]).to_parquet(run_dir / "judgements.parquet", index=False)
    assert labels.sampled_questions(run_dir, cfg) == [order[0]]
    assert labels.next_items(run_dir, cfg, 9)["question_id"].iloc[0] == added
