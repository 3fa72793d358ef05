"""Which sentences of an excerpt are prose to ask about (:func:`sentences`, :func:`prose`).

Answer spans (:mod:`pipeline.questions.answer_spans`) are read only from prose: a heading, a caption, a table row, a
reference, a line of a table of contents, a sentence with a web address or an e-mail address, the imprint, a question
the document itself asks give no answer. Validation and the model checks cut excerpts into the same sentences.
"""

from __future__ import annotations

import re

from pipeline.questions.selection import SENTENCE_END

MIN_WORDS, MAX_WORDS = 6, 60  # a sentence of prose: shorter is a heading or a label, longer is a run-on extraction

# Sentences that are not prose to ask about.
_URL = re.compile(r"https?://|www\.|\b[\w.-]+\.(?:com|org|gov|int|net|edu|fr|eu|uk)\b(?:/\S*)?|\S+@\S+\.\w+",
                  re.IGNORECASE)
_CAPTION = re.compile(r"^\s*(?:figure|fig\.|table|tableau|graphique|chart|box|encadré|source|sources|note|notes|"
                      r"map|carte|photo|image)\s*[A-Z]{0,4}[.\d]*\s*[:.–—-]", re.IGNORECASE)
# A reference of a bibliography ("Tom Brown, Benjamin Mann, … 2020. Language models are few-shot learners. arXiv
# preprint …": a real dev paper, 2026-12-07, 4 of its 24 kept questions asked for "the second paper" of its list).
_REFERENCE = re.compile(r"\bet\s+al\.|\bdoi\b|\bISBN\b|\bISSN\b|\bpp\.\s*\d|\bVol\.\s*\d|\(\d{4}[a-z]?\)[.,]|"
                        r"\bRetrieved\b|\bAccessed\b|\bconsulté le\b|\barXiv\b|\bpreprint\b|\bProceedings\s+of\b|"
                        r"\bIn\s+Proc|\bConference\s+on\b|\bJournal\s+of\b|[.,]\s(?:19|20)\d{2}[a-z]?\.\s|"
                        r"\bpages\s+\d+\s*[–-]\s*\d+|\b\d+\s*\(\d+\)\s*:\s*\d+", re.IGNORECASE)
_FRONT_MATTER = re.compile(r"\b(?:published|publication|copyright|all\s+rights\s+reserved|suggested\s+citation|"
                           r"cite\s+as|prepared\s+by|edited\s+by|printed|ISBN|licen[cs]e|publié|édité|imprimé|"
                           r"droits\s+réservés|citation\s+suggérée)\b|©", re.IGNORECASE)
# A question the document asks states no fact: a checklist's "Le service numérique utilise-t-il un hébergement qui a
# un WUE inférieur à 1 L/kWh ?" gave "What is the WUE of the service?" -> "1 L/kWh" (the service's WUE is unknown),
# a playbook's own questions for agencies were copied as questions (real documents held out for the fifth and sixth
# generations, seen since: 3 kept golds, all unsound).
_QUESTION = re.compile(r"\?\W*$")
_LEADERS = re.compile(r"\.{4,}|…{2,}|(?:\s\.){3,}|\s\d{1,3}\s*$")  # a table of contents line


# A heading on a line of its own ("2 Cadre réglementaire", "Key findings", "3.1 Water use"): a few words, no
# punctuation at the end. Joined to the next line it would open a sentence ("2 Cadre réglementaire Loi EGalim La loi").
_HEADING = re.compile(r"^\s*(?:#+\s*)?(?:\d+(?:\.\d+)*\.?\s+)?[A-ZÀ-ÖØ-Þ0-9][^.!?;:,]{0,60}(?<![.!?;:,\-–])\s*$")
_HEADING_WORDS = 8


def _heading(lines: list[str], i: int, after_heading: bool = False) -> bool:
    """Line ``i`` is a heading: short, unpunctuated, after a paragraph's end (or another heading) and before a
    line that opens one (a wrapped line of a sentence is followed by its lowercase continuation)."""
    line = lines[i]
    if not _HEADING.match(line) or len(line.split()) > _HEADING_WORDS:
        return False
    before = next((b.strip() for b in reversed(lines[:i]) if b.strip()), "")
    after = next((a.strip() for a in lines[i + 1:] if a.strip()), "")
    opens = after_heading or not before or not lines[i - 1].strip() or bool(re.search(r"[.!?;:]\W*$", before))
    return opens and (not after or bool(re.match(r"[A-ZÀ-ÖØ-Þ0-9•\-–*(«\"]", after)))


def sentences(excerpt: str) -> list[str]:
    """The excerpt cut at sentence ends, list items and blank lines (:data:`selection.SENTENCE_END`), each on one
    line; a paragraph that opens with a caption's label ("Figure 3:", "Table 2.", "Source:") is left out whole."""
    paragraphs = re.split(r"(\n\s*\n)", excerpt)
    lines = "".join(p for p in paragraphs if not _CAPTION.match(p)).split("\n")
    headings: list[bool] = []
    for i in range(len(lines)):
        headings.append(_heading(lines, i, after_heading=bool(headings) and headings[-1]))
    excerpt = "\n".join(line for line, heading in zip(lines, headings) if not heading)
    parts, start = [], 0
    for match in SENTENCE_END.finditer(excerpt):
        parts.append(excerpt[start:match.end()])
        start = match.end()
    parts.append(excerpt[start:])
    return [" ".join(part.split()) for part in parts if part.strip()]


def prose(sentence: str) -> bool:
    """A sentence of prose to ask about: words enough and not too many, mostly letters, a sentence end or a
    list item's length, and not a caption, reference, table row, contents line or web address."""
    words = sentence.split()
    if not MIN_WORDS <= len(words) <= MAX_WORDS:
        return False
    letters = sum(c.isalpha() for c in sentence)
    if letters < 0.6 * len(sentence.replace(" ", "")):
        return False
    if sentence.lstrip().startswith("|") or sentence.count("|") >= 2:
        return False
    if any(p.search(sentence) for p in (_URL, _REFERENCE, _LEADERS, _FRONT_MATTER)) or _CAPTION.match(sentence):
        return False
    capitalised = sum(w[:1].isupper() for w in words)
    if capitalised > 0.6 * len(words):  # a title in Title Case, a list of names
        return False
    if _QUESTION.search(sentence):
        return False
    return bool(re.search(r"[.!?;:]\W*$", sentence)) or len(words) >= 8
