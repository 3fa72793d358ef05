"""The report's figure: accuracy against energy, one bubble per model."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from pipeline.io import atomic_save_figure  # noqa: E402
from pipeline.measure import energy  # noqa: E402
from pipeline.report.formatting import format_params  # noqa: E402


def bubble_plot(results: pd.DataFrame, path: Path, title: str) -> None:
    """Accuracy (y, 95% CI bars) vs net energy per query in Wh (x, log), the figure the frontier and the
    pick rank by; bubble area ∝ parameters; frontier marked.

    Measured energies are filled bubbles, estimates hollow ones; a model with no
    energy per query (not measured, or no answer measured in full) has no x and is
    named under the plot instead.
    """
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=120)
    shown = results[results["energy_per_query_wh"].notna()]
    missing = results[results["energy_per_query_wh"].isna()]["model"].tolist()
    sizes = 2500 * shown["params_b"] / shown["params_b"].max()
    energy_x = shown["energy_per_query_wh"].clip(lower=1e-9)
    accuracy = shown["accuracy"]
    if "accuracy_ci_low" in shown and len(shown):
        below = (accuracy - shown["accuracy_ci_low"]).clip(lower=0).fillna(0)
        above = (shown["accuracy_ci_high"] - accuracy).clip(lower=0).fillna(0)
        ax.errorbar(energy_x, accuracy, yerr=[below, above],
                    fmt="none", ecolor="gray", elinewidth=1, capsize=3, zorder=1)
    fixed = shown[shown["corrected_accuracy"].notna()] if "corrected_accuracy" in shown else shown.iloc[:0]
    if len(fixed):  # beside each bubble (same energy, nudged right): the judge-corrected accuracy and its CI
        value = fixed["corrected_accuracy"]
        ax.errorbar(energy_x[fixed.index] * 1.12, value,
                    yerr=[(value - fixed["corrected_ci_low"]).clip(lower=0), (fixed["corrected_ci_high"] - value)
                          .clip(lower=0)], fmt="D", color="black", markersize=4, elinewidth=1, capsize=2, zorder=4,
                    label="judge-corrected (95% CI)")
    estimated = shown["energy_method"].map(energy.is_estimate).astype(bool)
    colours = plt.get_cmap("viridis")([0.85 * i / max(len(results) - 1, 1) for i in range(len(results))])
    colour = dict(zip(results["model"], colours))
    for is_estimate, label in ((False, "measured"), (True, "estimate")):
        part = shown[estimated == is_estimate]
        if len(part):
            ax.scatter(energy_x[part.index], part["accuracy"], s=sizes[part.index], zorder=2, label=label,
                       facecolors="none" if is_estimate else [colour[m] for m in part["model"]],
                       edgecolors=[colour[m] for m in part["model"]], linewidths=1.6 if is_estimate else 0.8,
                       linestyle="--" if is_estimate else "-", alpha=0.9 if is_estimate else 0.45)
    if "on_frontier" in shown and shown["on_frontier"].any():
        front = shown[shown["on_frontier"]].sort_values("energy_per_query_wh")
        ax.plot(front["energy_per_query_wh"].clip(lower=1e-9), front["accuracy"], color="crimson", linestyle="--",
                marker="o", markersize=4, zorder=3,
                label="efficiency frontier" + (" (hollow points: estimates)" if estimated[front.index].any() else ""))
    if len(shown):
        legend = ax.legend(loc="lower right", fontsize=8)
        for handle in legend.legend_handles:  # legend markers of one size, whatever the bubbles' sizes
            if hasattr(handle, "set_sizes"):
                handle.set_sizes([60])
    for x, y, name, params in zip(energy_x, accuracy, shown["model"], shown["params_b"]):
        ax.annotate(f"{name}\n({format_params(params)})", (x, y), textcoords="offset points", xytext=(0, 12),
                    ha="center", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("Net energy per query (Wh, log scale)")
    ax.set_ylabel("Accuracy (judged correct; diamonds: judge-corrected), 95% CI")
    ax.set_ylim(-0.05, 1.1)
    if len(shown):
        ax.set_xlim(energy_x.min() / 2, energy_x.max() * 2)
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    note = "bubble area ∝ parameter count; hollow: energy estimated, filled: measured"
    if missing:
        note += "\nnot plotted (no energy per query: not measured, or no answer measured in full): " + \
            ", ".join(missing)
    ax.text(0.01, 0.01, note, transform=ax.transAxes, ha="left", va="bottom", fontsize=7, color="gray")
    fig.tight_layout()
    atomic_save_figure(fig, path)
