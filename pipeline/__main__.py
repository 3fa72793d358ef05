"""Command line for the Makefile: ``python -m pipeline <stage> ...``.

Errors the user can fix are printed as one line (``error: ...``) with exit
code 2; set ``VERBOSE=1`` to get the traceback too. Every stage records its
state in its run folder (``status.jsonl``), which ``make list`` reads.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import traceback
from pathlib import Path

from pipeline.errors import UserError

STAGES = ("generate", "answer", "judge", "report")


def _keys(cfg) -> dict[str, str]:
    """What each stage's output depends on (each stage module says); the Makefile compares these files' times."""
    from pipeline.answers.answer import answers_fingerprint
    from pipeline.questions.generate import generate_key
    from pipeline.report.report import report_key
    from pipeline.verdicts.judge import judge_key

    keys = {"generate": generate_key(cfg)}
    for candidate in cfg.candidates:
        keys[f"answer-{candidate.name}"] = answers_fingerprint(cfg, candidate)
    keys["judge"] = judge_key(cfg)
    keys["report"] = report_key(cfg)
    return keys


def _write_if_changed(path: Path, text: str) -> None:
    """Leave the file (and its time) alone when the content is the same: Make then reruns nothing."""
    from pipeline.io import atomic_write_text

    if not path.exists() or path.read_text() != text:
        atomic_write_text(path, text)


def _config(args):
    """The profile, narrowed to ``--candidates a,b`` and asking for ``--questions n`` when given."""
    from pipeline import config

    cfg = config.load(args.profile)
    cfg = cfg.only(args.candidates) if getattr(args, "candidates", "") else cfg
    return cfg.with_target(args.questions) if getattr(args, "questions", None) else cfg


def locate(args) -> None:
    """Check DOC, stage it into its run folder, write stage keys and the Make variables."""
    from pipeline import runs
    from pipeline.questions import document

    cfg = _config(args)
    doc = Path(args.doc)
    document.check(doc)
    run_dir = runs.run_dir(cfg.profile, doc)
    source = document.stage_source(doc, run_dir)
    for name, value in _keys(cfg).items():
        _write_if_changed(run_dir / "keys" / f"{name}.key", value + "\n")
    report = runs.report_dir(cfg.profile, doc)
    runs.record_source(run_dir, doc, report)
    from pipeline.verdicts import real_answers
    from pipeline.verdicts.grading import judge_fingerprint

    judge_key = judge_fingerprint(cfg.judge)
    lines = {
        "RUN": runs.shown(run_dir),
        "SOURCE": runs.shown(source),
        "REPORT_DIR": runs.shown(report),
        "MODELS": " ".join(c.name for c in cfg.candidates),
        "EMBEDDED": " ".join(f"models/{m}/model.gguf" for m in cfg.embedded_models()),
        # the judge's measurement on the labelled real answers (shipped, and made here by make calibrate or the
        # judge stage): the report's corrections and held-out rates come from it, so the report depends on it
        "MEASUREMENT": " ".join(runs.shown(p) for p in (real_answers.shipped_path(judge_key),
                                                         real_answers.local_path(runs.RUNS, judge_key))),
        # Changes whenever a key file or the run folder is (re)created, so that Make re-reads
        # its makefiles: it caches directory listings and would miss files made after its start.
        "KEYS_STAMP": (run_dir / "keys").stat().st_mtime_ns,
    }
    _write_if_changed(Path(args.out), "".join(f"{k} := {v}\n" for k, v in lines.items()))


def where(args) -> None:
    """Print where a document's work and report are (``make where DOC=...``)."""
    from pipeline import config, runs
    from pipeline.questions import document

    cfg = config.load(args.profile)
    doc = Path(args.doc)
    document.check(doc)
    run_dir, report = runs.run_dir(cfg.profile, doc), runs.report_dir(cfg.profile, doc)
    print(f"run folder:    {runs.shown(run_dir)}{'' if run_dir.exists() else ' (not made yet)'}")
    print(f"report folder: {runs.shown(report)}{'' if report.exists() else ' (not made yet)'}")


def clean(args) -> None:
    """Remove one document's run and report folders after a confirmation (``make clean DOC=...``)."""
    from pipeline import runs

    if not args.doc:
        raise UserError("say which document: make clean DOC=<file> (nothing removed; no command removes every run)")
    doc = Path(args.doc)
    found = runs.matching(doc)
    if not found:
        print(f"clean: nothing to remove for {doc.name}")
        return
    listed = "\n".join(f"  {runs.shown(p)}" for p in found)
    if not args.yes:
        print(f"clean: remove these {len(found)} folders of {doc.name}?\n{listed}\n[y/N] ", end="", flush=True)
        if sys.stdin.readline().strip().lower() not in {"y", "yes"}:
            print("clean: nothing removed")
            return
    runs.remove(found)
    print(f"clean: removed\n{listed}")


def calibrate(args) -> None:
    """The judge on the labelled real answers (held-out rates per label and per model, what the report uses; the
    shipped measurement compared with this machine's), on the hand-written calibration set (a unit check), and
    each validation check against the hand-labelled sets in ``labelled/`` (``make calibrate``)."""
    from pipeline import config, runs
    from pipeline.questions import validate, validation_rates
    from pipeline.verdicts import calibration

    cfg = config.load(args.profile)
    from pipeline.verdicts import real_answers

    measured = real_answers.measure(cfg, runs.RUNS)
    print(real_answers.report(measured["records"], measured["provenance"], cfg.judge))
    rates = calibration.calibrate(cfg, runs.RUNS)
    print(f"calibrate: a unit check — {cfg.judge.name} on judge_prompts/calibration.jsonl, written by hand "
          f"({rates['positives']} correct and {rates['negatives']} wrong answers; not used by the report)")
    print(calibration.table(rates))
    checks = validation_rates.rule_rates(cfg.questions.duplicate_similarity, validate.minilm_embedder())
    if cfg.questions.check_gold:
        gold = validation_rates.calibrate_gold_check(cfg, runs.RUNS)
        if gold is not None:
            checks[validation_rates.GOLD_CHECK_REASON] = gold
    print(f"calibrate: question validation on the hand-labelled sets in labelled/ (gold-answer check: "
          f"{cfg.judge.name} with judge_prompts/gold_check.txt; duplicates: all-MiniLM-L6-v2, cosine >= "
          f"{cfg.questions.duplicate_similarity:g})")
    print(validation_rates.rates_table(checks))


def _terminal() -> bool:
    """Whether stdin and stdout are both a terminal (the review app needs one)."""
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def review(args) -> None:
    """People check the verdicts: label a sample of answers blind in a terminal app, or export it to a CSV to
    fill in a spreadsheet and import that back (``make review DOC=... [N=40] [EXPORT=f.csv] [IMPORT=f.csv]``)."""
    if not (args.export or args.import_csv or _terminal()):
        raise UserError("review shows the answers one at a time in a terminal, and there is none here (stdin and "
                        "stdout must be a TTY); label in a spreadsheet instead: make review DOC=<file> "
                        "EXPORT=review.csv, fill its label column (1 correct, 0 wrong), then make review "
                        "DOC=<file> IMPORT=review.csv")
    from pipeline import runs
    from pipeline.review import labels

    cfg = _config(args)
    if args.import_csv:
        found = labels.import_csv(args.run_dir, cfg, args.import_csv, go_on=args.skip_refused)
        print(f"review: {args.import_csv}: {found.text()}")
    if args.export:
        written = labels.export_csv(args.run_dir, cfg, args.n, args.export)
        print(f"review: {written} answers to label written to {args.export}, blind (row ids; which question and "
              f"model each is stays in {labels.rows_path(args.run_dir)}); fill its label column (1 correct, 0 wrong; "
              "gold_wrong or unclear 1 where the gold answer is wrong or the question unclear), then "
              f"make review DOC=<file> IMPORT={args.export}")
    if args.export or args.import_csv:
        return
    from pipeline.review.app import ReviewApp

    if os.environ.get("MAKELEVEL"):
        hint = "Press q: make review then re-makes the report with your labels."
    else:
        docs = [s.get("path") for s in runs.sources(args.run_dir).values()]
        profile = "" if cfg.profile == "default" else f" PROFILE={cfg.profile}"
        hint = (f"Press q, then see the updated report: make report DOC={docs[0] if docs else '<file>'}{profile}")
    app = ReviewApp(args.run_dir, cfg, args.n, done_hint=hint + f" A larger sample: N={2 * args.n}.")
    app.run()
    print(f"review: {app.review.progress()}; labels in {runs.shown(labels.labels_path(args.run_dir))}")


def _stage(args) -> None:
    """Run one stage on a run folder, recording its state there."""
    from pipeline import runs

    cfg = _config(args)
    questions = args.run_dir / "questions.parquet"
    runs.mark(args.run_dir, args.command, "running")
    try:
        if args.command == "generate":
            from pipeline.questions import generate

            generate.run(next(args.run_dir.glob("document.*")), args.run_dir, cfg)
        elif args.command == "answer":
            from pipeline.answers import answer

            answer.run(questions, args.run_dir, cfg, args.candidate,
                       tuple(filter(None, args.also_out_of_date.split(","))))
        elif args.command == "judge":
            from pipeline.verdicts import judge

            judge.run(questions, args.run_dir, cfg)
        else:
            from pipeline.report import report

            report.run(args.run_dir, args.report_dir, cfg, Path(args.document).name)
    except KeyboardInterrupt:
        runs.mark(args.run_dir, args.command, "interrupted", "stopped before the end")
        raise
    except BaseException as exc:
        runs.mark(args.run_dir, args.command, "failed", str(exc) if isinstance(exc, UserError)
                  else f"{type(exc).__name__}: {exc}")
        raise
    runs.mark(args.run_dir, args.command, "done")


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"QUESTIONS must be a whole number of questions, 1 or more (got '{text}')")
    return int(text)


def _sample_size(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"N must be a whole number of answers to label, 1 or more (got '{text}')")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pipeline", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("locate", help="check a document and print where its work goes")
    p.add_argument("--doc", required=True)
    p.add_argument("--out", required=True)
    p = sub.add_parser("where", help="the run folder and report folder of a document")
    p.add_argument("--doc", required=True)
    sub.add_parser("list", help="every run and report, with its state")
    p = sub.add_parser("clean", help="remove one document's runs and report")
    p.add_argument("--doc", default="")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p = sub.add_parser("models", help="materialise embedded models")
    p.add_argument("keys", nargs="*")
    p = sub.add_parser("push", help="upload a report's Hub dataset folder")
    p.add_argument("--report-dir", required=True, type=Path)
    p.add_argument("--repo", default="")
    p.add_argument("--private", action="store_true")
    sub.add_parser("calibrate", help="the judge's sensitivity, specificity and kappa on the calibration set, and "
                   "each validation check's error rates on the labelled sets")
    p = sub.add_parser("compare", help="cross-document view of every finished report")
    p.add_argument("--reports", type=Path, help="default: the reports folder (runs.REPORTS)")
    p.add_argument("--out", type=Path, help="default: <reports>/_compare")
    p = sub.add_parser("review", help="label a sample of answers blind, so that the report anchors accuracy on "
                       "people's labels")
    p.add_argument("--run-dir", required=True, type=Path)
    p.add_argument("--n", type=_sample_size, default=40, help="answers in the sample (default 40)")
    p.add_argument("--export", type=Path, default=None, metavar="CSV", help="write the sample to label in a "
                   "spreadsheet instead")
    p.add_argument("--import", dest="import_csv", type=Path, default=None, metavar="CSV",
                   help="read labels from a CSV (row or question_id and candidate, label [, gold_wrong, unclear])")
    p.add_argument("--skip-refused", action="store_true",
                   help="with --import: write the rows that are fine when others are refused (else nothing is)")
    for name in STAGES:
        p = sub.add_parser(name)
        p.add_argument("--run-dir", required=True, type=Path)
        if name == "answer":
            p.add_argument("--candidate", required=True)
            p.add_argument("--also-out-of-date", default="", metavar="A,B",
                           help="then these candidates too, where their answers are missing or out of date")
        if name == "report":
            p.add_argument("--report-dir", required=True, type=Path)
            p.add_argument("--document", required=True)
    for name in ("locate", "judge", "report", "review"):
        sub.choices[name].add_argument("--candidates", default="", help="a subset of the profile's candidates: a,b")
    for name in ("locate", "where", "push", "review", *STAGES):  # the commands the Makefile runs for one document
        sub.choices[name].add_argument("--questions", type=_positive, default=None, metavar="N",
                                       help="questions wanted for this document, instead of the profile's target")
    for p in sub.choices.values():
        p.add_argument("--profile", default=os.environ.get("PROFILE", "default"))
    args = parser.parse_args(argv)
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        # A background job of a script (`cmd &`) starts with SIGINT ignored; Python then has no
        # KeyboardInterrupt at all. The server watcher stops a run with SIGINT (serving._Server.watch),
        # and servers are stopped with it too: both would do nothing, so a dying server would be
        # retried forever and each stop would wait for its kill timeout.
        signal.signal(signal.SIGINT, signal.default_int_handler)

    from pipeline.io import use_tool_env

    use_tool_env()  # before LiteLLM / huggingface_hub are imported
    try:
        if args.command in STAGES:
            _stage(args)
        elif args.command == "list":
            from pipeline import runs
            from pipeline.review.labels import label_count

            rows = runs.listing()
            for row in rows:
                try:
                    row["labels"] = str(label_count(runs.ROOT / row["run"]))
                except Exception:  # noqa: BLE001 - an unreadable run folder still gets its line
                    row["labels"] = "?"
            print(runs.listing_text(rows))
        elif args.command == "models":
            from pipeline.serving import models

            models.run(args.keys or list(models.EMBEDDED_MODELS))
        elif args.command == "push":
            from pipeline.report import hub

            if not args.repo:
                raise UserError("say where to push: make push DOC=<file> REPO=<org/name> [PRIVATE=1]")
            if not (args.report_dir / "hub" / "README.md").is_file():
                raise UserError(f"no finished report in {args.report_dir}; run make report first")
            print(f"pushed: {hub.push(args.report_dir / 'hub', args.repo, private=args.private)}")
        elif args.command == "compare":
            from pipeline import runs
            from pipeline.report import compare

            args.reports = args.reports or runs.REPORTS
            args.out = args.out or args.reports / "_compare"

            print(f"compare: {compare.run(args.reports, args.out)}")
        else:
            {"locate": locate, "where": where, "clean": clean, "calibrate": calibrate,
             "review": review}[args.command](args)
    except UserError as exc:
        if os.environ.get("VERBOSE"):
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished work is kept; rerun the same command to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
