"""The text of a multi-column PDF in reading order, for YourBench's ingestion.

YourBench turns a PDF into Markdown with MarkItDown, whose PDF converter reads a page's lines across its
columns: on a three-column Federal Register notice it glued each line of one column to the lines beside it,
cut the page into one-row "tables" and kept the running head ("Federal Register / Vol. 85, No. 152 / …
Proposed Rules 47699") between sentences. Answer spans, excerpts and the candidates' context were then made
of two columns' half-sentences (upstream: microsoft/markitdown issue 1323, "PDF conversion fault": a
double-column paper comes out "messy"; MarkItDown has no layout option). This module is the one place that works
around it:

* PyMuPDF (YourBench's own PDF library) gives each page's text blocks with their positions;
* a page is *multi-column* when its narrow blocks (under half the text width) fall into two or more separate
  vertical bands, each holding a column's worth of prose (:data:`MIN_COLUMN_CHARS`);
* a document is multi-column when at least :data:`MULTI_COLUMN_SHARE` of its text pages are; only then is its
  text taken from here (one column after the other, a full-width block between bands where it stands), with
  running heads and feet (a block in the page's top or bottom margin whose text, digits aside, recurs on
  several pages), page-number blocks and vertical margin text left out, and each block's wrapped lines joined
  into one paragraph (a word hyphenated at a line end joined again).

Single-column documents keep MarkItDown's text as it was (its tables stay Markdown tables).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

# In the ingestion's key (generate.py: ingested.key): a change here re-extracts the documents it changes.
VERSION = "pdf-text-1"
MIN_COLUMN_CHARS = 300  # a band of narrow blocks holding less is a table's column or a caption, not text
MULTI_COLUMN_SHARE = 1 / 3  # of the pages with text
MIN_PAGE_CHARS = 500  # a page with less (a cover, a figure) does not vote
MARGIN = 0.09  # top and bottom share of the page where running heads and feet stand
RECURRING_PAGES = 3  # a margin text seen on this many pages (and on 30% of them) is a running head or foot


@dataclass
class Block:
    x0: float
    y0: float
    x1: float
    y1: float
    text: str

    @property
    def width(self) -> float:
        return self.x1 - self.x0


def _join_lines(lines: list[str]) -> str:
    """A block's wrapped lines as one paragraph: "pro-" + "posed" is "proposed", "2018–" + "23" is "2018–23";
    other lines join with a space."""
    text = ""
    for line in (ln.strip() for ln in lines):
        if not line:
            continue
        if text.endswith("-") and line[:1].islower() and len(text) > 1 and text[-2].isalpha():
            text = text[:-1] + line
        elif text and text[-1] in "-–" and line[:1].isdigit():  # "737–" + "9": a number cut at its dash
            text += line
        else:
            text = f"{text} {line}" if text else line
    return text


def _blocks(page) -> list[Block]:
    """The page's text blocks, horizontal lines only (margin stamps written sideways are left out)."""
    blocks = []
    for raw in page.get_text("dict")["blocks"]:
        if raw.get("type") != 0:
            continue
        lines = ["".join(span["text"] for span in line["spans"]) for line in raw["lines"]
                 if abs(line["dir"][0] - 1) < 1e-3 and abs(line["dir"][1]) < 1e-3]
        text = _join_lines(lines)
        if text.strip():
            blocks.append(Block(*raw["bbox"], text))
    return blocks


def _shape(text: str) -> str:
    return re.sub(r"\d+", "#", " ".join(text.split())).casefold()


def _in_margin(block: Block, height: float) -> bool:
    return block.y1 <= MARGIN * height or block.y0 >= (1 - MARGIN) * height


def _columns(blocks: list[Block]) -> list[tuple[float, float]]:
    """The horizontal bands the page's narrow blocks fall into, each with a column's worth of text."""
    if not blocks:
        return []
    left, right = min(b.x0 for b in blocks), max(b.x1 for b in blocks)
    narrow = sorted((b for b in blocks if b.width < 0.5 * (right - left)), key=lambda b: b.x0)
    bands: list[list] = []  # [x0, x1, chars]
    for b in narrow:
        if bands and b.x0 < bands[-1][1] - 2:
            bands[-1][1] = max(bands[-1][1], b.x1)
            bands[-1][2] += len(b.text)
        else:
            bands.append([b.x0, b.x1, len(b.text)])
    return [(x0, x1) for x0, x1, chars in bands if chars >= MIN_COLUMN_CHARS]


def _reading_order(blocks: list[Block], columns: list[tuple[float, float]]) -> list[Block]:
    """Column after column, top to bottom; a block that spans columns (a title, a full-width table) closes the
    band of columns above it and opens the next."""
    if len(columns) < 2:
        return sorted(blocks, key=lambda b: (round(b.y0), b.x0))

    def column_of(block: Block) -> int | None:
        inside = [i for i, (x0, x1) in enumerate(columns) if block.x0 >= x0 - 2 and block.x1 <= x1 + 2]
        return inside[0] if inside else None

    wide = sorted((b for b in blocks if column_of(b) is None), key=lambda b: b.y0)

    def key(block: Block) -> tuple:
        column = column_of(block)
        if column is None:
            return (wide.index(block) + 1, -1, block.y0)
        centre = (block.y0 + block.y1) / 2
        band = sum(1 for w in wide if w.y0 < centre)
        return (band, column, block.y0)

    return sorted(blocks, key=key)


def _recurring(pages: list[tuple[list[Block], float]]) -> set[str]:
    """Margin texts (digits aside) that recur on several pages: running heads and feet."""
    seen = Counter()
    for blocks, height in pages:
        seen.update({_shape(b.text) for b in blocks if _in_margin(b, height)})
    least = max(RECURRING_PAGES, 0.3 * len(pages))
    return {shape for shape, count in seen.items() if count >= least}


def column_text(path: Path) -> str | None:
    """The document's text in reading order when it is a multi-column PDF, else None (MarkItDown's text stands)."""
    import pymupdf  # PyMuPDF, which YourBench itself depends on

    with pymupdf.open(path) as pdf:
        pages = [(_blocks(page), page.rect.height) for page in pdf]
    recurring = _recurring(pages)
    body_pages, voting, multi = [], 0, 0
    for blocks, height in pages:
        body = [b for b in blocks if not (_in_margin(b, height) and
                                          (_shape(b.text) in recurring or re.fullmatch(r"[\W\d]*", b.text)))]
        columns = _columns(body)
        if sum(len(b.text) for b in body) >= MIN_PAGE_CHARS:
            voting += 1
            multi += len(columns) >= 2
        body_pages.append(_reading_order(body, columns))
    if not voting or multi < MULTI_COLUMN_SHARE * voting:
        return None
    return "\n\n".join("\n\n".join(b.text for b in page) for page in body_pages if page).strip() + "\n"
