"""Judge output parsing: verdicts, reasoning traces, and replies that must stay unparsed."""

import pytest

from pipeline.serving.servers import strip_reasoning
from pipeline.verdicts.grading import parse_verdict, render_prompt


@pytest.mark.parametrize("reply, verdict", [
    ("<final_answer>1</final_answer>", 1),
    ("<final_answer>0</final_answer>", 0),
    ("The answer matches.\n<final_answer> 1 </final_answer>", 1),
    ("<think>The gold says 118 litres. <final_answer>0</final_answer>?</think>\n<final_answer>1</final_answer>", 1),
    ("Reasoning without the opening tag...</think><final_answer>0</final_answer>", 0),
    ("<FINAL_ANSWER>1</FINAL_ANSWER>", 1),
    ("first <final_answer>0</final_answer> then corrected <final_answer>1</final_answer>", 1),
    ("1", 1),
    (" 0\n", 0),
])
def test_verdicts(reply, verdict):
    assert parse_verdict(reply) == verdict


@pytest.mark.parametrize("reply", [
    "",
    None,
    "The answer is correct.",
    "<think>I think <final_answer>1</final_answer> but I ran out of tokens",  # verdict only inside the trace
    "<final_answer>yes</final_answer>",
    "<final_answer>10</final_answer>",
    "ERROR: Failed to get response from the API.",
])
def test_unparsed_replies_are_none_not_zero(reply):
    assert parse_verdict(reply) is None


def test_strip_reasoning_keeps_the_answer():
    assert strip_reasoning("<think>long\ntrace</think>\nParis.") == "Paris."
    assert strip_reasoning("Paris.") == "Paris."
    assert strip_reasoning("<think>never closed") == ""


def test_render_prompt_fills_every_field_and_keeps_braces():
    template = "{chunk}|{question}|{gold}|{answer}|{not_a_field}"
    assert render_prompt(template, "Q", "G", "C", "A {x}") == "C|Q|G|A {x}|{not_a_field}"


def test_verdict_cut_off_by_max_tokens_still_counts():
    assert parse_verdict("The answer to this question is:\n\nVerdict, as <final_answer>0") == 0
    assert parse_verdict("<final_answer>1 and more text") is None


def _response(token: str, top: dict[str, float]):
    from types import SimpleNamespace as NS

    logprobs = NS(content=[NS(token=token, top_logprobs=[NS(token=t, logprob=v) for t, v in top.items()])])
    return NS(choices=[NS(message=NS(content=token), logprobs=logprobs)],
              usage=NS(prompt_tokens=10, completion_tokens=1))


def test_a_yes_no_verdict_can_be_read_as_a_probability():
    """Issue 26: P(yes) / (P(yes) + P(no)) with a threshold chosen on the dev documents decides the verdict."""
    import math
    from types import SimpleNamespace as NS

    from pipeline import config
    from pipeline.verdicts.grading import Pass, grade, p_yes

    assert p_yes(_response("yes", {"yes": math.log(0.6), " Yes": math.log(0.1), "no": math.log(0.3)}).choices[0]
                 .logprobs) == 0.7 / 1.0
    assert p_yes(_response("yes", {"maybe": 0.0}).choices[0].logprobs) is None
    judge = config.load("default").judge.model_copy(update={"yes_threshold": 0.8})
    sent = []
    client = NS(chat=NS(completions=NS(create=lambda **body: sent.append(body) or _response(
        "yes", {"yes": math.log(0.7), "no": math.log(0.3)}))))
    item = {"question": "q", "gold": "g", "chunk_text": "c", "prediction": "p"}
    found = grade(client, "judge", Pass("judge", judge), "{question} {gold} {answer}", item)
    assert found["p_yes"] == 0.7 and found["verdict"] == 0  # "yes" chosen, but below the threshold
    assert sent[0]["logprobs"] is True and sent[0]["top_logprobs"] == 20
    plain = grade(client, "judge", Pass("judge", judge.model_copy(update={"yes_threshold": None})),
                  "{question} {gold} {answer}", item)
    assert plain["verdict"] == 1 and "p_yes" not in plain
