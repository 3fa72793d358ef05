"""Input checks: each bad document gets one clear line naming the file and the fix."""

from pathlib import Path

import pytest

from pipeline.errors import UserError
from pipeline.questions import document


def _pdf(path, text=None, encrypt=False, image_only=False):
    import pymupdf

    pdf = pymupdf.open()
    page = pdf.new_page()
    if text:
        page.insert_text((72, 72), text)
    if image_only:
        pix = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 40, 40), 0)
        pix.set_rect(pix.irect, (200, 10, 10))
        page.insert_image(page.rect, pixmap=pix)
    options = {}
    if encrypt:
        options = {"encryption": pymupdf.PDF_ENCRYPT_AES_256, "user_pw": "secret", "owner_pw": "owner"}
    pdf.save(path, **options)
    return path


def _file(path, data):
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


@pytest.mark.parametrize("make, expected", [
    (lambda p: p / "missing.pdf", "no such file"),
    (lambda p: p, "is a directory"),
    (lambda p: _file(p / "empty.txt", ""), "empty"),
    (lambda p: _file(p / "report.docx", "x"), "unsupported file type"),
    (lambda p: _file(p / "noise.pdf", bytes(range(256)) * 40), "not a readable PDF"),
    (lambda p: _pdf(p / "locked.pdf", "secret text", encrypt=True), "encrypted"),
    (lambda p: _pdf(p / "scan.pdf", image_only=True), "OCR"),
    (lambda p: _file(p / "latin1.txt", "caf\xe9".encode("latin-1")), "UTF-8"),
])
def test_bad_inputs(tmp_path, make, expected):
    path = make(tmp_path)
    with pytest.raises(UserError) as err:
        document.check(path)
    assert expected in str(err.value)
    assert str(path) in str(err.value)


def test_good_inputs_pass(tmp_path):
    document.check(_pdf(tmp_path / "ok.pdf", "Lake levels fell by 1.2 metres."))
    (tmp_path / "note.md").write_text("# Titre\n\nLe lac a baissé de 1,2 mètre.")  # non-English works
    document.check(tmp_path / "note.md")


def test_runs_are_keyed_by_content_not_name(tmp_path):
    a = tmp_path / "report 2024 (final) ‘été’.md"
    b = tmp_path / "renamed.md"
    a.write_text("same text")
    b.write_text("same text")
    assert document.content_hash(a) == document.content_hash(b)
    b.write_text("edited text")
    assert document.content_hash(a) != document.content_hash(b)
    assert document.slug(a) == "report-2024-final-ete"
    assert document.slug(tmp_path / "‘’.pdf") == "document"


def test_a_french_file_name_keeps_a_readable_folder_name():
    from pipeline import runs

    assert document.slug(Path("ipcc-syr-résumé-fr.pdf")) == "ipcc-syr-resume-fr"  # not "ipcc-syr-r-sum--fr"
    assert document.slug(Path("Cœur de ville – Ça évolue.md")) == "coeur-de-ville-ca-evolue"
    assert runs.report_dir("default", Path("ipcc-syr-résumé-fr.pdf")) == runs.REPORTS / "ipcc-syr-resume-fr"


def test_no_page_limit_a_501_page_pdf_is_accepted(tmp_path):
    import pymupdf

    pdf = pymupdf.open()
    for number in range(501):
        pdf.new_page().insert_text((72, 72), f"Page {number}: reservoir levels and tariffs.")
    pdf.save(tmp_path / "long.pdf")
    document.check(tmp_path / "long.pdf")
    assert document.page_count(tmp_path / "long.pdf") == 501


def test_text_beyond_the_memory_limit_is_refused_with_its_reason(tmp_path, monkeypatch):
    monkeypatch.setattr(document, "MAX_TEXT_CHARS", 1000)
    with pytest.raises(UserError, match="more than the 1,000 this tool holds in memory"):
        document.check(_file(tmp_path / "big.md", "word " * 300))
    with pytest.raises(UserError, match="copies the whole text into every dataset row"):
        document.check(_pdf(tmp_path / "big.pdf", ("word " * 16 + "\n") * 20))
    document.check(_file(tmp_path / "small.md", "word " * 100))
