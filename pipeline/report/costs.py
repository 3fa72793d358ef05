"""What the evaluation itself cost, stage by stage, and after how many production queries the pick repays it.

Energy of question generation (replayed calls charged what they cost when made), model loading, answering,
judging, reliability checks and calibration, from the sessions each stage recorded (:mod:`pipeline.measure.energy`);
the payback against the largest and the most accurate candidate.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from pipeline.config import Config
from pipeline.io import read_jsonl
from pipeline.measure import energy
from pipeline.report.aggregation import answer_sessions
from pipeline.report.formatting import num
from pipeline.verdicts.grading import judge_fingerprint
from pipeline.verdicts.judge import CHECKS


def _judge_sessions(run_dir: Path, cfg: Config) -> list[dict]:
    """Judge sessions of the judges configured now (an earlier prompt's sessions do not count)."""
    keys = {judge_fingerprint(j) for j in filter(None, [cfg.judge, cfg.second_judge])}
    return [s for s in energy.read_sessions(run_dir / "judgements" / "judge.sessions.jsonl")
            if s.get("judge_fingerprint") in keys]


def _cost_row(stage: str, total: dict, note: str = "") -> dict:
    measured = total["sessions"] > 0
    killed = f"; {total['killed']} session(s) killed, energy up to their last checkpoint" if total["killed"] else ""
    if total.get("not_above_idle"):
        killed += (f"; {total['not_above_idle']} session(s) with a window at or below the idle baseline "
                   "(net ≤ 0, counted as measured, not clipped)")
    return {"Stage": stage, "Net energy (Wh)": num(total["net_wh"]) if measured else energy.NOT_MEASURED,
            "Duration (s)": f"{total['duration_s']:.1f}" if measured else "",
            "Method": total["method"] if measured else energy.NOT_MEASURED, "Note": note + killed,
            "net_wh": float(total["net_wh"]) if measured else float("nan")}


def generation_cost(run_dir: Path) -> tuple[dict, str]:
    """Question generation's net energy, and a note on what it holds.

    Two parts: the sessions of this configuration's generate runs (``generate.key``), as measured; and the
    calls the questions rest on (``calls_used`` in ``generation.json``) that earlier runs made and this one
    replayed from the call records, each charged its share, by seconds, of the net energy of the session
    that made it (:func:`pipeline.measure.energy.charge`), so that a replayed call costs what it cost when made.
    """
    from pipeline.questions.generate import GENERATOR_CALLS, GOLD_CHECK_CALLS

    sessions = energy.read_sessions(run_dir / "generation.sessions.jsonl")
    this_run = sessions
    key_file = run_dir / "keys" / "generate.key"
    if key_file.exists() and any("fingerprint" in s for s in sessions):  # sessions of the current questions
        this_run = [s for s in sessions if s.get("fingerprint") == key_file.read_text().strip()]
    measured = energy.phase_total(this_run)
    stats_path = run_dir / "generation.json"
    generation = json.loads(stats_path.read_text()) if stats_path.exists() else {}
    calls = pd.DataFrame([r for path in (GENERATOR_CALLS, GOLD_CHECK_CALLS) for r in read_jsonl(run_dir / path)])
    calls = calls.reindex(columns=["key", "session", "seconds"])
    charged = energy.charge(calls, sessions, "generate", "seconds")
    carried = charged[charged["key"].isin(generation.get("calls_used", []))
                      & ~charged["session"].isin({s.get("session") for s in this_run})]
    known = carried[carried["energy_wh"].notna()]
    total = {**measured, "net_wh": measured["net_wh"] + known["energy_wh"].sum(),
             "duration_s": measured["duration_s"] + known["duration_s"].sum(),
             "sessions": measured["sessions"] + known["session"].nunique(),
             "killed": measured["killed"] + known.loc[known["energy_status"] == energy.PARTIAL, "session"].nunique(),
             "method": measured["method"] if measured["sessions"] or known.empty else known["energy_method"].iloc[0]}
    if not sessions:
        return total, "the generate stage recorded no energy (generation.sessions.jsonl)"
    note = f"{num(measured['net_wh'])} Wh measured by this configuration's generate runs ({measured['sessions']} " \
           f"sessions)"
    if "calls_used" not in generation and generation.get("reused_calls"):
        note += (f"; the {generation['reused_calls']} calls they replayed from earlier runs are not counted "
                 "(generated before each call named the session that made it)")
    if len(carried):
        note += (f", {num(known['energy_wh'].sum())} Wh carried over: {len(known)} calls replayed from earlier runs, "
                 "each charged its share (by seconds) of the net energy of the session that made it")
        if len(known) < len(carried):
            note += (f"; {len(carried) - len(known)} replayed calls whose session's energy is unknown (recorded "
                     "before calls named their session, or the session left no energy) are not counted")
    return total, note


def evaluation_cost(run_dir: Path, cfg: Config, details: pd.DataFrame) -> pd.DataFrame:
    """What the evaluation itself cost, stage by stage, beside the answering energy of the table."""
    generation, why = generation_cost(run_dir)
    loads = [s for c in cfg.candidates
             for s in answer_sessions(run_dir, c.name, details.loc[details["candidate"] == c.name,
                                                                     "fingerprint"].iloc[0])
             if s.get("engine") != "openai"]
    judges = _judge_sessions(run_dir, cfg)
    local_judges = [s for s in judges if s.get("engine") != "openai"]
    answering = {"net_wh": details["energy_wh"].sum(), "duration_s": details["duration_s"].sum(),
                 "sessions": int(details["energy_wh"].notna().any()), "killed": 0,
                 "method": " / ".join(dict.fromkeys(details.loc[details["energy_wh"].notna(), "energy_method"]))}
    if cfg.generator.engine == "openai":
        generation, why = energy.phase_total([]), "remote endpoint: the client machine's energy is not the generator's"
    rows = [
        _cost_row("Question generation", generation, why),
        _cost_row("Loading the candidates", energy.phase_total(loads, "load")),
        _cost_row("Answering (the table)", answering, "net energy of the answers in use"),
        _cost_row("Loading the judge(s)", energy.phase_total(local_judges, "load")),
    ]
    judged = energy.phase_total(local_judges, "judge")
    if judged["sessions"]:
        judged = {**judged, "net_wh": details["judge_energy_wh"].sum(min_count=1)}
    rows.append(_cost_row("Judging", judged, "remote endpoint: not measured" if cfg.judge.engine == "openai"
                          else "net energy of the judgements in use"))
    if "checks_energy_wh" in details and details["checks_energy_wh"].notna().any():
        totals = [energy.phase_total(local_judges, check) for check in CHECKS]
        checks = {"net_wh": details["checks_energy_wh"].sum(), "duration_s": sum(t["duration_s"] for t in totals),
                  "sessions": sum(t["sessions"] for t in totals), "killed": sum(t["killed"] for t in totals),
                  "method": next((t["method"] for t in totals if t["sessions"]), energy.NOT_MEASURED)}
        rows.append(_cost_row("Judge reliability checks", checks, "second judge and self-consistency passes"))
    calibrated = energy.phase_total(local_judges, "calibration")
    if calibrated["sessions"]:  # none when the shipped measurements served: nothing graded here, nothing to cost
        rows.append(_cost_row("Judge calibration", calibrated,
                              "once per judge configuration, shared by every document"))
    return pd.DataFrame(rows)


COST_COLUMNS = ["Stage", "Net energy (Wh)", "Duration (s)", "Method", "Note"]  # the table as shown


def payback(costs: pd.DataFrame, results: pd.DataFrame, pick: str, most_accurate: str) -> dict:
    """What the evaluation cost against what the pick saves per query: its total net energy (the energy table's
    rows that were measured or estimated), the saving per query against the largest candidate (the "bigger is
    better" choice) and against the most accurate one, and after how many production queries each repays it.
    A saving of 0 or less repays nothing (NaN queries)."""
    measured = costs[costs["net_wh"].notna()]
    total = float(measured["net_wh"].sum())
    per_query = dict(zip(results["model"], results["energy_per_query_wh"]))
    largest = results.sort_values(["params_b", "energy_per_query_wh"], ascending=[False, False])["model"].iloc[0]

    def against(other: str) -> dict:
        saving = per_query[other] - per_query[pick] if other != pick else 0.0
        queries = math.ceil(total / saving) if saving > 0 and total == total else float("nan")
        return {"model": other, "saving_wh_per_query": saving, "queries": queries}

    return {"evaluation_wh": total, "stages_measured": list(measured["Stage"]),
            "stages_not_measured": list(costs.loc[costs["net_wh"].isna(), "Stage"]), "pick": pick,
            "largest": against(largest), "most_accurate": against(most_accurate)}


def payback_line(found: dict) -> str:
    """The card's line: what the evaluation cost and when the choice repays it."""
    def part(role: str, against: dict) -> str:
        if against["model"] == found["pick"]:
            return f"the pick is the {role} candidate, so it saves nothing against it"
        if against["saving_wh_per_query"] <= 0 or against["saving_wh_per_query"] != against["saving_wh_per_query"]:
            return (f"against the {role}, {against['model']}, the pick saves no energy per query, so nothing is "
                    "repaid in energy")
        return (f"against the {role}, {against['model']}, it saves {num(against['saving_wh_per_query'], '{:.3g}')} "
                f"Wh per query and repays the evaluation after about {against['queries']:,} queries")

    missing = f"; not measured: {', '.join(found['stages_not_measured'])}" if found["stages_not_measured"] else ""
    parts = [part("largest", found["largest"])]
    if found["most_accurate"]["model"] != found["largest"]["model"]:
        parts.append(part("most accurate", found["most_accurate"]))
    return (f"Payback: this evaluation cost {num(found['evaluation_wh'], '{:.3g}')} Wh net (the stages of \"What the "
            f"evaluation itself cost\"{missing}); " + "; ".join(parts) + ".")


def payback_columns(found: dict) -> dict:
    """The payback as ``results`` columns (the same on every row) and in the Hub ``run`` config."""
    return {"evaluation_energy_wh": found["evaluation_wh"],
            "saving_vs_largest_wh_per_query": found["largest"]["saving_wh_per_query"],
            "largest_model": found["largest"]["model"], "payback_queries_vs_largest": found["largest"]["queries"],
            "saving_vs_most_accurate_wh_per_query": found["most_accurate"]["saving_wh_per_query"],
            "most_accurate_model": found["most_accurate"]["model"],
            "payback_queries_vs_most_accurate": found["most_accurate"]["queries"]}
