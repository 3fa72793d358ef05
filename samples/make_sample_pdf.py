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


# The fonts' "fi", "fl", "ff", "ffi" and "ffl" ligature glyphs extract as single characters (U+FB00-FB04),
# which then reach YourBench's text ("ﬁeld", "ﬂood"). Map each ligature glyph to its letters instead.
LIGATURES = {0xFB00: "ff", 0xFB01: "fi", 0xFB02: "fl", 0xFB03: "ffi", 0xFB04: "ffl"}
CMAP_ENTRY = re.compile(r"^<([0-9a-fA-F]+)>\s*(?:<([0-9a-fA-F]+)>\s*)?<([0-9a-fA-F]{4})>$")


def _utf16_hex(text: str) -> str:
    return "<" + "".join(f"{ord(c):04x}" for c in text) + ">"


def _spell_out_ligatures(cmap: str) -> str:
    lines = []
    for line in cmap.splitlines():
        match = CMAP_ENTRY.match(line.strip())
        if match:
            first, last, target = match[1], match[2], int(match[3], 16)
            codes = range(int(first, 16), int(last or first, 16) + 1)
            targets = [chr(target + i) for i in range(len(codes))]
            if any(ord(t) in LIGATURES for t in targets):
                spelled = [LIGATURES.get(ord(t), t) for t in targets]
                if last:  # bfrange: the array form keeps the entry count
                    line = f"<{first}> <{last}> [" + " ".join(_utf16_hex(t) for t in spelled) + "]"
                else:
                    line = f"<{first}> {_utf16_hex(spelled[0])}"
        lines.append(line)
    return "\n".join(lines)


def _fix_text_layer(pdf: Path) -> None:
    doc = fitz.open(str(pdf))
    for xref in range(1, doc.xref_length()):
        kind, value = doc.xref_get_key(xref, "ToUnicode")
        if kind == "xref":
            stream = int(value.split()[0])
            doc.update_stream(stream, _spell_out_ligatures(doc.xref_stream(stream).decode("latin-1")).encode("latin-1"))
    tmp = pdf.with_name(pdf.name + ".tmp")
    doc.save(str(tmp), garbage=3, deflate=True)
    doc.close()
    tmp.replace(pdf)


def write_story(html: str, css: str, target) -> None:
    """Lay ``html`` out on A4 pages (2 cm margins) into ``target`` (a path or a binary file object)."""
    story = fitz.Story(html, user_css=css)
    writer = fitz.DocumentWriter(str(target) if isinstance(target, Path) else target)
    page, area = fitz.paper_rect("a4"), fitz.paper_rect("a4") + (56, 56, -56, -56)
    more = True
    while more:
        device = writer.begin_page(page)
        more, _ = story.place(area)
        story.draw(device)
        writer.end_page()
    writer.close()


def render(markdown: Path, pdf: Path) -> None:
    write_story(markdown_to_html(markdown.read_text(encoding="utf-8")),
                "body {font-family: serif; font-size: 11pt;} h1 {font-size: 16pt;}", pdf)
    _fix_text_layer(pdf)


if __name__ == "__main__":
    here = Path(__file__).parent
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else here / "sample-report.md"
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else here / "sample-report.pdf"
    render(source, target)
    print(target)
