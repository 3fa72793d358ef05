"""Runs on disk: make list, make where, make clean (one document only, after a confirmation)."""

import io
import subprocess
from pathlib import Path

import pytest

from pipeline import runs
from pipeline.__main__ import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """A project folder with two documents' runs: one finished, one that failed while answering."""
    for name, value in (("ROOT", tmp_path), ("RUNS", tmp_path / "runs"), ("REPORTS", tmp_path / "reports")):
        monkeypatch.setattr(runs, name, value)
    docs = {}
    for name, text in (("water report.md", "Lake levels fell."), ("energy.md", "Solar output rose.")):
        doc = tmp_path / name
        doc.write_text(text)
        run, report = runs.run_dir("default", doc), runs.report_dir("default", doc)
        run.mkdir(parents=True)
        (run / "document.md").write_text(text)
        runs.record_source(run, doc, report)
        docs[name] = (doc, run, report)
    doc, run, report = docs["water report.md"]
    for stage in ("generate", "judge"):
        runs.mark(run, stage, "running")
        (run / runs.STAGE_OUTPUTS[stage]).write_text("x")
        runs.mark(run, stage, "done")
    report.mkdir(parents=True)
    (report / "results.csv").write_text("model\n")
    doc, run, report = docs["energy.md"]
    runs.mark(run, "answer", "running")
    runs.mark(run, "answer", "failed", "server for 'x' exited with code 1 while starting; see log")
    return docs


def test_list_shows_each_run_with_its_state_document_and_folders(tree):
    rows = {r["document"]: r for r in runs.listing()}
    assert rows["water report.md"]["state"] == "done"
    assert rows["water report.md"]["report"] == "reports/water-report"
    assert rows["energy.md"]["state"] == "failed" and "answer: server for 'x' exited" in rows["energy.md"]["detail"]
    text = runs.listing_text(runs.listing())
    assert text.splitlines()[0].split() == ["state", "document", "profile", "date", "run", "report"]
    assert "failed" in text and "done" in text


def test_a_run_whose_process_is_gone_is_interrupted(tree):
    import json

    _, run, _ = tree["water report.md"]
    gone = subprocess.Popen(["true"])
    gone.wait()
    with (run / "status.jsonl").open("a") as fh:
        fh.write(json.dumps({"time": "2026-11-26T12:00:00+00:00", "stage": "report", "state": "running",
                             "pid": gone.pid}) + "\n")
    assert runs.state(run) == ("interrupted", "report")
    runs.mark(run, "report", "running")  # this process is alive
    assert runs.state(run) == ("running", "report")


def test_clean_removes_only_that_document_after_confirmation(tree, monkeypatch, capsys):
    doc, run, report = tree["water report.md"]
    other_run = tree["energy.md"][1]
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    assert main(["clean", "--doc", str(doc)]) == 0
    assert run.exists() and "nothing removed" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    assert main(["clean", "--doc", str(doc)]) == 0
    out = capsys.readouterr().out
    assert "remove these 2 folders of water report.md?" in out
    assert not run.exists() and not report.exists() and other_run.exists()


def test_clean_finds_a_deleted_document_by_name(tree, capsys):
    doc, run, report = tree["energy.md"]
    doc.unlink()
    assert main(["clean", "--doc", str(doc), "--yes"]) == 0
    assert not run.exists() and tree["water report.md"][1].exists()


def test_make_clean_refuses_without_doc():
    done = subprocess.run(["make", "--no-print-directory", "clean"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode != 0
    assert "say which document: make clean DOC=<file> (nothing removed" in done.stderr


def test_candidates_subset_and_unknown_names():
    from pipeline import config
    from pipeline.errors import UserError

    cfg = config.load("default")
    subset = cfg.only("Qwen2.5-Coder-0.5B-Instruct, SmolLM2-135M-Instruct")
    assert [c.name for c in subset.candidates] == ["SmolLM2-135M-Instruct", "Qwen2.5-Coder-0.5B-Instruct"]
    with pytest.raises(UserError, match="no candidate named phi-9 in profile 'default'"):
        cfg.only("phi-9")


def test_energy_eval_calls_the_makefile_with_the_same_arguments(tmp_path):
    from pipeline.cli import command

    doc = tmp_path / "r.pdf"
    found = command(["report", str(doc), "--profile", "paper", "--candidates", "phi-4,Qwen3-32B"])
    assert found[:5] == ["make", "--no-print-directory", "-C", str(ROOT), "report"]
    assert found[5:] == [f"DOC={doc}", "PROFILE=paper", "CANDIDATES=phi-4,Qwen3-32B"]
    assert command(["clean", str(doc), "--yes"])[-1] == "YES=1"


def test_the_commands_a_run_prints_take_the_document_where_the_user_gave_it(tmp_path, monkeypatch):
    """Issue 33, point 14: `DOC=/path/to/x.pdf` was printed back as `DOC=x.pdf`, which make cannot find."""
    monkeypatch.setattr(runs, "ROOT", tmp_path / "checkout")
    run = tmp_path / "run"
    run.mkdir()
    assert runs.document_given(run, "x.pdf") == "x.pdf"  # nothing recorded: the name
    doc = tmp_path / "reports in" / "x.pdf"
    doc.parent.mkdir()
    doc.write_bytes(b"%PDF-")
    runs.record_source(run, doc, tmp_path / "checkout" / "reports" / "x")
    given = runs.document_given(run, "x.pdf")
    assert given == "../reports in/x.pdf"
    assert runs.more_questions_command(given, "default")(30) == "make report DOC='../reports in/x.pdf' QUESTIONS=30"
