"""Long documents made inside the tests: varied, numbered text, so every chunk and question is distinct.

In English, or in French (``language="fr"``): the long document's raised target generates for real, and
its new questions must come out in the document's language.
"""

from __future__ import annotations

import random
from pathlib import Path

TOPICS = ["reservoir storage", "leakage repairs", "drought restrictions", "groundwater recharge", "flood defences",
          "tariff reform", "treatment capacity", "river abstraction", "metering programme", "wetland restoration",
          "pumping energy", "nitrate levels", "customer complaints", "pipe replacement", "rainfall deficit",
          "desalination trials", "heat-wave demand", "catchment farming", "sewer overflows", "solar pumping"]
PLACES = ["Varenne", "Bexley", "Ostrava", "Lindholm", "Caravel", "Mirefleur", "Haldane", "Quintal", "Sorrel",
          "Trevanion", "Ulvik", "Wexcombe"]


SUJETS = ["le stockage des réservoirs", "la réparation des fuites", "les restrictions de sécheresse",
          "la recharge des nappes", "la protection contre les crues", "la réforme des tarifs", "la capacité de traitement",
          "les prélèvements en rivière", "le programme de compteurs", "la restauration des zones humides",
          "l'énergie de pompage", "les teneurs en nitrates", "les réclamations des clients",
          "le renouvellement des conduites", "le déficit de pluie", "les essais de dessalement"]


def page_text(rng: random.Random, page: int, paragraphs: int = 10, language: str = "en") -> str:
    if language == "fr":
        return _page_text_fr(rng, page, paragraphs)
    lines = [f"Chapter {page}: {rng.choice(TOPICS).title()} in {rng.choice(PLACES)}"]
    for p in range(paragraphs):
        topic, place, other = rng.choice(TOPICS), rng.choice(PLACES), rng.choice(TOPICS)
        lines.append(
            f"In {2000 + rng.randint(0, 24)}, {topic} in {place} reached {rng.randint(11, 990)} units, "
            f"{rng.randint(2, 60)} percent {'above' if rng.random() < 0.5 else 'below'} the year before. "
            f"The authority spent {rng.randint(1, 95)}.{rng.randint(0, 9)} million euros on {other} "
            f"(section {page}.{p + 1}), and {rng.randint(3, 400)} staff worked on it. "
            f"Officials in {rng.choice(PLACES)} said the {topic} target of {rng.randint(5, 99)} would be met by "
            f"{2025 + rng.randint(0, 15)} if {other} stayed within budget.")
    return "\n\n".join(lines)


def _page_text_fr(rng: random.Random, page: int, paragraphs: int) -> str:
    lines = [f"Chapitre {page} : {rng.choice(SUJETS).capitalize()} à {rng.choice(PLACES)}"]
    for p in range(paragraphs):
        sujet, lieu, autre = rng.choice(SUJETS), rng.choice(PLACES), rng.choice(SUJETS)
        lines.append(
            f"En {2000 + rng.randint(0, 24)}, l'indicateur suivi pour {sujet} à {lieu} a atteint {rng.randint(11, 990)} unités, soit "
            f"{rng.randint(2, 60)} % de {'plus' if rng.random() < 0.5 else 'moins'} que l'année précédente. "
            f"L'agence a dépensé {rng.randint(1, 95)},{rng.randint(0, 9)} millions d'euros pour {autre} "
            f"(section {page}.{p + 1}), et {rng.randint(3, 400)} agents y ont travaillé. "
            f"Les responsables de {rng.choice(PLACES)} ont indiqué que l'objectif de {rng.randint(5, 99)} fixé pour "
            f"{sujet} serait atteint d'ici {2025 + rng.randint(0, 15)} si le budget prévu était respecté.")
    return "\n\n".join(lines)


def make_pdf(path: Path, pages: int, seed: int = 0, language: str = "en") -> Path:
    """A PDF of ``pages`` pages, about 3,300 characters each (a dense report page), different on every page."""
    import pymupdf

    rng = random.Random(seed)
    pdf = pymupdf.open()
    for number in range(1, pages + 1):
        page = pdf.new_page()
        page.insert_textbox(pymupdf.Rect(48, 48, 548, 800), page_text(rng, number, language=language), fontsize=7)
    pdf.save(path)
    return path
