"""Across documents: every finished report's ``results.csv`` side by side.

Writes, under ``out_dir``:

- ``per_document.md``: one table per document (Model, # Params, Duration (s),
  Accuracy, Energy (Wh), Method), as in the per-document report;
- ``combined.csv`` / ``combined.md``: one row per model, with its accuracy and
  net energy per query on each document (documents have different question
  counts, so totals are not comparable) and its average over the documents where
  it appears (a plain mean of the per-document values, each document weighing the
  same), with the number of answers the energy rests on;
- ``compare.png``: accuracy per model, grouped by document;
- ``compare.html``: the same, as one page in the look of a document's report:
  a decision card and the plot first, sortable tables, links to each report.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from pipeline.errors import UserError
from pipeline.io import atomic_save_figure, atomic_write_text
from pipeline.report import html_report
from pipeline.report.formatting import format_params, markdown_table, num, pct

REQUIRED = ("model", "params_b", "duration_s", "accuracy", "energy_wh")
AVERAGE = "average"


def load_reports(reports_root: Path, out_dir: Path | None = None) -> dict[str, pd.DataFrame]:
    """``{document: results}`` for every ``reports_root/<document>/results.csv``, documents sorted."""
    reports_root = Path(reports_root)
    skip = Path(out_dir).resolve() if out_dir is not None else None
    reports = {}
    if not reports_root.is_dir():
        return reports
    for folder in sorted(p for p in reports_root.iterdir() if p.is_dir()):
        if folder.name.startswith(".") or (skip is not None and folder.resolve() == skip):
            continue
        csv = folder / "results.csv"
        if not csv.is_file():
            continue
        try:
            results = pd.read_csv(csv)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise UserError(f"cannot read {csv}: {exc.__class__.__name__}") from None
        missing = [c for c in REQUIRED if c not in results.columns]
        if missing:
            raise UserError(f"{csv} lacks column(s) {', '.join(missing)}: rebuild that report")
        if len(results):
            reports[folder.name] = results
    return reports


def per_query(results: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Each model's net energy per query in one report, and how many answers it rests on.

    ``energy_per_query_wh`` and ``energy_ranked_answers`` as the report computed them (the answers measured
    in full); a ``results.csv`` written before they existed: its total over the answers with energy
    (``energy_questions``, else every question)."""
    answers = results["energy_questions"] if "energy_questions" in results else results["questions"]
    answers = results["energy_ranked_answers"] if "energy_ranked_answers" in results else answers
    if "energy_per_query_wh" in results:
        return results["energy_per_query_wh"].astype(float), answers
    counted = answers.astype(float).where(answers > 0)
    return results["energy_wh"].astype(float) / counted, answers


def combine(reports: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per model (first-seen order): ``accuracy:<doc>``, ``energy_per_query_wh:<doc>`` and
    ``answers:<doc>`` (the answers that energy rests on) for each document; ``accuracy:average`` and
    ``energy_per_query_wh:average`` (means over the documents where the model appears, NaN skipped),
    ``answers`` (summed) and ``documents`` (how many documents the model appears in)."""
    documents = list(reports)
    models: dict[str, dict] = {}
    for document, results in reports.items():
        energy, answers = per_query(results)
        for row, wh, n in zip(results.itertuples(index=False), energy, answers):
            entry = models.setdefault(str(row.model), {"model": str(row.model), "params_b": row.params_b,
                                                       "documents": 0})
            entry[f"accuracy:{document}"] = float(row.accuracy)
            entry[f"energy_per_query_wh:{document}"] = float(wh)
            entry[f"answers:{document}"] = int(n) if pd.notna(wh) else 0
            entry["documents"] += 1
    columns = ["model", "params_b"]
    for document in documents:
        columns += [f"accuracy:{document}", f"energy_per_query_wh:{document}", f"answers:{document}"]
    table = pd.DataFrame(list(models.values())).reindex(columns=[*columns, "documents"])
    accuracy = table[[f"accuracy:{d}" for d in documents]]
    energy = table[[f"energy_per_query_wh:{d}" for d in documents]]
    table[f"accuracy:{AVERAGE}"] = accuracy.mean(axis=1, skipna=True)
    table[f"energy_per_query_wh:{AVERAGE}"] = energy.mean(axis=1, skipna=True)
    table["answers"] = table[[f"answers:{d}" for d in documents]].sum(axis=1).astype(int)
    return table[[*columns, f"accuracy:{AVERAGE}", f"energy_per_query_wh:{AVERAGE}", "answers", "documents"]]


def _per_query_cell(wh: float, answers) -> str:
    return "not measured" if pd.isna(wh) else f"{num(wh)} ({int(answers)} answers)"


def per_document_tables(reports: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Per document, its results as the report shows them (Model, # Params, Duration, Accuracy, Energy, Wh per
    query with the answers it rests on, Method)."""
    tables = {}
    for document, results in reports.items():
        methods = results["energy_method"] if "energy_method" in results else pd.Series("", index=results.index)
        energy, answers = per_query(results)
        rows = [[str(r.model), format_params(r.params_b), f"{float(r.duration_s):.1f}", pct(r.accuracy),
                 num(r.energy_wh) if not pd.isna(r.energy_wh) else "not measured", _per_query_cell(wh, n),
                 str(method)]
                for r, wh, n, method in zip(results.itertuples(index=False), energy, answers, methods.fillna(""))]
        tables[document] = pd.DataFrame(rows, columns=["Model", "# Params", "Duration (s)", "Accuracy",
                                                       "Energy (Wh)", "Wh per query", "Method"])
    return tables


def per_document_markdown(reports: dict[str, pd.DataFrame]) -> str:
    parts = ["# Results per document", ""]
    for document, table in per_document_tables(reports).items():
        parts += [f"## {document}", "", markdown_table(table), ""]
    return "\n".join(parts)


def combined_display(table: pd.DataFrame, documents: list[str]) -> pd.DataFrame:
    """The combined table for reading: one row per model, accuracy and energy per query per document, then
    averages."""
    columns = ["Model", "# Params"]
    for document in documents:
        columns += [f"Accuracy ({document})", f"Wh per query ({document})"]
    columns += ["Average accuracy", "Average Wh per query", "Answers with energy", "Documents"]
    rows = []
    for _, r in table.iterrows():
        row = [str(r["model"]), format_params(r["params_b"])]
        for document in documents:
            present = not pd.isna(r[f"accuracy:{document}"])
            row += [pct(r[f"accuracy:{document}"]) if present else "–",
                    num(r[f"energy_per_query_wh:{document}"]) if present else "–"]
        row += [pct(r[f"accuracy:{AVERAGE}"]), num(r[f"energy_per_query_wh:{AVERAGE}"]), str(int(r["answers"])),
                str(int(r["documents"]))]
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def _summary(table: pd.DataFrame, documents: list[str]) -> str:
    return (f"{len(table)} models, {len(documents)} documents. Energy is net energy per query (documents have "
            "different question counts), over the answers measured in full (\"Answers with energy\", all "
            "documents together). Averages are plain means over the documents where the model appears (each "
            "document weighs the same); \"–\": not evaluated on that document.")


def combined_markdown(table: pd.DataFrame, documents: list[str], reports: dict[str, pd.DataFrame]) -> str:
    return "\n".join([
        "# Models across documents", "", _summary(table, documents), "",
        markdown_table(combined_display(table, documents)), "",
        "![accuracy per model and document](compare.png)", "",
        "## What each evaluation cost, and when its pick repays it", "",
        markdown_table(payback_table(reports)), "",
    ])


def decision(table: pd.DataFrame, documents: list[str], tolerance: float = 0.05) -> list[str]:
    """The card at the top of the page, over the models evaluated on every document.

    As in one document's report: the model with the lowest average energy per query
    whose average accuracy is within ``tolerance`` of the best average; each
    document's own report says whether a difference there is significant.
    """
    everywhere = table[(table["documents"] == len(documents)) & table[f"accuracy:{AVERAGE}"].notna()]
    if everywhere.empty:
        return ["No model was evaluated on every document: compare them per document below."]
    acc, wh = f"accuracy:{AVERAGE}", f"energy_per_query_wh:{AVERAGE}"
    best = everywhere.sort_values([acc, wh], ascending=[False, True]).iloc[0]
    close = everywhere[(everywhere[acc] >= best[acc] - tolerance - 1e-12) & everywhere[wh].notna()]
    pick = close.sort_values([wh, acc], ascending=[True, False]).iloc[0] if len(close) else best
    lines = [f"Across {len(documents)} documents, pick **{pick['model']}** ({format_params(pick['params_b'])}): "
             f"average accuracy {pct(pick[acc])}, average net energy {num(pick[wh])} Wh per query "
             f"(over {int(pick['answers'])} answers)."]
    if pick["model"] == best["model"]:
        lines.append(f"It is the most accurate on average, and no model within {100 * tolerance:g} points of it "
                     "uses less energy.")
    else:
        lines.append(f"The most accurate on average, {best['model']} ({pct(best[acc])}), is "
                     f"{100 * (best[acc] - pick[acc]):.1f} points better and uses {num(best[wh])} Wh per query, "
                     f"{num(best[wh] / pick[wh], '{:.3g}')}× the energy; each document's report says whether "
                     "that difference is significant there.")
    return lines


PAYBACK = {"evaluation_energy_wh": "Evaluation (Wh)", "largest_model": "Largest candidate",
           "saving_vs_largest_wh_per_query": "Saving vs largest (Wh/query)",
           "payback_queries_vs_largest": "Repaid after (queries)", "most_accurate_model": "Most accurate",
           "saving_vs_most_accurate_wh_per_query": "Saving vs most accurate (Wh/query)",
           "payback_queries_vs_most_accurate": "Repaid after (queries) "}


def payback_table(reports: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per document: what its evaluation cost and when its pick repays it (the report's payback columns; reports
    made before they existed show n/a)."""
    rows = []
    for document, frame in reports.items():
        first = frame.iloc[0] if len(frame) else pd.Series(dtype=object)
        row = {"Document": document}
        for column, title in PAYBACK.items():
            value = first.get(column, float("nan"))
            row[title] = value if isinstance(value, str) else (
                f"{int(value):,}" if "queries" in column and pd.notna(value) else num(value, "{:.3g}"))
        rows.append(row)
    return pd.DataFrame(rows)


def bar_chart(table: pd.DataFrame, documents: list[str], path: Path) -> None:
    """Grouped bars: one group per model, one bar per document, height = accuracy."""
    n_models, n_docs = len(table), len(documents)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * n_models * max(1, n_docs) / 2 + 3), 5), dpi=120)
    width = 0.8 / max(1, n_docs)
    for i, document in enumerate(documents):
        heights = table[f"accuracy:{document}"].fillna(0.0)
        positions = [m + (i - (n_docs - 1) / 2) * width for m in range(n_models)]
        ax.bar(positions, heights, width=width, label=document)
    ax.set_xticks(range(n_models))
    ax.set_xticklabels([f"{m}\n({format_params(p)})" for m, p in zip(table["model"], table["params_b"])],
                       fontsize=8, rotation=0 if n_models <= 4 else 30, ha="center" if n_models <= 4 else "right")
    ax.set_ylabel("Accuracy (judged correct)")
    ax.set_ylim(0, 1.05)
    ax.set_title("Accuracy per model and document", fontsize=10)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8, title="document", title_fontsize=8, ncols=max(1, math.ceil(n_docs / 6)))
    fig.tight_layout()
    atomic_save_figure(fig, path)


def run(reports_root: Path, out_dir: Path) -> Path:
    """Compare every finished report under ``reports_root``; return ``out_dir/combined.md``."""
    reports_root, out_dir = Path(reports_root), Path(out_dir)
    reports = load_reports(reports_root, out_dir)
    if not reports:
        raise UserError(f"no finished report under {reports_root} (no <document>/results.csv): "
                        "run the evaluation on at least one document first")
    documents = list(reports)
    table = combine(reports)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "per_document.md", per_document_markdown(reports))
    atomic_write_text(out_dir / "combined.csv", table.to_csv(index=False))
    bar_chart(table, documents, out_dir / "compare.png")
    combined = out_dir / "combined.md"
    atomic_write_text(combined, combined_markdown(table, documents, reports))
    html_report.render(
        out_dir / "compare.html", "Which model, across documents?", [_summary(table, documents)],
        [("Across documents", combined_display(table, documents)),
         ("What each evaluation cost, and when its pick repays it", payback_table(reports)),
         *((f"Results for {document}", frame) for document, frame in per_document_tables(reports).items())],
        [("Accuracy per model and document", out_dir / "compare.png")],
        links=[(f"{document}: its report", f"../{document}/report.html") for document in documents]
        + [("combined.csv", "combined.csv"), ("combined.md", "combined.md"), ("per_document.md", "per_document.md")],
        decision=decision(table, documents))
    print(f"comparison: {combined} ({len(documents)} documents, {len(table)} models)", flush=True)
    return combined
