"""Recorded model replies for the end-to-end tests: generation replayed where it is not what a test checks.

Question generation is the slowest stage (about a minute per generator call on 2
cores). Most end-to-end tests check what happens *after* it (answers, verdicts,
energy, the report), so they start from generator replies recorded earlier by the
real generator with the same code: the pipeline's own call record
(:mod:`pipeline.call_cache`) answers a request it has on record, and YourBench's
stages, validation and everything downstream still run for real. A recording
made with other prompts or settings simply misses (calls are keyed by their exact
request), the calls are then made for real, and the test says so in a warning.

Generation itself is tested for real elsewhere: the French document of
``test_e2e.py`` and the raised target of ``test_e2e_long.py``.

Refresh the recordings after changing a generation prompt or setting (it copies
the call records of the last end-to-end run)::

    .venv/bin/python -m pytest tests/test_e2e.py tests/test_e2e_long.py
    .venv/bin/python tests/recordings.py save
"""

from __future__ import annotations

import shutil
import sys
import warnings
from pathlib import Path

from pipeline.io import read_jsonl

RECORDED = Path(__file__).parent / "fixtures" / "recorded"
# Where a run keeps its call records: the generator's, and the judge model's gold-answer checks.
RECORDS = {"generator.jsonl": Path("yourbench") / "calls.jsonl", "gold-checks.jsonl": Path("validation") / "calls.jsonl"}


def install(name: str, run_dir: Path) -> int:
    """Put recording ``name`` into a fresh run folder; the number of calls on record."""
    count = 0
    for recorded, path in RECORDS.items():
        source = RECORDED / name / recorded
        if source.is_file():
            (run_dir / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, run_dir / path)
            count += len(read_jsonl(source))
    return count


def warn_if_stale(name: str, stdout: str) -> None:
    """A replayed run that still made generator calls: the recording is out of date (slower, still valid)."""
    import re

    made = re.search(r"generate: (\d+) generator calls made, \d+ reused[^;]*; (\d+) gold-answer checks made", stdout)
    if made and (int(made.group(1)) or int(made.group(2))):
        warnings.warn(f"recording '{name}' is out of date: {made.group(1)} generator calls and {made.group(2)} "
                      "gold-answer checks were made for real; refresh it (tests/recordings.py)", stacklevel=2)


def save(name: str, run_dir: Path) -> None:
    (RECORDED / name).mkdir(parents=True, exist_ok=True)
    for recorded, path in RECORDS.items():
        if (run_dir / path).is_file():
            shutil.copyfile(run_dir / path, RECORDED / name / recorded)
            print(f"{RECORDED / name / recorded}: {len(read_jsonl(run_dir / path))} calls")


if __name__ == "__main__":
    if sys.argv[1:2] != ["save"]:
        sys.exit(__doc__)
    sys.path.insert(0, str(Path(__file__).parent))
    from test_e2e import DOC, RUN_DIR
    from test_e2e_long import RECORDING as LONG, last_run_dir

    save("tiny-report", RUN_DIR)
    save(LONG, last_run_dir())
