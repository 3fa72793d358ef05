"""Lighteval task: answer the questions YourBench generated from one document.

The dataset is a local folder (``questions`` config, ``test`` split) written by
:mod:`pipeline.answers.answer`; every row carries the ``question_id`` that links a
Lighteval sample to the per-question records on disk. Candidates answer
with the source excerpt the question was generated from (``context``), in the
document's language (``language``; :mod:`pipeline.answers.qa_prompt`), the way
a practitioner would use a model on their own documents; a profile can set
``candidate_context: none`` for closed-book answering. Lighteval's token-F1 against the gold answer is kept as a cheap lexical
signal next to the judge's verdict.
"""

from __future__ import annotations

from lighteval.metrics.metrics import Metrics
from lighteval.tasks.lighteval_task import LightevalTaskConfig
from lighteval.tasks.requests import Doc

from pipeline.answers.qa_prompt import STOP_SEQUENCES, prompt_text

TASK_NAME = "document_qa"


def document_qa_prompt(line: dict, task_name: str = TASK_NAME) -> Doc:
    return Doc(
        task_name=task_name,
        query=prompt_text(line["question"], line.get("context") or "", line.get("language") or "en"),
        choices=[line["gold"]],
        gold_index=0,
        id=line["question_id"],
    )


def task_config(dataset_dir: str, max_new_tokens: int) -> LightevalTaskConfig:
    return LightevalTaskConfig(
        name=TASK_NAME,
        prompt_function=document_qa_prompt,
        hf_repo=dataset_dir,
        hf_subset="questions",
        hf_avail_splits=["test"],
        evaluation_splits=["test"],
        few_shots_split=None,
        few_shots_select=None,
        generation_size=max_new_tokens,
        stop_sequence=STOP_SEQUENCES,
        metrics=[Metrics.f1_score],
        version=1,
    )
