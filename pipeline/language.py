"""The document's language: detected once from its extracted text, then followed by every prompt.

A French report gets French questions, gold answers, candidate instructions and
control answers. Detection is langdetect's (a port of Google's language-detection
library, 55 languages), seeded so that the same text always gives the same
answer; a profile can set ``questions.language`` instead of ``auto``.

Prompts exist as files per language where someone wrote them (``<name>.<code>.<ext>``
beside the English ``<name>.<ext>``); a language without its own file gets the
English one, which names the language the output must be written in.
"""

from __future__ import annotations

import re
from pathlib import Path

DEFAULT = "en"
# Names used inside English prompts ("Write every question and answer in German").
NAMES = {"en": "English", "fr": "French", "de": "German", "es": "Spanish", "it": "Italian", "pt": "Portuguese",
         "nl": "Dutch", "sv": "Swedish", "da": "Danish", "no": "Norwegian", "fi": "Finnish", "pl": "Polish",
         "cs": "Czech", "ro": "Romanian", "hu": "Hungarian", "el": "Greek", "tr": "Turkish", "ru": "Russian",
         "uk": "Ukrainian", "ar": "Arabic", "he": "Hebrew", "hi": "Hindi", "ja": "Japanese", "ko": "Korean",
         "zh-cn": "Chinese", "zh-tw": "Chinese", "vi": "Vietnamese", "id": "Indonesian", "ca": "Catalan"}
# A question that names its options ("..., Corvo or Thornby?"): an answer made of the question's words can be right.
OFFERS_A_CHOICE = re.compile(r"\b(?:or|ou)\b|\bwhich\b.*\b(?:between|of)\b|\bentre\b", re.IGNORECASE)
SAMPLE_CHARS = 20_000  # enough text for a stable answer; detection time grows with length


def detect(text: str) -> str:
    """The ISO 639-1 code of ``text``'s language (``en`` when it cannot be told: too little text)."""
    from langdetect import DetectorFactory, LangDetectException, detect_langs

    DetectorFactory.seed = 0  # langdetect samples n-grams at random: a fixed seed gives one answer per text
    sample = _spread_sample(text, SAMPLE_CHARS)
    try:
        found = detect_langs(sample)
    except LangDetectException:
        return DEFAULT
    return found[0].lang if found and found[0].prob >= 0.5 else DEFAULT


def _spread_sample(text: str, size: int) -> str:
    """Up to ``size`` characters taken from the start, middle and end (a cover page alone can mislead)."""
    if len(text) <= size:
        return text
    third = size // 3
    middle = len(text) // 2 - third // 2
    return "\n".join((text[:third], text[middle:middle + third], text[-third:]))


def name(code: str) -> str:
    return NAMES.get(code, code)


def localized(path: Path, code: str) -> Path:
    """``path``'s version for ``code`` (``gold_check.fr.txt`` for ``gold_check.txt``), or ``path`` itself."""
    own = path.with_name(f"{path.stem}.{code}{path.suffix}")
    return own if code != DEFAULT and own.is_file() else path


def translations(path: Path) -> list[Path]:
    """``path`` and its versions in other languages (``gold_check.fr.txt`` beside ``gold_check.txt``)."""
    import re

    own = re.compile(rf"{re.escape(path.stem)}\.[a-z]{{2}}(?:-[a-z]{{2}})?{re.escape(path.suffix)}$")
    return [path, *sorted(p for p in path.parent.glob(f"{path.stem}.*{path.suffix}") if own.fullmatch(p.name))]
