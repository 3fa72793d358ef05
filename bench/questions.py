"""How sound are the kept questions? Generation runs on the labelled documents, blind labelling, the table.

    .venv/bin/python bench/questions.py run GENERATION WORK DOCUMENT [DOCUMENT ...] [--code DIR] [--record-only]
    .venv/bin/python bench/questions.py blind OUT.jsonl KEY.jsonl GENERATION=WORK [GENERATION=WORK ...] [--documents a,b] [--rejected 'fit check:']
    .venv/bin/python bench/questions.py merge LABELS.jsonl KEY.jsonl [--labeller NAME]
    .venv/bin/python bench/questions.py table [--documents a,b] [--work WORK_OR_RECORD_FILE ...]

``run`` generates the questions of each document (``labelled/documents/documents.jsonl`` names them, with their
split and source) with the code in ``--code`` (a checkout; this one by default) into the work folder ``WORK``
(``EVAL_WORK_DIR``), the generate stage only, and records what it made and how long it took in
``WORK/bench-questions.jsonl`` under the name ``GENERATION`` (which generation code made them: the labels keep
it). ``blind`` collects the kept questions of several generations' runs, shuffles them together and writes what a
labeller sees (document, excerpt, question, gold answer: never which generation made it) and, apart, the key
that maps each opaque item back. ``merge`` adds the labels (``question_sound``, ``gold_sound``, ``note``; the
policy of ``labelled/answers/README.md``) to ``labelled/kept_questions.jsonl``, each row with its document's
``split``, ``source`` and its ``generation``. With ``--rejected 'fit check:'``, ``blind`` adds the questions the fit
check turned down (measuring a check needs its rejections labelled too), and ``merge`` writes every question the
fit check decided on to ``labelled/fit_check.jsonl`` with its P(yes) and verdict. ``table`` prints, per document and generation: questions generated,
kept, unsound among the labelled kept ones, the model calls the kept questions rest on (generator, round trip,
gold check) and those calls' time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.io import append_jsonl, read_jsonl  # noqa: E402
from pipeline.questions.validate import FIT_DOUBT, FIT_REJECTION  # noqa: E402

DOCUMENTS = ROOT / "labelled" / "documents" / "documents.jsonl"
KEPT = ROOT / "labelled" / "kept_questions.jsonl"
FIT_CHECK = ROOT / "labelled" / "fit_check.jsonl"  # every question the fit check decided on, labelled blind
FIT_REPLY = re.compile(r"P\(yes\) ([01]\.\d+)\s*$")  # the fit check's reply, last of a question's check replies
RECORD = "bench-questions.jsonl"


def documents() -> dict[str, dict]:
    return {row["document"]: row for row in read_jsonl(DOCUMENTS)}


def run(generation: str, work: Path, names: list[str], code: Path = ROOT, profile: str = "default",
        record_only: bool = False) -> None:
    """The generate stage of each document, timed, recorded in ``work/bench-questions.jsonl`` (``record_only``:
    a run already made, by ``make report`` for instance, is recorded as it is; its time is the one
    ``generation.json`` gives)."""
    known = documents()
    env = {**os.environ, "EVAL_WORK_DIR": str(work)}
    python = str(code / ".venv" / "bin" / "python")
    for name in names:
        doc = ROOT / known[name]["path"]
        locate = work / f".{name}.mk"
        subprocess.run([python, "-m", "pipeline", "locate", "--profile", profile, "--doc", str(doc), "--out",
                        str(locate)], cwd=code, env=env, check=True)
        run_dir = next(line.split("=", 1)[1].strip() for line in locate.read_text().splitlines()
                       if line.startswith("RUN"))
        run_dir = (code / run_dir).resolve()
        started = time.time()
        if not record_only:
            subprocess.run([python, "-m", "pipeline", "generate", "--run-dir", str(run_dir), "--profile", profile],
                           cwd=code, env=env, check=True)
        stats = json.loads((run_dir / "generation.json").read_text())
        used = set(stats.get("calls_used", []))
        recorded = [r for name in ("yourbench/calls.jsonl", "validation/calls.jsonl") for r in read_jsonl(run_dir / name)]
        call_seconds = sum({r["key"]: r["seconds"] for r in recorded if r["key"] in used}.values())
        append_jsonl(work / RECORD, {"document": name, "generation": generation, "run_dir": str(run_dir),
                                     "call_seconds": round(call_seconds, 1),
                                     "seconds": round(time.time() - started, 1), "generated": stats["generated"],
                                     "kept": stats["usable"], "rejected_by_reason": stats["rejected_by_reason"],
                                     "calls": stats.get("fresh_calls", 0) + stats.get("reused_calls", 0),
                                     # every model call the kept questions rest on: generator, round trip, gold check
                                     "model_calls": len(used),
                                     "stage_seconds": stats.get("seconds")})


def _kept(run_dir: Path, rejected: str | None = None) -> list[dict]:
    """The run's kept questions; with ``rejected`` (a rejection's first words), the questions rejected so too."""
    import pandas as pd

    kept = pd.read_parquet(run_dir / "questions.parquet").to_dict("records")
    if not rejected:
        return kept
    others = pd.read_parquet(run_dir / "rejected.parquet")
    return kept + [row for row in others.to_dict("records") if str(row["rejection"]).startswith(rejected)]


def blind(out: Path, key: Path, sources: dict[str, Path], only: set[str] | None = None, seed: int = 32,
          rejected: str | None = None) -> int:
    """Every kept question of the recorded runs (and, with ``rejected``, those a check rejected with that reason:
    to measure the check), shuffled, without its generation or fate; the key maps items back."""
    items, keys = [], []
    for generation, work in sources.items():
        latest = {r["document"]: r for r in read_jsonl(work / RECORD) if r["generation"] == generation}
        for record in latest.values():  # a document generated again: its latest run
            if only and record["document"] not in only:
                continue
            for row in _kept(Path(record["run_dir"]), rejected):
                item = hashlib.sha256(f"{record['document']}|{generation}|{row['question_id']}".encode()).hexdigest()[:10]
                items.append({"item": item, "document": record["document"], "excerpt": row["chunk_text"],
                              "question": row["question"], "gold": row["gold"]})
                keys.append({"item": item, "document": record["document"], "generation": generation,
                             "question_id": row["question_id"], "language": row.get("language") or "en",
                             "kind": row.get("kind"), "question_category": row.get("question_category"),
                             "check_reply": row.get("gold_check") or "", "doubt": row.get("doubt") or "",
                             **({"rejection": row["rejection"]} if row.get("rejection") else {})})
    random.Random(seed).shuffle(items)
    out.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8")
    key.write_text("".join(json.dumps(k, ensure_ascii=False) + "\n" for k in keys), encoding="utf-8")
    return len(items)


def merge(labels: Path, key: Path, labeller: str) -> int:
    """The labels of kept questions into ``labelled/kept_questions.jsonl`` (a row already there for the same
    document, generation and question is left as it is); those of every question the fit check decided on, kept or
    not, into ``labelled/fit_check.jsonl`` with its P(yes) and whether it passed."""
    known = documents()
    keyed = {k["item"]: k for k in read_jsonl(key)}
    have = {path: {(r["document"], r["generation"], r["question_id"]) for r in read_jsonl(path)}
            for path in (KEPT, FIT_CHECK)}
    added = 0
    for label in read_jsonl(labels):
        k = keyed[label["item"]]
        fit = FIT_REPLY.search(k.get("check_reply") or "")
        rejected = bool(k.get("rejection"))
        targets = [path for path, on in ((KEPT, not rejected), (FIT_CHECK, fit is not None))
                   if on and (k["document"], k["generation"], k["question_id"]) not in have[path]]
        if not targets:
            continue
        doc = known[k["document"]]
        for path in targets:
            fate = {} if path == KEPT else {
                "p_yes": float(fit.group(1)), "kept": not rejected,
                # turned down by the fit check: rejected so, or kept only to make up the minimum
                "fit_passed": not (k.get("rejection", "").startswith(FIT_REJECTION)
                                   or k.get("doubt", "").startswith(FIT_DOUBT))}
            append_jsonl(path, {"id": f"{k['document']}:{k['generation']}:{k['question_id']}",
                                "document": k["document"], "split": doc["split"], "source": doc.get("source", ""),
                                "generation": k["generation"], "language": k["language"], "question_id": k["question_id"],
                                "question": label["question"], "gold": label["gold"], "excerpt": label["excerpt"],
                                "question_sound": bool(label["question_sound"]), "gold_sound": bool(label["gold_sound"]),
                                "note": label.get("note", ""), "labeller": labeller, "kind": k.get("kind"),
                                "question_category": k.get("question_category"), **fate})
        added += 1
    return added


def unsound(row: dict) -> bool:
    return not (row["question_sound"] and row["gold_sound"])


def table(only: set[str] | None = None, works: list[Path] = ()) -> str:
    """Per document and generation: the labelled kept questions and how many are unsound, with the runs' counts
    and times where a work folder's record has them."""
    from pipeline.measure.stats import wilson_interval

    # a work folder's record, or a record file (bench/results/questions-*.jsonl: the runs the README's table gives)
    runs = {(r["document"], r["generation"]): r for work in works
            for r in read_jsonl(work if work.is_file() else work / RECORD)}
    labelled: dict[tuple[str, str], list[dict]] = {}
    for row in read_jsonl(KEPT):
        if not only or row["document"] in only:
            labelled.setdefault((row["document"], row["generation"]), []).append(row)
    split = {name: doc["split"] for name, doc in documents().items()}
    lines = ["| document | split | generation | generated | kept | unsound (labelled) | 95% interval | model calls | "
             "model time |", "|---|---|---|---|---|---|---|---|---|"]
    pooled: dict[tuple[str, str], list[int]] = {}
    for (document, generation), rows in sorted(labelled.items(), key=lambda kv: (split.get(kv[0][0], ""), kv[0])):
        bad = sum(map(unsound, rows))
        low, high = wilson_interval(bad, len(rows))
        r = runs.get((document, generation), {})
        # the model calls the kept questions rest on, when each was made (a run resumed after a stop reuses calls)
        minutes = f"{r['call_seconds'] / 60:.1f} min" if r.get("call_seconds") else ""
        lines.append(f"| {document} | {split.get(document, '?')} | {generation} | {r.get('generated', '')} | "
                     f"{r.get('kept', '')} | {bad}/{len(rows)} ({bad / len(rows):.0%}) | {low:.0%}–{high:.0%} | "
                     f"{r.get('model_calls', r.get('calls', ''))} | {minutes} |")
        total = pooled.setdefault((split.get(document, "?"), generation), [0, 0])
        total[0] += bad
        total[1] += len(rows)
    for (part, generation), (bad, n) in sorted(pooled.items()):
        low, high = wilson_interval(bad, n)
        lines.append(f"| **all {part}** | {part} | {generation} | | | {bad}/{n} ({bad / n:.0%}) | {low:.0%}–{high:.0%} "
                     "| | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run")
    p.add_argument("generation")
    p.add_argument("work", type=Path)
    p.add_argument("documents", nargs="+")
    p.add_argument("--code", type=Path, default=ROOT)
    p.add_argument("--record-only", action="store_true", help="record runs already made; generate nothing")
    p = sub.add_parser("blind")
    p.add_argument("out", type=Path)
    p.add_argument("key", type=Path)
    p.add_argument("sources", nargs="+", help="GENERATION=WORK")
    p.add_argument("--documents", default="")
    p.add_argument("--rejected", default=None, help="also the questions rejected with this reason (its first words)")
    p = sub.add_parser("merge")
    p.add_argument("labels", type=Path)
    p.add_argument("key", type=Path)
    p.add_argument("--labeller", default="")
    p = sub.add_parser("table")
    p.add_argument("--documents", default="")
    p.add_argument("--work", type=Path, action="append", default=[])
    args = parser.parse_args(argv)
    only = set(filter(None, getattr(args, "documents", "").split(","))) if args.command != "run" else None
    if args.command == "run":
        run(args.generation, args.work.resolve(), args.documents, args.code.resolve(), record_only=args.record_only)
    elif args.command == "blind":
        sources = dict(source.split("=", 1) for source in args.sources)
        print(blind(args.out, args.key, {g: Path(w) for g, w in sources.items()}, only, rejected=args.rejected),
              "items")
    elif args.command == "merge":
        print(merge(args.labels, args.key, args.labeller), "labels added")
    else:
        print(table(only, args.work))
    return 0


if __name__ == "__main__":
    sys.exit(main())
