"""The per-question details as Inspect AI eval logs, one per candidate, for ``inspect view``.

Built with Inspect's own log API (``inspect_ai.log``), so the files are what Inspect itself would write and
read back with ``inspect_ai.log.read_eval_log``. Each sample is one details row: the question (and the excerpt
when the candidates saw it) as input, the gold answer as target, the candidate's answer as output, the verdict
as a score ("C" correct, "I" incorrect; an unparsed or missing judgement is an *unscored* score, NaN, which
Inspect leaves out of its metrics) with the judge's raw output as explanation, and the row's energy, latency,
tokens, grader (judge or rule) and a person's label, when there is one, as metadata; a label "correct" or
"wrong" is also a second score, ``person``. The log's results hold the accuracy over judged answers, the
figure the report ranks by (and the accuracy over the answers a person labelled, where there are any).
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from inspect_ai.log import (
    EvalConfig,
    EvalDataset,
    EvalLog,
    EvalMetric,
    EvalResults,
    EvalSample,
    EvalScore,
    EvalSpec,
    EvalStats,
    write_eval_log,
)
from inspect_ai.model import (
    ChatMessageAssistant,
    ChatMessageUser,
    ModelOutput,
    ModelUsage,
)
from inspect_ai.scorer import CORRECT, INCORRECT, Score

TASK_NAME = "document_qa"
SCORER = "judge"
PERSON = "person"  # the second score, where a person labelled the answer correct or wrong (`make review`)
PERSON_VALUES = {"correct": 1.0, "wrong": 0.0}  # as pipeline.review.labels: other labels are no verdict
EXCERPT_CONTEXTS = ("chunk", "excerpt")  # values of `candidate_context` under which candidates saw the excerpt
# details columns copied into each sample's metadata when present
METADATA_COLUMNS = ("graded_by", "rule", "status", "energy_wh", "energy_method", "latency_s", "input_tokens",
                    "output_tokens", "label", "label_value", "label_status", "kind", "question_category",
                    "estimated_difficulty")


def write(details: pd.DataFrame, out_dir: Path, task: dict, run_fingerprint: str) -> list[Path]:
    """Write ``out_dir/document_qa_<candidate>.eval`` for each candidate in ``details``; return their paths.

    ``task``: the task's configuration (profile, document, judge, judge prompt, candidate_context, ...), kept
    as the eval's task arguments; ``run_fingerprint`` goes in the eval's metadata. Other ``.eval`` files
    already in ``out_dir`` (candidates no longer in the run) are removed: the folder holds this run only.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    created = datetime.now(UTC).isoformat(timespec="seconds")
    task_args = _json_safe(dict(task))
    written = []
    for candidate, rows in details.groupby("candidate", sort=False):
        log = _eval_log(str(candidate), rows, task, task_args, run_fingerprint, created)
        path = out_dir / f"{TASK_NAME}_{_slug(str(candidate))}.eval"
        if path in written:  # two names, one slug
            path = path.with_name(f"{path.stem}-{hashlib.sha256(str(candidate).encode()).hexdigest()[:8]}.eval")
        tmp = path.with_name(f".{path.name}.tmp")
        write_eval_log(log, tmp, format="eval")
        os.replace(tmp, path)
        written.append(path)
    for stale in set(out_dir.glob("*.eval")) - set(written):
        stale.unlink()
    return written


def _eval_log(candidate: str, rows: pd.DataFrame, task: dict, task_args: dict, run_fingerprint: str,
              created: str) -> EvalLog:
    excerpt = str(task.get("candidate_context", "")) in EXCERPT_CONTEXTS
    samples = [_sample(candidate, row, excerpt) for row in rows.to_dict("records")]
    judged = _judged(rows)
    accuracy = float(rows.loc[judged, "verdict"].astype(float).mean()) if judged.any() else float("nan")
    usage = ModelUsage(input_tokens=sum(s.output.usage.input_tokens for s in samples),
                       output_tokens=sum(s.output.usage.output_tokens for s in samples))
    usage.total_tokens = usage.input_tokens + usage.output_tokens
    ids = [s.id for s in samples]
    key = hashlib.sha256(f"{run_fingerprint}\0{candidate}".encode()).hexdigest()
    spec = EvalSpec(
        eval_id=key[:22], run_id=hashlib.sha256(run_fingerprint.encode()).hexdigest()[:22],
        created=created, task=TASK_NAME, task_id=key[22:44], task_args=task_args,
        task_description="Questions generated from a document, answered by the candidate, graded by a judge",
        dataset=EvalDataset(name=str(task.get("document") or TASK_NAME), samples=len(samples), sample_ids=ids),
        model=candidate, config=EvalConfig(), metadata={"run_fingerprint": run_fingerprint, "task": task_args},
    )
    scores = [EvalScore(name=SCORER, scorer=SCORER, scored_samples=int(judged.sum()),
                        unscored_samples=int(len(samples) - judged.sum()),
                        metrics={"accuracy": EvalMetric(name="accuracy", value=accuracy)})]
    labelled = [v for v in (_person_value(row) for row in rows.to_dict("records")) if v is not None]
    if labelled:
        scores.append(EvalScore(name=PERSON, scorer=PERSON, scored_samples=len(labelled),
                                unscored_samples=len(samples) - len(labelled),
                                metrics={"accuracy": EvalMetric(name="accuracy",
                                                                value=sum(labelled) / len(labelled))}))
    results = EvalResults(total_samples=len(samples), completed_samples=len(samples), scores=scores)
    return EvalLog(status="success", eval=spec, results=results, samples=samples,
                   stats=EvalStats(started_at=created, completed_at=created, model_usage={candidate: usage}))


def _sample(candidate: str, row: dict, excerpt: bool) -> EvalSample:
    question, prediction = _text(row.get("question")), _text(row.get("prediction"))
    chunk = _text(row.get("chunk_text")) if excerpt else ""
    text = f"{question}\n\nExcerpt:\n{chunk}" if chunk.strip() else question  # the question first: the list shows it
    usage = ModelUsage(input_tokens=_int(row.get("input_tokens")), output_tokens=_int(row.get("output_tokens")))
    usage.total_tokens = usage.input_tokens + usage.output_tokens
    output = ModelOutput.from_content(model=candidate, content=prediction)
    output.usage = usage
    latency = _number(row.get("latency_s"))
    scores = {SCORER: _score(row, prediction)}
    person = _person_value(row)
    if person is not None:
        scores[PERSON] = Score(value=CORRECT if person else INCORRECT, answer=prediction,
                               explanation=f"a person's label: {_text(row.get('label')) or person}")
    return EvalSample(
        id=str(row["question_id"]), epoch=1, input=text, target=_text(row.get("gold")),
        messages=[ChatMessageUser(content=text), ChatMessageAssistant(content=prediction, model=candidate)],
        output=output, scores=scores,
        metadata={c: _json_safe(row[c]) for c in METADATA_COLUMNS if c in row},
        model_usage={candidate: usage}, total_time=latency, working_time=latency,
    )


def _score(row: dict, prediction: str) -> Score:
    explanation = _text(row.get("raw_judge_output"))
    status = _text(row.get("status")) or "judged"
    metadata = {"graded_by": _text(row.get("graded_by")) or "judge", "rule": _text(row.get("rule")),
                "status": status}
    verdict = _number(row.get("verdict"))
    if status != "judged" or verdict is None:  # unparsed or missing judgement: kept, but out of the metrics
        return Score.unscored(reason="grader_failed" if status == "unparsed" else "scoring_failed",
                              answer=prediction, explanation=explanation or f"no verdict ({status})",
                              metadata=metadata)
    return Score(value=CORRECT if verdict >= 0.5 else INCORRECT, answer=prediction, explanation=explanation,
                 metadata=metadata)


def _person_value(row: dict) -> float | None:
    """1 or 0 where a person labelled the answer correct or wrong; None otherwise (no label, or another)."""
    value = _number(row.get("label_value"))
    if value is None:
        value = PERSON_VALUES.get(_text(row.get("label")))
    return None if value is None else float(value >= 0.5)


def _judged(rows: pd.DataFrame) -> pd.Series:
    verdict = pd.to_numeric(rows["verdict"], errors="coerce")
    status = rows["status"] if "status" in rows else pd.Series("judged", index=rows.index)
    return (status == "judged") & verdict.notna()


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "model"


def _missing(value: Any) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):  # lists, arrays: not a missing scalar
        return False


def _text(value: Any) -> str:
    return "" if _missing(value) else str(value)


def _number(value: Any) -> float | None:
    if _missing(value):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _int(value: Any) -> int:
    number = _number(value)
    return int(number) if number is not None else 0


def _json_safe(value: Any) -> Any:
    """Plain JSON values: numpy scalars unwrapped, NaN and NA as None, paths and other objects as text."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple, set)):
        return [_json_safe(v) for v in value]
    if _missing(value):
        return None
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (bool, int, str)):
        return value
    return str(value)
