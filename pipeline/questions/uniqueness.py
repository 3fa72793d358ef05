"""Does a question single out its answer in the whole document, not only in its excerpt?

The round trip (round_trip.py) asks the generator model the question with the excerpt at hand, so a question that
the excerpt answers but the document answers several ways passes it: "What is the debt-to-GDP ratio?" of a report
that gives it for five years, "What was the increase in net costs?" where two agencies' increases are given.
A person reading the document (and a candidate given another chunk) cannot know which one is meant.

The check is lexical and cheap (no model, before the round trip): a question whose gold answer is a figure or a
date is *not unique* when another sentence of the document holds every content word of the question and a figure
of the gold's unit (or a date) of its own (:func:`competing_sentence` says which sentences count). Questions whose
gold is a name, a reason or a clause are not checked: their competitors are not countable in text.

:class:`SentenceIndex` asks the same of every question another way: read as a search over the document's
sentences, does the question find its gold's sentence first?
"""

from __future__ import annotations

import re
from functools import lru_cache

from pipeline.questions.answer_spans import answers_in

# Words that say what is asked, not what about ("what", "how many", "value"): a competing sentence need not
# hold them.
_ASKING = frozenset((
    "what which who whom whose when where why how many much is are was were does do did has have had the a an of in "
    "on at to for by with from and or this that these those it its there be been being as per than into over under "
    "about according document text report value amount number figure total level size give given state stated "
    "quel quelle quels quelles qui que quoi quand où pourquoi comment combien est sont était a ont le la les l un une "
    "des du de d en au aux dans par pour sur ce cette ces il elle ils elles y selon valeur montant nombre chiffre "
    "niveau rapport document").split())
_NUMBER = re.compile(r"\d{1,3}(?:[,\u00a0\u202f ]\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?")


def _stem(word: str) -> str:
    """A crude stem that puts "costs"/"cost", "pumped"/"pump", "increased"/"increase", "coûts"/"coût" together."""
    word = word.casefold()
    for suffix in ("ing", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[:-len(suffix)]
            break
    return word[:6]


# Cached: every question of a run is set against every sentence of its document, so a sentence's words and
# numbers are read once, not once per question.
@lru_cache(maxsize=1 << 16)
def content_words(text: str) -> frozenset[str]:
    return frozenset(_stem(w) for w in re.findall(r"[^\W\d_]+", text) if len(w) > 2 and w.casefold() not in _ASKING)


@lru_cache(maxsize=1 << 16)
def _numbers(text: str) -> frozenset[str]:
    return frozenset(re.sub(r"[\s\u00a0\u202f,]", "", n) for n in _NUMBER.findall(text))


_YEAR = re.compile(r"\b(?:19|20)\d{2}\b")
_CURRENCY = re.compile(r"[$€£¥]|\b(?:USD|EUR|GBP|CHF|dollars?|euros?|pounds?)\b", re.IGNORECASE)
_PERCENT = re.compile(r"%|\bper\s*cent\b|\bpercent\b|\bpour\s*cent\b|\bpoints?\b", re.IGNORECASE)


def unit(figure: str) -> str:
    """What a figure counts: "currency", "percent", the stem of the word after its number ("12 wells" ->
    "well"), or "" for a bare number."""
    if _CURRENCY.search(figure):
        return "currency"
    if _PERCENT.search(figure):
        return "percent"
    after = re.sub(r"^.*?\d(?:[\d.,\s\u00a0\u202f]*\d)?\s*(?:million|billion|trillion|thousand|millions|billions|"
                   r"milliards?|mille)?", "", figure, count=1, flags=re.IGNORECASE).strip(" -–")
    word = re.match(r"[^\W\d_]+", after)
    return _stem(word.group(0)) if word else ""


def competing_sentence(question: str, gold: str, kind: str | None, document_sentences: list[str]) -> str | None:
    """A sentence of the document that answers ``question`` with another figure or date than the gold (None: none
    found): it holds every content word of the question and every number the question gives ("in FY 2024"), a
    figure of the gold's unit (or a date) that is not the gold's. A sentence that states the gold beside other
    figures is most often its own sentence, and the figures beside it its parts ("costs increased $229.0 billion
    due to a $147.4 billion loss"): it competes only as a series over years ("98 percent at the end of FY 2024, up
    from 97 percent at the end of FY 2023") that the question, naming no year, does not choose from. ``kind``: the
    answer-first span kind; for any other question a gold with a digit is taken as a figure."""
    if kind not in ("figure", "date"):
        if kind is not None and kind != "other" or not re.search(r"\d", str(gold)):
            return None
        kind = "figure"
    wanted = content_words(question)
    gold_numbers = _numbers(gold)
    if not wanted or not gold_numbers:
        return None
    anchors = _numbers(question) - gold_numbers
    dated = bool(_YEAR.search(question))
    for sentence in document_sentences:
        numbers = _numbers(sentence)
        if not anchors <= numbers or not wanted <= content_words(sentence):
            continue
        if gold_numbers & numbers and (dated or kind != "figure" or len(set(_YEAR.findall(sentence))) < 2):
            continue
        answers = answers_in(sentence, kind)
        if kind == "figure":
            answers = [a for a in answers if unit(a) == unit(gold)]
        if any(_numbers(a) and not _numbers(a) & gold_numbers for a in answers):
            return sentence
    return None


class SentenceIndex:
    """The document's sentences as a search index (TF-IDF over :func:`content_words`' stems, scikit-learn's
    ``TfidfVectorizer``): does a question, read as a search, find its gold answer's sentence first?

    A question that another sentence matches better (question words beyond the gold's, cosine similarity) does not
    single out its answer: a reader given the question and the document would look elsewhere. On the labelled
    answer-first questions of 13 real dev documents (2026-12-07, all seen): of 151 unsound kept questions it
    finds 92 (under-specified "What is the top-20 accuracy on Natural Questions?", false premises mixing two
    sentences, bibliography pieces), and it also stops 55 of 170 sound ones (a question worded unlike its
    sentence), so :func:`pipeline.questions.validate.validate` keeps those only when too few questions are left
    otherwise, flagged for a human look. No threshold: the gold's sentence must come first.
    """

    def __init__(self, document_sentences: list[str]):
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.sentences = [s for s in document_sentences if content_words(s)]
        self._folded = [" ".join(s.split()).casefold() for s in self.sentences]
        self._vectorizer = self._matrix = None
        if len(self.sentences) >= 2:
            self._vectorizer = TfidfVectorizer(analyzer=_stems)
            self._matrix = self._vectorizer.fit_transform(self.sentences)

    def elsewhere(self, question: str, gold: str) -> str | None:
        """The sentence the question matches better than every sentence that holds ``gold``, or None (the
        gold's sentence comes first, no sentence holds the gold, or the question has no words of its own)."""
        if self._vectorizer is None:
            return None
        wanted = " ".join(str(gold).split()).casefold()
        own = {i for i, s in enumerate(self._folded) if wanted and wanted in s}
        gold_words = set(_stems(gold))
        words = [w for w in _stems(question) if w not in gold_words]
        if not own or not words:
            return None
        scores = (self._matrix @ self._vectorizer.transform([words]).T).toarray().ravel()
        best = max(scores[i] for i in own)
        others = [i for i in range(len(scores)) if i not in own and scores[i] > best]
        return self.sentences[max(others, key=lambda i: scores[i])] if others else None


def _stems(text) -> list[str]:
    """A text's content-word stems in order, repeats kept (term frequency); a list of stems is returned as it is."""
    if isinstance(text, list):
        return text
    return [_stem(w) for w in re.findall(r"[^\W_]+(?:[.,]\d+)*", str(text))
            if (len(w) > 2 or w.isdigit()) and w.casefold() not in _ASKING]
