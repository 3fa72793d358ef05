"""Lighteval task: answer the questions YourBench generated from one document.

The dataset is a local folder (``questions`` config, ``test`` split) written by
:mod:`pipeline.answers.answer`; every row carries the ``question_id`` that links a
Lighteval sample to the per-question records on disk. Candidates answer
with the source excerpt the question was generated from (``context``), in the
document's language (``language``; :mod:`pipeline.answers.qa_prompt`), the way
a practitioner would use a model on their own documents; a profile can set
``candidate_context: none`` for closed-book answering. Lighteval's token-F1 against the gold answer is kept as a cheap lexical
signal next to the judge's verdict, on words normalised by Lighteval's own HELM normaliser (lower case, no
punctuation or articles, numbers homogenised): without it, "1968." did not match the gold "1968" and the
answer "The Corvo dam was completed in 1968." scored 0.00.
"""

from __future__ import annotations

import numpy as np
from lighteval.metrics.metrics_sample import F1_score
from lighteval.metrics.normalizations import helm_normalizer
from lighteval.metrics.utils.metric_utils import SampleLevelMetric
from lighteval.tasks.lighteval_task import LightevalTaskConfig
from lighteval.tasks.requests import Doc, SamplingMethod

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


# Lighteval's Metrics.f1_score with its normalisers (it has none by default: words are split on spaces only).
F1 = SampleLevelMetric(metric_name="f1", sample_level_fn=F1_score(normalize_gold=helm_normalizer,
                                                                   normalize_pred=helm_normalizer),
                       category=SamplingMethod.GENERATIVE, corpus_level_fn=np.mean, higher_is_better=True)


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
        metrics=[F1],
        version=1,
    )
