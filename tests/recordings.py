"""Recorded model replies for the end-to-end tests: generation replayed where it is not what a test checks.

Question generation is the slowest stage (about a minute per generator call on 2
cores). Most end-to-end tests check what happens *after* it (answers, verdicts,
energy, the report), so they start from generator replies recorded earlier by the
real generator with the same code: the pipeline's own call record
(:mod:`pipeline.questions.call_cache`) answers a request it has on record, and YourBench's
stages, validation and everything downstream still run for real. A recording
made with other prompts or settings simply misses (calls are keyed by their exact
request), the calls are then made for real, and the test says so in a warning.

Generation itself is tested for real by the raised target of ``test_e2e_long.py``
(a French document: its fresh questions must be French). The gold-answer
check's measurement on its labelled set (made once per judge configuration, by
whichever run comes first) has a recording of its own, ``gold-check-set``,
installed in every run folder.

Refresh the recordings after changing a generation prompt or setting (it copies
the call records of the last end-to-end run)::

    .venv/bin/python -m pytest tests/test_e2e.py tests/test_e2e_long.py
    .venv/bin/python tests/recordings.py save
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

from pipeline.io import read_jsonl

RECORDED = Path(__file__).parent / "fixtures" / "recorded"
# Where a run keeps its call records: the generator's, and the judge model's gold-answer checks.
GOLD_CHECKS = "gold-checks.jsonl"
RECORDS = {"generator.jsonl": Path("yourbench") / "calls.jsonl", GOLD_CHECKS: Path("validation") / "calls.jsonl"}


GOLD_CHECK_SET = "gold-check-set"  # the calls of kind "gold_check_set" (pipeline/questions/generate.py)


def install(name: str, run_dir: Path) -> int:
    """Add recording ``name`` (and the gold-check set's) to a fresh run folder; the number of calls on record."""
    count = 0
    for recording in dict.fromkeys((name, GOLD_CHECK_SET)):
        for recorded, path in RECORDS.items():
            source = RECORDED / recording / recorded
            if source.is_file():
                (run_dir / path).parent.mkdir(parents=True, exist_ok=True)
                with (run_dir / path).open("a", encoding="utf-8") as out:
                    out.write(source.read_text(encoding="utf-8"))
                count += len(read_jsonl(source))
    return count


def warn_if_stale(name: str, stdout: str) -> None:
    """A replayed run that still made generator calls: the recording is out of date (slower, still valid)."""
    import re

    made = re.search(r"generate: (\d+) generator calls made, \d+ reused[^;]*; (\d+) judge-model checks made", stdout)
    if made and (int(made.group(1)) or int(made.group(2))):
        warnings.warn(f"recording '{name}' is out of date: {made.group(1)} generator calls and {made.group(2)} "
                      "judge-model checks were made for real; refresh it (tests/recordings.py)", stacklevel=2)


def _write(name: str, recorded: str, rows: list[dict]) -> None:
    import json

    path = RECORDED / name / recorded
    path.parent.mkdir(parents=True, exist_ok=True)
    unique = {r["key"]: r for r in rows}
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in unique.values()), encoding="utf-8")
    print(f"{path}: {len(unique)} calls")


def save(runs: dict[str, Path], others: tuple[Path, ...] = ()) -> None:
    """Each recording from its run folder; the gold-check set's calls from whichever run made them (``others``
    too: runs that are not replayed but may have been first)."""
    kind = GOLD_CHECK_SET.replace("-", "_")
    shared = [r for run_dir in others for r in read_jsonl(run_dir / RECORDS[GOLD_CHECKS]) if r.get("kind") == kind]
    for name, run_dir in runs.items():
        for recorded, path in RECORDS.items():
            rows = read_jsonl(run_dir / path)
            shared += [r for r in rows if r.get("kind") == kind]
            _write(name, recorded, [r for r in rows if r.get("kind") != kind])
    _write(GOLD_CHECK_SET, GOLD_CHECKS, shared)


if __name__ == "__main__":
    if sys.argv[1:2] != ["save"]:
        sys.exit(__doc__)
    sys.path.insert(0, str(Path(__file__).parent))
    import conftest  # noqa: F401  (the tests' work folder, where their runs are)
    from test_e2e import RECORDING as TINY
    from test_e2e import RECORDING_B as FRENCH
    from test_e2e import RUN_DIR, RUN_DIR_B
    from test_e2e_long import RECORDING as LONG
    from test_e2e_long import last_run_dir

    save({TINY: RUN_DIR, FRENCH: RUN_DIR_B, LONG: last_run_dir()})
