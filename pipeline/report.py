"""Stage 4: the decision table, the bubble plot and the per-question details.

Everything in ``results.csv`` is an aggregate of ``details.parquet`` (one row per
model x question): accuracy is the mean verdict over judged answers; duration,
energy and CO2 are sums of each question's share of its candidate's measured
answering phase, shared in proportion to the question's latency. Model loading
and the judge's own energy are reported on their own lines, not mixed in.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from pipeline.config import Config  # noqa: E402
from pipeline.io import atomic_write_parquet, atomic_write_text, read_jsonl  # noqa: E402

TABLE_COLUMNS = {"model": "Model", "params": "# Params", "duration_s": "Duration (s)", "accuracy": "Accuracy",
                 "energy_wh": "Estimated Energy (Wh)", "co2_g": "CO2 (g)", "questions": "Questions",
                 "unparsed": "Unparsed judgements"}


def _phase_totals(sessions: list[dict], phase: str) -> dict:
    records = [s[phase] for s in sessions if phase in s]
    return {"energy_wh": sum(r["energy_wh"] for r in records), "duration_s": sum(r["duration_s"] for r in records),
            "co2_kg": sum(r["co2_kg"] for r in records),
            "energy_method": records[-1]["energy_method"] if records else "not measured",
            "hardware": " + ".join(filter(None, [records[-1].get("cpu_model"), records[-1].get("gpu_model")]))
            if records else ""}


def _sessions(run_dir: Path, candidate: str, key: str) -> list[dict]:
    return [s for s in read_jsonl(run_dir / "answers" / f"{candidate}.sessions.jsonl") if s.get("fingerprint") == key]


def build_details(run_dir: Path, cfg: Config) -> pd.DataFrame:
    """One row per (candidate, question), with the verdict and the question's share of energy."""
    questions = pd.read_parquet(run_dir / "questions.parquet")
    judgements = pd.read_parquet(run_dir / "judgements.parquet")
    frames = []
    for candidate in cfg.candidates:
        answers = pd.read_parquet(run_dir / "answers" / f"{candidate.name}.parquet")
        totals = _phase_totals(_sessions(run_dir, candidate.name, answers["fingerprint"].iloc[0]), "answer")
        share = answers["latency_s"] / answers["latency_s"].sum() if answers["latency_s"].sum() > 0 \
            else 1.0 / len(answers)
        answers = answers.assign(
            params_b=candidate.params_b,
            energy_wh=share * totals["energy_wh"],
            duration_s=share * totals["duration_s"],
            co2_kg=share * totals["co2_kg"],
            energy_method=totals["energy_method"],
            hardware=totals["hardware"],
        )
        frames.append(answers)
    details = pd.concat(frames, ignore_index=True)
    keep = ["question_id", "question", "gold", "kind", "question_category", "estimated_difficulty", "chunk_text"]
    details = details.merge(questions[keep], on="question_id", how="left")
    verdicts = judgements[["question_id", "candidate", "verdict", "status", "raw_judge_output", "judge"]]
    details = details.merge(verdicts, on=["question_id", "candidate"], how="left")
    details["status"] = details["status"].fillna("missing")
    return details


def format_params(billions: float) -> str:
    return f"{billions * 1000:.0f}M" if billions < 1 else f"{billions:g}B"


def aggregate(details: pd.DataFrame) -> pd.DataFrame:
    """The results table, computed from the details alone."""
    rows = []
    for name, group in details.groupby("candidate", sort=False):
        judged = group[group["status"] == "judged"]
        rows.append({
            "model": name,
            "params_b": group["params_b"].iloc[0],
            "duration_s": group["duration_s"].sum(),
            "accuracy": judged["verdict"].mean() if len(judged) else float("nan"),
            "energy_wh": group["energy_wh"].sum(),
            "co2_g": group["co2_kg"].sum() * 1000.0,
            "questions": len(group),
            "judged": len(judged),
            "correct": int(judged["verdict"].sum()),
            "unparsed": int((group["status"] != "judged").sum()),
            "input_tokens": group["input_tokens"].sum(),
            "output_tokens": group["output_tokens"].sum(),
            "energy_method": group["energy_method"].iloc[0],
            "hardware": group["hardware"].iloc[0],
        })
    return pd.DataFrame(rows)


def bubble_plot(results: pd.DataFrame, path: Path, title: str) -> None:
    """Accuracy (y) vs energy in Wh (x, log); bubble area proportional to parameter count."""
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=120)
    largest = results["params_b"].max()
    sizes = 2500 * results["params_b"] / largest
    energy = results["energy_wh"].clip(lower=1e-6)
    ax.scatter(energy, results["accuracy"], s=sizes, alpha=0.45, c=range(len(results)), cmap="viridis",
               edgecolors="black", linewidths=0.8)
    for x, y, name, params in zip(energy, results["accuracy"], results["model"], results["params_b"]):
        ax.annotate(f"{name}\n({format_params(params)})", (x, y), textcoords="offset points", xytext=(0, 12),
                    ha="center", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("Energy for answering (Wh, log scale)")
    ax.set_ylabel("Accuracy (judged correct)")
    ax.set_ylim(-0.05, 1.1)
    lo, hi = energy.min(), energy.max()
    ax.set_xlim(lo / 2, hi * 2)
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.text(0.99, 0.01, "bubble area ∝ parameter count", transform=ax.transAxes, ha="right", va="bottom",
            fontsize=7, color="gray")
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)


def table_markdown(results: pd.DataFrame) -> str:
    shown = results.assign(
        params=results["params_b"].map(format_params),
        duration_s=results["duration_s"].map("{:.1f}".format),
        accuracy=results["accuracy"].map(lambda a: "n/a" if pd.isna(a) else f"{a:.1%}"),
        energy_wh=results["energy_wh"].map("{:.4g}".format),
        co2_g=results["co2_g"].map("{:.4g}".format),
    )[list(TABLE_COLUMNS)].rename(columns=TABLE_COLUMNS)
    header = "| " + " | ".join(shown.columns) + " |"
    rule = "|" + "|".join("---" for _ in shown.columns) + "|"
    lines = ["| " + " | ".join(str(v) for v in row) + " |" for row in shown.itertuples(index=False)]
    return "\n".join([header, rule, *lines])


def _notes(run_dir: Path, cfg: Config, results: pd.DataFrame, details: pd.DataFrame) -> list[str]:
    generation = json.loads((run_dir / "generation.json").read_text())
    by_kind = generation["by_kind"]
    failed = sum(k["calls_without_parseable_questions"] for k in by_kind.values())
    calls = sum(k["calls"] for k in by_kind.values())
    judge = _phase_totals(read_jsonl(run_dir / "judgements" / "judge.sessions.jsonl"), "judge")
    loads = []
    for candidate in cfg.candidates:
        key = details.loc[details["candidate"] == candidate.name, "fingerprint"].iloc[0]
        load = _phase_totals(_sessions(run_dir, candidate.name, key), "load")
        loads.append(f"{candidate.name} {load['energy_wh']:.4g} Wh / {load['duration_s']:.1f} s")
    kinds = details.drop_duplicates("question_id")["kind"].value_counts().to_dict()
    return [
        f"- Questions: {generation['usable']} used ({', '.join(f'{v} {k}' for k, v in kinds.items())}), "
        f"generated by {generation['generator']} with YourBench; {failed} of {calls} generation calls "
        "gave no parseable questions.",
        f"- Judge: {cfg.judge.name} with prompt `judge_prompts/{cfg.judge.prompt}`. Accuracy = correct / judged; "
        f"{int(results['unparsed'].sum())} judgements without a verdict are listed as unparsed, not scored.",
        f"- Energy: {results['energy_method'].iloc[0]}, CodeCarbon, whole machine, answering phase only "
        f"({results['hardware'].iloc[0] or 'hardware unknown'}).",
        f"- Model loading (not in the table): {'; '.join(loads)}.",
        f"- Judge energy (not in the table): {judge['energy_wh']:.4g} Wh over {judge['duration_s']:.1f} s, "
        f"{judge['energy_method']}.",
    ]


def run(run_dir: Path, report_dir: Path, cfg: Config, document: str) -> Path:
    details = build_details(run_dir, cfg)
    results = aggregate(details)
    report_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_parquet(details, report_dir / "details.parquet")
    bubble_plot(results, report_dir / "bubble.png", f"{document}: accuracy vs energy ({cfg.profile} profile)")
    markdown = "\n".join([
        f"# Which model for `{document}`?", "",
        f"Profile `{cfg.profile}`. {details['question_id'].nunique()} questions, "
        f"{len(results)} candidate models.", "",
        table_markdown(results), "",
        *_notes(run_dir, cfg, results, details), "",
        "![accuracy vs energy](bubble.png)", "",
        "Per-question predictions, verdicts and raw judge outputs: `details.parquet`.", "",
    ])
    atomic_write_text(report_dir / "results.md", markdown)
    csv = report_dir / "results.csv"
    atomic_write_text(csv, results.to_csv(index=False))  # written last: Make's target for the report
    print(f"report: {report_dir / 'results.md'}", flush=True)
    return csv
