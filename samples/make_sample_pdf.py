"""Render samples/sample-report.md to samples/sample-report.pdf (PyMuPDF's Story API).

The PDF is committed; rerun this only after editing the Markdown:
    .venv/bin/python samples/make_sample_pdf.py
"""

import re
import sys
from pathlib import Path

import pymupdf as fitz


def markdown_to_html(text: str) -> str:
    html = []
    for block in text.strip().split("\n\n"):
        block = block.strip()
        block = re.sub(r"\*(.+?)\*", r"<i>\1</i>", block)
        if block.startswith("## "):
            html.append(f"<h2>{block[3:]}</h2>")
        elif block.startswith("# "):
            html.append(f"<h1>{block[2:]}</h1>")
        else:
            html.append(f"<p>{block}</p>")
    return "\n".join(html)


def render(markdown: Path, pdf: Path) -> None:
    story = fitz.Story(markdown_to_html(markdown.read_text(encoding="utf-8")),
                       user_css="body {font-family: serif; font-size: 11pt;} h1 {font-size: 16pt;}")
    writer = fitz.DocumentWriter(str(pdf))
    page, area = fitz.paper_rect("a4"), fitz.paper_rect("a4") + (56, 56, -56, -56)
    more = True
    while more:
        device = writer.begin_page(page)
        more, _ = story.place(area)
        story.draw(device)
        writer.end_page()
    writer.close()


if __name__ == "__main__":
    here = Path(__file__).parent
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else here / "sample-report.md"
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else here / "sample-report.pdf"
    render(source, target)
    print(target)
