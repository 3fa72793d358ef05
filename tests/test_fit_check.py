"""The fit check (issue 32): the judge model reads the gold answer's sentence, the question and the gold, and a
question is kept when P(yes) reaches questions.fit_threshold."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from pipeline import config
from pipeline.questions import generate
from pipeline.questions.model_checks import FitCheck, answer_sentence

EXCERPT = ("The basin received 812 millimetres of rainfall in 2025. The Authority reviewed 96 planning applications "
           "and objected to 11 of them.")


def test_the_answer_sentence_is_the_citation_that_holds_the_gold_else_the_excerpts_sentence_that_does():
    cited = {"gold": "812 millimetres", "chunk_text": EXCERPT,
             "citations": ["The basin received 812 millimetres of rainfall in 2025."]}
    assert answer_sentence(cited) == "The basin received 812 millimetres of rainfall in 2025."
    uncited = {"gold": "96 planning\napplications", "chunk_text": EXCERPT, "citations": None}
    assert answer_sentence(uncited) == "The Authority reviewed 96 planning applications and objected to 11 of them."
    wrong_citation = {"gold": "11", "chunk_text": EXCERPT, "citations": ["The basin received 812 millimetres."]}
    assert answer_sentence(wrong_citation).startswith("The Authority reviewed")
    assert answer_sentence({"gold": "a figure nowhere", "chunk_text": EXCERPT, "citations": []}) == EXCERPT


def _reply(p_yes: float | None, token: str = "yes"):
    import math

    top = [] if p_yes is None else [SimpleNamespace(token="yes", logprob=math.log(p_yes)),
                                    SimpleNamespace(token="no", logprob=math.log(1 - p_yes))]
    logprobs = SimpleNamespace(content=[SimpleNamespace(top_logprobs=top)]) if p_yes is not None else None
    return SimpleNamespace(choices=[SimpleNamespace(message=SimpleNamespace(content=token), logprobs=logprobs)],
                           usage=SimpleNamespace(prompt_tokens=100, completion_tokens=1))


class _Client:
    def __init__(self, reply):
        self.reply, self.prompts = reply, []
        self.chat = SimpleNamespace(completions=SimpleNamespace(create=self.create))

    def create(self, **request):
        self.prompts.append(request["messages"][0]["content"])
        return self.reply


@pytest.mark.parametrize("p_yes, token, kept", [(0.9, "no", True), (0.4, "yes", False), (None, "no", False),
                                                (None, "yes", True)])
def test_the_fit_check_keeps_a_question_when_p_yes_reaches_the_threshold(p_yes, token, kept):
    cfg = config.load("default")
    cfg = cfg.model_copy(update={"questions": cfg.questions.model_copy(update={"fit_threshold": 0.6})})
    check = FitCheck(cfg, SimpleNamespace(base_url="http://127.0.0.1:9/v1"), "en")
    check.client = _Client(_reply(p_yes, token))
    verdict, why = check({"question": "How much rain fell in the basin in 2025?", "gold": "812 millimetres",
                          "chunk_text": EXCERPT, "citations": []})
    assert verdict is kept
    prompt = check.client.prompts[0]
    assert "Sentence: The basin received 812 millimetres of rainfall in 2025." in prompt  # the sentence alone
    assert "96 planning" not in prompt and "Answer: 812 millimetres" in prompt
    if p_yes is not None:
        assert why == f"P(yes) {p_yes:.2f}"


def test_the_fit_check_asks_for_yes_or_no_and_its_probability_whatever_the_judges_format():
    cfg = config.load("paper")
    cfg = cfg.model_copy(update={"judge": cfg.judge.model_copy(update={"verdict": "final_answer",
                                                                       "yes_threshold": None})})
    check = FitCheck(cfg, SimpleNamespace(base_url="http://127.0.0.1:9/v1"), "en")
    check.client = _Client(_reply(0.2, "yes"))
    sent = []
    check.client.chat.completions.create = lambda **request: sent.append(request) or check.client.reply
    assert check({"question": "How much rain fell in 2025?", "gold": "812 millimetres", "chunk_text": EXCERPT,
                  "citations": []})[0] is False
    assert sent[0]["logprobs"] is True
    assert "structured_outputs" in (sent[0]["extra_body"] or {}) or "grammar" in (sent[0]["extra_body"] or {})


def test_with_the_fit_check_the_judge_model_and_the_threshold_change_the_questions():
    cfg = config.load("default")
    on = cfg.model_copy(update={"questions": cfg.questions.model_copy(update={"fit_check": True})})
    off = cfg.model_copy(update={"questions": cfg.questions.model_copy(update={"fit_check": False})})
    assert generate.generate_key(on) != generate.generate_key(off)
    other_model = on.model_copy(update={"judge": on.judge.model_copy(update={"model": "gemma-3-270m"})})
    assert generate.generate_key(other_model) != generate.generate_key(on)
    other_threshold = on.model_copy(update={"questions": on.questions.model_copy(update={"fit_threshold": 0.3})})
    assert generate.generate_key(other_threshold) != generate.generate_key(on)
    other_prompt = on.model_copy(update={"judge": on.judge.model_copy(update={"prompt": "qwq32b_binary.txt"})})
    assert generate.generate_key(other_prompt) == generate.generate_key(on)  # the grading prompt: no new question
