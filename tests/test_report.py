"""Aggregation and plot: the table is a pure function of the per-question details."""

import pandas as pd
import pytest

from pipeline.report import aggregate, bubble_plot, format_params, table_markdown


def tiny_details() -> pd.DataFrame:
    rows = []
    verdicts = {"small": [1, 0, None, 1], "big": [1, 1, 1, 0]}
    statuses = {"small": ["judged", "judged", "unparsed", "judged"], "big": ["judged"] * 4}
    for model, params in (("small", 0.135), ("big", 7.0)):
        for i in range(4):
            rows.append({
                "candidate": model, "question_id": f"q{i}", "params_b": params,
                "verdict": verdicts[model][i], "status": statuses[model][i],
                "duration_s": 1.5 if model == "small" else 6.0,
                "energy_wh": 0.01 if model == "small" else 0.2,
                "co2_kg": 1e-6, "input_tokens": 100, "output_tokens": 20,
                "energy_method": "estimated", "hardware": "cpu",
            })
    return pd.DataFrame(rows)


def test_aggregate_counts_unparsed_separately():
    results = aggregate(tiny_details()).set_index("model")
    small, big = results.loc["small"], results.loc["big"]
    assert small["accuracy"] == pytest.approx(2 / 3)  # 2 correct of 3 judged; the unparsed one is not a 0
    assert small["unparsed"] == 1 and small["judged"] == 3 and small["questions"] == 4
    assert big["accuracy"] == pytest.approx(0.75)
    assert small["energy_wh"] == pytest.approx(0.04)
    assert big["duration_s"] == pytest.approx(24.0)
    assert small["co2_g"] == pytest.approx(4e-3)


def test_table_has_the_study_columns():
    table = table_markdown(aggregate(tiny_details()))
    header = table.splitlines()[0]
    for column in ("Model", "# Params", "Duration (s)", "Accuracy", "Estimated Energy (Wh)", "CO2 (g)", "Questions"):
        assert column in header
    assert "| small | 135M |" in table and "66.7%" in table


def test_format_params():
    assert format_params(0.135) == "135M"
    assert format_params(235) == "235B"
    assert format_params(72.7) == "72.7B"


def test_bubble_plot_is_written(tmp_path):
    path = tmp_path / "bubble.png"
    bubble_plot(aggregate(tiny_details()), path, "test")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert not list(tmp_path.glob("*.tmp*"))
