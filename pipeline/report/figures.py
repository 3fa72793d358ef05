"""The report's figure: accuracy against energy, one bubble per model."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from adjustText import adjust_text  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import FancyArrowPatch  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402

from pipeline.io import atomic_save_figure  # noqa: E402
from pipeline.measure import energy  # noqa: E402
from pipeline.report.formatting import format_params  # noqa: E402

LABEL_GID = "model-label"  # the gid of each model's name on the plot (see label_boxes)
LEADER_GID = "model-label-leader"
# the other estimates of a model's accuracy, drawn beside its bubble in its colour: (columns' prefix, marker,
# legend text, horizontal offset from the bubble as a fraction of the x axis' width)
ESTIMATES = (("corrected", "D", "judge-corrected (95% CI)", 0.018),
             ("labelled", "s", "checked by a person (95% CI)", -0.018))
LABEL_PAD_PX = 2.0  # the least gap between two labels, in pixels


def bubble_plot(results: pd.DataFrame, path: Path, title: str) -> list[Bbox]:
    """Draw the plot (see :func:`bubble_figure`) to ``path`` as a PNG; return the model labels' boxes in the
    PNG's pixels (display coordinates: origin bottom left), as :func:`label_boxes` gives them."""
    fig = bubble_figure(results, title)
    boxes = label_boxes(fig)
    atomic_save_figure(fig, path)  # same dpi as the figure: the boxes are the PNG's pixels
    return boxes


def bubble_figure(results: pd.DataFrame, title: str) -> Figure:
    """Accuracy (y, 95% CI bars) vs net energy per query in Wh (x, log), the figure the frontier and the
    pick rank by; bubble area ∝ parameters; frontier marked.

    Measured energies are filled bubbles, estimates hollow ones; a model with no
    energy per query (not measured, or no answer measured in full) has no x and is
    named under the plot instead. Beside each bubble, in the model's colour: the judge-corrected accuracy
    (diamond, right) and the accuracy anchored on a person's labels (square, left), each with its 95% CI,
    where the results have them (``corrected_*``, ``labelled_*`` columns; NaN or absent: not drawn). The model
    names are placed so that none overlaps another or leaves the axes, with a leader line to the bubble when
    moved away from it.
    """
    fig, ax = plt.subplots(figsize=(9, 5.8), dpi=120)
    shown = results[results["energy_per_query_wh"].notna()]
    missing = results[results["energy_per_query_wh"].isna()]["model"].tolist()
    colours = plt.get_cmap("viridis")([0.85 * i / max(len(results) - 1, 1) for i in range(len(results))])
    colour = dict(zip(results["model"], colours))
    sizes = 2500 * shown["params_b"] / shown["params_b"].max()
    energy_x = shown["energy_per_query_wh"].clip(lower=1e-9)
    accuracy = shown["accuracy"]
    ax.set_xscale("log")
    # within a decade matplotlib labels minor ticks too, and "3×10⁻³" runs into "4×10⁻³": a few plain labels
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:.2g}"))
    ax.set_ylim(-0.05, 1.1)
    if len(shown):
        ax.set_xlim(energy_x.min() / 2, energy_x.max() * 2)
    handles = []
    if "accuracy_ci_low" in shown and len(shown):
        below = (accuracy - shown["accuracy_ci_low"]).clip(lower=0).fillna(0)
        above = (shown["accuracy_ci_high"] - accuracy).clip(lower=0).fillna(0)
        ax.errorbar(energy_x, accuracy, yerr=[below, above],
                    fmt="none", ecolor="gray", elinewidth=1, capsize=3, zorder=1)
    estimated = shown["energy_method"].map(energy.is_estimate).astype(bool)
    for is_estimate, label in ((False, "measured"), (True, "estimated")):
        part = shown[estimated == is_estimate]
        if len(part):
            ax.scatter(energy_x[part.index], part["accuracy"], s=sizes[part.index], zorder=2,
                       facecolors="none" if is_estimate else [colour[m] for m in part["model"]],
                       edgecolors=[colour[m] for m in part["model"]], linewidths=1.6 if is_estimate else 0.8,
                       linestyle="--" if is_estimate else "-", alpha=0.9 if is_estimate else 0.45)
            handles.append(Line2D([], [], ls="none", marker="o", markersize=9, label=f"{label} energy",
                                  markerfacecolor="none" if is_estimate else (0.5, 0.5, 0.5, 0.45),
                                  markeredgecolor="gray", markeredgewidth=1.6 if is_estimate else 0.8))
    # what the labels keep off: each bubble, estimate and its interval, as (x, y, marker radius in points, low,
    # high)
    marks = [(x, y, math.sqrt(s / math.pi), lo, hi) for x, y, s, lo, hi in
             zip(energy_x, accuracy, sizes.fillna(0), shown.get("accuracy_ci_low", accuracy),
                 shown.get("accuracy_ci_high", accuracy)) if pd.notna(y)]
    xmin, xmax = ax.get_xlim()
    for prefix, marker, legend_text, offset in ESTIMATES:
        drawn = _draw_estimate(ax, shown, energy_x, colour, prefix, marker,
                               (xmax / xmin) ** offset if len(shown) else 1.0)
        if drawn:
            marks += drawn
            handles.append(Line2D([], [], ls="none", marker=marker, markersize=6, color="dimgray",
                                  label=legend_text))
    if "on_frontier" in shown and shown["on_frontier"].any():
        front = shown[shown["on_frontier"]].sort_values("energy_per_query_wh")
        ax.plot(front["energy_per_query_wh"].clip(lower=1e-9), front["accuracy"], color="crimson", linestyle="--",
                marker="o", markersize=4, zorder=3)
        handles.append(Line2D([], [], color="crimson", ls="--", marker="o", markersize=4,
                              label="efficiency frontier" + (" (hollow points: estimates)"
                                                             if estimated[front.index].any() else "")))
    ax.set_xlabel("Net energy per query (Wh, log scale)")
    ax.set_ylabel("Accuracy (judged correct), 95% CI")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    if handles:  # beside the axes: nothing in the plot hides under it
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, borderaxespad=0,
                  title="colour: model", title_fontsize=8)
    note = "bubble area ∝ parameter count; hollow: energy estimated, filled: measured"
    if missing:
        note += "\nnot plotted (no energy per query: not measured, or no answer measured in full): " + \
            ", ".join(missing)
    ax.annotate(note, xy=(0, 0), xycoords="axes fraction", xytext=(0, -34), textcoords="offset points",
                ha="left", va="top", fontsize=7, color="gray")
    named = accuracy.notna()  # no accuracy (no answer judged): no point to name
    labels = [ax.text(x, y, f"{name}\n({format_params(params)})", ha="center", va="center", fontsize=8,
                      gid=LABEL_GID, zorder=6,
                      bbox={"boxstyle": "round,pad=0.25", "facecolor": "white", "alpha": 0.85,
                            "edgecolor": colour[name], "linewidth": 1.0})
              for x, y, name, params in zip(energy_x[named], accuracy[named], shown["model"][named],
                                            shown["params_b"][named])]
    fig.tight_layout()
    if labels:
        _place_labels(fig, ax, labels, list(zip(energy_x[named], accuracy[named])),
                      [colour[m] for m in shown["model"][named]], marks)
    return fig


def label_boxes(fig: Figure) -> list[Bbox]:
    """The model labels' boxes (text and its frame) in display coordinates, as the figure is drawn now."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = []
    for ax in fig.axes:
        for text in ax.texts:
            if text.get_gid() == LABEL_GID:
                boxes.append(_box(text, renderer))
    return boxes


def _draw_estimate(ax, shown: pd.DataFrame, energy_x: pd.Series, colour: dict, prefix: str, marker: str,
                   nudge: float) -> list[tuple[float, float, float, float, float]]:
    """One more accuracy estimate per model (``<prefix>_accuracy`` and its CI), beside the bubble, in the
    model's colour; returns what it drew as (x, y, marker radius in points, low, high)."""
    column = f"{prefix}_accuracy"
    if column not in shown:
        return []
    part = shown[pd.to_numeric(shown[column], errors="coerce").notna()]
    value = part[column].astype(float)
    low = pd.to_numeric(part.get(f"{prefix}_ci_low", value), errors="coerce").fillna(value)
    high = pd.to_numeric(part.get(f"{prefix}_ci_high", value), errors="coerce").fillna(value)
    x = energy_x[part.index] * nudge
    for xi, yi, lo, hi, model in zip(x, value, low, high, part["model"]):
        ax.errorbar([xi], [yi], yerr=[[max(yi - lo, 0)], [max(hi - yi, 0)]], fmt=marker, color=colour[model],
                    markeredgecolor="black", markeredgewidth=0.6, markersize=6, elinewidth=1.2, capsize=2,
                    zorder=4)
    return [(xi, yi, 4.0, lo, hi) for xi, yi, lo, hi in zip(x, value, low, high)]


def _box(text, renderer) -> Bbox:
    """A label's extent: its text and the frame around it, where the text is now."""
    boxes = [text.get_window_extent(renderer)]
    patch = text.get_bbox_patch()
    if patch is not None:
        text.update_bbox_position_size(renderer)  # else the frame sits where the text was last drawn
        boxes.append(patch.get_window_extent(renderer))
    return Bbox.union(boxes)


def _place_labels(fig: Figure, ax, labels: list, anchors: list[tuple[float, float]], colours: list,
                  marks: list[tuple[float, float, float, float, float]]) -> None:
    """Move the labels off each other and off the marks (bubbles, estimates, intervals), inside the axes
    (adjustText, a fixed number of steps: the same plot every time); where that leaves an overlap, place them
    one by one on the first free spot around their point. Leader lines join a moved label to its point."""
    renderer = fig.canvas.get_renderer()
    obstacles = _obstacles(fig, ax, marks)
    to_data = ax.transData.inverted()
    adjust_text(labels, x=[a[0] for a in anchors], y=[a[1] for a in anchors], ax=ax,
                objects=[Bbox(to_data.transform(b.get_points())) for b in obstacles] or None,
                iter_lim=400, time_lim=None, ensure_inside_axes=True, expand=(1.15, 1.4),
                force_explode=(0.3, 0.8), prevent_crossings=True)
    _shift_inside(ax, labels, renderer)  # adjustText keeps the text inside, not the frame around it
    boxes = [_box(t, renderer) for t in labels]
    if any(_overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:]):
        _place_greedily(ax, labels, anchors, obstacles, renderer)
    for text, (x, y), colour in zip(labels, anchors, colours):
        _leader(ax, text, x, y, colour, renderer)


def _obstacles(fig: Figure, ax, marks: list[tuple[float, float, float, float, float]]) -> list[Bbox]:
    """Display boxes of each mark: its marker and its interval's bar."""
    px_per_pt = fig.dpi / 72
    boxes = []
    for x, y, radius, low, high in marks:
        (cx, cy), (_, y_low), (_, y_high) = ax.transData.transform([(x, y), (x, low), (x, high)])
        r = max(radius * px_per_pt, 4.0)
        for box in (Bbox([[cx - r, cy - r], [cx + r, cy + r]]), Bbox([[cx - 4, y_low], [cx + 4, y_high]])):
            if np.isfinite(box.get_points()).all():
                boxes.append(box)
    return boxes


def _shift_inside(ax, labels: list, renderer) -> None:
    inside = ax.get_window_extent(renderer)
    to_data = ax.transData.inverted()
    for text in labels:
        box = _box(text, renderer)
        dx = max(inside.x0 - box.x0, 0) - max(box.x1 - inside.x1, 0)
        dy = max(inside.y0 - box.y0, 0) - max(box.y1 - inside.y1, 0)
        if dx or dy:
            px, py = ax.transData.transform(text.get_position())
            text.set_position(to_data.transform((px + dx, py + dy)))


def _contains(outer: Bbox, inner: Bbox) -> bool:
    return (outer.x0 <= inner.x0 + 0.5 and inner.x1 <= outer.x1 + 0.5 and outer.y0 <= inner.y0 + 0.5
            and inner.y1 <= outer.y1 + 0.5)


def _overlap(a: Bbox, b: Bbox, pad: float = LABEL_PAD_PX) -> bool:
    return a.x0 < b.x1 + pad and b.x0 < a.x1 + pad and a.y0 < b.y1 + pad and b.y0 < a.y1 + pad


def _place_greedily(ax, labels: list, anchors: list[tuple[float, float]], obstacles: list[Bbox],
                    renderer) -> None:
    """Each label in turn (top down) on the nearest spot around its point (rings of growing radius, then
    anywhere in the axes) inside the axes and clear of the labels already placed, and of the marks where
    such a spot exists."""
    inside = ax.get_window_extent(renderer)
    to_data = ax.transData.inverted()
    placed: list[Bbox] = []
    for i in sorted(range(len(labels)), key=lambda i: -anchors[i][1]):
        text = labels[i]
        text.set_ha("center")
        text.set_va("center")
        px, py = ax.transData.transform(anchors[i])
        text.set_position(to_data.transform((px, py)))
        box = _box(text, renderer)
        w, h = box.width, box.height
        spots = [(px + r * math.cos(a), py + (h / 2 + r) * math.sin(a))
                 for r in np.arange(h * 0.9, max(inside.width, inside.height), h / 2)
                 for a in np.radians([90, 270, 30, 150, 330, 210, 0, 180, 60, 120, 300, 240])]
        spots += [(x, y) for y in np.arange(inside.y1 - h / 2, inside.y0 + h / 2, -h / 4)
                  for x in np.arange(inside.x0 + w / 2, inside.x1 - w / 2 + 1, w / 8)]
        spot = None
        for avoid in (placed + obstacles, placed):  # clear of the marks too if possible, else of the labels
            spot = next((c for c in (Bbox.from_bounds(x - w / 2, y - h / 2, w, h) for x, y in spots)
                         if _contains(inside, c) and not any(_overlap(c, b) for b in avoid)), None)
            if spot is not None:
                break
        if spot is None:  # the axes are full of labels (dozens of models): the last spot, overlapping
            spot = Bbox.from_bounds(spots[-1][0] - w / 2, spots[-1][1] - h / 2, w, h)
        text.set_position(to_data.transform(spot.corners().mean(axis=0)))
        placed.append(spot)


def _leader(ax, text, x: float, y: float, colour, renderer) -> None:
    """A thin line from the label to its point, when the label no longer sits over the point."""
    px, py = ax.transData.transform((x, y))
    box = _box(text, renderer)
    if box.contains(px, py):
        return
    ax.add_patch(FancyArrowPatch(posA=text.get_position(), posB=(x, y), patchA=text.get_bbox_patch(),
                                 arrowstyle="-", color=colour, linewidth=0.8, shrinkA=0, shrinkB=2,
                                 transform=ax.transData, zorder=5, gid=LEADER_GID))
