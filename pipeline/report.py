"""Stage 4: the decision table, the plots, the per-question details and the page.

Every number is an aggregate of ``details.parquet`` (one row per model x
question): accuracy is the mean verdict over judged answers (95% Wilson
interval); duration, energy and CO2 are sums of each question's share of its
candidate's measured answering phase (shared in proportion to latency); the
TDP estimate is TDP x devices x that duration; serving figures come from the
per-question latencies and tokens; peak memory is the server's, copied onto
each row from the run record. Model loading and the judge's own energy are
reported on their own lines, not mixed in.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from pipeline import stats  # noqa: E402
from pipeline.config import Config  # noqa: E402
from pipeline.io import atomic_save_figure, atomic_write_parquet, atomic_write_text, read_jsonl  # noqa: E402
from pipeline.judge import CHECKS  # noqa: E402

TABLE_COLUMNS = {"model": "Model", "params": "# Params", "duration_s": "Duration (s)", "accuracy": "Accuracy",
                 "ci": "95% CI (Wilson)", "energy_wh": "Estimated Energy (Wh)", "co2_g": "CO2 (g)",
                 "questions": "Questions", "unparsed": "Unparsed judgements"}


def _phase_totals(sessions: list[dict], phase: str) -> dict:
    records = [s[phase] for s in sessions if phase in s]
    last = records[-1] if records else {}
    return {"energy_wh": sum(r["energy_wh"] for r in records), "duration_s": sum(r["duration_s"] for r in records),
            "co2_kg": sum(r["co2_kg"] for r in records),
            "energy_method": last.get("energy_method", "not measured"),
            "hardware": " + ".join(filter(None, [last.get("cpu_model"), last.get("gpu_model")]))}


def _sessions(run_dir: Path, candidate: str, key: str) -> list[dict]:
    return [s for s in read_jsonl(run_dir / "answers" / f"{candidate}.sessions.jsonl") if s.get("fingerprint") == key]


def build_details(run_dir: Path, cfg: Config) -> pd.DataFrame:
    """One row per (candidate, question), with the verdict and the question's share of energy."""
    questions = pd.read_parquet(run_dir / "questions.parquet")
    judgements = pd.read_parquet(run_dir / "judgements.parquet")
    frames = []
    for candidate in cfg.candidates:
        answers = pd.read_parquet(run_dir / "answers" / f"{candidate.name}.parquet")
        sessions = _sessions(run_dir, candidate.name, answers["fingerprint"].iloc[0])
        totals = _phase_totals(sessions, "answer")
        share = answers["latency_s"] / answers["latency_s"].sum() if answers["latency_s"].sum() > 0 \
            else 1.0 / len(answers)
        # GPU memory where the server used a GPU (nvidia-smi), else the server's resident memory.
        gpu_peaks = [s["peak_gpu_mb"] for s in sessions if s.get("peak_gpu_mb")]
        peaks = gpu_peaks or [s["peak_rss_mb"] for s in sessions if s.get("peak_rss_mb")]
        answers = answers.assign(
            params_b=candidate.params_b,
            devices=candidate.devices,
            energy_wh=share * totals["energy_wh"],
            duration_s=share * totals["duration_s"],
            co2_kg=share * totals["co2_kg"],
            tdp_energy_wh=share * totals["duration_s"] * cfg.energy.tdp_watts * candidate.devices / 3600.0,
            peak_memory_mb=max(peaks) if peaks else float("nan"),
            peak_memory_kind="GPU" if gpu_peaks else "RSS" if peaks else "",
            energy_method=totals["energy_method"],
            hardware=totals["hardware"],
        )
        frames.append(answers)
    details = pd.concat(frames, ignore_index=True)
    keep = ["question_id", "question", "gold", "kind", "question_category", "estimated_difficulty", "chunk_text"]
    details = details.merge(questions[keep], on="question_id", how="left")
    details["difficulty_band"] = details["estimated_difficulty"].map(stats.difficulty_band)
    checks = [c for c in judgements.columns if c.startswith(CHECKS)]  # optional reliability checks
    verdicts = judgements[["question_id", "candidate", "verdict", "status", "raw_judge_output", "judge", *checks]]
    details = details.merge(verdicts, on=["question_id", "candidate"], how="left")
    details["status"] = details["status"].fillna("missing")
    return details


def format_params(billions: float) -> str:
    if pd.isna(billions):
        return "n/a"
    return f"{billions * 1000:.0f}M" if billions < 1 else f"{billions:g}B"


def aggregate(details: pd.DataFrame) -> pd.DataFrame:
    """The results table, computed from the details alone."""
    rows = []
    for name, group in details.groupby("candidate", sort=False):
        judged = group[group["status"] == "judged"]
        correct = int(judged["verdict"].sum())
        low, high = stats.wilson_interval(correct, len(judged))
        rows.append({
            "model": name,
            "params_b": group["params_b"].iloc[0],
            "duration_s": group["duration_s"].sum(),
            "accuracy": judged["verdict"].mean() if len(judged) else float("nan"),
            "accuracy_ci_low": low,
            "accuracy_ci_high": high,
            "energy_wh": group["energy_wh"].sum(),
            "co2_g": group["co2_kg"].sum() * 1000.0,
            "tdp_energy_wh": group["tdp_energy_wh"].sum() if "tdp_energy_wh" in group else float("nan"),
            "questions": len(group),
            "judged": len(judged),
            "correct": correct,
            "unparsed": int((group["status"] != "judged").sum()),
            "input_tokens": group["input_tokens"].sum(),
            "output_tokens": group["output_tokens"].sum(),
            "peak_memory_mb": group["peak_memory_mb"].iloc[0] if "peak_memory_mb" in group else float("nan"),
            "peak_memory_kind": group["peak_memory_kind"].iloc[0] if "peak_memory_kind" in group else "",
            "energy_method": group["energy_method"].iloc[0],
            "hardware": group["hardware"].iloc[0],
        })
    results = pd.DataFrame(rows)
    serving = stats.serving_figures(details).rename(columns={"candidate": "model"})
    results = results.merge(serving[["model", "tokens_per_s", "latency_p50_s", "latency_p95_s",
                                     "energy_per_query_wh", "accuracy_per_wh"]], on="model", how="left")
    results["on_frontier"] = stats.pareto_frontier(results)
    results["per"], _ = stats.performance_efficiency_ratio(results)
    return results


def bubble_plot(results: pd.DataFrame, path: Path, title: str) -> None:
    """Accuracy (y, 95% CI bars) vs energy in Wh (x, log); bubble area ∝ parameters; frontier marked."""
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=120)
    sizes = 2500 * results["params_b"] / results["params_b"].max()
    energy = results["energy_wh"].clip(lower=1e-6)
    accuracy = results["accuracy"]
    if "accuracy_ci_low" in results:
        below = (accuracy - results["accuracy_ci_low"]).clip(lower=0).fillna(0)
        above = (results["accuracy_ci_high"] - accuracy).clip(lower=0).fillna(0)
        ax.errorbar(energy, accuracy, yerr=[below, above],
                    fmt="none", ecolor="gray", elinewidth=1, capsize=3, zorder=1)
    ax.scatter(energy, accuracy, s=sizes, alpha=0.45, c=range(len(results)), cmap="viridis",
               edgecolors="black", linewidths=0.8, zorder=2)
    if "on_frontier" in results and results["on_frontier"].any():
        front = results[results["on_frontier"]].sort_values("energy_wh")
        ax.plot(front["energy_wh"].clip(lower=1e-6), front["accuracy"], color="crimson", linestyle="--",
                marker="o", markersize=4, label="efficiency frontier", zorder=3)
        ax.legend(loc="lower right", fontsize=8)
    for x, y, name, params in zip(energy, accuracy, results["model"], results["params_b"]):
        ax.annotate(f"{name}\n({format_params(params)})", (x, y), textcoords="offset points", xytext=(0, 12),
                    ha="center", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("Energy for answering (Wh, log scale)")
    ax.set_ylabel("Accuracy (judged correct, 95% CI)")
    ax.set_ylim(-0.05, 1.1)
    ax.set_xlim(energy.min() / 2, energy.max() * 2)
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.text(0.01, 0.01, "bubble area ∝ parameter count", transform=ax.transAxes, ha="left", va="bottom",
            fontsize=7, color="gray")
    fig.tight_layout()
    atomic_save_figure(fig, path)


def _markdown(df: pd.DataFrame) -> str:
    header = "| " + " | ".join(str(c) for c in df.columns) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    lines = ["| " + " | ".join(str(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([header, rule, *lines])


def pct(value) -> str:
    return "n/a" if pd.isna(value) else f"{value:.1%}"


def num(value, fmt="{:.4g}") -> str:
    return "n/a" if pd.isna(value) else fmt.format(value)


def main_table(results: pd.DataFrame) -> pd.DataFrame:
    """The study's table (plus CI, CO2, counts), formatted for reading."""
    return results.assign(
        params=results["params_b"].map(format_params),
        duration_s=results["duration_s"].map("{:.1f}".format),
        accuracy=results["accuracy"].map(pct),
        ci=[f"{pct(lo)}–{pct(hi)}" for lo, hi in zip(results["accuracy_ci_low"], results["accuracy_ci_high"])],
        energy_wh=results["energy_wh"].map(num),
        co2_g=results["co2_g"].map(num),
    )[list(TABLE_COLUMNS)].rename(columns=TABLE_COLUMNS)


def table_markdown(results: pd.DataFrame, columns: list[str] | None = None) -> str:
    """The main table as Markdown, optionally only some of its (display) columns."""
    table = main_table(results)
    return _markdown(table if columns is None else table[columns])


def efficiency_table(results: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "Model": results["model"],
        "Frontier": results["on_frontier"].map({True: "yes", False: ""}),
        "Accuracy per Wh": results["accuracy_per_wh"].map(num),
        "Energy per query (Wh)": results["energy_per_query_wh"].map(num),
        "TDP estimate (Wh)": results["tdp_energy_wh"].map(num),
        "Tokens/s": results["tokens_per_s"].map("{:.1f}".format),
        "Latency p50 (s)": results["latency_p50_s"].map("{:.2f}".format),
        "Latency p95 (s)": results["latency_p95_s"].map("{:.2f}".format),
        "Peak memory (MB)": [num(v, "{:.0f}") + (f" ({kind})" if kind else "")
                             for v, kind in zip(results["peak_memory_mb"], results["peak_memory_kind"])],
        "PER": results["per"].map(lambda v: num(v, "{:.3f}")),
    })


def significance_summary(details: pd.DataFrame, results: pd.DataFrame, alpha: float) -> tuple[str, pd.DataFrame]:
    """Pairwise exact McNemar tests, and the one comparison a reader asks first."""
    pairs = stats.pairwise_significance(details, alpha=alpha)
    ranked = results.dropna(subset=["accuracy"]).sort_values(["accuracy", "energy_wh"], ascending=[False, True])
    if len(ranked) < 2:
        return "Only one model was judged: nothing to compare.", pairs
    best = ranked.iloc[0]
    frontier = results[results["on_frontier"] & (results["model"] != best["model"])]
    other = frontier.sort_values("energy_wh").iloc[0] if len(frontier) else ranked.iloc[1]
    role = "the most efficient other frontier model" if len(frontier) else "the runner-up (it dominates the rest)"
    pair = pairs[((pairs["model_a"] == best["model"]) & (pairs["model_b"] == other["model"]))
                 | ((pairs["model_a"] == other["model"]) & (pairs["model_b"] == best["model"]))].iloc[0]
    verdict = "is" if pair["significant"] else "is not"
    text = (f"The most accurate model, {best['model']} ({pct(best['accuracy'])}), {verdict} significantly "
            f"better than {role}, {other['model']} ({pct(other['accuracy'])}), "
            f"at {pair['n_paired']} paired questions (exact McNemar p = {pair['p_value']:.3g}, alpha = {alpha}). "
            f"{int(pairs['significant'].sum())} of {len(pairs)} pairwise differences are significant.")
    return text, pairs


def projection_table(results: pd.DataFrame, volume: int) -> pd.DataFrame:
    """Best model and the most efficient frontier model, side by side, at ``volume`` queries."""
    best = results.dropna(subset=["accuracy"]).sort_values(["accuracy", "energy_wh"], ascending=[False, True])
    frontier = results[results["on_frontier"]].sort_values("energy_wh")
    most_accurate, most_efficient = best["model"].iloc[0], frontier["model"].iloc[0]
    roles = {most_accurate: "most accurate", most_efficient: "most efficient on the frontier"}
    if most_accurate == most_efficient:
        roles = {most_accurate: "most accurate and most efficient"}
    projected = stats.project(results[results["model"].isin(roles)], volume)
    return pd.DataFrame({
        "Model": projected["model"],
        "Role": projected["model"].map(roles),
        f"Energy for {volume:,} queries (kWh)": projected["energy_kwh"].map(num),
        "CO2 (kg)": projected["co2_kg"].map(num),
        "Time at measured speed (h)": projected["hours"].map(num),
    })


def breakdown_table(details: pd.DataFrame, by: str) -> pd.DataFrame:
    table = stats.accuracy_breakdown(details, by)
    table["accuracy"] = [f"{pct(a)} ({n})" for a, n in zip(table["accuracy"], table["count"])]
    wide = table.pivot(index=by, columns="candidate", values="accuracy")
    return wide[list(dict.fromkeys(details["candidate"]))].reset_index().fillna("")


def _calibration_line(name: str, calibration: dict | None) -> str:
    if not calibration:
        return f"{name}: not checked against the calibration set."
    return (f"{name} agreed with the labels of the {calibration['items']}-item calibration set "
            f"(`judge_prompts/calibration.jsonl`) {calibration['agree']} times "
            f"({pct(calibration['accuracy'])} of parsed verdicts; {calibration['unparsed']} unparsed).")


def judge_checks(details: pd.DataFrame, cfg: Config) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Agreement of the optional checks, and the answers where the two judges disagree (None when not run)."""
    compared = []
    if "second_judge_verdict" in details:
        compared.append((f"second judge {cfg.second_judge.name if cfg.second_judge else ''}".strip(),
                         "judge vs second judge", "verdict", "second_judge_verdict"))
    if "self_consistency_1_verdict" in details:
        temperature = cfg.self_consistency.temperature if cfg.self_consistency else float("nan")
        compared.append((f"self-consistency (temperature {temperature:g})", "two samples of the judge",
                         "self_consistency_1_verdict", "self_consistency_2_verdict"))
    if not compared:
        return None, None
    rows = []
    for check, what, a, b in compared:
        found = stats.judge_agreement(details[a].tolist(), details[b].tolist())
        rows.append({"Check": check, "Compares": what, "Answers compared": found["compared"],
                     "Agreement": pct(found["agreement"]), "Cohen's kappa": num(found["kappa"], "{:.2f}"),
                     "Not compared (no verdict)": found["not_compared"]})
    disagreements = None
    if "second_judge_verdict" in details:
        both = details.dropna(subset=["verdict", "second_judge_verdict"])
        differ = both[both["verdict"].astype(bool) != both["second_judge_verdict"].astype(bool)]
        disagreements = pd.DataFrame({
            "Model": differ["candidate"], "Question": differ["question"].str.slice(0, 120),
            "Answer": differ["prediction"].str.slice(0, 120).str.replace("\n", " "),
            "Judge": differ["verdict"].map(lambda v: "correct" if v else "wrong"),
            "Second judge": differ["second_judge_verdict"].map(lambda v: "correct" if v else "wrong")})
    return pd.DataFrame(rows), disagreements


def _run_notes(run_dir: Path, cfg: Config, results: pd.DataFrame, details: pd.DataFrame,
               calibration: dict | None) -> list[str]:
    generation = json.loads((run_dir / "generation.json").read_text())
    failed = sum(k["calls_without_parseable_questions"] for k in generation["by_kind"].values())
    calls = sum(k["calls"] for k in generation["by_kind"].values())
    judge_sessions = read_jsonl(run_dir / "judgements" / "judge.sessions.jsonl")
    judge = _phase_totals(judge_sessions, "judge")
    loads = []
    for candidate in cfg.candidates:
        key = details.loc[details["candidate"] == candidate.name, "fingerprint"].iloc[0]
        load = _phase_totals(_sessions(run_dir, candidate.name, key), "load")
        loads.append(f"{candidate.name} {load['energy_wh']:.4g} Wh / {load['duration_s']:.1f} s")
    kinds = details.drop_duplicates("question_id")["kind"].value_counts().to_dict()
    unparsed = int(results["unparsed"].sum())
    judge_line = (f"- Judge: {cfg.judge.name} with prompt `judge_prompts/{cfg.judge.prompt}`. Accuracy = correct / "
                  f"judged; {unparsed} of {len(details)} judgements ({unparsed / len(details):.1%}) had no verdict "
                  "and are listed as unparsed, not scored.")
    if calibration:
        judge_line += " " + _calibration_line("The judge", calibration)
    checks = [s[c] for s in judge_sessions for c in CHECKS if c in s]
    return [
        f"- Questions: {generation['usable']} used ({', '.join(f'{v} {k}' for k, v in kinds.items())}), "
        f"generated by {generation['generator']} with YourBench; {failed} of {calls} generation calls "
        "gave no parseable questions.",
        judge_line,
        f"- Energy: {results['energy_method'].iloc[0]}, CodeCarbon, whole machine, answering phase only "
        f"({results['hardware'].iloc[0] or 'hardware unknown'}). The study-style estimate uses "
        f"{cfg.energy.tdp_watts:g} W per device ({cfg.energy.tdp_hardware}) x devices x duration.",
        f"- Model loading (not in the table): {'; '.join(loads)}.",
        f"- Judge energy (not in the table): {judge['energy_wh']:.4g} Wh over {judge['duration_s']:.1f} s, "
        f"{judge['energy_method']}" + (f"; reliability checks {sum(c['energy_wh'] for c in checks):.4g} Wh over "
                                       f"{sum(c['duration_s'] for c in checks):.1f} s." if checks else "."),
    ]


def run_info(run_dir: Path, cfg: Config, results: pd.DataFrame) -> dict:
    """The ``run`` record: who did what, with which versions, when, on what."""
    import platform
    from datetime import datetime, timezone

    from pipeline.config import fingerprint
    from pipeline.hub import library_versions

    sessions = [s for c in cfg.candidates for s in read_jsonl(run_dir / "answers" / f"{c.name}.sessions.jsonl")]
    sessions += read_jsonl(run_dir / "judgements" / "judge.sessions.jsonl")
    return {
        "profile": cfg.profile,
        "config_hash": fingerprint(cfg),
        "generator": f"{cfg.generator.name} ({cfg.generator.engine}: {cfg.generator.model})",
        "candidates": [f"{c.name} ({c.engine}: {c.model}, {format_params(c.params_b)})" for c in cfg.candidates],
        "judge": f"{cfg.judge.name} ({cfg.judge.engine}: {cfg.judge.model})",
        "judge_prompt": f"judge_prompts/{cfg.judge.prompt}",
        "library_versions": library_versions(),
        "started": min((s["started"] for s in sessions), default=None),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.system()} {platform.machine()}, {results['hardware'].iloc[0] or 'unknown hardware'}",
        "energy_method": results["energy_method"].iloc[0],
    }


def run(run_dir: Path, report_dir: Path, cfg: Config, document: str) -> Path:
    from pipeline import html_report, hub, judge

    details = build_details(run_dir, cfg)
    results = aggregate(details)
    _, per_bounds = stats.performance_efficiency_ratio(results)
    significance, pairs = significance_summary(details, results, cfg.report.significance_alpha)
    calibration = judge.calibration_summary(run_dir, cfg.judge)
    notes = _run_notes(run_dir, cfg, results, details, calibration)
    report_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_parquet(details, report_dir / "details.parquet")
    bubble_plot(results, report_dir / "bubble.png", f"{document}: accuracy vs energy ({cfg.profile} profile)")
    bounds = "; ".join(f"{metric} [{b['min']:.4g}, {b['max']:.4g}] ({'higher' if b['higher_is_better'] else 'lower'}"
                       " is better)" for metric, b in per_bounds.items())
    per_note = ("PER (Performance-Efficiency Ratio) = geometric mean of min-max-normalised accuracy, tokens/s, "
                f"peak memory and p50 latency over the models compared here; bounds: {bounds}. It depends on "
                "which models are compared: adding or removing one changes every PER.")
    sections = [
        ("Results", main_table(results)),
        ("Efficiency", efficiency_table(results)),
        ("Efficiency notes", "- " + per_note + "\n- Frontier: models no other model beats on both accuracy "
                             "and energy. TDP estimate: the study's TDP x devices x duration."
         + ("\n- Peak GPU memory is what the server held (vLLM reserves a fixed share of the GPU, "
            "`--gpu-memory-utilization`), not what the model needed." if (results["peak_memory_kind"] == "GPU").any()
            else "")),
        ("Is the difference real?", significance),
        ("Pairwise comparisons", pairs.assign(p_value=pairs["p_value"].map("{:.3g}".format),
                                              accuracy_a=pairs["accuracy_a"].map(pct),
                                              accuracy_b=pairs["accuracy_b"].map(pct))),
        (f"At scale ({cfg.report.projection_volume:,} queries)",
         projection_table(results, cfg.report.projection_volume)),
        ("Accuracy by question kind", breakdown_table(details, "kind")),
        ("Accuracy by question type", breakdown_table(details, "question_category")),
        ("Accuracy by difficulty", breakdown_table(details, "difficulty_band")),
        ("How these numbers were made", "\n".join(notes)),
    ]
    agreement, disagreements = judge_checks(details, cfg)
    if agreement is not None:
        second = cfg.second_judge
        lines = [_calibration_line("The judge", calibration)]
        if second:
            lines.append(_calibration_line("The second judge", judge.calibration_summary(run_dir, second)))
        sections.insert(-1, ("Can the judge be trusted?", agreement))
        lines.append("Cohen's kappa discounts the agreement two judges would reach by chance: when one judge gives "
                     "nearly always the same verdict, high agreement can go with a kappa near 0.")
        sections.insert(-1, ("Judge calibration", "\n".join(f"- {line}" for line in lines)))
        if disagreements is not None:
            count = f"{len(disagreements)} answer{'' if len(disagreements) == 1 else 's'}"
            sections.insert(-1, (f"Where the two judges disagree ({count})",
                                 disagreements if len(disagreements) else "They agree on every answer both graded."))
    title = f"Which model for `{document}`?"
    intro = f"Profile `{cfg.profile}`. {details['question_id'].nunique()} questions, {len(results)} candidate models."
    parts = [f"# {title}", "", intro, ""]
    for heading, content in sections:
        parts += [f"## {heading}", "", _markdown(content) if isinstance(content, pd.DataFrame) else content, ""]
    parts += ["![accuracy vs energy](bubble.png)", "",
              "Per-question predictions, verdicts and raw judge outputs: `details.parquet`; the same page: "
              "`report.html`.", ""]
    atomic_write_text(report_dir / "results.md", "\n".join(parts))
    html_report.render(report_dir / "report.html", title.replace("`", ""),
                       [intro, *(note.removeprefix("- ") for note in notes)], sections,
                       [("Accuracy vs energy (bubble area ∝ parameters; dashed: efficiency frontier)",
                         report_dir / "bubble.png")],
                       links=[("details.parquet", "details.parquet"), ("results.csv", "results.csv"),
                              ("results.md", "results.md")])
    csv = report_dir / "results.csv"  # Make's target: if anything below fails, Make deletes it again
    atomic_write_text(csv, results.to_csv(index=False))
    hub.build_dataset(run_dir, report_dir, cfg, document, run_info(run_dir, cfg, results))
    print(f"report: {report_dir / 'results.md'}", flush=True)
    return csv
