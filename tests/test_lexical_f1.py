"""The lexical F1 beside each verdict compares normalised words (issue 26, item 7)."""

import pytest


def test_punctuation_and_articles_do_not_hide_a_match():
    from lighteval.models.model_output import ModelResponse
    from lighteval.tasks.requests import Doc

    from pipeline.answers import lighteval_shims  # noqa: F401  (Lighteval importable offline)
    from tasks.document_qa import F1

    def f1(gold: str, answer: str) -> float:
        doc = Doc(query="q", choices=[gold], gold_index=0, task_name="document_qa")
        return F1.sample_level_fn.compute(doc=doc, model_response=ModelResponse(text=[answer]))

    assert f1("1968", "1968.") == 1.0  # was 0.0 with words split on spaces only
    # "corvo dam was completed in 1968": 1 of 6 words, the whole gold: 2 * (1/6) / (1/6 + 1)
    assert f1("1968", "The Corvo dam was completed in 1968.") == pytest.approx(2 / 7)
    assert f1("84 euros", "Eighty-four.") == 0.0  # still lexical: the judge decides paraphrases
