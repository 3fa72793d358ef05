"""The text of a multi-column PDF in reading order, for YourBench's ingestion.

YourBench turns a PDF into Markdown with MarkItDown, whose PDF converter reads a page's lines across its
columns: on a three-column Federal Register notice it glued each line of one column to the lines beside it,
cut the page into one-row "tables" and kept the running head ("Federal Register / Vol. 85, No. 152 / …
Proposed Rules 47699") between sentences. Answer spans, excerpts and the candidates' context were then made
of two columns' half-sentences (upstream: microsoft/markitdown issue 1323, "PDF conversion fault": a
double-column paper comes out "messy"; MarkItDown has no layout option). This module is the one place that works
around it:

* PyMuPDF (YourBench's own PDF library) gives each page's text blocks with their positions;
* a page is *multi-column* when its blocks' left edges fall into two or more columns, each holding a column's
  worth of prose inside it (:data:`MIN_COLUMN_CHARS`; a block that runs across the next column's edge is
  full-width);
* a document is multi-column when at least :data:`MULTI_COLUMN_SHARE` of its text pages are; only then is its
  text taken from here (one column after the other, a full-width block between bands where it stands), with
  running heads and feet (a block in the page's top or bottom margin whose text, digits aside, recurs on
  several pages), page-number blocks and vertical margin text left out, and each block's wrapped lines joined
  into one paragraph (a word hyphenated at a line end joined again), as are blocks that are single lines of one
  paragraph.

Single-column documents keep MarkItDown's text as it was (its tables stay Markdown tables), unless MarkItDown reads
their words run together (:func:`runs_words_together`): their text is then taken from here too.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

# In the ingestion's key (yourbench_stages.py: ingested.key): a change here re-extracts the documents it changes.
VERSION = "pdf-text-3"
MIN_COLUMN_CHARS = 300  # a column holding less is a table's column or a caption, not text
MULTI_COLUMN_SHARE = 1 / 3  # of the pages with text
MIN_PAGE_CHARS = 500  # a page with less (a cover, a figure) does not vote
MARGIN = 0.09  # top and bottom share of the page where running heads and feet stand
INDENT = 15  # points: a first line's indent; left edges further apart start different columns
RECURRING_PAGES = 3  # a margin text seen on this many pages (and on 30% of them) is a running head or foot
LONG_WORD = 20  # letters: longer "words" are words run together ("Expliquerlesalgorithmespublics")
RUN_TOGETHER_SHARE = 0.1  # of a text's letters, in such "words"


@dataclass
class Block:
    x0: float
    y0: float
    x1: float
    y1: float
    text: str
    lines: int = 1
    style: tuple = ()  # (size, bold) of its first line: a heading's differs from the paragraph below it

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
        first = next((line["spans"][0] for line in raw["lines"] if line["spans"]), None)
        style = (round(first["size"]), bool(first["flags"] & 16)) if first else ()
        if text.strip():
            blocks.append(Block(*raw["bbox"], text, len(lines), style))
    return blocks


def _shape(text: str) -> str:
    return re.sub(r"\d+", "#", " ".join(text.split())).casefold()


def _in_margin(block: Block, height: float) -> bool:
    return block.y1 <= MARGIN * height or block.y0 >= (1 - MARGIN) * height


def _columns(blocks: list[Block]) -> list[float]:
    """Where the page's columns start (their left edges, left to right), each holding a column's worth of text.

    Lines of a column share its left edge (an indented first line within :data:`INDENT`); a column counts when
    the blocks that stay inside it (ending before the next column starts) hold :data:`MIN_COLUMN_CHARS`. Left
    edges, not widths: a brochure sets a main column of 330 points beside a sidebar of 165 (a real government
    history, 2026-12-07), and the old test (blocks under half the text width) read the main column's lines as
    full-width and interleaved its two halves line by line. A single-column page's indented list is no column:
    the text beside it runs across its left edge."""
    starts: list[list[float]] = []  # [left edge, chars] of each run of nearby left edges
    for b in sorted(blocks, key=lambda b: b.x0):
        if starts and b.x0 - starts[-1][2] <= INDENT:
            starts[-1][1] += len(b.text)
            starts[-1][2] = b.x0
        else:
            starts.append([b.x0, len(b.text), b.x0])
    candidates = {x0: chars for x0, chars, _ in starts if chars >= MIN_COLUMN_CHARS / 3}
    columns = sorted(candidates)
    while len(columns) >= 2:
        inside = [0] * len(columns)
        for b in blocks:
            i = _column_of(b, columns)
            if i is not None:
                inside[i] += len(b.text)
        short = [x0 for x0, chars in zip(columns, inside) if chars < MIN_COLUMN_CHARS]
        if not short:
            break
        columns.remove(min(short, key=candidates.get))  # the smallest left edge goes first: its lines join another
    return columns


def _column_of(block: Block, columns: list[float]) -> int | None:
    """The column a block stands in, None when it runs across the next column's left edge (a title, a
    full-width paragraph or table)."""
    i = max([0] + [k for k, x0 in enumerate(columns) if x0 <= block.x0 + INDENT])
    if i + 1 < len(columns) and block.x1 > columns[i + 1] + 2:
        return None
    return i


def _reading_order(blocks: list[Block], columns: list[float]) -> list[Block]:
    """Column after column, top to bottom; a block that spans columns (a title, a full-width table) closes the
    band of the columns it spans above it and opens the next; a column that none crosses (beside a title that
    spans the other columns) is read after them, whole."""
    if len(columns) < 2:
        return sorted(blocks, key=lambda b: (round(b.y0), b.x0))
    wide = sorted((b for b in blocks if _column_of(b, columns) is None), key=lambda b: b.y0)

    def under(w: Block, column: int) -> bool:  # a wide block stands across this column
        right = columns[column + 1] if column + 1 < len(columns) else float("inf")
        return w.x0 < right and w.x1 > columns[column]

    spanned = {column for column in range(len(columns)) for w in wide if under(w, column)}

    def key(block: Block) -> tuple:
        column = _column_of(block, columns)
        if column is None:
            return (wide.index(block) + 1, -1, block.y0)
        if column not in spanned:  # a column no title or table crosses (beside them): read after the others
            return (len(wide) + 1, column, block.y0)
        centre = (block.y0 + block.y1) / 2
        return (sum(1 for w in wide if w.y0 < centre and under(w, column)), column, block.y0)

    return sorted(blocks, key=key)


def _paragraphs(ordered: list[Block], columns: list[float]) -> list[str]:
    """The page's blocks as paragraphs: a block that is one wrapped line of a paragraph (PyMuPDF makes a block of
    each line on some PDFs) is joined to the next line of its column when that line follows at less than a line's
    spacing in the same type, does not start further right, and this one fills most of the column's width with no
    sentence end (a heading or a paragraph's last line does not join)."""
    column = [_column_of(block, columns) if len(columns) >= 2 else 0 for block in ordered]
    edges: dict[int | None, tuple[float, float]] = {}
    for block, c in zip(ordered, column):
        x0, x1 = edges.get(c, (block.x0, block.x1))
        edges[c] = (min(x0, block.x0), max(x1, block.x1))
    paragraphs: list[str] = []
    for i, block in enumerate(ordered):
        previous = ordered[i - 1] if i else None
        left, right = edges[column[i]]
        if previous is not None and column[i - 1] == column[i] and (
                previous.lines == 1 and previous.style == block.style
                and 0 <= block.y0 - previous.y1 <= 0.6 * (previous.y1 - previous.y0)
                and block.x0 <= previous.x0 + 2
                and previous.x1 - left >= 0.6 * (right - left)
                and not re.search(r"[.!?:;]\W*$", previous.text)):
            paragraphs[-1] = _join_lines([paragraphs[-1], block.text])
        else:
            paragraphs.append(block.text)
    return paragraphs


def _recurring(pages: list[tuple[list[Block], float]]) -> set[str]:
    """Margin texts (digits aside) that recur on several pages: running heads and feet."""
    seen = Counter()
    for blocks, height in pages:
        seen.update({_shape(b.text) for b in blocks if _in_margin(b, height)})
    least = max(RECURRING_PAGES, 0.3 * len(pages))
    return {shape for shape, count in seen.items() if count >= least}


def runs_words_together(text: str) -> bool:
    """Whether a PDF's text as MarkItDown read it runs its words together: more than :data:`RUN_TOGETHER_SHARE` of its
    letters in "words" of :data:`LONG_WORD` letters or more.

    Some PDFs set no space characters, only gaps between glyphs, which pdfminer (MarkItDown's reader) does not
    always see: a pandoc/LaTeX guide in French (a real held-out document, 2026-12-07) came out as
    "Expliquerlesalgorithmespublics", 67% of its letters in such "words", and its run kept 1 usable question of 12
    (45 of its 49 chunks had no sentence to ask about). The 24 other PDFs' MarkItDown texts here: at most 0.5%, but
    39-40% for the two two-column papers, which are read by columns anyway. PyMuPDF sees those gaps."""
    words = re.findall(r"[^\W\d_]+", text)
    letters = sum(map(len, words))
    return bool(letters) and sum(len(w) for w in words if len(w) >= LONG_WORD) > RUN_TOGETHER_SHARE * letters


def column_text(path: Path, always: bool = False) -> str | None:
    """The document's text in reading order when it is a multi-column PDF (``always``: any PDF), else None
    (MarkItDown's text stands)."""
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
        body_pages.append(_paragraphs(_reading_order(body, columns), columns))
    if not always and (not voting or multi < MULTI_COLUMN_SHARE * voting):
        return None
    return "\n\n".join("\n\n".join(page) for page in body_pages if page).strip() + "\n"
