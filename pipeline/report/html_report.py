"""One self-contained HTML page for a run: the decision, the plot, tables, a per-question explorer.

The page opens offline from a file: CSS and one small script are inline, images are ``data:``
URIs, and nothing is fetched from anywhere. The decision card and the plot come first (within the
first screen at 1280×900); tables wrap instead of scrolling sideways and sort on a header click;
the explorer shows, per question, the excerpt, the gold answer and every model's answer with its
verdict and the judge's output (and a person's label beside the verdict, where ``make review`` gave one),
filtered by model, verdict, question kind, "flagged" and "disagreements" (label against verdict). Every
piece of caller text is HTML-escaped; DataFrames go through ``DataFrame.to_html(escape=True)``.
"""

from __future__ import annotations

import base64
import html
import itertools
import math
import os
import re
from pathlib import Path
from urllib.parse import quote, urlsplit

import pandas as pd

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_RESERVED_IDS = ("contents", "summary", "figures", "files", "decision", "explorer", "explorer-filters")

CSS = """
:root {
  --fg: #1f2328; --muted: #59636e; --bg: #ffffff; --accent: #0b5cad;
  --border: #d0d7de; --head: #eef2f6; --zebra: #f6f8fa; --hover: #e8f0fb; --code: #eff1f3;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0 auto; padding: 1.5rem clamp(0.75rem, 3vw, 2.5rem) 3rem;
  max-width: 1200px; color: var(--fg); background: var(--bg);
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
h1 { font-size: 1.75rem; margin: 0 0 0.75rem; line-height: 1.25; }
h2 { font-size: 1.3rem; margin: 2.25rem 0 0.75rem; padding-bottom: 0.3rem; border-bottom: 1px solid var(--border); }
a { color: var(--accent); }
code {
  font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
  font-size: 0.9em; background: var(--code); padding: 0.1em 0.35em; border-radius: 4px;
  overflow-wrap: anywhere;
}
ul.summary { padding-left: 1.25rem; margin: 0 0 1rem; }
ul.summary li { margin: 0.15rem 0; }
nav.toc {
  background: var(--zebra); border: 1px solid var(--border); border-radius: 6px;
  padding: 0.6rem 1rem; margin: 1rem 0 0.5rem; display: inline-block; max-width: 100%;
}
nav.toc strong { display: block; margin-bottom: 0.25rem; }
nav.toc ol { margin: 0; padding-left: 1.25rem; }
section p { margin: 0.5rem 0; max-width: 75ch; }
.table-wrap {
  overflow-y: auto; overflow-x: hidden; max-height: 80vh; max-width: 100%;
  border: 1px solid var(--border); border-radius: 6px; margin: 0.5rem 0 1rem;
}
table.report-table { border-collapse: separate; border-spacing: 0; width: 100%; font-size: 0.85rem; }
table.report-table td { overflow-wrap: anywhere; }
table.report-table thead th { cursor: pointer; }
table.report-table thead th[aria-sort="ascending"]::after { content: " ▲"; }
table.report-table thead th[aria-sort="descending"]::after { content: " ▼"; }
.decision {
  border: 2px solid var(--accent); border-radius: 8px; background: #f3f8fe;
  padding: 0.6rem 1rem; margin: 0 0 0.75rem;
}
.decision p { margin: 0.2rem 0; max-width: none; }
.decision .card-more { font-size: 0.88rem; }  /* the decision and its first reason read first; the rest says how far */
.decision .card-more summary { cursor: pointer; color: var(--accent); }
.lead figure { margin: 0.5rem 0; }
.lead figure img { max-height: 55vh; width: auto; }
/* a wide screen shows the card and the plot side by side: a long card (No pick, its reasons) never pushes
   the plot below the first screen */
@media (min-width: 1100px) {
  .top { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 1rem; align-items: start; }
  .top .lead figure { margin-top: 0; }
  .top .lead figure img { max-height: 75vh; }
}
.filters { display: flex; flex-wrap: wrap; gap: 0.5rem 1rem; align-items: center; margin: 0.5rem 0; }
article.question { border: 1px solid var(--border); border-radius: 6px; padding: 0.5rem 0.8rem; margin: 0.6rem 0; }
article.question h3 { font-size: 1rem; margin: 0.2rem 0; }
article.question .meta { color: var(--muted); font-size: 0.85rem; }
.verdict-correct { color: #116329; font-weight: 600; }
.verdict-wrong { color: #a40e26; font-weight: 600; }
.verdict-none { color: var(--muted); }
.label-correct { color: #116329; }
.label-wrong { color: #a40e26; }
.label-gold_wrong, .label-unclear, .label-none { color: var(--muted); }
tr[data-disagree="1"] td.label { font-weight: 600; text-decoration: underline; }
.hidden { display: none !important; }
table.report-table th, table.report-table td {
  padding: 0.4rem 0.7rem; border-bottom: 1px solid var(--border); vertical-align: top;
}
table.report-table td { font-variant-numeric: tabular-nums; }
table.report-table thead th {
  position: sticky; top: 0; z-index: 1; background: var(--head);
  text-align: left; border-bottom: 2px solid var(--border);
}
table.report-table tbody tr:nth-child(even) td { background: var(--zebra); }
table.report-table tbody tr:hover td { background: var(--hover); }
table.report-table tbody tr:last-child td { border-bottom: none; }
figure { margin: 1.25rem 0; }
figure img {
  display: block; max-width: 100%; height: auto;
  border: 1px solid var(--border); border-radius: 6px; background: #fff;
}
figcaption { color: var(--muted); font-size: 0.92rem; margin-top: 0.4rem; }
ul.files .missing { color: var(--muted); }
.empty { color: var(--muted); font-style: italic; }
@media print {
  .table-wrap { max-height: none; overflow: visible; }
  nav.toc { display: none; }
}
"""


# Sorting on a header click (numbers by value, "n/a" and text after), and the explorer's filters.
SCRIPT = """
(function () {
  function key(cell) {
    var t = cell.textContent.trim(), m = t.replace(/,/g, "").match(/^-?[0-9.]+(e-?[0-9]+)?/);
    return m ? [0, parseFloat(m[0]), ""] : [1, 0, t.toLowerCase()];
  }
  document.querySelectorAll("table.report-table").forEach(function (table) {
    table.querySelectorAll("thead th").forEach(function (th, col) {
      th.title = "sort";
      th.addEventListener("click", function () {
        var down = th.getAttribute("aria-sort") === "ascending";
        table.querySelectorAll("thead th").forEach(function (o) { o.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", down ? "descending" : "ascending");
        var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a.cells[col]), y = key(b.cells[col]);
          var c = x[0] - y[0] || x[1] - y[1] || (x[2] < y[2] ? -1 : x[2] > y[2] ? 1 : 0);
          return down ? -c : c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  var filters = document.getElementById("explorer-filters");
  if (!filters) return;
  function apply() {
    var model = filters.querySelector("[name=model]").value, verdict = filters.querySelector("[name=verdict]").value,
        kind = filters.querySelector("[name=kind]").value, flagged = filters.querySelector("[name=flagged]").checked,
        disagreeing = filters.querySelector("[name=disagree]"), disagree = !!(disagreeing && disagreeing.checked);
    var shown = 0;
    document.querySelectorAll("article.question").forEach(function (q) {
      var any = false;
      q.querySelectorAll("tr[data-model]").forEach(function (r) {
        var ok = (!model || r.dataset.model === model) && (!verdict || r.dataset.verdict === verdict) &&
                 (!disagree || r.dataset.disagree === "1");
        r.classList.toggle("hidden", !ok);
        any = any || ok;
      });
      var ok = any && (!kind || q.dataset.kind === kind) && (!flagged || q.dataset.flagged === "1");
      q.classList.toggle("hidden", !ok);
      shown += ok ? 1 : 0;
    });
    document.getElementById("explorer-count").textContent = shown + " questions shown";
  }
  filters.addEventListener("change", apply);
  apply();
})();
"""


LABEL_TEXT = {"correct": "correct", "wrong": "wrong", "gold_wrong": "gold is wrong", "unclear": "unclear"}


def _label_of(value) -> str:
    """A person's label (``make review``) as a class name: correct, wrong, gold_wrong, unclear or none."""
    return value if isinstance(value, str) and value in LABEL_TEXT else "none"


def explorer(details: pd.DataFrame, flagged: set[str]) -> str:
    """The per-question explorer: one article per question, one row per model, and the filters.

    With a ``label`` column (a person's label: correct, wrong, gold_wrong, unclear, or missing) each row
    shows it beside the verdict, and a "disagreements" filter keeps the rows where the person's label
    contradicts the verdict (labelled correct but graded wrong, or the reverse)."""
    if details.empty:
        return '<p class="empty">(no answers)</p>'

    def options(name: str, values, labels=None) -> str:
        items = "".join(f'<option value="{html.escape(str(v))}">{html.escape(str((labels or {}).get(v, v)))}</option>'
                        for v in values)
        return f'<label>{name.title()} <select name="{name}"><option value="">all</option>{items}</select></label>'

    verdict_of = {1.0: "correct", 0.0: "wrong"}
    labelled = "label" in details
    models = list(dict.fromkeys(details["candidate"]))
    kinds = sorted(details["kind"].dropna().astype(str).unique()) if "kind" in details else []
    parts = ['<form class="filters" id="explorer-filters">', options("model", models),
             options("verdict", ["correct", "wrong", "none"], {"none": "no verdict"}), options("kind", kinds),
             '<label><input type="checkbox" name="flagged"> flagged only</label>',
             *([('<label title="a person\'s label (make review) against the judge\'s verdict"><input '
                 'type="checkbox" name="disagree"> disagreements only</label>')] if labelled else []),
             '<span id="explorer-count" class="meta"></span></form>']
    label_head = "<th>Person's label</th>" if labelled else ""
    for qid, group in details.groupby("question_id", sort=False):
        first = group.iloc[0]
        flag = "1" if qid in flagged else "0"
        rows = []
        for row in group.itertuples():
            verdict = verdict_of.get(getattr(row, "verdict"), "none")
            label_cell, disagree = "", ""
            if labelled:
                label = _label_of(row.label)
                disagree = f' data-disagree="{int((label, verdict) in {("correct", "wrong"), ("wrong", "correct")})}"'
                label_cell = f'<td class="label label-{label}">{LABEL_TEXT.get(label, "not labelled")}</td>'
            rows.append(f'<tr data-model="{html.escape(str(row.candidate))}" data-verdict="{verdict}"{disagree}>'
                        f"<td>{html.escape(str(row.candidate))}</td>"
                        f'<td class="verdict-{verdict}">{verdict if verdict != "none" else "no verdict"}</td>'
                        f"{label_cell}"
                        f"<td>{html.escape(str(getattr(row, 'prediction', '')))}</td>"
                        f"<td><code>{html.escape(str(getattr(row, 'raw_judge_output', '')))}</code></td></tr>")
        parts.append(
            f'<article class="question" data-kind="{html.escape(str(first.get("kind", "")))}" data-flagged="{flag}">'
            f'<h3>{html.escape(str(first["question"]))}</h3>'
            f'<p class="meta">{html.escape(str(first.get("kind", "")))}'
            f'{" · flagged for a human look" if flag == "1" else ""}</p>'
            f"<p><strong>Gold answer:</strong> {html.escape(str(first['gold']))}</p>"
            f"<details><summary>Excerpt</summary><p>{html.escape(str(first.get('chunk_text', '')))}</p></details>"
            '<div class="table-wrap"><table class="report-table"><thead><tr><th>Model</th><th>Verdict</th>'
            f'{label_head}<th>Answer</th><th>Judge output</th></tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
            "</article>")
    return "\n".join(parts)


def _inline(text: str) -> str:
    """Escape HTML, then turn `code` spans into <code> (the backtick is not escaped, the content is)."""
    escaped = html.escape(str(text), quote=True)
    return re.sub(r"`([^`\n]+)`", r"<code>\1</code>", escaped)


def _bold(escaped: str) -> str:
    """**text** (already escaped) as <strong>."""
    return re.sub(r"\*\*([^*\n]+)\*\*", r"<strong>\1</strong>", escaped)


def _slug(text: str, used: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-") or "section"
    if base[0].isdigit():
        base = f"s-{base}"
    slug, n = base, 2
    while slug in used:
        slug, n = f"{base}-{n}", n + 1
    used.add(slug)
    return slug


def format_float(x: float) -> str:
    """Four significant digits, without scientific notation for ordinary magnitudes."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    x = float(x)
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x == 0:
        return "0"
    magnitude = abs(x)
    if 1e4 <= magnitude < 1e15:  # .4g would say 1.235e+04
        return f"{round(x, 3 - math.floor(math.log10(magnitude))):.0f}"
    return f"{x:.4g}"


def _table(df: pd.DataFrame) -> str:
    if df.empty and len(df.columns) == 0:
        return '<p class="empty">(no data)</p>'
    table = df.to_html(index=False, escape=True, classes="report-table", border=0, na_rep="—",
                       float_format=format_float, justify="left")
    return f'<div class="table-wrap">\n{table}\n</div>'


def _text(content: str) -> str:
    """Blank-line-separated blocks; within a block, runs of "- " lines become a list, other runs a paragraph."""
    parts = []
    for block in re.split(r"\n[ \t]*\n", content.strip()):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        for is_list, run in itertools.groupby(lines, key=lambda line: line.startswith("- ")):
            run = list(run)
            if is_list:
                parts.append("<ul>\n" + "\n".join(f"<li>{_inline(item[2:].strip())}</li>" for item in run)
                             + "\n</ul>")
            else:
                parts.append("<p>" + "<br>\n".join(_inline(line) for line in run) + "</p>")
    return "\n".join(parts) if parts else '<p class="empty">(empty)</p>'


def _image(caption: str, png: Path) -> str:
    data = Path(png).read_bytes()
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError(f"{png} is not a PNG file")
    b64 = base64.b64encode(data).decode("ascii")
    cap = _inline(caption)
    alt = html.escape(str(caption), quote=True)
    return (f'<figure>\n<img src="data:image/png;base64,{b64}" alt="{alt}" loading="eager">\n'
            f"<figcaption>{cap}</figcaption>\n</figure>")


def _link(label: str, href: str, page_dir: Path) -> str:
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or href.startswith(("/", "\\")) or not href.strip():
        raise ValueError(f"link {href!r} must be a relative path next to the page")
    target = page_dir / parts.path if parts.path else None
    text = html.escape(str(label))
    if target is not None and not target.exists():
        return f'<li><span class="missing">{text} ({html.escape(parts.path)}: not found)</span></li>'
    safe_href = html.escape(quote(href, safe="/#?&=%.-_~+"), quote=True)
    return f'<li><a href="{safe_href}">{text}</a></li>'


def render(path: Path, title: str, summary_lines: list[str], sections: list[tuple[str, object]],
           images: list[tuple[str, Path]], links: list[tuple[str, str]] = (), *,
           decision: list[str] = (), explorer_html: str | None = None) -> Path:
    """Write one self-contained HTML page at ``path`` (atomically) and return ``path``.

    ``decision`` lines open the page in a card, followed by ``images`` (caption, PNG path;
    embedded as base64); then the summary, the contents and the ``sections`` (heading,
    DataFrame | str); then ``explorer_html`` (:func:`explorer`), if any; ``links`` are (label,
    href relative to the page's folder); a link whose file is missing is listed as plain text.
    """
    path = Path(path)
    used: set[str] = set(_RESERVED_IDS)
    toc: list[tuple[str, str]] = []
    body: list[str] = []

    for heading, content in sections:
        sid = _slug(heading, used)
        toc.append((sid, str(heading)))
        if isinstance(content, pd.DataFrame):
            inner = _table(content)
        elif isinstance(content, str):
            inner = _text(content)
        else:
            raise TypeError(f"section {heading!r}: expected a DataFrame or str, got {type(content).__name__}")
        body.append(f'<section id="{sid}">\n<h2>{_inline(heading)}</h2>\n{inner}\n</section>')

    lead = ""
    if decision:
        # the decision and its first reason are read first; how far it holds (held-out rates, the gate, costs) is
        # one click away, so that the card and the plot stay on the first screen however long the card grows
        first, rest = list(decision[:2]), list(decision[2:])
        more = (f'\n<details class="card-more"><summary>How far this holds ({len(rest)} more)</summary>\n'
                + "\n".join(f"<p>{_bold(_inline(line))}</p>" for line in rest) + "\n</details>") if rest else ""
        lead += ('<div class="decision" id="decision">\n'
                 + "\n".join(f"<p>{_bold(_inline(line))}</p>" for line in first) + more + "\n</div>")
    if images:
        figures = "\n".join(_image(caption, png) for caption, png in images)
        lead += f'\n<div class="lead" id="figures">\n{figures}\n</div>'
    if decision and images:
        lead = f'<div class="top">\n{lead}\n</div>'

    if explorer_html is not None:
        toc.append(("explorer", "Every question, every answer"))
        body.append(f'<section id="explorer">\n<h2>Every question, every answer</h2>\n{explorer_html}\n</section>')

    if links:
        toc.append(("files", "Files"))
        items = "\n".join(_link(label, href, path.parent) for label, href in links)
        body.append(f'<section id="files">\n<h2>Files</h2>\n<ul class="files">\n{items}\n</ul>\n</section>')

    summary = ""
    if summary_lines:
        summary = ('<ul class="summary" id="summary">\n'
                   + "\n".join(f"<li>{_inline(line)}</li>" for line in summary_lines) + "\n</ul>")
    nav = ""
    if toc:
        nav = ('<nav class="toc" id="contents" aria-label="Contents">\n<strong>Contents</strong>\n<ol>\n'
               + "\n".join(f'<li><a href="#{sid}">{_inline(name)}</a></li>' for sid, name in toc)
               + "\n</ol>\n</nav>")

    page = "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(str(title))}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        "<main>",
        f"<h1>{_inline(title)}</h1>",
        lead,
        summary,
        nav,
        *body,
        "</main>",
        f"<script>{SCRIPT}</script>",
        "</body>",
        "</html>",
        "",
    ])

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.html")
    try:
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
