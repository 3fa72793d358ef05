"""Stage 4: the report a person reads: the decision, the tables, the notes and the page.

The numbers come from :mod:`pipeline.report.aggregation` (details and results table), the decision from
:mod:`pipeline.report.decision`, what the evaluation cost from :mod:`pipeline.report.costs`, the notes from
:mod:`pipeline.report.notes`, the figure from :mod:`pipeline.report.figures`, the way each number is written from
:mod:`pipeline.report.formatting`; this module puts them together.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline import keys, runs
from pipeline.config import Config, fingerprint
from pipeline.io import atomic_write_parquet, atomic_write_text, read_jsonl
from pipeline.measure import energy, stats
from pipeline.report import flags, trust
from pipeline.report.aggregation import aggregate, build_details
from pipeline.report.costs import COST_COLUMNS, evaluation_cost, payback, payback_columns, payback_line
from pipeline.report.decision import (_scale_paragraph, choose_scale, decision, pairs_table, pick_and_best,
                                      significance_summary)
from pipeline.report.formatting import format_params, main_table, markdown_table, num, pct
from pipeline.report.notes import _run_notes
from pipeline.verdicts import calibration, controls, real_answers


def report_key(cfg: Config) -> str:
    """What the report depends on besides the judgements (:mod:`pipeline.keys`): the candidates' sizes and
    hardware labels, the estimates' settings, and the report settings."""
    return fingerprint(keys.settings(cfg, keys.REPORT), *keys.texts(keys.REPORT))


def _frontier_label(on_frontier: bool, method: str) -> str:
    if not on_frontier:
        return ""
    return "yes (estimate)" if energy.is_estimate(method) else "yes"


def efficiency_table(results: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "Model": results["model"],
        "Frontier": [_frontier_label(f, m) for f, m in zip(results["on_frontier"], results["energy_method"])],
        "Accuracy per Wh": results["accuracy_per_wh"].map(num),
        "Wh per query": [f"{num(v)} ({n} answers)" if pd.notna(v) else num(v)
                         for v, n in zip(results["energy_per_query_wh"], results["energy_ranked_answers"])],
        "J per output token": results["j_per_output_token"].map(num),
        "TDP estimate (Wh)": results["tdp_energy_wh"].map(num),
        "EcoLogits estimate (Wh)": results["ecologits_wh"].map(num),
        "Tokens/s": results["tokens_per_s"].map("{:.1f}".format),
        "Latency p50 (s)": results["latency_p50_s"].map("{:.2f}".format),
        "Latency p95 (s)": results["latency_p95_s"].map("{:.2f}".format),
        "Peak memory (MB)": [num(v, "{:.0f}") + (f" ({kind})" if kind else "")
                             for v, kind in zip(results["peak_memory_mb"], results["peak_memory_kind"])],
        "PER": results["per"].map(lambda v: num(v, "{:.3f}")),
    })


def energy_table(results: pd.DataFrame) -> pd.DataFrame:
    """Gross, idle and net energy of each candidate's answering, and what was measured."""
    idle_w = results["energy_idle_wh"] * 3600.0 / results["duration_s"]
    return pd.DataFrame({
        "Model": results["model"],
        "Method": results["energy_method"],
        "Answering window (s)": results["duration_s"].map("{:.1f}".format),
        "Gross (Wh)": results["energy_gross_wh"].map(num),
        "Idle power (W)": idle_w.map(lambda v: num(v, "{:.3g}")),
        "Idle × duration (Wh)": results["energy_idle_wh"].map(num),
        "Net (Wh)": results["energy_wh"].map(num),
        "GPUs measured": results["gpus_measured"].replace("", "none"),
        "Answers": results["energy_status"],
    })


def projection_table(results: pd.DataFrame, volume: int) -> pd.DataFrame:
    """Best model and the most efficient frontier model, side by side, at ``volume`` queries."""
    best = results.dropna(subset=["accuracy"]).sort_values(["accuracy", "energy_per_query_wh"],
                                                           ascending=[False, True])
    frontier = results[results["on_frontier"]].sort_values("energy_per_query_wh")
    most_accurate = best["model"].iloc[0]
    most_efficient = frontier["model"].iloc[0] if len(frontier) else most_accurate
    roles = {most_accurate: "most accurate", most_efficient: "most efficient on the frontier"}
    if most_accurate == most_efficient:
        roles = {most_accurate: "most accurate" + (" and most efficient" if len(frontier) else "")}
    methods = dict(zip(results["model"], results["energy_method"]))
    projected = stats.project(results[results["model"].isin(roles)], volume)
    return pd.DataFrame({
        "Model": projected["model"],
        "Role": projected["model"].map(roles),
        "Energy method": projected["model"].map(methods),
        f"Energy for {volume:,} queries (kWh)": projected["energy_kwh"].map(num),
        "CO2 (kg)": projected["co2_kg"].map(num),
        "Time at measured speed (h)": projected["hours"].map(num),
    })


def breakdown_table(details: pd.DataFrame, by: str) -> pd.DataFrame:
    table = stats.accuracy_breakdown(details, by)
    table["accuracy"] = [f"{pct(a)} ({n})" for a, n in zip(table["accuracy"], table["count"])]
    wide = table.pivot(index=by, columns="candidate", values="accuracy")
    return wide[list(dict.fromkeys(details["candidate"]))].reset_index().fillna("")


def review_sections(details: pd.DataFrame) -> list[tuple[str, object]]:
    """"Questions a human should look at": the three lists of :mod:`pipeline.report.flags`."""
    lists = [("failed by every candidate", flags.failed_by_all(details),
              "a wrong gold answer or an over-strict judge is as likely as a hard question"),
             ("gold answer doubted by validation but kept", flags.doubted_but_kept(details),
              "close to a validation threshold"),
             ("judge and lexical F1 disagree sharply", flags.judge_vs_f1(details),
              "a lenient or a strict verdict, worth a look")]
    summary = "\n".join(f"- {len(table)} {what}: {why}." for what, table, why in lists)
    sections: list[tuple[str, object]] = [("Questions a human should look at", summary)]
    sections += [(f"Look at: {what}", table) for what, table, _ in lists if len(table)]
    return sections


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


def run_info(run_dir: Path, cfg: Config, results: pd.DataFrame) -> dict:
    """The ``run`` record: who did what, with which versions, when, on what."""
    import platform
    from datetime import datetime, timezone

    from pipeline.report.hub import library_versions

    sessions = [s for c in cfg.candidates for s in read_jsonl(run_dir / "answers" / f"{c.name}.sessions.jsonl")]
    sessions += read_jsonl(run_dir / "judgements" / "judge.sessions.jsonl")
    hardware = next((h for h in results["hardware"] if h), "") or "unknown hardware"
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
        "machine": f"{platform.system()} {platform.machine()}, {hardware}",
        "energy_method": dict(zip(results["model"], results["energy_method"])),
        "devices_measured": {m: g or "none" for m, g in zip(results["model"], results["gpus_measured"])},
        # as the answering sessions recorded them, per model (None: not recorded)
        "idle_baseline_s": {m: None if pd.isna(v) else round(float(v), 1)
                            for m, v in zip(results["model"], results["idle_baseline_s"])},
        "energy_repeats": {m: None if pd.isna(v) else int(v)
                           for m, v in zip(results["model"], results["energy_windows"])},
    }


def review_command(document: str, cfg: Config) -> str:
    import shlex

    return f"make review DOC={shlex.quote(document)}" + ("" if cfg.profile == "default" else f" PROFILE={cfg.profile}")


def heldout_rates(run_dir: Path, cfg: Config) -> dict:
    """The judge on held-out real answers (:mod:`pipeline.verdicts.real_answers`) made as this profile's candidates
    make theirs (the same model and answering settings): per label, those candidates' answers together (with the
    measurement's provenance), and per candidate for the key fact (what the correction uses); ``uses``: what each
    held-out document was also used for."""
    producers = [real_answers.candidate_producer(c, cfg) for c in cfg.candidates]
    records, about = real_answers.measurement(calibration.runs_root(run_dir), cfg.judge, producers)
    found: dict = {"by_model": {}, "uses": real_answers.uses()}
    rules = cfg.judge.figure_rules
    for label in real_answers.LABELS:
        found[label] = {**real_answers.rates(records, label, figure_rules=rules, producers=producers),
                        "provenance": about or {}} if about else None
    for c, made in zip(cfg.candidates, producers):  # with the intra-document correlation of them all, as corrected
        counts = real_answers.rates(records, "key_fact", figure_rules=rules, producers=[made],
                                    rho=found["key_fact"]["rho"]) if about else None
        found["by_model"][c.name] = counts if counts and counts["parsed"] else None
    return found


def heldout_columns(heldout: dict) -> dict:
    """The held-out rates as ``results`` columns (the same on every row): sensitivity, specificity, kappa and the
    number of answers, per label."""
    columns = {}
    for label in real_answers.LABELS:
        found = heldout[label] or {}
        for key in ("sensitivity", "specificity", "kappa", "parsed"):
            columns[f"heldout_{label}_{'answers' if key == 'parsed' else key}"] = found.get(key, float("nan"))
    return columns


def run(run_dir: Path, report_dir: Path, cfg: Config, document: str) -> Path:
    from pipeline.report import html_report, hub

    details = build_details(run_dir, cfg)
    results = aggregate(details)
    given = runs.document_given(run_dir, document)  # the commands the card gives take the path the user gave
    _, per_bounds = stats.performance_efficiency_ratio(results)
    significance, pairs = significance_summary(details, results, cfg.report.significance_alpha)
    scale = choose_scale(results, details, pairs, cfg.report.significance_alpha)
    judge_rates = calibration.summary(run_dir, cfg.judge)  # the synthetic set: graded by `make calibrate` only
    heldout = heldout_rates(run_dir, cfg)
    results = results.assign(pick_scale=scale.key, **heldout_columns(heldout))
    graded_controls = pd.read_parquet(run_dir / "controls.parquet") if (run_dir / "controls.parquet").exists() \
        else pd.DataFrame()
    control_rates = controls.rates(graded_controls) if len(graded_controls) else None
    notes = _run_notes(run_dir, cfg, results, details, judge_rates, control_rates)
    costs = evaluation_cost(run_dir, cfg, details)
    chosen = pick_and_best(results, scale, cfg.report.accuracy_tolerance)
    repaid = payback(costs, results, chosen[0]["model"], chosen[1]["model"]) if chosen else None
    if repaid:
        results = results.assign(**payback_columns(repaid))
    report_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_parquet(details, report_dir / "details.parquet")
    atomic_write_parquet(graded_controls, report_dir / "controls.parquet")  # the controls' verdicts, one a row
    if (run_dir / "rejected.parquet").exists():  # the questions validation turned away, with the reason
        atomic_write_parquet(pd.read_parquet(run_dir / "rejected.parquet"), report_dir / "rejected.parquet")
    from pipeline.report.figures import bubble_plot  # matplotlib, only when drawing: `locate` imports report_key

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
                             "and net energy per query; \"yes (estimate)\" where that energy is an estimate, not a "
                             "measurement. "
                             "J per output token and Wh per query use net energy. TDP estimate: the study's TDP x "
                             "devices x duration; EcoLogits: its per-request model."
         + ("\n- Peak GPU memory is what the server held (vLLM reserves a fixed share of the GPU, "
            "`--gpu-memory-utilization`), not what the model needed." if (results["peak_memory_kind"] == "GPU").any()
            else "")),
        ("Is the difference real?", significance + _scale_paragraph(results, scale)),
        ("Pairwise comparisons", pairs_table(pairs)),
        (f"At scale ({cfg.report.projection_volume:,} queries)",
         projection_table(results, cfg.report.projection_volume)),
        ("Accuracy by question kind", breakdown_table(details, "kind")),
        ("Accuracy by question type", breakdown_table(details, "question_category")),
        ("Accuracy by difficulty", breakdown_table(details, "difficulty_band")),
        ("Energy accounting", energy_table(results)),
        *review_sections(details),
        ("How far the verdicts can be trusted", "\n".join(f"- {line}" for line in (
            trust.labels_line(results, details) or trust.unchecked_line(review_command(given, cfg)),
            trust.heldout_line(heldout["key_fact"], heldout["uses"]),
            trust.heldout_line(heldout["faithful"], heldout["uses"]).replace(
                "the judge agreed", "on the stricter label — the key fact and no false statement — the judge agreed", 1),
            trust.controls_line(control_rates, cfg.controls.per_question),
            trust.non_answers_line(results)))),
        ("The judge on each model's held-out real answers (what corrects its accuracy)",
         trust.heldout_table(heldout["by_model"])),
        *([("The judge on this document's control answers (a gate)", trust.controls_table(control_rates))]
          if control_rates else []),
        ("What the evaluation itself cost", costs[COST_COLUMNS]),
        ("How these numbers were made", "\n".join(notes)),
    ]
    agreement, disagreements = judge_checks(details, cfg)
    if agreement is not None:
        second = cfg.second_judge
        lines = [trust.calibration_line("The judge", judge_rates)]
        if second:
            lines.append(trust.calibration_line("The second judge", calibration.summary(run_dir, second)))
        sections.insert(-1, ("Can the judge be trusted?", agreement))
        lines.append("Cohen's kappa discounts the agreement two judges would reach by chance: when one judge gives "
                     "nearly always the same verdict, high agreement can go with a kappa near 0.")
        sections.insert(-1, ("Judge calibration", "\n".join(f"- {line}" for line in lines)))
        if disagreements is not None:
            count = f"{len(disagreements)} answer{'' if len(disagreements) == 1 else 's'}"
            sections.insert(-1, (f"Where the two judges disagree ({count})",
                                 disagreements if len(disagreements) else "They agree on every answer both graded."))
    more = runs.more_questions_command(given, cfg.profile)
    card = trust.card(decision(results, scale, cfg.report.accuracy_tolerance, more, alpha=cfg.report.significance_alpha),
                      trust.cannot_pick(control_rates, cfg.controls),
                      [*([payback_line(repaid)] if repaid else []),
                       trust.labels_line(results, details) or trust.unchecked_line(review_command(given, cfg)),
                       trust.heldout_line(heldout["key_fact"], heldout["uses"]),
                       trust.controls_line(control_rates, cfg.controls.per_question)])
    title = f"Which model for `{document}`?"
    intro = f"Profile `{cfg.profile}`. {details['question_id'].nunique()} questions, {len(results)} candidate models."
    parts = [f"# {title}", "", *(f"> {line}  " for line in card), "", intro, ""]
    for heading, content in sections:
        parts += [f"## {heading}", "", markdown_table(content) if isinstance(content, pd.DataFrame) else content, ""]
    parts += ["![accuracy vs energy](bubble.png)", "",
              "Per-question predictions, verdicts and raw judge outputs: `details.parquet`; the same page: "
              "`report.html`.", ""]
    atomic_write_text(report_dir / "results.md", "\n".join(parts))
    html_report.render(report_dir / "report.html", title.replace("`", ""),
                       [intro, *(note.removeprefix("- ") for note in notes)], sections,
                       [("Accuracy vs net energy per query (bubble area ∝ parameters; hollow: estimated energy; "
                         "dashed: efficiency frontier)",
                         report_dir / "bubble.png")],
                       links=[("details.parquet", "details.parquet"), ("rejected.parquet", "rejected.parquet"),
                              ("controls.parquet", "controls.parquet"),
                              ("results.csv", "results.csv"),
                              ("results.md", "results.md")],
                       decision=card, explorer_html=html_report.explorer(details, flags.flagged(details)))
    csv = report_dir / "results.csv"  # Make's target: if anything below fails, Make deletes it again
    atomic_write_text(csv, results.to_csv(index=False))
    info = run_info(run_dir, cfg, results)
    if repaid:  # the Hub `run` config carries the payback too, flat
        info.update({k: (v.item() if hasattr(v, "item") else v) for k, v in payback_columns(repaid).items()})
    hub.build_dataset(run_dir, report_dir, cfg, document, info)
    from pipeline.report import inspect_logs  # inspect_ai takes seconds to import: only here

    inspect_logs.write(details, report_dir / "inspect", {
        "profile": cfg.profile, "document": document, "judge": cfg.judge.name,
        "judge_prompt": f"judge_prompts/{cfg.judge.prompt}", "candidate_context": cfg.questions.candidate_context,
        "pick_scale": scale.key}, fingerprint(cfg))
    print(f"report: {report_dir / 'results.md'}", flush=True)
    return csv
