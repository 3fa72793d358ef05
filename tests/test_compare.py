"""pipeline.report.compare: results.csv of several documents side by side."""

import pandas as pd
import pytest

from pipeline.errors import UserError
from pipeline.report import compare

COLUMNS = ["model", "params_b", "duration_s", "accuracy", "energy_wh", "energy_per_query_wh",
           "energy_ranked_answers", "co2_g", "questions", "judged", "correct", "unparsed", "input_tokens",
           "output_tokens", "energy_method", "hardware"]


def _report(root, document, rows, questions=4, measured=None):
    """A results.csv; ``measured``: {model: answers measured in full} where not every question's energy was."""
    folder = root / document
    folder.mkdir(parents=True)
    measured = measured or {}
    frame = pd.DataFrame([
        {"model": m, "params_b": p, "duration_s": d, "accuracy": a, "energy_wh": e,
         "energy_per_query_wh": e / measured.get(m, questions), "energy_ranked_answers": measured.get(m, questions),
         "co2_g": e * 0.05, "questions": questions, "judged": questions, "correct": round(a * questions),
         "unparsed": 0, "input_tokens": 100, "output_tokens": 20, "energy_method": "RAPL", "hardware": "test cpu"}
        for m, p, d, a, e in rows
    ], columns=COLUMNS)
    frame.to_csv(folder / "results.csv", index=False)


@pytest.fixture
def reports(tmp_path):
    root = tmp_path / "reports"
    _report(root, "alpha", [("small", 0.135, 10.0, 0.25, 0.2), ("big", 1.5, 30.0, 0.75, 1.0)])
    _report(root, "beta", [("small", 0.135, 12.0, 0.5, 0.4), ("other", 0.5, 20.0, 1.0, 0.6)])
    (root / "unfinished").mkdir()  # no results.csv: skipped
    return root


def test_combined_table(reports):
    out = reports / "_compare"
    path = compare.run(reports, out)
    assert path == out / "combined.md"
    table = pd.read_csv(out / "combined.csv").set_index("model")
    assert list(table.index) == ["small", "big", "other"]
    # model x document cells
    assert table.loc["small", "accuracy:alpha"] == pytest.approx(0.25)
    assert table.loc["small", "accuracy:beta"] == pytest.approx(0.5)
    assert table.loc["big", "energy_per_query_wh:alpha"] == pytest.approx(0.25)  # 1.0 Wh / 4 answers
    assert pd.isna(table.loc["big", "accuracy:beta"])
    assert pd.isna(table.loc["other", "energy_per_query_wh:alpha"])
    # averages over the documents where the model appears: (0.25 + 0.5) / 2, (0.2 / 4 + 0.4 / 4) / 2
    assert table.loc["small", "accuracy:average"] == pytest.approx(0.375)
    assert table.loc["small", "energy_per_query_wh:average"] == pytest.approx(0.075)
    assert table.loc["small", "documents"] == 2 and table.loc["small", "answers"] == 8
    assert table.loc["big", "accuracy:average"] == pytest.approx(0.75)
    assert table.loc["other", "energy_per_query_wh:average"] == pytest.approx(0.15)
    assert table.loc["other", "documents"] == 1 and table.loc["other", "answers"] == 4

    md = (out / "combined.md").read_text()
    assert "| small | 135M | 25.0% | 0.05 | 50.0% | 0.1 | 37.5% | 0.075 | 8 | 2 |" in md
    per_doc = (out / "per_document.md").read_text()
    assert "## alpha" in per_doc and "## beta" in per_doc and "unfinished" not in per_doc
    assert "| Model | # Params | Duration (s) | Accuracy | Energy (Wh) | Wh per query | Method |" in per_doc
    assert "| big | 1.5B | 30.0 | 75.0% | 1 | 0.25 (4 answers) |" in per_doc

    png = (out / "compare.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000

    # a second run skips its own output folder and leaves no temp files behind
    compare.run(reports, out)
    assert sorted(p.name for p in out.iterdir()) == ["combined.csv", "combined.md", "compare.html", "compare.png",
                                                     "per_document.md"]


def test_documents_are_compared_by_energy_per_query_not_by_totals(tmp_path):
    """Before: per-document totals were averaged, over documents of different question counts, and a candidate
    whose session was killed on one document was charged for fewer answers there."""
    root = tmp_path / "reports"
    # lean: 0.01 Wh per query everywhere; heavy: 0.02 Wh per query, but only 4 of the 40 answers of "long" have
    # energy (its session was killed): its totals are 0.08 and 0.08 Wh against lean's 0.04 and 0.4 Wh.
    _report(root, "short", [("lean", 0.5, 10.0, 0.75, 0.04), ("heavy", 1.5, 20.0, 0.75, 0.08)])
    _report(root, "long", [("lean", 0.5, 100.0, 0.75, 0.4), ("heavy", 1.5, 20.0, 0.75, 0.08)], questions=40,
            measured={"heavy": 4})
    table = compare.combine(compare.load_reports(root)).set_index("model")
    assert table["energy_per_query_wh:average"].tolist() == pytest.approx([0.01, 0.02])
    assert table["answers"].tolist() == [44, 8]
    assert compare.decision(table.reset_index(), ["short", "long"])[0].startswith(
        "Across 2 documents, pick **lean** (500M)")


def test_an_older_results_csv_is_compared_per_answer_with_energy(tmp_path):
    """results.csv written before energy_per_query_wh: its total over the answers with energy."""
    folder = tmp_path / "reports" / "old"
    folder.mkdir(parents=True)
    pd.DataFrame([{"model": "m", "params_b": 1.0, "duration_s": 1.0, "accuracy": 0.5, "energy_wh": 0.3,
                   "energy_questions": 3, "questions": 4}]).to_csv(folder / "results.csv", index=False)
    table = compare.combine(compare.load_reports(tmp_path / "reports"))
    assert table["energy_per_query_wh:old"].iloc[0] == pytest.approx(0.1) and table["answers"].iloc[0] == 3


def test_no_reports(tmp_path):
    root = tmp_path / "reports"
    (root / "doc").mkdir(parents=True)
    with pytest.raises(UserError, match="no finished report"):
        compare.run(root, root / "_compare")
    with pytest.raises(UserError):
        compare.run(tmp_path / "absent", tmp_path / "out")
    assert not (root / "_compare").exists()


def test_the_page_across_documents_looks_like_a_report(tmp_path):
    from test_html_report import _probe

    root = tmp_path / "reports"
    # "close" is 3 points below "best" on average (82% against 85%) for a fifth of the energy: within the
    # 5-point tolerance, it is the pick; "partial" is on one document only and is never picked.
    _report(root, "a", [("best", 1.5, 30.0, 0.8, 1.0), ("close", 0.5, 10.0, 0.8, 0.2), ("partial", 0.1, 1.0, 1.0, 0.01)])
    _report(root, "b", [("best", 1.5, 30.0, 0.9, 1.0), ("close", 0.5, 10.0, 0.84, 0.2)])
    (root / "a" / "report.html").write_text("<!DOCTYPE html><title>a</title>")
    compare.run(root, root / "_compare")
    page = root / "_compare" / "compare.html"
    text = page.read_text(encoding="utf-8")
    assert "pick <strong>close</strong> (500M): average accuracy 82.0%, average net energy 0.05 Wh per query " \
           "(over 8 answers)" in text
    assert "best (85.0%), is 3.0 points better and uses 0.25 Wh per query, 5× the energy" in text
    assert '<a href="../a/report.html">' in text and '<a href="../b/report.html">' not in text  # b has no page
    assert "<th" in text and "Results for b" in text

    result, _, _ = _probe(page, ["#decision", "#figures img", "table.report-table"], tmp_path, "compare")
    assert all(result["visible"].values()), result["visible"]
    assert result["firstScreen"] == {"#decision": True, "#figures img": True}
    assert result["overflowing"] == 0 and not result["pageOverflow"]
