"""How numbers and tables read: the one place that turns results into text.

Used by the report, the Hub card and the cross-document view alike, so that a
number is written the same way everywhere.
"""

from __future__ import annotations

import pandas as pd

from pipeline.measure import energy

TABLE_COLUMNS = {"model": "Model", "params": "# Params", "duration_s": "Duration (s)", "accuracy": "Accuracy",
                 "ci": "95% CI (Wilson)", "corrected": "Judge-corrected accuracy (95% CI)",
                 "energy": "Energy (Wh)", "energy_method": "Method", "co2_g": "CO2 (g)",
                 "questions": "Questions", "non_answers": "Non-answers (wrong by rule)",
                 "unparsed": "Unparsed judgements"}


def format_params(billions: float) -> str:
    if pd.isna(billions):
        return "n/a"
    return f"{billions * 1000:.0f}M" if billions < 1 else f"{billions:g}B"


def markdown_table(df: pd.DataFrame) -> str:
    header = "| " + " | ".join(str(c) for c in df.columns) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    lines = ["| " + " | ".join(str(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([header, rule, *lines])


def pct(value) -> str:
    return "n/a" if pd.isna(value) else f"{value:.1%}"


def num(value, fmt="{:.4g}") -> str:
    return "n/a" if pd.isna(value) else fmt.format(value)


def energy_cell(row) -> str:
    """The table's energy: net Wh, ± the spread over repeated windows, how many answers it covers, and a flag
    (⚠) on answers from a partial window (a killed session) or a window at or below the idle baseline."""
    if pd.isna(row["energy_wh"]):
        return energy.NOT_MEASURED
    text = num(row["energy_wh"])
    if pd.notna(row.get("energy_sd_wh", float("nan"))):
        text += f" ± {num(row['energy_sd_wh'], '{:.2g}')}"
    measured = row.get("energy_questions", row["questions"])
    notes = [f"{measured} of {row['questions']} answers"] if measured < row["questions"] else []
    flags = [f"{n} {what}" for n, what in ((row.get("energy_partial_answers", 0), "from a partial window"),
                                           (row.get("energy_not_above_idle_answers", 0), "net ≤ 0, below idle"))
             if n and pd.notna(n)]
    if notes or flags:
        text += f" ({'; '.join(notes + [f'⚠ {flag}' for flag in flags])})"
    return text


def corrected_cell(row) -> str:
    if pd.isna(row.get("corrected_accuracy", float("nan"))):
        return "n/a"
    return f"{pct(row['corrected_accuracy'])} ({pct(row['corrected_ci_low'])}–{pct(row['corrected_ci_high'])})"


def main_table(results: pd.DataFrame) -> pd.DataFrame:
    """The study's table (plus CI, energy method, CO2, counts), formatted for reading."""
    return results.assign(
        params=results["params_b"].map(format_params),
        duration_s=results["duration_s"].map("{:.1f}".format),
        accuracy=results["accuracy"].map(pct),
        ci=[f"{pct(lo)}–{pct(hi)}" for lo, hi in zip(results["accuracy_ci_low"], results["accuracy_ci_high"])],
        corrected=[corrected_cell(row) for _, row in results.iterrows()],
        energy=[energy_cell(row) for _, row in results.iterrows()],
        co2_g=results["co2_g"].map(num),
    )[list(TABLE_COLUMNS)].rename(columns=TABLE_COLUMNS)


def table_markdown(results: pd.DataFrame, columns: list[str] | None = None) -> str:
    """The main table as Markdown, optionally only some of its (display) columns."""
    table = main_table(results)
    return markdown_table(table if columns is None else table[columns])
