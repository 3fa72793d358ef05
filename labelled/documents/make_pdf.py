"""Render one of the documents of ``labelled/documents/`` (Markdown with tables and figures) to PDF.

    .venv/bin/python labelled/documents/make_pdf.py labelled/documents/science-en.md [out.pdf] [--chapter-pages]

The documents are fictional reports written for the labelled sets (see ``labelled/README.md``). Text, lists and
pipe tables are laid out with PyMuPDF's Story API, as ``samples/make_sample_pdf.py`` does; each ```` ```figure````
block (a JSON object: kind, title, x, series, labels, note) is drawn with matplotlib on a page of its own and
placed as vector graphics, so that its title, tick labels, legend and note reach the PDF's text layer the way
a real report's figures do (the "figure debris" question generation has to cope with).
"""

from __future__ import annotations

import html
import io
import json
import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pymupdf as fitz  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from samples.make_sample_pdf import _fix_text_layer, write_story  # noqa: E402

PAGE = fitz.paper_rect("a4")
AREA = PAGE + (56, 56, -56, -56)
CSS = ("body {font-family: serif; font-size: 11pt;} h1 {font-size: 16pt;} h2 {font-size: 13pt;} "
       "h3 {font-size: 11.5pt;} table {border-collapse: collapse; font-size: 9pt;} "
       "td, th {border: 0.5pt solid #666; padding: 2pt 4pt;} th {background-color: #e8e8e8;}")


def _inline(text: str) -> str:
    text = html.escape(text, quote=False)
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
    return re.sub(r"\*(.+?)\*", r"<i>\1</i>", text)


def _table(lines: list[str]) -> str:
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in lines]
    head, body = rows[0], [r for r in rows[1:] if not all(set(c) <= set("-: ") for c in r)]
    out = ["<table>", "<tr>" + "".join(f"<th>{_inline(c)}</th>" for c in head) + "</tr>"]
    out += ["<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>" for row in body]
    return "\n".join(out + ["</table>"])


def _block_html(block: str) -> str:
    lines = block.strip().splitlines()
    first = lines[0]
    for level in (3, 2, 1):
        if first.startswith("#" * level + " "):
            return f"<h{level}>{_inline(first[level + 1:])}</h{level}>" + (
                _block_html("\n".join(lines[1:])) if lines[1:] else "")
    if all(line.lstrip().startswith("|") for line in lines):
        return _table(lines)
    if all(line.startswith("- ") for line in lines):
        return "<ul>" + "".join(f"<li>{_inline(line[2:])}</li>" for line in lines) + "</ul>"
    if all(re.match(r"\d+\. ", line) for line in lines):
        return "<ol>" + "".join(f"<li>{_inline(line.split('. ', 1)[1])}</li>" for line in lines) + "</ol>"
    return f"<p>{_inline(' '.join(lines))}</p>"


def segments(markdown: str, chapter_pages: bool = False) -> list[tuple[str, str]]:
    """("html", text) and ("figure", json) parts, in document order; with ``chapter_pages`` each ``## `` chapter
    starts a new text part (a new page), as in reports laid out chapter by chapter."""
    parts, out = re.split(r"```figure\s*\n(.*?)\n```", markdown, flags=re.S), []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(("figure", part))
            continue
        pieces = re.split(r"(?m)^(?=## )", part) if chapter_pages else [part]
        for piece in pieces:
            blocks = [b for b in re.split(r"\n\s*\n", piece.strip()) if b.strip()]
            if blocks:
                out.append(("html", "\n".join(_block_html(b) for b in blocks)))
    return out


def figure_pdf(spec: dict) -> bytes:
    """One figure as a one-page vector PDF (A4 text width)."""
    fig, ax = plt.subplots(figsize=(6.9, 5.2))
    x, series, kind = spec.get("x", []), spec.get("series", {}), spec.get("kind", "bar")
    positions = list(range(len(x)))
    if kind == "pie":
        name, values = next(iter(series.items()))
        ax.pie(values, labels=[str(v) for v in x], autopct="%1.1f%%", textprops={"fontsize": 7})
        ax.set_title(name, fontsize=8)
    elif kind in ("bar", "stacked"):
        width = 0.8 / (1 if kind == "stacked" else max(1, len(series)))
        bottom = [0.0] * len(x)
        for i, (name, values) in enumerate(series.items()):
            if kind == "stacked":
                ax.bar(positions, values, 0.6, bottom=bottom, label=name)
                bottom = [b + (v or 0) for b, v in zip(bottom, values)]
            else:
                ax.bar([p + (i - (len(series) - 1) / 2) * width for p in positions], values, width, label=name)
        ax.set_xticks(positions, [str(v) for v in x], rotation=30 if len(x) > 6 else 0, fontsize=7, ha="right"
                      if len(x) > 6 else "center")
    else:
        numeric = all(isinstance(v, (int, float)) for v in x)
        for name, values in series.items():
            xs = x if numeric else positions
            (ax.scatter if kind == "scatter" else ax.plot)(xs, values, label=name, **(
                {} if kind == "scatter" else {"marker": "o", "markersize": 3}))
        if not numeric:
            ax.set_xticks(positions, [str(v) for v in x], rotation=30 if len(x) > 6 else 0, fontsize=7)
    if kind != "pie":
        ax.set_xlabel(spec.get("xlabel", ""), fontsize=8)
        ax.set_ylabel(spec.get("ylabel", ""), fontsize=8)
        ax.tick_params(labelsize=7)
        if len(series) > 1 or kind == "scatter":
            ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle(spec.get("title", ""), fontsize=9, wrap=True)
    if spec.get("note"):
        fig.text(0.02, 0.01, spec["note"], fontsize=6.5, wrap=True, va="bottom")
        fig.subplots_adjust(bottom=0.22)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="pdf")
    plt.close(fig)
    return buffer.getvalue()


def _text_pdf(body: str) -> fitz.Document:
    buffer = io.BytesIO()
    write_story(body, CSS, buffer)
    return fitz.open("pdf", buffer.getvalue())


def render(markdown: Path, pdf: Path, chapter_pages: bool = False) -> int:
    out = fitz.open()
    for kind, content in segments(markdown.read_text(encoding="utf-8"), chapter_pages):
        if kind == "html":
            out.insert_pdf(_text_pdf(content))
        else:
            figure = fitz.open("pdf", figure_pdf(json.loads(content)))
            page = out.new_page(width=PAGE.width, height=PAGE.height)
            width = AREA.width
            height = width * figure[0].rect.height / figure[0].rect.width
            page.show_pdf_page(fitz.Rect(AREA.x0, AREA.y0, AREA.x1, AREA.y0 + height), figure, 0)
    pages = out.page_count
    out.save(str(pdf), garbage=3, deflate=True)
    _fix_text_layer(pdf)
    return pages


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--chapter-pages"]
    source = Path(args[0])
    target = Path(args[1]) if len(args) > 1 else source.with_suffix(".pdf")
    print(f"{target}: {render(source, target, '--chapter-pages' in sys.argv)} pages")
