"""The self-contained HTML report: escaping, embedding, offline-ness, and a real headless-browser render."""

from __future__ import annotations

import base64
import html
import json
import os
import re
import signal
import subprocess
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from pipeline.report.html_report import format_float, render  # noqa: E402

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--enable-logging=stderr", "--v=0", "--virtual-time-budget=3000",
]
CHROMIUM_TIMEOUT_S = 60
MAGENTA = (1.0, 0.0, 1.0)  # the test plot's colour, looked for in the screenshot
EVIL = "<script>alert(1)</script>"


def _png(path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(4, 2), dpi=60)
    ax.bar(["a", "b", "c"], [3, 5, 4], color=MAGENTA)
    ax.set_title("Accuracy vs energy")
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


def _make_page(folder: Path) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    results = pd.DataFrame({
        "Model": ["SmolLM2-135M", "Qwen2.5-7B"], "Accuracy": [0.61234567, 0.9],
        "Estimated Energy (Wh)": [0.0123456, 12345.678], "Questions": [40, 40],
    })
    details = pd.DataFrame({
        "question_id": ["q1", "q2"], "answer": [EVIL, "Paris & London"],
        "verdict": [1.0, float("nan")],
    })
    text = ("Accuracy is the mean verdict over judged answers.\n\n"
            "- energy is measured with `codecarbon`\n- loading is reported apart\n\n"
            "A <b>bold</b> claim & more.")
    (folder / "results.csv").write_text(results.to_csv(index=False), encoding="utf-8")
    png = _png(folder / "plot.png")
    page = render(
        folder / "report.html", "Energy eval — <run 1>",
        ["3 models, `40` questions", "judge: <none>"],
        [("Decision table", results), ("Per-question details", details), ("How to read this", text)],
        [("Accuracy against energy", png)],
        links=[("Results (CSV)", "results.csv"), ("Details (Parquet)", "details.parquet")],
    )
    return {"page": page, "png": png, "ids": ["decision-table", "per-question-details", "how-to-read-this",
                                                "figures", "files"]}


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    return _make_page(tmp_path_factory.mktemp("html_report"))


# ---------------------------------------------------------------- fast unit tests


def test_page_is_self_contained_and_escaped(report):
    page: Path = report["page"]
    text = page.read_text(encoding="utf-8")
    assert page.name == "report.html" and not page.with_suffix(".tmp.html").exists()
    assert '<meta charset="utf-8">' in text
    assert "<title>Energy eval — &lt;run 1&gt;</title>" in text
    assert "http://" not in text and "https://" not in text and "//" not in re.sub(r"data:[^\"]+", "", text)
    # one inline script (sorting, the explorer's filters), nothing loaded from elsewhere
    assert text.lower().count("<script") == 1 and "<script src" not in text.lower()
    assert "<link" not in text.lower() and "@import" not in text
    # escaped cell, escaped prose, code spans
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "Paris &amp; London" in text
    assert "A &lt;b&gt;bold&lt;/b&gt; claim &amp; more." in text
    assert "<code>codecarbon</code>" in text and "<code>40</code>" in text
    assert "<li>loading is reported apart</li>" in text
    assert "judge: &lt;none&gt;" in text
    # floats to 4 significant digits, NaN shown as a dash
    assert "0.6123" in text and "0.01235" in text and "12350" in text and "—" in text
    assert "0.61234567" not in text
    # the image is embedded, byte for byte
    b64 = base64.b64encode(report["png"].read_bytes()).decode("ascii")
    assert f'src="data:image/png;base64,{b64}"' in text
    assert "<figcaption>Accuracy against energy</figcaption>" in text
    # ids and the table of contents that links to them
    for sid in report["ids"]:
        assert f'id="{sid}"' in text and (f'href="#{sid}"' in text or sid == "figures")  # the plot leads the page
    # sibling links: relative, and a missing file is not a dead link
    assert '<a href="results.csv">Results (CSV)</a>' in text
    assert 'href="details.parquet"' not in text and "details.parquet: not found" in text


def test_helpers_and_rejections(tmp_path):
    assert [format_float(x) for x in (0.0, 1.5, 0.123456, 1e-6, 98765.4, float("nan"))] == \
        ["0", "1.5", "0.1235", "1e-06", "98770", "—"]
    page = render(tmp_path / "p.html", "t", [], [("Same", "a"), ("Same", "b"), ("Files", "c")], [])
    text = page.read_text(encoding="utf-8")
    assert 'id="same"' in text and 'id="same-2"' in text and 'id="files-2"' in text
    with pytest.raises(ValueError):
        render(tmp_path / "q.html", "t", [], [], [], links=[("remote", "https://example.org/x.csv")])
    (tmp_path / "notpng.png").write_text("nope")
    with pytest.raises(ValueError):
        render(tmp_path / "r.html", "t", [], [], [("x", tmp_path / "notpng.png")])
    assert not list(tmp_path.glob("*.tmp.html"))


# ---------------------------------------------------------------- headless browser

# Appended to a *copy* of the page for the DOM run only (the page itself has no JavaScript): records
# resource-load failures, console.error calls and script errors, and whether the key elements are laid
# out and visible, then writes the findings into the DOM where --dump-dom can read them.
PROBE = """<script>
(function () {
  var errors = [];
  window.addEventListener("error", function (e) {
    var t = e.target;
    if (t && t !== window && (t.src || t.href)) errors.push("resource failed: " + String(t.src || t.href).slice(0, 200));
    else errors.push("error: " + (e.message || "?"));
  }, true);
  var origError = console.error;
  console.error = function () {
    errors.push("console.error: " + Array.prototype.join.call(arguments, " "));
    origError.apply(console, arguments);
  };
  function shown(el) {
    var r = el.getBoundingClientRect(), s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.display !== "none" && s.visibility !== "hidden" && s.opacity !== "0";
  }
  window.addEventListener("load", function () {
    var out = {errors: errors, visible: {}, images: [], sticky: null, zebra: null};
    SELECTORS.forEach(function (sel) {
      var els = document.querySelectorAll(sel);
      out.visible[sel] = els.length > 0 && Array.prototype.every.call(els, shown);
    });
    document.querySelectorAll("img").forEach(function (img) {
      out.images.push({complete: img.complete, w: img.naturalWidth, h: img.naturalHeight,
                       shownW: img.getBoundingClientRect().width});
    });
    var th = document.querySelector("thead th");
    if (th) out.sticky = getComputedStyle(th).position;
    var rows = document.querySelectorAll("tbody tr");
    if (rows.length > 1) out.zebra = getComputedStyle(rows[0].cells[0]).backgroundColor !==
                                     getComputedStyle(rows[1].cells[0]).backgroundColor;
    // the first screen, sideways overflow, and the explorer's model filter
    var vh = window.innerHeight;
    out.viewport = [window.innerWidth, vh];
    out.firstScreen = {};
    ["#decision", "#figures img"].forEach(function (sel) {
      var el = document.querySelector(sel);
      out.firstScreen[sel] = el ? el.getBoundingClientRect().bottom <= vh : null;
    });
    out.overflowing = Array.prototype.filter.call(document.querySelectorAll(".table-wrap"), function (w) {
      return w.scrollWidth > w.clientWidth + 1;
    }).length;
    out.pageOverflow = document.documentElement.scrollWidth > document.documentElement.clientWidth + 1;
    var select = document.querySelector("#explorer-filters [name=model]");
    if (select && select.options.length > 2) {
      var rows = function () {
        return Array.prototype.filter.call(document.querySelectorAll("article.question tr[data-model]"), shown).length;
      };
      var before = rows();
      select.value = select.options[1].value;
      select.dispatchEvent(new Event("change", {bubbles: true}));
      out.filter = {before: before, after: rows(), model: select.value};
    }
    var pre = document.createElement("pre");
    pre.id = "probe-result";
    pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
  });
})();
</script>"""

BAD_STDERR = re.compile(r"(CONSOLE.*(Error|ERROR))|((Error|ERROR).*CONSOLE)|Failed to load resource|net::ERR_")


def _chromium(args: list[str], tmp: Path, name: str) -> tuple[str, str]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} not found: install Debian's `chromium` (and `fonts-dejavu-core`) to run the browser test"
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI is set, so this is a failure, not a skip)")
        pytest.skip(reason)
    profile = tmp / f"profile-{name}"
    cmd = [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=CHROMIUM_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"chromium timed out after {CHROMIUM_TIMEOUT_S}s: {' '.join(cmd)}\n{err[-3000:]}")
    finally:
        try:  # helpers (crashpad) left behind in chromium's own process group
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    assert proc.returncode == 0, f"chromium exited {proc.returncode}: {' '.join(cmd)}\n{err[-3000:]}"
    return out, err


def _stderr_errors(err: str) -> list[str]:
    return [line for line in err.splitlines() if BAD_STDERR.search(line)]


def _probe(page: Path, selectors: list[str], tmp: Path, name: str,
           window: tuple[int, int] = (1280, 900)) -> tuple[dict, str, str]:
    probed = page.with_name(page.stem + f".probe-{name}.html")  # beside the page: same relative links
    text = page.read_text(encoding="utf-8")
    script = PROBE.replace("SELECTORS", json.dumps(selectors))
    probed.write_text(text.replace('<meta charset="utf-8">', '<meta charset="utf-8">\n' + script, 1),
                      encoding="utf-8")
    try:
        dom, err = _chromium([f"--window-size={window[0]},{window[1]}", "--dump-dom", probed.as_uri()], tmp, name)
    finally:
        probed.unlink(missing_ok=True)
    found = re.search(r'<pre id="probe-result">(.*?)</pre>', dom, re.DOTALL)
    assert found, f"the probe did not report (page never loaded?)\n{err[-3000:]}"
    return json.loads(html.unescape(found.group(1))), dom, err


def test_probe_catches_a_broken_page(tmp_path):
    """Negative control: the checks below must be able to fail."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><head><meta charset="utf-8"><title>bad</title></head><body>'
                   '<h1 style="display:none">hidden</h1><img src="missing.png">'
                   '<img src="https://example.invalid/x.png"></body></html>', encoding="utf-8")
    result, _, _ = _probe(bad, ["h1", "table"], tmp_path, "bad")
    assert result["visible"] == {"h1": False, "table": False}
    assert sum("resource failed" in e for e in result["errors"]) == 2
    assert all(img["w"] == 0 for img in result["images"])


def test_page_renders_in_headless_chromium(report, tmp_path):
    page: Path = report["page"]
    selectors = ["h1", "ul.summary li", "nav.toc a", "section h2", "table.report-table", "thead th",
                 "tbody td", "figure img", "figcaption", "ul.files li", "code"]
    result, dom, dom_err = _probe(page, selectors, tmp_path, "dom")

    # the DOM as chromium parsed it: headings, cells (still escaped), the image
    for heading in ("Model", "Accuracy", "Estimated Energy (Wh)", "question_id", "answer", "verdict"):
        assert re.search(f"<th[^>]*>{re.escape(heading)}</th>", dom)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert re.search(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]{100,}"', dom)
    for sid in report["ids"]:
        assert f'id="{sid}"' in dom

    # what the page did inside the browser
    assert result["errors"] == [], result["errors"]
    assert all(result["visible"].values()), result["visible"]
    assert [(i["complete"], i["w"] > 0, i["shownW"] > 0) for i in result["images"]] == [(True, True, True)]
    assert result["sticky"] == "sticky" and result["zebra"] is True

    # what it looks like: a real screenshot, not blank, with the plot's magenta bars on it
    shot = tmp_path / "shot.png"
    _, shot_err = _chromium([f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri()], tmp_path, "shot")
    assert shot.exists() and shot.stat().st_size > 10_000
    pixels = mpimg.imread(shot)[..., :3]
    assert pixels.shape[:2] == (2000, 1280)
    assert len(np.unique(pixels[::4, ::4].reshape(-1, 3).round(2), axis=0)) > 20, "screenshot is (nearly) one colour"
    magenta = (np.abs(pixels - np.array(MAGENTA)) < 0.08).all(axis=-1)
    assert magenta.sum() > 500, "the embedded plot is not visible in the screenshot"

    # no console errors or failed loads in chromium's own log (it also prints harmless dbus/GPU noise)
    for err in (dom_err, shot_err):
        assert _stderr_errors(err) == [], _stderr_errors(err)
    if os.environ.get("HTML_REPORT_KEEP_SHOT"):
        Path(os.environ["HTML_REPORT_KEEP_SHOT"]).write_bytes(shot.read_bytes())


def page_checks(page: Path, tmp: Path, shot: Path | None = None) -> dict:
    """What a person sees at 1280×900: decision card and plot on the first screen, no table wider than
    the page, and the explorer's model filter changing the rows shown. Returns the probe's findings."""
    result, _, err = _probe(page, ["#decision", "#figures img", "article.question"], tmp, "page")
    assert result["errors"] == [] and _stderr_errors(err) == [], result["errors"] + _stderr_errors(err)
    assert result["viewport"][0] == 1280, result["viewport"]  # the height left by the window's own chrome
    assert all(result["visible"].values()), result["visible"]
    assert result["firstScreen"] == {"#decision": True, "#figures img": True}, result["firstScreen"]
    assert result["overflowing"] == 0 and not result["pageOverflow"]
    assert 0 < result["filter"]["after"] < result["filter"]["before"], result["filter"]
    if shot is not None:
        _chromium([f"--screenshot={shot}", "--window-size=1280,900", page.as_uri()], tmp, "screenshot")
        assert shot.stat().st_size > 10_000
    return result


def test_decision_first_tables_fit_and_the_explorer_filters(tmp_path):
    from pipeline.report.html_report import explorer

    png = _png(tmp_path / "plot.png")
    wide = pd.DataFrame({f"A rather long column name {i}": [f"value-{i}-" * 6, 0.5] for i in range(14)})
    details = pd.DataFrame({
        "question_id": ["q1", "q1", "q2", "q2"], "candidate": ["small", "big"] * 2, "kind": "single_hop",
        "question": ["Why?", "Why?", "When?", "When?"], "gold": ["Because.", "Because.", "1999", "1999"],
        "chunk_text": "An excerpt.", "prediction": ["b", EVIL, "1999", "2000"], "verdict": [1.0, 0.0, 1.0, None],
        "raw_judge_output": "<final_answer>1</final_answer>",
    })
    page = render(tmp_path / "report.html", "Which model?", ["a line"], [("Wide table", wide)],
                  [("Accuracy against energy", png)], decision=["Pick **small**: accuracy 100%.", "It saves."],
                  explorer_html=explorer(details, flagged={"q2"}))
    text = page.read_text(encoding="utf-8")
    assert "<strong>small</strong>" in text and "&lt;script&gt;alert(1)" in text
    assert text.index('id="decision"') < text.index('id="figures"') < text.index('id="wide-table"')
    result = page_checks(page, tmp_path, tmp_path / "shot.png")
    assert result["filter"] == {"before": 4, "after": 2, "model": "small"}


def test_the_page_checks_can_fail(tmp_path):
    """Negative control: a page with the plot far below the first screen and a table that cannot wrap."""
    png = _png(tmp_path / "plot.png")
    wide = pd.DataFrame({f"c{i}": ["x" * 400] for i in range(3)})
    text = "\n\n".join(["A long paragraph of prose."] * 80)
    page = render(tmp_path / "report.html", "t", [], [("Wide", wide)], [("plot", png)],
                  decision=[text])
    page.write_text(page.read_text().replace("overflow-wrap: anywhere", "white-space: nowrap"))
    with pytest.raises(AssertionError):
        page_checks(page, tmp_path)


def test_the_card_shows_the_decision_and_its_reason_and_folds_how_far_it_holds(tmp_path):
    lines = ["Pick **small**: accuracy 90%.", "It is the most accurate.", "On 300 held-out answers ...", "Gate ..."]
    text = render(tmp_path / "report.html", "t", [], [], [], decision=lines).read_text()
    card = text[text.index('id="decision"'):text.index("</div>", text.index('id="decision"'))]
    folded = card[card.index("<details"):]
    assert "<strong>small</strong>" in card[:card.index("<details")] and "most accurate" in card[:card.index("<details")]
    assert "How far this holds (2 more)" in folded and "held-out answers" in folded and "Gate" in folded
