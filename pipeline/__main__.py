"""Command line for the Makefile: ``python -m pipeline <stage> ...``.

Errors the user can fix are printed as one line (``error: ...``) with exit
code 2; set ``VERBOSE=1`` to get the traceback too.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path

from pipeline.errors import UserError

ROOT = Path(__file__).resolve().parent.parent


def _keys(cfg) -> dict[str, str]:
    """What each stage's output depends on; the Makefile compares these files' times."""
    from pipeline.answer import answers_fingerprint
    from pipeline.config import fingerprint
    from pipeline.judge import passes

    keys = {"generate": fingerprint(cfg.generator,
                                    cfg.questions.model_dump(exclude={"candidate_context", "min_usable"}))}
    for candidate in cfg.candidates:
        keys[f"answer-{candidate.name}"] = answers_fingerprint(cfg, candidate)
    names = [c.name for c in cfg.candidates]
    keys["judge"] = fingerprint(*[p.key for p in passes(cfg)], names)
    keys["report"] = fingerprint(cfg.profile, [c.model_dump(mode="json") for c in cfg.candidates], cfg.energy,
                                 cfg.report)
    return keys


def _write_if_changed(path: Path, text: str) -> None:
    """Leave the file (and its time) alone when the content is the same: Make then reruns nothing."""
    from pipeline.io import atomic_write_text

    if not path.exists() or path.read_text() != text:
        atomic_write_text(path, text)


def locate(args) -> None:
    """Check DOC, stage it into its run folder, write stage keys and the Make variables."""
    from pipeline import config, document

    cfg = config.load(args.profile)
    doc = Path(args.doc)
    document.check(doc)
    run_dir = ROOT / "runs" / cfg.profile / document.content_hash(doc)
    source = document.stage_source(doc, run_dir)
    for name, value in _keys(cfg).items():
        _write_if_changed(run_dir / "keys" / f"{name}.key", value + "\n")
    report = document.slug(doc) + ("" if cfg.profile == "default" else f"-{cfg.profile}")
    lines = {
        "RUN": run_dir.relative_to(ROOT),
        "SOURCE": source.relative_to(ROOT),
        "REPORT_DIR": Path("reports") / report,
        "CANDIDATES": " ".join(c.name for c in cfg.candidates),
        "EMBEDDED": " ".join(f"models/{m}/model.gguf" for m in cfg.embedded_models()),
        # Changes whenever a key file or the run folder is (re)created, so that Make re-reads
        # its makefiles: it caches directory listings and would miss files made after its start.
        "KEYS_STAMP": (run_dir / "keys").stat().st_mtime_ns,
    }
    _write_if_changed(Path(args.out), "".join(f"{k} := {v}\n" for k, v in lines.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pipeline", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("locate", help="check a document and print where its work goes")
    p.add_argument("--doc", required=True)
    p.add_argument("--out", required=True)
    p = sub.add_parser("models", help="materialise embedded models")
    p.add_argument("keys", nargs="*")
    p = sub.add_parser("push", help="upload a report's Hub dataset folder")
    p.add_argument("--report-dir", required=True, type=Path)
    p.add_argument("--repo", default="")
    p.add_argument("--private", action="store_true")
    p = sub.add_parser("compare", help="cross-document view of every finished report")
    p.add_argument("--reports", default=ROOT / "reports", type=Path)
    p.add_argument("--out", default=ROOT / "reports" / "_compare", type=Path)
    for name in ("generate", "answer", "judge", "report"):
        p = sub.add_parser(name)
        p.add_argument("--run-dir", required=True, type=Path)
        if name == "answer":
            p.add_argument("--candidate", required=True)
        if name == "report":
            p.add_argument("--report-dir", required=True, type=Path)
            p.add_argument("--document", required=True)
    for p in sub.choices.values():
        p.add_argument("--profile", default=os.environ.get("PROFILE", "default"))
    args = parser.parse_args(argv)

    from pipeline.io import use_tool_env

    use_tool_env()  # before LiteLLM / huggingface_hub are imported
    try:
        if args.command == "locate":
            locate(args)
            return 0
        if args.command == "models":
            from pipeline import models

            models.run(args.keys or list(models.EMBEDDED_MODELS))
            return 0
        if args.command == "push":
            from pipeline import hub

            if not args.repo:
                raise UserError("say where to push: make push DOC=<file> REPO=<org/name> [PRIVATE=1]")
            if not (args.report_dir / "hub" / "README.md").is_file():
                raise UserError(f"no finished report in {args.report_dir}; run make report first")
            print(f"pushed: {hub.push(args.report_dir / 'hub', args.repo, private=args.private)}")
            return 0
        if args.command == "compare":
            from pipeline import compare

            print(f"compare: {compare.run(args.reports, args.out)}")
            return 0
        from pipeline import config

        cfg = config.load(args.profile)
        questions = args.run_dir / "questions.parquet"
        if args.command == "generate":
            from pipeline import generate

            source = next(args.run_dir.glob("document.*"))
            generate.run(source, args.run_dir, cfg)
        elif args.command == "answer":
            from pipeline import answer

            answer.run(questions, args.run_dir, cfg, args.candidate)
        elif args.command == "judge":
            from pipeline import judge

            judge.run(questions, args.run_dir, cfg)
        elif args.command == "report":
            from pipeline import report

            report.run(args.run_dir, args.report_dir, cfg, Path(args.document).name)
    except UserError as exc:
        if os.environ.get("VERBOSE"):
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished questions are kept; rerun the same command to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
