"""`make bench`'s tables (bench/run.py): what the README's "Measured" figures are pasted from."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import run  # noqa: E402


def test_stage_table_lists_each_stage_with_the_total():
    table = run.stage_table({"generate": 300.4, "answer": 130.2, "judge": 120.0, "report": 3.1})
    assert table.splitlines()[2:] == ["| generate | 300 s |", "| answer | 130 s |", "| judge | 120 s |",
                                      "| report | 3 s |", "| all stages | 554 s (9.2 min) |"]


def test_last_setup_is_read_from_the_stamp_make_setup_writes(tmp_path, monkeypatch):
    monkeypatch.setattr(run, "ROOT", tmp_path)
    assert run.last_setup() is None  # never set up (or an old stamp without figures)
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / ".installed").write_text('{"seconds": 412, "finished": "2026-11-26T22:14:37Z"}\n')
    assert run.last_setup() == {"seconds": 412, "finished": "2026-11-26T22:14:37Z"}
    (tmp_path / ".venv" / ".installed").write_text("")
    assert run.last_setup() is None


def test_make_setup_writes_its_duration_into_the_stamp(tmp_path):
    stamp = tmp_path / "installed"
    subprocess.run(["make", "--no-print-directory", "setup", f"SETUP={stamp}", "UV=true"], cwd=ROOT, check=True,
                   capture_output=True)  # the real recipe, with `true` standing in for uv
    written = json.loads(stamp.read_text())
    assert isinstance(written["seconds"], int) and 0 <= written["seconds"] < 60
    assert written["finished"].endswith("Z")
