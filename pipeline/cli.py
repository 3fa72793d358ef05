"""``energy-eval``: the Makefile's commands as a console program.

``energy-eval report DOC [--profile P] [--candidates a,b]`` runs ``make report``
with the same arguments (``energy-eval review DOC [--n 40] [--export f.csv] [--import f.csv]``:
``make review``), so the Makefile stays the one table of contents and
Make keeps deciding what is already done. Paths are taken relative to where the
command is typed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _make(target: str, **variables: str | None) -> list[str]:
    args = ["make", "--no-print-directory", "-C", str(ROOT), target]
    return args + [f"{k}={v}" for k, v in variables.items() if v not in (None, "", False)]


def command(argv: list[str] | None = None) -> list[str]:
    """The ``make`` command line for ``energy-eval`` arguments."""
    parser = argparse.ArgumentParser(prog="energy-eval", description="Which model is accurate enough for my "
                                     "documents, and what does each one cost in energy?")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("report", help="questions, answers, grades, energy and the report for one document")
    p.add_argument("doc")
    p.add_argument("--profile", default=None)
    p.add_argument("--candidates", default=None, help="a subset of the profile's candidates: a,b")
    p = sub.add_parser("review", help="label a sample of answers blind (or --export / --import a CSV), then "
                       "the report again, anchored on the labels")
    p.add_argument("doc")
    p.add_argument("--profile", default=None)
    p.add_argument("--candidates", default=None, help="a subset of the profile's candidates: a,b")
    p.add_argument("--n", default=None, help="answers in the sample (default 40)")
    p.add_argument("--export", default=None, metavar="CSV", help="write the sample to label in a spreadsheet")
    p.add_argument("--import", dest="import_csv", default=None, metavar="CSV", help="read labels from a CSV")
    p.add_argument("--skip-refused", action="store_true", help="import the CSV's other rows when some are refused")
    p = sub.add_parser("where", help="the run folder and report folder of a document")
    p.add_argument("doc")
    p.add_argument("--profile", default=None)
    p = sub.add_parser("clean", help="remove one document's runs and report (asks first)")
    p.add_argument("doc")
    p.add_argument("--yes", action="store_true")
    p = sub.add_parser("push", help="upload a report as a Hugging Face dataset")
    p.add_argument("doc")
    p.add_argument("--repo", required=True)
    p.add_argument("--private", action="store_true")
    p.add_argument("--profile", default=None)
    for name, text in (("list", "every run and report, with its state"), ("compare", "every report side by side"),
                       ("calibrate", "the judge against the hand-labelled calibration set"),
                       ("bench", "serving, generation and energy benchmarks"), ("test", "the test suite")):
        p = sub.add_parser(name, help=text)
        if name in ("calibrate", "bench"):
            p.add_argument("--profile", default=None)
    args = parser.parse_args(argv)
    doc = str(Path(args.doc).resolve()) if getattr(args, "doc", None) else None
    csv = {name: str(Path(getattr(args, attr)).resolve()) if getattr(args, attr, None) else None
           for name, attr in (("EXPORT", "export"), ("IMPORT", "import_csv"))}
    return _make(args.command, DOC=doc, PROFILE=getattr(args, "profile", None), N=getattr(args, "n", None), **csv,
                 CANDIDATES=getattr(args, "candidates", None), REPO=getattr(args, "repo", None),
                 PRIVATE="1" if getattr(args, "private", False) else None,
                 YES="1" if getattr(args, "yes", False) else None,
                 SKIP_REFUSED="1" if getattr(args, "skip_refused", False) else None)


def main(argv: list[str] | None = None) -> int:
    return subprocess.call(command(argv), env=os.environ)


if __name__ == "__main__":
    sys.exit(main())
