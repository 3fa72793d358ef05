"""The bubble plot reads at a glance: model names never overlap, other estimates are drawn in the model's colour."""

from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

from pipeline.report import figures  # noqa: E402

NAMES = ["Qwen2.5-Coder-0.5B-Instruct", "gemma-3-270m", "SmolLM2-135M-Instruct"]


def near_coincident(with_estimates: bool = True) -> pd.DataFrame:
    """Three models whose points nearly coincide (energies 0.0040-0.0042 Wh, accuracies 0.70-0.71)."""
    results = pd.DataFrame({
        "model": NAMES, "params_b": [0.5, 0.27, 0.135], "energy_per_query_wh": [0.0040, 0.0041, 0.0042],
        "accuracy": [0.70, 0.71, 0.70], "accuracy_ci_low": [0.60, 0.61, 0.60], "accuracy_ci_high": [0.79, 0.80, 0.79],
        "energy_method": ["measured (RAPL)", "measured (RAPL)", "estimated (TDP × time)"],
        "on_frontier": [True, True, False],
    })
    if with_estimates:
        results = results.assign(
            corrected_accuracy=[0.66, 0.74, 0.68], corrected_ci_low=[0.50, 0.60, 0.55],
            corrected_ci_high=[0.80, 0.86, 0.80], labelled_accuracy=[0.72, np.nan, 0.65],
            labelled_ci_low=[0.60, np.nan, 0.50], labelled_ci_high=[0.85, np.nan, 0.78])
    return results


def _check_labels(fig, boxes) -> None:
    assert len(boxes) == len(NAMES)
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b), f"labels overlap: {a} {b}"
    figure_box, axes_box = fig.bbox, fig.axes[0].get_window_extent()
    for box in boxes:
        for outer in (figure_box, axes_box):
            assert outer.x0 <= box.x0 + 0.5 and box.x1 <= outer.x1 + 0.5
            assert outer.y0 <= box.y0 + 0.5 and box.y1 <= outer.y1 + 0.5


def _markers(fig, marker: str) -> list[tuple]:
    return [to_rgb(line.get_color()) for line in fig.axes[0].lines if line.get_marker() == marker]


@pytest.mark.parametrize("with_estimates", [True, False])
def test_labels_never_overlap_and_stay_inside(tmp_path, with_estimates):
    results = near_coincident(with_estimates)
    path = tmp_path / "bubble.png"
    boxes = figures.bubble_plot(results, path, "doc: accuracy vs energy")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    fig = figures.bubble_figure(results, "doc: accuracy vs energy")
    try:
        again = figures.label_boxes(fig)
        assert np.ravel([b.bounds for b in again]) == pytest.approx(np.ravel([b.bounds for b in boxes]))  # same plot
        _check_labels(fig, again)
        texts = [t.get_text() for t in fig.axes[0].texts if t.get_gid() == figures.LABEL_GID]
        assert [t.split("\n")[0] for t in texts] == NAMES and "(135M)" in texts[2]
        legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        assert "measured energy" in legend and "estimated energy" in legend
        assert any(t.startswith("efficiency frontier") for t in legend)
        assert ("judge-corrected (95% CI)" in legend) is with_estimates
        assert ("checked by a person (95% CI)" in legend) is with_estimates
        bubble_colours = {to_rgb(c) for coll in fig.axes[0].collections if hasattr(coll, "get_sizes")
                          and len(coll.get_sizes()) for c in coll.get_edgecolors()}
        diamonds, squares = _markers(fig, "D"), _markers(fig, "s")
        if with_estimates:  # one per model, in that model's bubble colour, a different colour per model
            assert len(diamonds) == 3 and len(set(diamonds)) == 3 and set(diamonds) <= bubble_colours
            assert len(squares) == 2 and set(squares) <= bubble_colours  # the NaN one is not drawn
        else:
            assert not diamonds and not squares
    finally:
        plt.close(fig)


def test_crowded_plot_falls_back_to_its_own_placement(tmp_path, monkeypatch):
    """With adjustText doing nothing, the greedy placement alone still keeps the names apart."""
    monkeypatch.setattr(figures, "adjust_text", lambda *args, **kwargs: None)
    many = pd.concat([near_coincident()] * 3, ignore_index=True)
    many["model"] = [f"{name}-{i}" for i, name in enumerate(many["model"])]
    boxes = figures.bubble_plot(many, tmp_path / "bubble.png", "crowded")
    assert len(boxes) == 9
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b)


def test_models_without_energy_or_accuracy(tmp_path):
    results = near_coincident().assign(energy_per_query_wh=[0.004, np.nan, 0.0042], accuracy=[0.7, 0.71, np.nan])
    fig = figures.bubble_figure(results, "partial")
    try:
        texts = [t.get_text() for t in fig.axes[0].texts]
        assert any("gemma-3-270m" in t and t.startswith("bubble area") for t in texts)  # named underneath
        assert [t.split("\n")[0] for t in texts if "\n(" in t and not t.startswith("bubble")] == [NAMES[0]]
    finally:
        plt.close(fig)
    nothing = near_coincident().assign(energy_per_query_wh=np.nan)
    assert figures.bubble_plot(nothing, tmp_path / "empty.png", "no energy") == []
