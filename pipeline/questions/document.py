"""Checking an input document before any work starts, and where its work lives.

Runs are keyed by document *content* (``runs/<profile>/<sha256[:12]>``), so the
same file under a new name reuses finished work and an edited file does not.
The report folder is named after the file (``reports/<slug>``).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import unicodedata
from pathlib import Path

from pipeline.errors import UserError

SUPPORTED_SUFFIXES = (".pdf", ".md", ".txt", ".html", ".htm")
# No page limit: generation reads a bounded, spread sample of any document (pipeline/questions/selection.py).
# What remains is a limit on extracted text, for memory: YourBench copies the whole document text into
# every row of every dataset subset it writes (one per generated question in `prepare_lighteval`), so
# memory and disk grow as text size x questions. 10 million characters is about 4,000 dense pages.
MAX_TEXT_CHARS = 10_000_000


def content_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()[:12]


# Letters NFKD does not split into a base letter and a mark.
LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss", "ø": "o", "Ø": "O", "ł": "l",
                           "Ł": "L", "đ": "d", "Đ": "D"})


def slug(path: Path) -> str:
    """A folder name from the file name: accents transliterated ("résumé" -> "resume"), anything else that is
    not a letter, digit, dot or dash becomes a dash."""
    decomposed = unicodedata.normalize("NFKD", path.stem.translate(LIGATURES))
    ascii_stem = "".join(c for c in decomposed if not unicodedata.combining(c))
    text = re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_stem).strip("-.").lower()
    return text or "document"


def _check_pdf(path: Path) -> None:
    import pymupdf  # PyMuPDF, which YourBench itself depends on

    try:
        pdf = pymupdf.open(path)
    except Exception:
        raise UserError(f"{path}: not a readable PDF (the file is damaged or is not a PDF)") from None
    with pdf:
        if pdf.needs_pass:
            raise UserError(f"{path}: the PDF is encrypted; save an unencrypted copy and use that")
        chars = sum(len(page.get_text().strip()) for page in pdf)
        if not chars:
            raise UserError(f"{path}: the PDF has no text layer (scanned images only); "
                            "run OCR on it first (e.g. ocrmypdf) and use the OCR'd file")
        _check_size(path, chars)


def _check_size(path: Path, chars: int) -> None:
    if chars > MAX_TEXT_CHARS:
        raise UserError(f"{path}: {chars:,} characters of text is more than the {MAX_TEXT_CHARS:,} this tool "
                        "holds in memory (YourBench copies the whole text into every dataset row); "
                        "split the document or extract the chapters you need")


def page_count(path: Path) -> int | None:
    """Pages of a PDF; None for text formats."""
    if path.suffix.lower() != ".pdf":
        return None
    import pymupdf

    with pymupdf.open(path) as pdf:
        return pdf.page_count


def check(path: Path) -> None:
    """One clear error for anything YourBench could not turn into questions."""
    if not path.exists():
        raise UserError(f"{path}: no such file")
    if path.is_dir():
        raise UserError(f"{path}: is a directory, expected a document file")
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise UserError(f"{path}: unsupported file type '{path.suffix or '(none)'}'; "
                        f"use one of {', '.join(SUPPORTED_SUFFIXES)}")
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise UserError(f"{path}: cannot be read ({exc.strerror})") from None
    if not head.strip():
        raise UserError(f"{path}: the file is empty")
    if path.suffix.lower() == ".pdf":
        _check_pdf(path)
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise UserError(f"{path}: not UTF-8 text; convert it to UTF-8 first") from None
        if not text.strip():
            raise UserError(f"{path}: the file is empty")
        _check_size(path, len(text))


def stage_source(path: Path, run_dir: Path) -> Path:
    """Copy the document into its run folder once (the folder is keyed by its content)."""
    target = run_dir / f"document{path.suffix.lower()}"
    if not target.exists():
        run_dir.mkdir(parents=True, exist_ok=True)
        tmp = run_dir / f".{target.name}.tmp"
        shutil.copyfile(path, tmp)
        tmp.replace(target)
    return target
