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
