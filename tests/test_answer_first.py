"""Answer-first generation (issue 32): answers chosen by rules from the excerpt, questions written for them,
and the round trip that keeps a question only when the excerpt answers it with its gold."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.questions import (
    answer_first,
    answer_spans,
    prose,
    question_form,
    round_trip,
)
from pipeline.questions.generate import candidates


def _spans(sentence: str) -> list[tuple[str, str]]:
    return [(s.kind, s.text) for s in answer_spans.spans(sentence)]


@pytest.mark.parametrize("sentence, expected", [
    ("In 2025 the basin received 812 millimetres of rainfall, 14 percent below the average.",
     [("date", "2025"), ("figure", "812 millimetres"), ("figure", "14 percent")]),
    ("The Lake Varenne basin covers 4,200 square kilometres and supplies water to 1.3 million people.",
     [("name", "Lake Varenne"), ("figure", "4,200 square kilometres"), ("figure", "1.3 million people")]),
    ("Water use per person fell for the fifth year in a row, to 118 litres per day.",
     [("figure", "118 litres per day")]),
    ("The Authority reviewed 96 planning applications in 2025 and objected to 11 of them.",
     [("figure", "96 planning applications"), ("date", "2025"), ("figure", "11")]),
    ("Sur les 38 millions d'euros d'investissement, la région apporte une aide de 2,5 millions d'euros.",
     [("figure", "38 millions d'euros"), ("figure", "2,5 millions d'euros")]),
    ("Le site, qui emploie aujourd'hui 312 personnes, va s'agrandir d'un bâtiment de 9 000 m² neuf.",
     [("figure", "312 personnes"), ("figure", "9 000 m²")]),
    ("Warming of 1.5–2 °C would raise the cost of flood damage by USD 4.2 billion per year.",
     [("figure", "1.5–2 °C"), ("figure", "USD 4.2 billion per year")]),
    ("Products placed on the market after 1 January 2021 fall under Article 14 of the regulation.",
     [("date", "1 January 2021")]),  # "Article 14" is a reference, not a figure
    ("The lake level stayed high because the Corvo dam released less water during the summer.",
     [("reason", "the Corvo dam released less water during the summer")]),
    ("The programme is due to finish in 2028 at a total cost of 96 million euros.",  # "due to finish": no reason
     [("date", "2028"), ("figure", "96 million euros")]),
    ("The Applicant MUST sign and return the Memorandum of Agreement before the review starts.",
     [("obligation", "sign and return the Memorandum of Agreement before the review starts")]),
    ("Les cantines doivent proposer un menu végétarien au moins une fois par semaine.",
     [("obligation", "proposer un menu végétarien au moins une fois par semaine")]),
    ("The Authority must not disclose the findings of the review to the press.", []),  # a prohibition
])
def test_answers_are_spans_of_the_sentence(sentence, expected):
    assert _spans(sentence) == expected


@pytest.mark.parametrize("line", [
    "Annual Report 2025 of the Varenne Basin Authority",  # a heading: no sentence end, title case
    "Figure 3: Rainfall in 2025 by month, in millimetres, against the long-term mean.",  # a caption
    "Smith, J. et al. (2019). Rainfall trends in 2018. Journal of Hydrology 12, pp. 4-9.",  # a reference
    "See https://www.cdc.gov/handwashing for the 20 seconds rule and the 5 steps of handwashing.",  # a web address
    "Rainfall and drainage in the 2025 season ........................ 12",  # a contents line
    "| Rainfall | 812 mm | 944 mm | 14 percent |",  # a table row
    "Published by the Varenne Basin Authority in March 2026; printed on recycled paper.",  # front matter
    "0% 0.1 1 5 10 20 40 60 80 100% 2020 2040",  # figure debris
])
def test_no_answer_from_what_is_not_prose(line):
    assert answer_spans.spans(line) == []


def test_choose_takes_one_span_a_sentence_kinds_alternating_and_no_pronoun_sentence_first():
    excerpt = ("In 2025 the basin received 812 millimetres of rainfall, 14 percent below the average. "
               "It was last declared in 2022. "
               "The Authority declared a drought alert on 2 August and lifted it on 20 October. "
               "The new pumping station at Bexley cut the electricity bill by 22 percent.")
    chosen = answer_spans.choose(excerpt, 3)
    assert [(s.kind, s.text) for s in chosen] == [("figure", "812 millimetres"), ("date", "2 August"),
                                                   ("figure", "22 percent")]
    assert all(s.text in s.sentence for s in chosen)
    assert answer_spans.choose(excerpt, 3) == chosen  # deterministic: the offer can be recomputed
    assert "2022" in [s.text for s in answer_spans.choose(excerpt, 4)]  # a pronoun sentence only when needed


def test_generator_input_carries_the_answers_and_gives_the_excerpt_back():
    excerpt = "The new pumping station at Bexley cut the electricity bill by 22 percent in 2025."
    spans = answer_spans.choose(excerpt, 3)
    text = answer_first.generator_input(excerpt, spans, "fr")
    assert "1. Réponse : " not in text and "1. Réponse: 22 percent" in text and "Phrase: The new" in text
    assert answer_first.excerpt_of(text) == excerpt
    assert answer_first.excerpt_of(excerpt) == excerpt  # question-first chunks are left alone
    assert answer_first.offered(text, 3) == spans


def test_a_generated_answer_is_matched_to_the_offered_span():
    excerpt = "The new pumping station at Bexley cut the electricity bill by 22 percent in 2025."
    spans = answer_spans.choose(excerpt, 3)
    assert answer_first.match("22 Percent.", spans, excerpt) == ("22 percent", "figure", excerpt)
    assert answer_first.match("pumping station at bexley", spans, excerpt) == ("pumping station at Bexley",
                                                                               "other", "")
    assert answer_first.match("Bexley's station saved a fifth", spans, excerpt) is None
    assert answer_first.match("", spans, excerpt) is None
    assert answer_first.match("Réponse : 22 percent", spans, excerpt) == ("22 percent", "figure", excerpt)


def test_candidates_take_the_offered_span_as_gold_and_flag_an_answer_of_the_generators_own():
    excerpt = "The new pumping station at Bexley cut the electricity bill by 22 percent in 2025."
    chunk = answer_first.generator_input(excerpt, answer_spans.choose(excerpt, 3))
    prepared = pd.DataFrame([
        {"question": "By how much did the Bexley station cut the bill?", "ground_truth_answer": "22 percent.",
         "chunks": [chunk], "kind": "single_hop", "question_category": "", "citations": [], "chunk_ids": ["d_0"]},
        {"question": "What did the Bexley station do?", "ground_truth_answer": "It saved energy.",
         "chunks": [chunk], "kind": "single_hop", "question_category": "", "citations": [], "chunk_ids": ["d_0"]},
    ])
    rows = candidates(prepared, answers_per_chunk=3)
    assert list(rows["gold"]) == ["22 percent", "It saved energy."]
    assert list(rows["offered_answer"]) == [True, False]
    assert rows.at[0, "question_category"] == "figure" and rows.at[0, "citations"] == [excerpt]
    assert list(rows["chunk_text"]) == [excerpt, excerpt]  # the answers block never reaches candidates or judge
    assert list(candidates(prepared)["offered_answer"]) == [None, None]  # question-first: not asked


@pytest.mark.parametrize("gold, answer, agrees", [
    ("812 millimetres", "812 mm", True),  # the figure decides
    ("812 millimetres", "944 millimetres", False),  # another figure
    ("2 August", "The alert was declared on 2 August.", True),
    ("Halden Point", "at Halden Point, on the north shore", True),
    ("the Corvo dam released less water during the summer", "the Corvo dam released less water", True),
    ("Halden Point", "Arlen gauge", False),
    ("Halden Point", "not stated", False),
    ("Halden Point", "", False),
    ("Val d'Orbe", "Non indiqué.", False),
])
def test_the_round_trip_agrees_when_the_answer_states_the_gold(gold, answer, agrees):
    assert round_trip.agrees(gold, answer)[0] is agrees


def test_the_round_trip_prompt_puts_the_excerpt_before_the_question_in_the_documents_language():
    text = round_trip.prompt("Quand ?", "Le 2 juin.", "fr")
    assert text.index("Le 2 juin.") < text.index("Quand ?") and "Extrait" in text and "{" not in text
    assert "Excerpt:" in round_trip.prompt("When?", "On 2 June.", "de")  # English, for a language without a file


@pytest.mark.parametrize("question, unclear", [
    ("What is the name of the organization?", True),
    ("What is the name of the guideline?", True),
    ("What is the budget of the programme?", True),
    ("Quel est le nom du programme ?", True),
    ("What is the name of the organization that runs the Corvo wellfield?", False),  # qualified and named
    ("What is the budget of the Corvo programme?", False),
    ("How many planning applications did the Authority review in 2025?", False),
    ("Quel est le budget du projet de Montbrézac ?", False),
    ("Which section of the river has the highest nitrate level?", False),  # a place, not a body or a text
    ("What is the purpose of this workstream?", True),  # pointed at, not named
    ("Quel est l'objectif de ces mesures ?", True),  # an elided article is no quoted term
    ("Quel est l'objectif du programme ?", True),
    ("What is the purpose of this Governance workstream?", False),
    ("Who are the authors of the second paper?", True),  # where it stood in the excerpt
    ("What was the revenue in the first quarter of 2024?", False),
    ("Combien de livres numériques ont été empruntés cette année ?", False),  # the report's own year
    ("How many members joined this year?", False),
])
def test_a_question_about_a_generic_body_or_text_with_nothing_named_is_unclear(question, unclear):
    assert question_form.unclear_subject(question) is unclear
    assert (question_form.cheap_reason(question, "Corvo Water Board") == "unclear subject") is unclear


def test_the_model_checks_run_in_order_and_the_first_rejection_names_the_reason():
    from pipeline.questions.model_checks import Checks

    class Fake:
        def __init__(self, verdict, rejection):
            self.verdict, self.rejection, self.calls, self.expected = verdict, rejection, 0, None

        def expect(self, n):
            self.expected = n

        def __call__(self, row):
            self.calls += 1
            return self.verdict, f"{self.rejection} reply"

    gold, trip = Fake(True, "gold answer not supported"), Fake(False, "round trip: the excerpt gives another answer")
    checks = Checks([gold, trip])
    checks.expect(5)
    assert (gold.expected, trip.expected) == (5, 5)
    assert checks({}) == (False, "gold answer not supported reply | round trip: the excerpt gives another answer reply")
    assert checks.rejection == "round trip: the excerpt gives another answer"
    first = Fake(None, "gold answer not supported")
    assert Checks([first, trip])({})[0] is None and trip.calls == 1  # no verdict: the next check is not asked


@pytest.mark.parametrize("question, stripped", [
    ("Quelle est la durée de l'expérimentation mentionnée dans le texte ?", "Quelle est la durée de l'expérimentation ?"),
    ("What is the budget of the Corvo programme mentioned in the report?", "What is the budget of the Corvo programme?"),
    ("How many wells are there according to the text?", "How many wells are there?"),
    ("Which crops are mentioned in the text?", "Which crops are mentioned in the text?"),  # what it asks: left to reject
    ("What is the name of the report on water?", "What is the name of the report on water?"),  # a subject's report
])
def test_a_trailing_reference_to_the_text_is_taken_off_the_question(question, stripped):
    assert question_form.strip_scaffolding(question) == stripped


@pytest.mark.parametrize("question, kind, other", [
    ("When did the Esk Mill station close?", "date", False),
    ("Dans quelle année l'expérimentation est-elle obligatoire ?", "date", False),
    ("How many meals per week are vegetarian?", "date", True),  # a date asked as a count
    ("Quel est le délai de réponse ?", "date", True),  # no word of time
    ("How many hectares did the farmers sign up?", "figure", False),
    ("Quand la note a-t-elle été publiée ?", "figure", True),  # a figure asked with when
    ("Who chairs the Corvo Water Board?", "name", False),
    ("How many staff work at Arlen North?", "name", True),
    ("Why did the lake level stay high?", "reason", False),
])
def test_an_answer_first_question_must_ask_for_its_answers_kind(question, kind, other):
    assert question_form.asks_for_another_kind(question, kind) is other


def test_a_name_the_document_repeats_is_its_subject_not_an_answer():
    document = ("The Trust Framework Accreditation Authority reviews each plan. The Trust Framework Accreditation "
                "Authority advises the Applicant. An Applicant may appeal to the Trust Framework Accreditation "
                "Authority within 20 days. The Digital Transformation Agency publishes the framework.")
    common = answer_spans.common_names(document)
    assert "trust framework accreditation authority" in common and "digital transformation agency" not in common
    excerpt = "The Trust Framework Accreditation Authority advises the Applicant within 20 days of a review."
    assert [s.text for s in answer_spans.spans(excerpt, common)] == ["20 days"]
    assert "Trust Framework Accreditation Authority" in [s.text for s in answer_spans.spans(excerpt)]


def test_a_piece_the_generator_chose_is_no_answer_when_it_is_cut_from_a_longer_phrase():
    excerpt = ("The Authority evaluates the Applicant’s operational readiness test results before the live "
               "implementation of the Identity Exchange environment.")
    assert answer_first.match("Applicant’s", [], excerpt) is None  # a possessive: its noun is missing
    assert answer_first.match("live implementation", [], excerpt) is None  # "... of the Identity Exchange environment"
    assert answer_first.match("Identity Exchange environment", [], excerpt) == (
        "Identity Exchange environment", "other", "")
    assert answer_first.match("AED", [], "guidelines developed by the AED Community of Practice.") is None


@pytest.mark.parametrize("sentence, obligations", [
    ("The Authority will say what the Applicant will need to do in order for its actions to be acceptable.", []),
    ("The Accredited Provider must take in order to keep its accreditation.", []),
    ("The guide says what a person must do to comply with a regulation.", []),
    ("Applicants must do their own testing before the gate.", ["do their own testing before the gate"]),
    ("The Applicant must sign and return two copies of the Memorandum of Agreement.",
     ["sign and return two copies of the Memorandum of Agreement"]),
])
def test_an_obligation_that_says_nothing_by_itself_is_not_offered(sentence, obligations):
    from pipeline.questions.answer_spans import answers_in
    assert answers_in(sentence, "obligation") == obligations


def test_a_name_with_an_ampersand_is_one_name_and_no_reason():
    from pipeline.questions.answer_spans import answers_in

    sentence = "Drafts are analyzed by the Office of Information & Regulatory Affairs before publication."
    assert answers_in(sentence, "name") == ["Office of Information & Regulatory Affairs"]
    assert question_form.asks_for_another_kind("Why may portions of a final rule be excepted?", "name")
    assert not question_form.asks_for_another_kind("Which office analyzes draft rules?", "name")


@pytest.mark.parametrize("sentence", [
    "Tom Brown, Benjamin Mann, Nick Ryder and others. 2020. Language models are few-shot learners.",
    "Karl Cobbe, Vineet Kosaraju and Mohammad Bavarian. 2021. Training verifiers to solve math word problems. "
    "arXiv preprint arXiv:2110.14168.",
])
def test_a_bibliography_entry_is_not_prose_to_ask_about(sentence):
    assert not prose.prose(sentence)
    assert prose.prose("The accuracy of T5 XXL on GSM8K improves from 8.11% to 21.99% when finetuned on PaLM 540B.")


def _offers(sentence: str, offered: str | None, not_offered: str | None) -> None:
    """The sentence's spans hold ``offered`` (unless None) and not ``not_offered``."""
    texts = [s.text for s in answer_spans.spans(sentence)]
    assert offered is None or offered in texts
    assert not_offered not in texts


@pytest.mark.parametrize("sentence, offered, not_offered", [
    # a figure keeps its qualifier
    ("Annual traffic between the two ports amounts to over 12 million passengers every year.",
     "over 12 million passengers", "12 million passengers"),
    ("We trained the encoders for up to 40 epochs on the large datasets of the study.", "up to 40 epochs", None),
    # one of two figures in a list or a comparison is half an answer
    ("The model was finetuned on only 4% and 20% of the training data, randomly selected.", None, "4%"),
    # figures of one unit a few words apart are a list or a range, whatever joins them; other units are not
    ("Petroleum products account for a large share of the energy in Cyprus (87 %), Malta (86 %) and Luxembourg.",
     None, "87 %"),
    ("The market grew from 3,4 % in 2017 to 5,6 % in 2019 according to the agency's survey.", None, "5,6 %"),
    ("The plant treated 120 tonnes of waste with 14 workers on two shifts during the whole winter.",
     "120 tonnes", None),
    ("The plant treated 120 tonnes of waste with 14 workers on two shifts during the whole winter.",
     "14 workers", None),
    ("EU greenhouse gas emissions declined steadily from 2010 until 2014 and then rose slightly.", None, "2010"),
    # a checklist's box glyph is no part of an answer
    ("Agency offices that release no data must provide ☐ documentation of the reasons for not publishing.", None,
     "provide ☐ documentation of the reasons for not publishing"),
    # a name that goes on before "and" is not cut; an acronym before a name belongs to it
    ("The work was supported by the Gordon and Betty Moore Foundation over three years.", None,
     "Betty Moore Foundation"),
    ("The committees reviewed the HPC Carpentry Lesson program ahead of a formal vote.", "HPC Carpentry Lesson",
     "Carpentry Lesson"),
])
def test_answer_spans_are_whole_answers(sentence, offered, not_offered):
    _offers(sentence, offered, not_offered)


def test_a_reference_entry_s_pages_are_not_prose():
    assert not prose.prose("In Empirical Methods in Natural Language Processing (EMNLP), pages 2383–2392.")
    assert not prose.prose("Foundations and Trends in Information Retrieval, 3(4):333–389.")


def test_a_passive_obligation_is_no_answer_and_a_reason_is_asked_only_of_a_reason():
    from pipeline.questions.question_form import asks_for_another_kind

    texts = [s.text for s in answer_spans.spans(
        "A robust certificate revocation system should be implemented by every project before its first release.")]
    assert "be implemented by every project before its first release" not in texts
    active = "Maintainers must publish their keys on the project site before the first release of a package."
    assert "publish their keys on the project site before the first release of a package" in [
        s.text for s in answer_spans.spans(active)]
    assert asks_for_another_kind("Quelle est la raison pour laquelle l'algorithme est utilisé ?", "name")
    assert asks_for_another_kind("Why are the release policies maintained?", "obligation")
    assert not asks_for_another_kind("Why was the alert declared in August?", "reason")
    assert not asks_for_another_kind("Why was the alert declared in August?", None)  # question-first: not checked


@pytest.mark.parametrize("sentence, offered, not_offered", [
    # a bound belongs to its figure; a type code is no quantity
    ("Seven criteria needed an extra cost inférieur à 5 % of the project's total budget in the year.",
     "inférieur à 5 %", "5 %"),
    ("The hosting chosen in 2021 has a water use effectiveness <1,5 over the whole duration of the contract.", "<1,5",
     "1,5"),
    ("Local jails and other municipal confinement 201 = Group homes for juveniles (non-correctional); the rest.",
     None, "201"),
    ("Four (ε = 4.0) will be allocated to the microdata detail file that supports the tables.", "4.0", None),
    # a name that may go on after "and" or a parenthesis is not cut; an item of a list is not an answer
    ("For example, the National Oceanic and Atmospheric Administration explained that it receives complaints.",
     None, "National Oceanic"),
    ("The CNCF Technical Advisory Group (TAG) for Security maintains a catalog of known supply chain attacks.",
     None, "CNCF Technical Advisory Group"),
    ("The synergy between developers, Chief Information Security Officers (CISOs), and operations teams is a "
     "cornerstone.", None, "Chief Information Security Officers"),
    ('Four themes emerged: "Not knowing how," "Communicating value," "Data Concerns," and "Lack of consistency."',
     None, "Data Concerns"),
    ("Under the Small Business Regulatory Enforcement Fairness Act, new final rules must be sent to Congress and "
     "the Government Accountability Office.", "Small Business Regulatory Enforcement Fairness Act", None),
    ("A data governance body is chaired by the Chief Data Officer (CDO), and includes senior staff of the agency.",
     "Chief Data Officer", None),
    # an obligation cut short, joined to another, or reported from others is no answer
    ("To facilitate citizen review, agencies shall establish administrative mechanisms allowing affected", None,
     "establish administrative mechanisms allowing affected"),
    ("The supplier should publicly document their processes, and have an incident response process with SLAs.",
     None, "publicly document their processes"),
    ("The CIO must certify to OMB that the agency, to the maximum extent practicable, uses technology well.", None,
     "certify to OMB that the agency"),
    ("The system must make it clear which artifacts a given party is trusted to certify using delegations.", None,
     "make it clear"),
    ("A number of comments suggested that OMB should repropose this standard for additional public comment.", None,
     "repropose this standard for additional public comment"),
    ("Agencies must ensure that data is encrypted at rest in every system they run.",
     "ensure that data is encrypted at rest in every system they run", None),
])
def test_answer_spans_are_whole_answers_stated_by_the_document(sentence, offered, not_offered):
    _offers(sentence, offered, not_offered)


def test_a_question_the_document_asks_gives_no_answer():
    statement = "Le service numérique utilise un hébergement qui a un WUE de 1 L/kWh selon le dernier rapport."
    assert [s.text for s in answer_spans.spans(statement)] == ["1 L/kWh"]
    assert answer_spans.spans(statement.replace(" selon le dernier rapport.", " selon le dernier rapport ?")) == []


@pytest.mark.parametrize("question, gold, other", [
    ("Quels sont les trois ateliers exploratoires menés ?", "3 ateliers", True),  # a count asked as "which"
    ("Which states were reinstated for coverage?", "29 states", True),
    ("How many states were reinstated for coverage?", "29 states", False),
    ("Which executive order does this procedure define?", "13642", False),
    ("What is the minimum population for a small metro county?", "less than 250,000", True),  # a bound reversed
    ("What is the maximum population for a small metro county?", "less than 250,000", False),
    ("What is the maximum share of cost overrun?", "supérieur à 20 %", True),
])
def test_a_figure_asked_as_something_else_is_rejected(question, gold, other):
    assert question_form.asks_for_another_kind(question, "figure", gold) is other


@pytest.mark.parametrize("sentence, offered, not_offered", [
    # a number that names a text goes with its name, not alone; a name cut at a parenthesis is no answer
    ("The FedRAMP Program Management Office updated the baseline security controls to reflect the changes in "
     "NIST SP 800-53, revision 5.", None, "800-53"),
    ("Significant rules (defined by Executive Order 12866) and major rules are sent to Congress.",
     "Executive Order 12866", "Executive Order"),
    ("In the Lake Varenne basin 12 wells were dug in the year of the drought.", "12 wells", "Lake Varenne 12"),
    ("The CSP documents residual risks, in accordance with the FedRAMP Plan of Action and Milestones (POA&M) "
     "Template Completion Guide, and defines a plan.", None, "Template Completion Guide"),
    ("The report was written by the World Health Organization (WHO) and Médecins Sans Frontières in Geneva.",
     "Médecins Sans Frontières", None),
    # an abbreviation's expansion that goes on is no obligation, nor is "the need to"
    ("The CSP must conduct a contingency plan (CP) functional test and include the CP test report.", None,
     "conduct a contingency plan"),
    ("The agency must appoint a Chief Data Officer (CDO) who leads the work on data.",
     "appoint a Chief Data Officer", None),
    ("There were several useful remarks about the need to improve the endorsement system and the moderation.",
     None, "improve the endorsement system and the moderation"),
    # a per cent sign run into the next word is the figure's; "a year ago" is no rate
    ("GNU Guix received contributions every month, a 50%increase compared to last year.", "50%", "50"),
    ("The collection that comes with Guix went from 9,000 packages a year ago to more than 12,000 now.",
     "9,000 packages", "9,000 packages a year"),
    ("Households use 118 litres a day of drinking water in the basin.", "118 litres a day", None),
])
def test_answer_spans_keep_a_figure_or_name_whole(sentence, offered, not_offered):
    _offers(sentence, offered, not_offered)


@pytest.mark.parametrize("answer, taken", [
    ("134,789$", False),  # one end of a range
    ("164,200$ annuel", False),
    ("50", False),  # cut from its per cent sign
    ("8.11%", True),  # each end of a change is an answer
    ("21.99%", True),
])
def test_a_piece_the_generator_chose_is_no_answer_when_it_is_one_end_of_a_range(answer, taken):
    excerpt = ("Les salaires s’échelonnent entre 134,789$ à 164,200$ annuel. Guix had a 50%increase compared to "
               "last year. The accuracy improves from 8.11% to 21.99% when finetuned.")
    assert (answer_first.match(answer, [], excerpt) is not None) is taken
