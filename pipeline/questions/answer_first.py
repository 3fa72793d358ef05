"""Answer-first generation inside YourBench: the answers go in with the excerpt, the questions come back.

YourBench's single-hop stage fills its user prompt (``single_hop_user_prompt``, here
``generator_prompts/answer_first_user.md``) with the chunk's text and the stage's additional instructions; the
chunk's text is the only part that differs from call to call. So the chunk text YourBench is given is the
excerpt *and* the answers chosen from it (:func:`generator_input`), and everything YourBench records (its
``chunked`` subset, the prepared questions) carries both; :func:`excerpt_of` takes the excerpt back out, and
:func:`match` finds which of the offered answers a generated one is.

The reply is a JSON array of ``{"answer", "question"}`` objects, the answer first (the generator writes each
question with its answer already written), constrained by a grammar where the server allows it
(:func:`schema`). Written in the excerpt's words, the gold answer is a verbatim span of the document: never a
heading, a web address, figure debris or an answer the document does not give. The question's type is the
answer's kind (figure, date, name, reason).
"""

from __future__ import annotations

import re

from pipeline.questions.answer_spans import Span, choose

TEXT_OPEN, TEXT_CLOSE, ANSWERS_OPEN, ANSWERS_CLOSE = "<text>\n", "\n</text>", "\n\n<answers>\n", "\n</answers>"
LABELS = {"en": ("Answer", "Sentence"), "fr": ("Réponse", "Phrase")}


def schema(count: int) -> dict:
    """JSON schema of a reply: ``count`` objects, each the answer (first) and its question.

    Exactly ``count``: with "1 to count" the 1.5B generator stopped after the first question of three answers
    offered, two calls in three on the sample. An excerpt with fewer answers to offer gets questions whose answers
    were not offered, which validation rejects ("gold answer not in the excerpt").
    """
    item = {"type": "object",
            "properties": {"answer": {"type": "string"}, "question": {"type": "string"}},
            "required": ["answer", "question"]}
    return {"type": "array", "items": item, "minItems": count, "maxItems": count}


def generator_input(excerpt: str, spans: list[Span], language: str = "en") -> str:
    """The chunk text YourBench puts in the generator's prompt: the excerpt, then the numbered answers, each with
    the sentence it comes from.

    The sentence as it is: with the answer blanked out ("received ___ of rainfall"), the 1.5B generator copied
    the sentence, blank and all, as its "question" (6 of 12 on the sample, dev; 12 of 12 kept with the sentence
    whole and the system prompt's example)."""
    answer, sentence = LABELS.get(language, LABELS["en"])
    lines = [f"{i}. {answer}: {span.text}\n   {sentence}: {span.sentence}" for i, span in enumerate(spans, 1)]
    return f"{TEXT_OPEN}{excerpt.strip()}{TEXT_CLOSE}{ANSWERS_OPEN}" + "\n".join(lines) + ANSWERS_CLOSE


def excerpt_of(chunk_text: str) -> str:
    """The excerpt in a chunk text made by :func:`generator_input` (any other text is returned as it is)."""
    text = str(chunk_text)
    if text.startswith(TEXT_OPEN) and TEXT_CLOSE + ANSWERS_OPEN in text:
        return text[len(TEXT_OPEN):text.index(TEXT_CLOSE + ANSWERS_OPEN)]
    return text


def offered(chunk_text: str, count: int, common: frozenset[str] = frozenset()) -> list[Span]:
    """The answers a chunk text of :func:`generator_input` offered: recomputed from its excerpt and the document's
    common names (the choice is deterministic), so that the generator's reply is checked against what it was
    given."""
    return choose(excerpt_of(chunk_text), count, common)


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[\"'“”«»‘’]", " ", str(text)).casefold().split()).strip(" .;:,")


# The offered answer copied with its label ("Réponse: 4,4 %"): 5 of the 15 "gold answer not in the excerpt" of a
# real French dev document, 2026-12-07 (answer-first-3), none in four English ones.
_LABEL = re.compile(r"^\s*(?:answer|réponse|reponse)\s*\d*\s*:\s*", re.IGNORECASE)

MAX_OTHER_WORDS = 8  # a piece of the excerpt no rule offered is taken as a gold answer only when it is this short


def match(answer: str, spans: list[Span], excerpt: str) -> tuple[str, str, str] | None:
    """(gold, kind, citation) for a generated ``answer``: the offered span it copies (the span's own text, kind
    and sentence), else a short verbatim piece of the excerpt (kind "other", no citation; a whole sentence copied
    is not an answer, nor is a piece cut from a longer phrase), else None (the generator wrote an answer of its
    own)."""
    answer = _LABEL.sub("", str(answer))
    wanted = _norm(answer)
    if not wanted:
        return None
    for span in spans:
        if _norm(span.text) == wanted:
            return span.text, span.kind, span.sentence
    flat = " ".join(str(excerpt).split())
    found = flat.casefold().find(" ".join(str(answer).split()).casefold().strip(" .;:,"))
    if found >= 0 and len(wanted) >= 2 and len(wanted.split()) <= MAX_OTHER_WORDS:
        piece = flat[found:found + len(" ".join(str(answer).split()).strip(" .;:,"))]
        after = flat[found + len(piece):]
        if _CUT_SHORT.search(piece) or _CONTINUED.match(after) or _RANGE.search(flat[:found] + piece[:1]) or (
                piece.split()[-1][:1].isupper() and re.match(r"\s+[A-Z]", after)):  # "AED" of "AED Community"
            return None
        return piece, "other", ""
    return None


# A piece of a longer phrase, not an answer: "Applicant’s" (of "Applicant’s operational readiness test results"),
# "live implementation" (of "live implementation of the Identity Exchange environment"), "AED" (of "AED Community
# of Practice": a name goes on). Two real dev documents, 2026-12-07: 3 of the 7 kept pieces the generator chose.
_CUT_SHORT = re.compile(r"['’]s?$|\b(?:the|a|an|of|and|or|to|le|la|les|de|du|des|et|ou|à)$", re.IGNORECASE)
# A figure cut from its sign or from a range goes on too: "50" of "a 50%increase", "134,789$" of "entre 134,789$ à
# 164,200$" (two real documents held out for the eighth generation, seen since; both unsound); "from 8.11% to 21.99%"
# is a change, and each end an answer.
_CONTINUED = re.compile(r"\s*(?:['’]s?\b|of\b|de\b|du\b|des\b|d['’])|[%‰]|\s*[–-]\s*\d", re.IGNORECASE)
_RANGE = re.compile(r"\b(?:between|entre)\s+(?:\S+\s*(?:and|et|à|to)\s*)?\d$", re.IGNORECASE)
