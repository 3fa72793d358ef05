"""bench/judge_real_answers.py grades as the judge stage does (issue 33, 10): one grading function for both."""

import contextlib
import math
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))


class StubClient:
    """An OpenAI-like client whose judge says "yes" with first-token log-probabilities yes 0.5, y 0.3, no 0.2."""

    def __init__(self, *args, **kwargs):
        self.chat = SimpleNamespace(completions=SimpleNamespace(create=self.create))

    def create(self, **request):
        tokens = [SimpleNamespace(token=t, logprob=math.log(p)) for t, p in (("yes", 0.5), ("y", 0.3), ("no", 0.2))]
        logprobs = SimpleNamespace(content=[SimpleNamespace(top_logprobs=tokens)]) if request.get("logprobs") else None
        return SimpleNamespace(choices=[SimpleNamespace(message=SimpleNamespace(content="yes"), logprobs=logprobs)],
                               usage=SimpleNamespace(prompt_tokens=10, completion_tokens=1))


def test_the_bench_grades_through_the_pipelines_grading(tmp_path, monkeypatch):
    """The bench counted "y" and "n" in P(yes) (0.8 here, a yes at the 0.75 threshold) where the pipeline counts
    "yes" and "no" only (0.5 / 0.7 = 0.71: a no). Its verdicts now come from pipeline.verdicts.grading.grade, keyed by
    the judge's fingerprint (grading code included), which is what `ship-bench` requires to ship them."""
    import openai

    import judge_real_answers as bench
    from pipeline import config
    from pipeline.io import read_jsonl
    from pipeline.serving import servers
    from pipeline.verdicts import real_answers
    from pipeline.verdicts.grading import judge_fingerprint

    endpoint = SimpleNamespace(base_url="http://stub/v1", api_key="none", model="judge")
    monkeypatch.setattr(servers, "serve", lambda *a, **k: contextlib.nullcontext(endpoint))
    monkeypatch.setattr(servers, "machine_lock", lambda *a, **k: contextlib.nullcontext())
    monkeypatch.setattr(openai, "OpenAI", StubClient)
    monkeypatch.setattr(bench, "OUT", tmp_path)
    monkeypatch.setattr(bench, "ROOT", tmp_path)  # no staged answers (labelled/answers/staging.jsonl) of this machine
    pool = [i for i in real_answers.items("heldout") if i["rule"] is None][:5]
    monkeypatch.setattr(real_answers, "items", lambda split=None: pool)
    bench.grade("I", "heldout")
    graded = read_jsonl(bench.graded_path("I"))
    assert len(graded) == 5
    judge = config.load("default").judge
    for record in graded:
        assert record["p_yes"] == pytest.approx(0.5 / 0.7)  # yes / (yes + no): "y" is not "yes"
        assert record["token"] == 1 and record["verdict"] == 0  # the token said yes; P(yes) < 0.75 says no
        assert record["judge_fingerprint"] == judge_fingerprint(judge)
    assert not hasattr(bench, "p_yes")  # no second reading of the log-probabilities


def test_the_judges_key_holds_the_grading_code(tmp_path, monkeypatch):
    """The code that asks and reads a verdict is in every verdict's key, the shipped measurements' included."""
    import shutil

    from pipeline import config, keys
    from pipeline.verdicts.grading import judge_fingerprint

    cfg = config.load("default")
    before = judge_fingerprint(cfg.judge)
    for path in [*keys.TEXT_FILES, "judge_prompts"]:
        source, target = config.ROOT / path, tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        elif source.exists():
            shutil.copy(source, target)
    monkeypatch.setattr(config, "ROOT", tmp_path)
    assert judge_fingerprint(cfg.judge) == before
    grading = tmp_path / "pipeline" / "verdicts" / "grading.py"
    grading.write_text(grading.read_text().replace("yes / (yes + no)", "(yes + 1e-9) / (yes + no + 1e-9)"))
    assert judge_fingerprint(cfg.judge) != before


def test_the_report_depends_on_the_measurement_it_uses(tmp_path):
    """Issue 33, 10: results.csv did not depend on the shipped or local verdict file, so `make calibrate` or a new
    shipped file remade no report. locate names both files for this judge (MEASUREMENT) and the report's rule
    depends on those that exist."""
    import re

    from pipeline import config, runs
    from pipeline.__main__ import main
    from pipeline.verdicts import real_answers
    from pipeline.verdicts.grading import judge_fingerprint

    out = tmp_path / "located.mk"
    assert main(["locate", "--doc", str(ROOT / "samples" / "sample-report.pdf"), "--out", str(out)]) == 0
    found = dict(line.split(" := ", 1) for line in out.read_text().splitlines())
    key = judge_fingerprint(config.load("default").judge)
    assert found["MEASUREMENT"].split() == [runs.shown(real_answers.shipped_path(key)),
                                            runs.shown(real_answers.local_path(runs.RUNS, key))]
    rule = re.search(r"^\$\(REPORT_DIR\)/results\.csv:(.*?)\n\t", (ROOT / "Makefile").read_text(), re.S | re.M)
    assert rule and "$(wildcard $(MEASUREMENT))" in rule.group(1)
