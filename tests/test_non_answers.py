"""The non-answer rule: which answers are wrong by rule, which go to the judge, and how often the rule errs.

The rule reads the candidates' prompt frames off pipeline/answers/qa_prompt.py (the prompts the Lighteval task sends).
"""

import math

import pytest

from pipeline.measure.stats import wilson_interval
from pipeline.verdicts import non_answers
from pipeline.verdicts.non_answers import (
    ECHO,
    EMPTY,
    NUMBER_FOR_EXPLANATION,
    ONLY_PREAMBLE,
    ONLY_PUNCTUATION,
    ONLY_REFERENCES,
    PROMPT_COPY,
    REASONS,
    non_answer_reason,
    rule_error_rates,
)

CAUSES = "What are the main causes of future climate change?"
WHY_CLOSED = "Why was the Brennholt pumping station shut down in 2019?"
HOW_MANY = "How many public charging points did the city operate at the end of 2023?"


@pytest.mark.parametrize("question, answer, reason", [
    (WHY_CLOSED, "", EMPTY),
    (WHY_CLOSED, None, EMPTY),
    (HOW_MANY, " \n\t\n", EMPTY),
    (HOW_MANY, "...", ONLY_PUNCTUATION),
    (HOW_MANY, "-", ONLY_PUNCTUATION),
    (HOW_MANY, "— • …", ONLY_PUNCTUATION),
    (HOW_MANY, "Answer:", PROMPT_COPY),
    (HOW_MANY, "Document excerpt:\nBy the end of 2023 the city operated 1,480 public charging points", PROMPT_COPY),
    (HOW_MANY, f"Question: {HOW_MANY}\nAnswer:", PROMPT_COPY),
    (HOW_MANY, HOW_MANY.upper().rstrip("?"), PROMPT_COPY),  # the question repeated, whatever its case
    (HOW_MANY, "Answer the question in one or two sentences.", PROMPT_COPY),
    (HOW_MANY, "### Prompt:\n### Response:", PROMPT_COPY),
    (HOW_MANY, "Réponse :", PROMPT_COPY),
    ("Quelles sont les principales recommandations du rapport ?", "1.4, 3.3, encadré thématique 3.1, 4.4, ...",
     ONLY_REFERENCES),
    (CAUSES, "See Figure 2 and Table 5.", ONLY_REFERENCES),
    (WHY_CLOSED, "Section 2.3; Box 4", ONLY_REFERENCES),
    (WHY_CLOSED, "Annex B", ONLY_REFERENCES),
    (CAUSES, "17", NUMBER_FOR_EXPLANATION),
    (WHY_CLOSED, "3", NUMBER_FOR_EXPLANATION),
    ("Pourquoi les prêts numériques progressent-ils ?", "1.4, 3.3", NUMBER_FOR_EXPLANATION),
    ("Comment le plan finance-t-il la rénovation des écoles ?", "2.1", NUMBER_FOR_EXPLANATION),
    ("Describe the purpose of the sluice gates.", "12", NUMBER_FOR_EXPLANATION),
    # issue 26: SmolLM2 on the bundled sample, then sent to the judge and marked correct
    ("What is the average price per megawatt-hour for hydroelectricity sales?", "The answer to this question is:",
     ONLY_PREAMBLE),
    ("Quel est le budget de l'agence ?", "Voici la réponse :", ONLY_PREAMBLE),
])
def test_non_answers_are_named(question, answer, reason):
    assert non_answer_reason(question, answer) == reason


HEIGHT = "What is the height of the Corvo dam?"


@pytest.mark.parametrize("question, answer, gold, reason", [
    (HEIGHT, "The height of the Corvo dam.", "38 metres", ECHO),  # the control answers' echo, the judge said yes
    (HEIGHT, "The height of the Corvo dam is", "38 metres", ECHO),
    ("What is the value for money score in 2024?", "The value for money score in 2024 is 2024.", "80%", ECHO),
    ("Quel est le budget 2025 adopté ?", "Le budget 2025 adopté est de 2025.", "148,6 millions d'euros", ECHO),
    (HEIGHT, "The Corvo dam is 38 metres high.", "38 metres", None),  # an answer after the echo
    (HEIGHT, "The height of the Corvo dam.", None, None),  # without the gold answer the rule cannot tell
    ("Which dam is higher, Corvo or Thornby?", "Corvo", "Corvo, at 38 metres", None),  # it names its options
    ("What is the name of the Bexley pumping station?", "Bexley pumping station", "Bexley pumping station", None),
    ("Which annex lists the parametric values?", "Annex I", "Annex I", None),
    ("Is the Corvo dam higher than 30 metres?", "Yes.", "Yes, 38 metres", None),
])
def test_an_answer_made_of_the_questions_words_is_wrong_when_the_gold_says_more(question, answer, gold, reason):
    assert non_answer_reason(question, answer, gold) == reason


@pytest.mark.parametrize("question, answer", [
    (HOW_MANY, "1,480"),
    (HOW_MANY, "Answer: 1 480"),  # a frame label in front of a real answer
    (HOW_MANY, f"Question: {HOW_MANY}\nAnswer: 1,480 charging points."),
    ("What was the rainfall in July 2023?", "48 mm"),
    ("In what year was the station shut down?", "2019"),
    ("Quelle part des émissions provient des transports ?", "22 %"),
    ("Which reference period does the report use?", "1991-2020"),
    ("Quel est le coût de la rénovation ?", "3,2 millions d'euros"),
    ("What must operators do when they detect a leak?", "Section 3.2 requires operators to report leaks."),
    ("Which is the smallest island of the Azores?", "Corvo"),
    ("Is the homework club free?", "Yes"),
    (WHY_CLOSED, "Parce que la conduite d'admission était corrodée."),
    (WHY_CLOSED, "Because of a budget cut."),  # wrong, but an answer: the judge grades it
    (WHY_CLOSED, "I don't know."),  # a refusal: the judge grades it too
    ("Which section describes the flood warning system?", "Section 4.1"),
    ("Quel article du règlement fixe l'amende ?", "Article 7"),
    ("Under which procedure did the company file?", "Chapter 11"),
    ("How long is the report?", "40 pages"),  # a count, not a reference
    ("Comment le nombre de prêts a-t-il évolué ?", "+9 %"),  # how it changed: a number answers
    ("How effective was the plan?", "40 %"),
    ("Quels ont été les taux de croissance en 2021, 2022 et 2023 ?", "1.4, 3.3 et 4.4"),
    ("Describe the change in emissions between 2010 and 2020.", "-12 %"),
    # issue 26: answers to questions that ask for exactly that
    ("Which annex lists the parametric values?", "Annex I"),
    ("Under which article may a supplier apply for a derogation?", "Article 6"),
    ("What is the likely range of the decline in August flow?", "70–90 %"),
    ("What is the average price?", "The answer is 84 euros."),
    ("Which measures does the plan list?", "The following measures: dredging and planting."),
])
def test_real_answers_go_to_the_judge(question, answer):
    assert non_answer_reason(question, answer) is None


def test_prompt_frames_are_the_candidates_prompts():
    from pipeline.answers.qa_prompt import prompt_text

    english, french = non_answers.prompt_frames()
    assert prompt_text("Q?", "X") == f"{english.instruction}\n\n{english.excerpt_label}\nX\n\n{english.question_label} Q?\n" \
        f"{english.answer_label}"
    assert french.excerpt_label == "Extrait du document :"
    # the French prompt echoed whole is a copy of the prompt too
    assert non_answer_reason(WHY_CLOSED, prompt_text(WHY_CLOSED, "Le texte.", "fr")) == PROMPT_COPY


def test_the_whole_prompt_echoed_is_a_copy_in_both_frames():
    """The candidates' prompt, alone and inside llama-cpp-python's snoozy frame, is a copy of the prompt."""
    from llama_cpp.llama_chat_format import format_snoozy

    from pipeline.answers.qa_prompt import prompt_text

    prompt = prompt_text(WHY_CLOSED, "In 2019 the station was shut down after inspectors found corrosion.")
    chat = format_snoozy(messages=[{"role": "user", "content": prompt}]).prompt
    assert non_answers.SNOOZY_SYSTEM_LINE in chat  # the constant still matches the library's frame
    assert non_answer_reason(WHY_CLOSED, prompt) == PROMPT_COPY
    assert non_answer_reason(WHY_CLOSED, chat) == PROMPT_COPY
    assert non_answer_reason(WHY_CLOSED, chat + " Because its intake pipe was corroded.") is None


def test_rates_on_a_hand_made_list():
    items = [
        {"id": "r1", "question": HOW_MANY, "answer": "1,480", "non_answer": False},
        {"id": "r2", "question": WHY_CLOSED, "answer": "Corrosion.", "non_answer": False},
        {"id": "r3", "question": WHY_CLOSED, "answer": "", "non_answer": False},  # mislabelled: a false rejection
        {"id": "n1", "question": CAUSES, "answer": "17", "non_answer": True},
        {"id": "n2", "question": CAUSES, "answer": "Paris", "non_answer": True},  # let through: a false acceptance
    ]
    rates = rule_error_rates(items)
    assert (rates["real_answers"], rates["false_rejections"], rates["falsely_rejected"]) == (3, 1, ["r3"])
    assert (rates["non_answers"], rates["false_acceptances"], rates["falsely_accepted"]) == (2, 1, ["n2"])
    assert rates["false_rejection_rate"] == pytest.approx(1 / 3)
    assert rates["false_acceptance_rate"] == pytest.approx(1 / 2)
    assert rates["false_rejection_interval"] == wilson_interval(1, 3)
    assert rates["false_acceptance_interval"] == wilson_interval(1, 2)
    assert non_answers.rule_rates_line(rates, "five items") == (
        "non-answer rule on 5 hand-labelled answers (five items): false rejections 1/3 real answers "
        "(33.3%; 95% Wilson interval 6.1%-79.2%), false acceptances 1/2 non-answers "
        "(50.0%; 95% Wilson interval 9.5%-90.5%)")


def test_rates_without_items_are_nan():
    rates = rule_error_rates([])
    assert rates["real_answers"] == rates["non_answers"] == 0
    assert math.isnan(rates["false_rejection_rate"]) and math.isnan(rates["false_acceptance_rate"])
    assert "no real answers to count" in non_answers.rule_rates_line(rates)


def test_labelled_set_is_read_strictly(tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_text('{"id": "x", "question": "q", "answer": "", "case": "empty"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="missing non_answer"):
        non_answers.read_labelled_set(path)


def test_labelled_set_meets_the_targets():
    """No real answer of the labelled set is rejected, at most 10% of its non-answers get through."""
    items = non_answers.read_labelled_set()
    assert len(items) >= 80 and len({item["id"] for item in items}) == len(items)
    assert 0.35 <= sum(item["non_answer"] for item in items) / len(items) <= 0.65  # about half each
    # every reason is exercised by some non-answer of the set
    assert {non_answer_reason(item["question"], item["answer"], item.get("gold")) for item in items
            if item["non_answer"]} >= set(REASONS)
    rates = rule_error_rates(items)
    assert rates["false_rejections"] == 0, rates["falsely_rejected"]
    assert rates["false_acceptance_rate"] <= 0.10, rates["falsely_accepted"]
