"""The text layer of multi-column PDFs (pipeline/questions/pdf_text.py), on PDFs drawn here with PyMuPDF."""

from __future__ import annotations

import pymupdf
import pytest

from pipeline.questions import pdf_text

LEFT = ("The committee reviewed the annual report of the basin authority and noted that the water levels "
        "of the northern reservoirs fell by twelve percent over the dry season. ") * 3
RIGHT = ("The budget for the coming fiscal year was approved by the board after a long debate about the "
         "maintenance of the southern pumping stations and their staff. ") * 3


def _pdf(path, pages: int, columns: int, head: str | None = "Basin Gazette / Vol. 3 / Page {n}"):
    doc = pymupdf.open()
    for n in range(pages):
        page = doc.new_page(width=612, height=792)
        if head:
            page.insert_textbox(pymupdf.Rect(45, 30, 560, 50), head.format(n=100 + n), fontsize=9)
        if columns == 1:
            page.insert_textbox(pymupdf.Rect(45, 80, 560, 700), LEFT + RIGHT, fontsize=10)
        else:
            page.insert_textbox(pymupdf.Rect(45, 80, 290, 700), LEFT, fontsize=10)
            page.insert_textbox(pymupdf.Rect(320, 80, 565, 700), RIGHT, fontsize=10)
    doc.save(path)
    return path


def test_a_two_column_pdf_is_read_column_by_column_without_its_running_head(tmp_path):
    text = pdf_text.column_text(_pdf(tmp_path / "two.pdf", pages=4, columns=2))
    assert text is not None
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    # each column is one paragraph, left before right, page after page: no line of one glued to the other
    assert paragraphs[0] == " ".join(LEFT.split())
    assert paragraphs[1] == " ".join(RIGHT.split())
    assert len(paragraphs) == 8
    assert "Gazette" not in text  # the running head (its page number aside, the same on every page)


def test_a_single_column_pdf_keeps_markitdowns_text(tmp_path):
    assert pdf_text.column_text(_pdf(tmp_path / "one.pdf", pages=4, columns=1)) is None


def test_a_document_with_one_two_column_page_in_six_is_not_multi_column(tmp_path):
    one = pymupdf.open(_pdf(tmp_path / "one.pdf", pages=5, columns=1))
    one.insert_pdf(pymupdf.open(_pdf(tmp_path / "two.pdf", pages=1, columns=2)))
    one.save(tmp_path / "mixed.pdf")
    assert pdf_text.column_text(tmp_path / "mixed.pdf") is None


@pytest.mark.parametrize("lines, joined", [
    (["the pro-", "posed rule"], "the proposed rule"),
    (["AD 2018–", "23–51 was issued"], "AD 2018–23–51 was issued"),
    (["Boeing", "Company"], "Boeing Company"),
    (["a well-", "Known name"], "a well- Known name"),  # a capital after the dash: not a word cut in two
])
def test_wrapped_lines_join_into_one_paragraph(lines, joined):
    assert pdf_text._join_lines(lines) == joined


def test_yourbench_ingests_a_two_column_pdf_as_its_column_text(tmp_path):
    from pipeline import config
    from pipeline.questions.generate import plan_document
    from pipeline.questions.yourbench_stages import ingested

    doc = _pdf(tmp_path / "two.pdf", pages=4, columns=2)
    plan_document(doc, tmp_path / "run", config.load("default"))
    text = ingested(tmp_path / "run" / "yourbench" / "ingested")["document_text"]
    assert " ".join(LEFT.split()) in text and "Gazette" not in text
    assert (tmp_path / "run" / "yourbench" / "raw" / "document.md").is_file()


def _lines(x0: float, x1: float, y0: float, words: list[str], style=(10, False)) -> list:
    """One block per line, as PyMuPDF gives them on some PDFs (a real government brochure, 2026-12-07)."""
    return [pdf_text.Block(x0, y0 + 14 * i, x1 - (40 if i == len(words) - 1 else 0), y0 + 14 * i + 11, w, 1, style)
            for i, w in enumerate(words)]


def test_a_brochure_page_of_one_line_blocks_is_read_as_paragraphs_column_after_column():
    # an introduction across the first two columns, a third column beside it from the top, a bold heading
    intro = _lines(24, 357, 100, [f"intro line {i} of the brochure's opening paragraph" for i in range(3)])
    first = _lines(24, 190, 160, [f"first column line {i}" for i in range(25)])
    heading = [pdf_text.Block(200, 160, 294, 171, "New Responsibilities", 1, (11, True))]
    second = _lines(200, 366, 174, [f"second column line {i}" for i in range(25)])
    third = _lines(376, 542, 100, [f"third column line {i}" for i in range(30)])
    blocks = third + second + heading + first + intro
    columns = pdf_text._columns(blocks)
    assert [round(x) for x in columns] == [24, 200, 376]
    paragraphs = pdf_text._paragraphs(pdf_text._reading_order(blocks, columns), columns)
    assert [p.split(" line ")[0] for p in paragraphs] == ["intro", "first column", "New Responsibilities",
                                                           "second column", "third column"]
    assert paragraphs[1] == " ".join(f"first column line {i}" for i in range(25))  # each line once, in order


def test_an_indented_list_in_a_single_column_page_is_no_column():
    text = _lines(72, 540, 100, [f"a paragraph line {i} that runs across the whole page" for i in range(12)])
    items = _lines(90, 540, 280, [f"an indented list item line {i} of the same page" for i in range(12)])
    assert len(pdf_text._columns(text + items)) < 2


def test_words_run_together_are_told_from_long_words():
    from pipeline.questions.pdf_text import runs_words_together

    assert runs_words_together("Expliquerlesalgorithmespublics 27/05/2024 Tabledesmatières Commentcontribuer? "
                               "Décisionautomatiséeouaideàladécision?")
    assert not runs_words_together("Expliquer les algorithmes publics. Table des matières. Comment contribuer ?")
    # a long word in a paragraph is a word ("anticonstitutionnellement": 25 of the 264 letters here, 9%)
    assert not runs_words_together("La mesure fut déclarée anticonstitutionnellement par le Conseil constitutionnel "
                                   "en mars, après une saisine des députés et des sénateurs de l'opposition réunis. "
                                   "Le gouvernement a présenté un nouveau texte au Parlement au printemps suivant, "
                                   "avec des garanties pour les collectivités et les associations concernées.")
    assert not runs_words_together("")
