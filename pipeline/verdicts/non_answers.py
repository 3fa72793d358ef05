"""Answers that are not answers: wrong by rule, before the judge sees them.

A small judge marks an empty answer, a list of section numbers or a copy of the
prompt "correct" (issue 19: gemma-3-270m's 9 empty answers out of 24 all
passed). :func:`non_answer_reason` names what such an answer is; the judge stage
records it as wrong with that reason (the verdict comes from the rule, not the
judge) and sends every other answer to the judge as before.

This is a guard rail, not a grader: a false rejection silently costs a candidate
a correct verdict, so each rule only fires on a shape that cannot answer the
question asked, and a doubtful case goes to the judge:

- **empty**, **only punctuation**: nothing but whitespace, punctuation or symbols;
- **a copy of the prompt**: nothing left once the prompt's frame is taken out
  (the instruction line, the excerpt and its label, ``Question: <the question>``,
  ``Answer:`` or a translated label, the chat frame of a base model served with
  llama-cpp-python's ``snoozy`` format);
- **only references**: section, figure, table or box references and nothing else
  ("1.4, 3.3, encadré thématique 3.1", "See Figure 2 and Table 5"), unless the
  question asks where, which section, or cites a reference or a legal text itself;
- **only a preamble**: an answer's opening and nothing after it ("The answer to this question is:",
  "Voici la réponse :"): a short phrase that announces an answer (answer, response, here is, the
  following, according to ...), has no digit, and ends with a colon or with "is"/"est";
- **a number where an explanation is asked**: digits and punctuation only, to a
  question that asks why, how (not how many, how much, how it changed, ...),
  or for causes, measures, recommendations ...; never to a question that asks
  for a quantity, a date, a rank, a name or an identifier.

How often the rules err is measured on a hand-labelled set (``labelled/non_answers.jsonl``, see
:func:`labelled_set_rates`), written in three parts: ``na-a*`` before the rules were written, ``na-b*``
after, as a held-out check (0 of its 38 real answers rejected, 2 of its 29 non-answers let through,
before the general fixes it prompted), ``na-c*`` while making those fixes.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path

from pipeline.config import ROOT
from pipeline.language import OFFERS_A_CHOICE

LABELLED_SET = ROOT / "labelled" / "non_answers.jsonl"  # hand-labelled answers, see its cases

EMPTY = "empty"
ONLY_PUNCTUATION = "only punctuation"
PROMPT_COPY = "a copy of the prompt"
ONLY_REFERENCES = "only references"
NUMBER_FOR_EXPLANATION = "a number where an explanation is asked"
ONLY_PREAMBLE = "only a preamble"
ECHO = "only the question's words"
REASONS = (EMPTY, ONLY_PUNCTUATION, PROMPT_COPY, ONLY_REFERENCES, ONLY_PREAMBLE, ECHO, NUMBER_FOR_EXPLANATION)
# Words that announce an answer (English, French); a short text with one, ending where the answer should start,
# is the preamble alone (SmolLM2 on the bundled sample: "The answer to this question is:").
ANNOUNCES = re.compile(r"\b(?:answers?|responses?|réponses?|solutions?|here (?:is|are)|voici|voilà|following|suivante?s?"
                       r"|below|ci-dessous|based on|according to|d'après|selon|en résumé|in summary)\b", re.IGNORECASE)
ENDS_BEFORE_THE_ANSWER = re.compile(r"(?::|\b(?:is|are|was|were|would be|est|sont|serait|seraient))\W*$",
                                    re.IGNORECASE)

# llama-cpp-python's "snoozy" chat format, which serves the base gemma-3-270m (pipeline/serving/models.py):
# "<system line>\n### Prompt: <user message>\n### Response:". The library keeps these strings inside
# its formatter; tests/test_non_answers.py renders that formatter and checks them.
SNOOZY_SYSTEM_LINE = ("The prompt below is a question to answer, a task to complete, or a conversation to "
                      "respond to; decide which and write an appropriate response.")
# Markdown role headers of snoozy and similar plain-text chat frames (Alpaca's "### Instruction:").
CHAT_HEADER = re.compile(r"#{1,6}\s*(?:instruction|prompt|response|input|output|system|user|assistant)\b\s*:?",
                         re.IGNORECASE)
# The prompt's answer and question labels as a model may echo them in the document's language or with a
# space before the colon ("Réponse :", "Question :").
TRANSLATED_LABEL = re.compile(r"\b(?:answer|réponse|respuesta|antwort|risposta|resposta|antwoord|question|pregunta"
                              r"|frage|domanda|pergunta|vraag)\s*:", re.IGNORECASE)


def prompt_frames():
    """The candidates' prompt frames (:mod:`pipeline.answers.qa_prompt`), one per language that has its own.

    Not read at import: a copied frame of any language is a copy of the prompt.
    """
    from pipeline.answers.qa_prompt import FRAMES

    return tuple(FRAMES.values())


def _loose(text: str) -> str:
    """A pattern matching ``text`` with any run of whitespace between its words."""
    return r"\s+".join(re.escape(word) for word in text.split())


def has_content(text: str) -> bool:
    """True when ``text`` has a letter or a digit (any script): not only whitespace, punctuation, symbols."""
    return any(unicodedata.category(char)[0] in "LN" for char in text)


def without_prompt_frame(question: str, answer: str) -> str:
    """``answer`` with every piece of the prompt's frame taken out; what is left is the candidate's own text.

    Taken out: chat headers and the snoozy system line, the instruction line, an excerpt label with what
    follows it up to the next question or answer label (a copy of the excerpt), the question and answer
    labels (also translated, :data:`TRANSLATED_LABEL`), and the question itself (repeated, with or without
    its question mark).
    """
    frames = prompt_frames()
    text = CHAT_HEADER.sub(" ", answer)
    for fixed in (SNOOZY_SYSTEM_LINE, *(frame.instruction for frame in frames)):
        text = re.sub(_loose(fixed), " ", text, flags=re.IGNORECASE)
    next_label = "|".join(_loose(label) for frame in frames for label in (frame.question_label, frame.answer_label))
    for frame in frames:
        text = re.sub(rf"{_loose(frame.excerpt_label)}.*?(?={next_label}|{TRANSLATED_LABEL.pattern}|\Z)", " ", text,
                      flags=re.IGNORECASE | re.DOTALL)
    asked = question.strip().rstrip("?？").strip()
    if has_content(asked):
        text = re.sub(_loose(asked), " ", text, flags=re.IGNORECASE)
    text = re.sub(next_label, " ", text, flags=re.IGNORECASE)
    return TRANSLATED_LABEL.sub(" ", text)


# ---------------------------------------------------------------------------- references

# Words that name a part of a document (English, French), casefolded, abbreviations without their dot.
REFERENCE_WORDS = frozenset("""
    section sections sect sec subsection subsections sous-section sous-sections § chapter chapters chap ch
    figure figures fig figs table tables tab box boxes annex annexes appendix appendices page pages p pp
    paragraph paragraphs para paras part parts article articles art equation equations eq footnote footnotes
    note notes faq spm ts thematic focus graph graphs chart charts diagram diagrams map maps illustration
    illustrations exhibit exhibits
    chapitre chapitres tableau tableaux encadré encadrés encadre encadres annexe paragraphe paragraphes
    partie parties graphique graphiques carte cartes thématique thématiques
""".split())
# Words that may join references ("see Section 2.3 and Box 4 of the report"), casefolded.
REFERENCE_JOINERS = frozenset("""
    see also and or to of in the report document cf voir aussi et ou à au aux dans de du des d l la le les
    rapport
""".split())
REFERENCE_TOKEN = re.compile(r"§|[^\W_]+(?:[.\-–/][^\W_]+)*")
IDENTIFIER = re.compile(r"(?:[A-Za-z]{1,4}[.\-]?)?\d+(?:[.\-–]\d+)*[a-z]?")  # 3, 3.1, 4.2.1, A.1, SPM.1, 12b
LETTER_IDENTIFIER = re.compile(r"[A-Z]|[IVXLC]{1,6}")  # Annex A, Part II: only right after a reference word


def only_references(text: str) -> bool:
    """True when ``text`` is document references and nothing else ("1.4, 3.3, encadré thématique 3.1").

    Every reference word must be followed by an identifier, so that "40 pages" or "12 sections" (a count)
    is not a reference; bare numbers with no reference word are left to :func:`only_numbers`.
    """
    named = identified = pending = False
    previous = ""
    for token in REFERENCE_TOKEN.findall(text):
        word = token.casefold()
        if word in REFERENCE_WORDS:
            named = pending = True
        elif IDENTIFIER.fullmatch(token) or (previous in REFERENCE_WORDS and LETTER_IDENTIFIER.fullmatch(token)):
            identified, pending = True, False
        elif word not in REFERENCE_JOINERS or pending:
            return False
        previous = word
    return named and identified and not pending


# What a question must say for references to answer it: it asks where, or which section/figure/...,
# or it names or cites one itself ("What does Table 2 show?"), or it is about a legal text, whose
# parts are its identifiers ("Under which procedure ...?" "Chapter 11").
_PART = (r"(?:sub-?|sous-)?(?:sections?|chapters?|figures?|tables?|box(?:es)?|annex(?:es)?|appendix|appendices"
         r"|pages?|paragraphs?|parts?|articles?|equations?|notes?|chapitres?|tableaux?|encadrés?|annexes?"
         r"|paragraphes?|parties?|graphiques?|cartes?|points?|graphs?|charts?|diagrams?|maps?|illustrations?"
         r"|exhibits?)")
ASKS_FOR_REFERENCE = re.compile("|".join([
    rf"\b(?:which|what)\s+{_PART}\b",
    rf"\b(?:quel|quelle|quels|quelles|lequel|laquelle|lesquels|lesquelles)\s+{_PART}\b",
    rf"\b{_PART}\s+[a-z]?\d",
    # a question about a section, an article ... ("Quel est le numéro de l'article ?"); the words that also
    # have another sense (parts, points, maps: "parties prenantes") count only in the forms above
    (r"\b(?:sections?|chapters?|figures?|tables?|box(?:es)?|annex(?:es)?|appendix|appendices|pages?|paragraphs?"
     r"|articles?|equations?|chapitres?|tableaux?|encadrés?|paragraphes?|graphs?|charts?|diagrams?|graphiques?"
     r"|numéros?|identifiers?|identifiants?)\b"),
    r"\bwhere\b", r"\boù\b",
    r"\b(?:refer|référ|renvoi|renvoie|cite|cité)\w*",
    (r"\b(?:laws?|acts?|codes?|procedures?|provisions?|clauses?|statutes?|regulations?|directives?|decrees?"
     r"|lois?|procédures?|dispositions?|règlements?|décrets?|normes?|standards?)\b"),
]))


# ------------------------------------------------------------------------------- numbers

def only_numbers(text: str) -> bool:
    """True when ``text`` has digits and no letter: "17", "1.4, 3.3", "22 %", "1991-2020", "+9 %"."""
    return any(char.isdigit() for char in text) and not any(char.isalpha() for char in text)


_AUXILIARY = r"(?:does|do|did|can|could|should|would|will|might|may|must|is|are|was|were|has|have|had)"
# Words after "how" that start a clause, not a degree ("explain how the plan works", "how come").
_NOT_A_DEGREE = (r"(?:to|come|exactly|precisely|else|the|a|an|this|that|these|those|its|it|their|they|his|her|he"
                 r"|she|we|our|you|your|one)")
# A question asking for a quantity, a date, a rank or a change: a number alone can answer it.
ASKS_FOR_QUANTITY = re.compile("|".join([
    # "how" then an adjective or adverb asks for a degree: how many, how much, how long, how effective ...
    rf"\bhow\s+(?!(?:{_AUXILIARY}|{_NOT_A_DEGREE})\b)\w+",
    r"\bwhen\b", r"\bby how\b", r"\bto what (?:extent|degree)\b", r"\bwhat time\b",
    (r"\bhow\b.*\b(?:chang|evolv|vari|compar|differ|increas|decreas|grow|grew|rise|rose|risen|fall|fell|drop"
     r"|declin|develop|affect|influenc|impact|distribut|split|divid|allocat|shar|broken|rank|perform|fare"
     r"|scor|measur|calculat|estimat|weigh|cost|call|name|number)\w*"),
    r"\bcombien\b", r"\bquand\b", r"\bdans quelle mesure\b", r"\bà quel (?:point|niveau|rythme|prix)\b",
    r"\bà quelle (?:date|fréquence|heure|hauteur|vitesse|distance|échéance|époque)\b",
    r"\ben quelle (?:année|période)\b",
    (r"\bcomment\b.*\b(?:évolu|chang|vari|compar|diff|augment|diminu|baiss|progress|recul|hauss|affect|influ"
     r"|impact|répart|ventil|partag|divis|class|calcul|estim|mesur|chiffr|appel|nomm|numérot)\w*"),
]))
# A question asking why: a number alone never answers it, whatever else it mentions.
ASKS_WHY = re.compile(r"\bwhy\b|\bfor what reasons?\b|\bpourquoi\b|\bpour quelles? raisons?\b|\bpor qu[ée]\b"
                      r"|\bwarum\b|\bwieso\b|\bweshalb\b|\bperché\b")
# Values, dates, ranks and names a question may ask about: a number may answer it even when it also
# says "how" or names causes ("What is the cost of the measures?").
MENTIONS_QUANTITY = re.compile(
    r"\b(?:numbers?|amounts?|quantit(?:y|ies)|shares?|percentages?|percent|proportions?|fractions?|rates?"
    r"|costs?|prices?|values?|levels?|totals?|sums?|budgets?|sizes?|ages?|years?|dates?|durations?|periods?"
    r"|lengths?|distances?|temperatures?|scores?|ranks?|rankings?|counts?|ratios?|frequenc(?:y|ies)|targets?"
    r"|thresholds?|limits?|deadlines?|codes?|identifiers?|ids?|versions?|populations?|capacit(?:y|ies)|volumes?|areas?"
    r"|weights?|heights?|depths?|speeds?|times?|names?|titles?|called|named"
    r"|nombres?|montants?|quantités?|parts?|pourcentages?|taux|coûts?|prix|valeurs?|niveaux?|sommes?|tailles?"
    r"|âges?|années?|ans|durées?|périodes?|longueurs?|températures?|rangs?|classements?|fréquences?|cibles?"
    r"|seuils?|limites?|échéances?|numéros?|identifiants?|capacités?|superficies?|surfaces?|poids|hauteurs?"
    r"|profondeurs?|vitesses?|noms?|titres?|heures?|appelle|nomme"
    # a change, a timeline ("What are the steps of the timeline?" "2025, 2027, 2030"); "climate change" is a topic
    r"|increases?|decreases?|rises?|falls?|growth|declines?|drops?|reductions?|differences?|variations?"
    r"|augmentations?|diminutions?|hausses?|baisses?|évolutions?|progressions?|différences?|reculs?"
    r"|timelines?|schedules?|milestones?|calendars?|calendriers?|échéanciers?|jalons?"
    # units
    r"|euros?|dollars?|pounds?|tonnes?|tons?|[kmgt]wh|gw|mw|km|kilom[eè]tres?|kilometers?|m[eè]tres?|meters?"
    r"|degrees?|degrés?|hectares?|mm|cm|kg|millions?|milliards?|billions?|thousands?|milliers?"
    r"|per (?:cent|year|capita|household|person|head|inhabitant)|par (?:an|habitant|ménage|personne))\b"
    r"|(?<!climate )\bchanges?\b|\bchangements?\b(?! climatiques?)")
# A question asking for an explanation, a description or a list of things.
ASKS_FOR_EXPLANATION = re.compile("|".join([
    rf"\bhow\s+{_AUXILIARY}\b",
    r"\bin (?:what|which) ways?\b",
    r"\b(?:explain|describe|summari[sz]e|justify|outline|elaborate|discuss|illustrate)\w*",
    r"\bwhat (?:led|leads|causes|caused|explains|explained|drives|drove|motivated|prompted)\b",
    r"\bwhat does\b.*\bmean\b", r"\bwhat is meant\b",
    (r"\b(?:causes?|reasons?|factors?|drivers?|consequences?|mechanisms?|roles?|purposes?|lessons?"
     r"|recommendations?|strateg(?:y|ies)|solutions?|proposals?|arguments?|implications?|obstacles?|barriers?"
     r"|challenges?|measures|steps|actions|ways|methods?|approach(?:es)?|principles?|advantages|benefits"
     r"|disadvantages|drawbacks|effects|impacts|risks)\b"),
    r"\bcomment\b", r"\bde quelles? (?:manière|façon)s?\b",
    r"\b(?:expliqu|décri|décrire|résum|justifi|détaill|illustr)\w*",
    r"\bqu'est-ce qui\b", r"\bà quoi sert\b", r"\bque signifie\b",
    (r"\b(?:raisons?|facteurs?|moteurs?|conséquences?|mécanismes?|rôles?|leçons?|recommandations?|stratégies?"
     r"|solutions?|propositions?|arguments?|implications?|obstacles?|freins?|défis?|enjeux|leviers?|mesures"
     r"|étapes|actions|moyens|méthodes?|principes?|avantages|inconvénients|effets|impacts|risques)\b"),
]))


def asks_for_explanation(question: str) -> bool:
    """True when a number alone cannot answer ``question``: it asks why, or for an explanation or a list
    of things, and not for a quantity, a date, a rank, a name or an identifier."""
    asked = question.casefold().replace("’", "'")
    if ASKS_FOR_QUANTITY.search(asked):
        return False
    if ASKS_WHY.search(asked):
        return True
    return not MENTIONS_QUANTITY.search(asked) and bool(ASKS_FOR_EXPLANATION.search(asked))


# ------------------------------------------------------------------------------ the rule

def non_answer_reason(question: str, answer: str | None, gold: str | None = None) -> str | None:
    """Why ``answer`` cannot answer ``question`` (one of :data:`REASONS`), or None: the judge grades it.
    ``gold`` (the gold answer) is needed for :data:`ECHO` only.

    >>> non_answer_reason("What are the main causes of future climate change?", "17")
    'a number where an explanation is asked'
    >>> non_answer_reason("How many days per year is the beach closed?", "12") is None
    True
    """
    answer = answer or ""
    if not answer.strip():
        return EMPTY
    if not has_content(answer):
        return ONLY_PUNCTUATION
    own = without_prompt_frame(question, answer)
    if not has_content(own):
        return PROMPT_COPY
    if only_references(own) and not ASKS_FOR_REFERENCE.search(question.casefold()):
        return ONLY_REFERENCES
    if only_preamble(own) or only_preamble(answer):  # a translated label ("réponse :") is part of the frame
        return ONLY_PREAMBLE
    if gold is not None and echoes_the_question(question, own, gold):
        return ECHO
    if only_numbers(own) and asks_for_explanation(question):
        return NUMBER_FOR_EXPLANATION
    return None


WORD = re.compile(r"[^\W_]+(?:[.,]\d+)*")
# Words an echo may add to the question's own: "The height of the Corvo dam is." adds "is" and nothing else.
LINKING = frozenset("is are was were be the a an it its this that of in on to for by "
                    "est sont était étaient le la les l un une de du des d en au aux".split())


def echoes_the_question(question: str, answer: str, gold: str) -> bool:
    """The answer says only what the question says ("What is the height of the Corvo dam?" - "The height of the
    Corvo dam."; "... in 2024?" - "... in 2024 is 2024."), while the gold answer says more: every word of the
    answer is a word of the question or a linking word (and one at least is not a linking word), and the gold
    answer has a word the question lacks — which the answer then cannot state.

    A question that names its options ("..., Corvo or Thornby?") is exempt; a gold answer made of the question's
    words (which validation rejects: :func:`pipeline.questions.question_form.restates_the_question`) leaves the answer
    to the judge. Measured on the labelled real answers (README)."""
    if OFFERS_A_CHOICE.search(question):
        return False
    asked = set(WORD.findall(question.casefold())) | LINKING
    words = set(WORD.findall(answer.casefold()))
    return bool(words - LINKING) and words <= asked and not set(WORD.findall(gold.casefold())) <= asked


def only_preamble(text: str) -> bool:
    """True when ``text`` announces an answer and stops there ("The answer to this question is:")."""
    text = text.strip()
    return (len(text.split()) <= 15 and not any(char.isdigit() for char in text)
            and bool(ANNOUNCES.search(text)) and bool(ENDS_BEFORE_THE_ANSWER.search(text)))


# ---------------------------------------------------------------------- the rule's errors

def read_labelled_set(path: Path = LABELLED_SET) -> list[dict]:
    """The hand-labelled answers (``id``, ``question``, ``answer``, ``non_answer``, ``case``); a bad line fails."""
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            item = json.loads(line)
            missing = {"id", "question", "answer", "non_answer", "case"} - item.keys()
            if missing:
                raise ValueError(f"{path}:{number}: missing {', '.join(sorted(missing))}")
            items.append(item)
    return items


def rule_error_rates(items: Iterable[Mapping]) -> dict:
    """How often :func:`non_answer_reason` errs on labelled answers (``question``, ``answer``, ``non_answer``).

    ``false_rejection_rate`` = real answers called non-answers / real answers (each costs a candidate a
    verdict the judge might have made correct); ``false_acceptance_rate`` = non-answers let through /
    non-answers (each goes to the judge, as every answer did before the rule). Each rate comes with its
    95 % Wilson interval (:func:`pipeline.measure.stats.wilson_interval`; NaN when there is no item of that kind)
    and the ids of the items it counts.
    """
    from pipeline.measure.stats import wilson_interval

    real, non, rejected, accepted = 0, 0, [], []
    for item in items:
        reason = non_answer_reason(item["question"], item["answer"], item.get("gold"))
        if item["non_answer"]:
            non += 1
            if reason is None:
                accepted.append(item["id"])
        else:
            real += 1
            if reason is not None:
                rejected.append(item["id"])
    nan = float("nan")
    return {
        "real_answers": real, "false_rejections": len(rejected),
        "false_rejection_rate": len(rejected) / real if real else nan,
        "false_rejection_interval": wilson_interval(len(rejected), real),
        "falsely_rejected": rejected,
        "non_answers": non, "false_acceptances": len(accepted),
        "false_acceptance_rate": len(accepted) / non if non else nan,
        "false_acceptance_interval": wilson_interval(len(accepted), non),
        "falsely_accepted": accepted,
    }


def labelled_set_rates(path: Path = LABELLED_SET) -> dict:
    """:func:`rule_error_rates` on the hand-labelled set."""
    return rule_error_rates(read_labelled_set(path))


def rule_rates_line(rates: dict, source: str = "labelled/non_answers.jsonl") -> str:
    """The rule's error rates as one sentence that says where they come from."""
    def part(errors: str, count: int, total: int, rate: float, interval: tuple[float, float], of: str) -> str:
        if not total:
            return f"{errors}: no {of} to count"
        low, high = interval
        return f"{errors} {count}/{total} {of} ({rate:.1%}; 95% Wilson interval {low:.1%}-{high:.1%})"

    return (f"non-answer rule on {rates['real_answers'] + rates['non_answers']} hand-labelled answers "
            f"({source}): "
            + part("false rejections", rates["false_rejections"], rates["real_answers"],
                   rates["false_rejection_rate"], rates["false_rejection_interval"], "real answers")
            + ", "
            + part("false acceptances", rates["false_acceptances"], rates["non_answers"],
                   rates["false_acceptance_rate"], rates["false_acceptance_interval"], "non-answers"))
