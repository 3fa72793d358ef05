"""The `make` entry points: bad input gives one clear line; a profile is chosen by one variable."""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def make_report(doc: str, **env):
    return subprocess.run(["make", "--no-print-directory", "report", f"DOC={doc}"], cwd=ROOT,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("name, content, expected", [
    ("does-not-exist.pdf", None, "no such file"),
    ("noise.pdf", bytes(range(256)) * 64, "not a readable PDF"),
    ("slides.pptx", b"PK\x03\x04", "unsupported file type"),
    ("empty.md", b"", "empty"),
])
def test_bad_document(tmp_path, name, content, expected):
    doc = tmp_path / name
    if content is not None:
        doc.write_bytes(content)
    done = make_report(str(doc))
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and expected in errors[0] and name in errors[0]
    assert "Traceback" not in done.stderr


def test_invalid_profile_names_it():
    done = make_report("samples/sample-report.pdf", PROFILE="no-such-profile")
    assert done.returncode != 0
    assert "no profile 'no-such-profile'" in done.stderr


def test_paper_profile_is_selected_by_one_variable():
    """A dry run shows the whole study plan for PROFILE=paper: 9 candidates, QwQ-32B judge."""
    done = subprocess.run(["make", "--no-print-directory", "-n", "report", "PROFILE=paper"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    commands = [line for line in done.stdout.splitlines() if "-m pipeline" in line]
    assert all("--profile paper" in line for line in commands)
    assert sum(" answer " in line for line in commands) == 9
    assert any(" generate " in line for line in commands) and any(" judge " in line for line in commands)
    assert any("reports/sample-report-paper" in line for line in commands)


def test_file_names_with_spaces_quotes_and_accents(tmp_path):
    """The plan for such a file is made (dry run) and the report keeps the real name."""
    doc = tmp_path / "L'été \"final\" report (v2).md"
    doc.write_text("# Réservoir\n\nLe réservoir contient 40 millions de mètres cubes.\n", encoding="utf-8")
    fixtures = Path(__file__).parent / "fixtures" / "configs"
    done = subprocess.run(["make", "--no-print-directory", "-n", "report", f"DOC={doc}", "PROFILE=e2e-test"],
                          cwd=ROOT, env={**os.environ, "EVAL_CONFIG_DIR": str(fixtures)},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report_line = next(line for line in done.stdout.splitlines() if " report " in line)
    assert "reports/l-ete-final-report-v2-e2e-test" in report_line  # accents transliterated
    assert "--document '" in report_line and "final" in report_line


def test_a_run_started_with_sigint_ignored_can_still_be_stopped(tmp_path):
    """`cmd &` in a script starts the pipeline with SIGINT ignored; the server watcher needs it back."""
    import signal
    import sys

    script = ("import signal, sys\nfrom pipeline.__main__ import main\n"
              f"main(['where', '--doc', {str(tmp_path / 'missing.pdf')!r}])\n"
              "print('handler', signal.getsignal(signal.SIGINT) is signal.default_int_handler)\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert "handler True" in done.stdout, done.stderr


def test_questions_must_be_a_count():
    done = make_report("samples/sample-report.pdf", QUESTIONS="many")
    assert done.returncode != 0 and "QUESTIONS must be a whole number of questions" in done.stderr
