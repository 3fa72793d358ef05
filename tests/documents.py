"""Long documents made inside the tests: varied, numbered text, so every chunk and question is distinct."""

from __future__ import annotations

import random
from pathlib import Path

TOPICS = ["reservoir storage", "leakage repairs", "drought restrictions", "groundwater recharge", "flood defences",
          "tariff reform", "treatment capacity", "river abstraction", "metering programme", "wetland restoration",
          "pumping energy", "nitrate levels", "customer complaints", "pipe replacement", "rainfall deficit",
          "desalination trials", "heat-wave demand", "catchment farming", "sewer overflows", "solar pumping"]
PLACES = ["Varenne", "Bexley", "Ostrava", "Lindholm", "Caravel", "Mirefleur", "Haldane", "Quintal", "Sorrel",
          "Trevanion", "Ulvik", "Wexcombe"]


def page_text(rng: random.Random, page: int, paragraphs: int = 10) -> str:
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


def make_pdf(path: Path, pages: int, seed: int = 0) -> Path:
    """A PDF of ``pages`` pages, about 3,300 characters each (a dense report page), different on every page."""
    import pymupdf

    rng = random.Random(seed)
    pdf = pymupdf.open()
    for number in range(1, pages + 1):
        page = pdf.new_page()
        page.insert_textbox(pymupdf.Rect(48, 48, 548, 800), page_text(rng, number), fontsize=7)
    pdf.save(path)
    return path
