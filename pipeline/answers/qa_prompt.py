"""The candidates' prompt: an instruction, the source excerpt and the question, in the document's language.

Kept apart from the Lighteval task (``tasks/document_qa.py``), which imports
Lighteval's metrics (tens of seconds on 2 cores): the answer stage maps recorded
prompts back to questions with it, and the non-answer rule reads its frame.
Languages without their own frame get the English one; the instruction then
names the language the answer must be written in.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline import language as languages


@dataclass(frozen=True)
class Frame:
    instruction: str
    excerpt_label: str
    question_label: str
    answer_label: str


FRAMES = {
    "en": Frame("Answer the question in one or two sentences.", "Document excerpt:", "Question:", "Answer:"),
    "fr": Frame("Répondez à la question en une ou deux phrases.", "Extrait du document :", "Question :", "Réponse :"),
}
STOP_SEQUENCES = ["\nQuestion:", "\nQuestion :"]  # a base model would go on with the next question


def frame(language: str = "en") -> Frame:
    if language in FRAMES:
        return FRAMES[language]
    english = FRAMES["en"]
    return Frame(f"Answer the question in {languages.name(language)}, in one or two sentences.",
                 english.excerpt_label, english.question_label, english.answer_label)


def prompt_text(question: str, context: str = "", language: str = "en") -> str:
    f = frame(language)
    excerpt = f"{f.excerpt_label}\n{context.strip()}\n\n" if context.strip() else ""
    return f"{f.instruction}\n\n{excerpt}{f.question_label} {question.strip()}\n{f.answer_label}"
