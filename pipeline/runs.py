"""Where each document's work lives, what state it is in, and how to remove it.

A run folder is ``runs/<profile>/<content hash>/`` (the same file under another
name reuses it); its report folder is ``reports/<slug>`` (``<slug>-<profile>``
for profiles other than the default). Each run folder keeps:

* ``sources.json``: the file names it was made from and their report folders;
* ``status.jsonl``: one line per stage start and end (``running``, ``done``,
  ``failed`` with the error, ``interrupted``), written by ``python -m pipeline``.

``listing()`` reads these into one row per run (``make list``, which adds each run's number of labels,
``labels.jsonl``: :mod:`pipeline.review.labels`); ``matching()``
finds the folders that belong to one document (``make clean DOC=...``).
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

from pipeline.io import append_jsonl, atomic_write_json, read_jsonl
from pipeline.questions.document import content_hash, slug

ROOT = Path(__file__).resolve().parent.parent
# EVAL_WORK_DIR moves runs/ and reports/ elsewhere: the tests keep theirs out of the user's folders.
WORK = Path(os.environ.get("EVAL_WORK_DIR") or ROOT)
RUNS = WORK / "runs"
REPORTS = WORK / "reports"
STAGE_OUTPUTS = {"generate": "questions.parquet", "judge": "judgements.parquet"}


def shown(path: Path) -> str:
    """``path`` as the Makefile and messages give it: relative to the checkout (``..`` where it lies outside)."""
    return os.path.relpath(path, ROOT)


def run_dir(profile: str, doc: Path) -> Path:
    return RUNS / profile / content_hash(doc)


def report_dir(profile: str, doc: Path) -> Path:
    return REPORTS / (slug(doc) + ("" if profile == "default" else f"-{profile}"))


def record_source(run: Path, doc: Path, report: Path) -> None:
    """Remember that ``doc`` (by name) was evaluated in ``run`` and reported in ``report``."""
    path = run / "sources.json"
    try:
        sources = json.loads(path.read_text())
    except (OSError, ValueError):
        sources = {}
    entry = {"path": str(doc.resolve()), "report_dir": shown(report) if report.is_absolute() else str(report)}
    if sources.get(doc.name, {}).get("path") != entry["path"] or sources.get(doc.name, {}).get("report_dir") != \
            entry["report_dir"]:
        sources[doc.name] = entry
        atomic_write_json(path, sources)


def mark(run: Path, stage: str, state: str, error: str = "") -> None:
    """Append a stage's state to ``status.jsonl`` (running, done, failed, interrupted)."""
    append_jsonl(run / "status.jsonl", {"time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                        "stage": stage, "state": state, "pid": os.getpid(),
                                        **({"error": error} if error else {})})


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except (OSError, TypeError, OverflowError):
        return False


def state(run: Path) -> tuple[str, str]:
    """(state, detail) of a run: done, partial, failed, running or interrupted."""
    events = read_jsonl(run / "status.jsonl")
    last = events[-1] if events else {}
    if last.get("state") == "running":
        return ("running", last["stage"]) if _alive(last.get("pid")) else ("interrupted", last["stage"])
    if last.get("state") in ("failed", "interrupted"):
        return last["state"], f"{last['stage']}: {last.get('error', '')}".rstrip(": ")
    sources = _sources(run)
    reports = [ROOT / s["report_dir"] for s in sources.values()]
    judged = run / STAGE_OUTPUTS["judge"]
    if judged.exists() and any((r / "results.csv").exists() and (r / "results.csv").stat().st_mtime >=
                               judged.stat().st_mtime for r in reports):
        return "done", ""
    missing = [stage for stage, name in STAGE_OUTPUTS.items() if not (run / name).exists()]
    return "partial", f"no {missing[0]} output yet" if missing else "report not written yet"


def more_questions_command(document: str, profile: str):
    """``n -> the command`` that sets this document's question target to n (every question, answer and
    verdict made is reused; only the new ones are made)."""
    import shlex

    shown_profile = "" if profile == "default" else f" PROFILE={profile}"
    return lambda n: f"make report DOC={shlex.quote(document)}{shown_profile} QUESTIONS={n}"


def document_given(run: Path, fallback: str) -> str:
    """The document of ``run`` as ``make report DOC=...`` takes it: its path relative to the checkout (the latest
    one recorded in ``sources.json``; ``fallback`` when none is)."""
    latest = next(reversed(_sources(run).values()), None)
    return shown(Path(latest["path"])) if latest else fallback


def sources(run: Path) -> dict:
    """What ``run`` was made from: per file name, its path and report folder (``sources.json``)."""
    return _sources(run)


def _sources(run: Path) -> dict:
    try:
        return json.loads((run / "sources.json").read_text())
    except (OSError, ValueError):
        return {}


def listing() -> list[dict]:
    """One row per run folder: state, document names, profile, last activity, run and report folders."""
    rows = []
    for run in sorted(RUNS.glob("*/*")):
        if not run.is_dir() or not any(run.glob("document.*")):
            continue
        status, detail = state(run)
        sources = _sources(run)
        times = [e["time"] for e in read_jsonl(run / "status.jsonl")]
        when = times[-1] if times else datetime.fromtimestamp(run.stat().st_mtime, timezone.utc).isoformat(
            timespec="seconds")
        rows.append({"state": status, "detail": detail, "document": ", ".join(sorted(sources)) or "?",
                     "profile": run.parent.name, "date": when[:16].replace("T", " "),
                     "run": shown(run),
                     "report": ", ".join(sorted({s["report_dir"] for s in sources.values()})) or "-"})
    return rows


def listing_text(rows: list[dict]) -> str:
    if not rows:
        return "no runs yet (make report DOC=<file> starts one)"
    # "labels": the run's current labels of its answers (make review), when the caller counted them.
    columns = ["state", "document", "profile", "date", *(["labels"] if all("labels" in r for r in rows) else []),
               "run", "report"]
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    for r in rows:
        lines.append("  ".join(r[c].ljust(widths[c]) for c in columns))
        if r["detail"] and r["state"] != "done":
            lines.append(f"  {'':{widths['state']}}{r['detail']}")
    return "\n".join(lines)


def matching(doc: Path) -> list[Path]:
    """Every run and report folder of ``doc``: by content when the file exists, and by its name."""
    found: list[Path] = []
    hashes = {content_hash(doc)} if doc.is_file() else set()
    for run in RUNS.glob("*/*"):
        if run.name in hashes or doc.name in _sources(run):
            found.append(run)
            found += [ROOT / s["report_dir"] for name, s in _sources(run).items() if name == doc.name]
    return sorted({p for p in found if p.exists()})


def remove(paths: list[Path]) -> None:
    for path in paths:
        shutil.rmtree(path)
