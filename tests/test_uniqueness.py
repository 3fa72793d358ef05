"""A question that the document answers with several figures or dates (pipeline/questions/uniqueness.py)."""

from __future__ import annotations

import pytest

from pipeline.questions.uniqueness import SentenceIndex, competing_sentence, unit

DOCUMENT = [
    "The northern wellfield pumped 4.2 million cubic metres in 2021.",
    "The southern wellfield pumped 3.1 million cubic metres in 2021.",
    "Net costs of the agency increased $229.0 billion due to a $147.4 billion loss on pensions.",
    "Net costs of the ministry increased $12.5 billion in 2024.",
    "The dam was completed in 1998 after ten years of work.",
    "The reservoir was enlarged in 2004.",
    "The wellfield employs 40 people.",
]


@pytest.mark.parametrize("question, gold, kind, competitor", [
    # the excerpt answers it, the document twice: which wellfield?
    ("How many cubic metres did the wellfield pump?", "4.2 million cubic metres", "figure", DOCUMENT[1]),
    # the distinguishing word is in the question: nothing else competes
    ("How many cubic metres did the northern wellfield pump?", "4.2 million cubic metres", "figure", None),
    # "net costs increased" twice, in dollars
    ("By how much did net costs increase?", "$229.0 billion", "figure", DOCUMENT[3]),
    ("By how much did the agency's net costs increase?", "$229.0 billion", "figure", None),
    # another figure with the same words but another unit does not compete
    ("How many people does the wellfield employ?", "40 people", "figure", None),
    # the question's number must be in the competing sentence
    ("By how much did net costs increase in 2019?", "$229.0 billion", "figure", None),
    # dates
    ("When was the dam completed?", "1998", "date", None),
    # names, reasons and clauses are not checked
    ("Which wellfield pumped 4.2 million cubic metres?", "The northern wellfield", "name", None),
])
def test_a_competing_sentence_is_one_that_answers_the_question_another_way(question, gold, kind, competitor):
    assert competing_sentence(question, gold, kind, DOCUMENT) == competitor


def test_a_sentence_that_states_the_gold_beside_other_figures_does_not_compete():
    # the gold's own sentence holds a second dollar figure: its part, not another answer
    document = ["Net costs increased $229.0 billion due to a $147.4 billion loss on pensions."]
    assert competing_sentence("By how much did net costs increase?", "$229.0 billion", "figure", document) is None


@pytest.mark.parametrize("figure, expected", [
    ("98 percent", "percent"), ("22 %", "percent"), ("$45.5 trillion", "currency"), ("EUR 3 million", "currency"),
    ("12 wells", "well"), ("2.4 million tonnes", "tonne"), ("118-5", ""),
])
def test_a_figure_s_unit(figure, expected):
    assert unit(figure) == expected


def test_a_series_over_years_competes_with_a_question_that_names_no_year():
    document = ["The debt-to-GDP ratio was 98 percent at the end of FY 2024, up from 97 percent at the end of FY 2023."]
    assert competing_sentence("What is the debt-to-GDP ratio?", "98 percent", "figure", document) == document[0]
    assert competing_sentence("What was the debt-to-GDP ratio at the end of FY 2024?", "98 percent", "figure",
                              document) is None


BASIN = [
    "The northern wellfield pumped 4.2 million cubic metres of groundwater in 2021.",
    "The southern reservoir released 3.1 million cubic metres to the river during the summer drought.",
    "The authority's board approved a budget of 38 million euros for the pumping stations.",
    "Rainfall over the basin reached 812 millimetres, below the long-term average.",
]


def test_a_question_finds_its_gold_sentence_first_or_points_elsewhere():
    index = SentenceIndex(BASIN)
    # its own words: the gold's sentence comes first
    assert index.elsewhere("How much groundwater did the northern wellfield pump in 2021?",
                           "4.2 million cubic metres") is None
    # the gold of one sentence, the words of another: the question points at the reservoir's sentence
    assert index.elsewhere("How much did the southern reservoir release to the river during the drought?",
                           "4.2 million cubic metres") == BASIN[1]
    # no sentence holds the gold, or the question has no words beyond the gold's: no verdict
    assert index.elsewhere("How much did the reservoir release?", "9.9 million cubic metres") is None
    assert index.elsewhere("What is 812 millimetres?", "812 millimetres") is None
    assert SentenceIndex(BASIN[:1]).elsewhere("Anything about wells?", "4.2 million cubic metres") is None
