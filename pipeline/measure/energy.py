"""Energy accounting, in one place: what is measured, around what, and how it is charged to answers.

**Measuring.** :class:`EnergyMeter` wraps one CodeCarbon ``OfflineEmissionsTracker``
in machine mode: the CPU (RAPL where the kernel exposes it, else CodeCarbon's
CPU-load x TDP model), RAM (CodeCarbon's constant-power model) and *only the
GPUs it is given* (NVML, through CodeCarbon's ``gpu_ids``): the GPUs the model's
server is pinned to (:func:`pipeline.serving.servers.pinned_gpus`). ``with
meter.phase(name) as record:`` measures one window of model work and fills
``record`` when the block ends; with ``checkpoint=`` the window is cut into
CodeCarbon tasks every ``checkpoint_s`` seconds and the running totals are handed
over, so that a process killed with ``kill -9`` loses at most the last few seconds.

**Sessions.** A :class:`Session` is one run of a stage on one model (a candidate
answering, the judge grading, the generator writing questions). It appends its
record to a ``*.sessions.jsonl`` file at its start, at every checkpoint and at
its end; the last line of a session id is the session. Its phases: ``idle``
(the baseline, see below), ``load`` and the work itself (``answer``, repeated
windows ``answer.2`` ..., judge passes, ``generate`` ...). Every line is shaped
``{"session", "started", "outcome", <phase>: <phase record>, ...}``.

**Idle baseline.** Each session measures a few seconds (``energy.idle_s``) with
*nothing running*: after taking the machine's serving lock, before the model is
loaded; the sessions of one process that serves candidates one after the other
share the first one's (``Session.idle(share=True)``, the record names the session
that measured it). Net energy = gross - idle power x duration. The baseline is taken with
no model rather than with the model loaded and idle because (1) a model that
keeps hardware busy while it waits (vLLM's engine loop, a tensor-parallel group
of GPUs held at high clocks) should pay for it: that cost is part of serving it;
(2) the no-model state is the same for every candidate, so their baselines are
comparable; (3) under the lock no other model server runs. What the baseline
removes is the machine's floor: idle CPU and GPU power, and all of CodeCarbon's
constant RAM estimate.

**Charging.** :func:`charge` shares each session's net energy among the records
*that session produced*, in proportion to their latency; the caller then keeps
the records still in use. A session's energy therefore counts only for its
answers that are still in the table (pro-rating), and an answer whose session
left no record (killed before its first checkpoint) is flagged, never silently
given someone else's energy. Answers from a partial window (a killed session)
or a window at or below the idle baseline are flagged too, and :func:`ranked`
keeps them out of the energy per query that ranks the models.

**Estimates.** :func:`tdp_estimate_wh` is the study's TDP x devices x duration;
:func:`ecologits_wh` is EcoLogits' per-request model (parameters, output tokens,
latency). Remote endpoints are never measured here: their energy is one of these
estimates, labelled, or "not measured".
"""

from __future__ import annotations

import functools

import contextlib
import logging
import math
import re
import statistics
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from pipeline.config import Candidate, Energy
from pipeline.io import append_jsonl, read_jsonl

MEASURED_CPU_MODES = {"intel_rapl", "intel_power_gadget", "windows_emi", "apple_powermetrics"}

# The method labels the report shows.
CPU_MODEL = "estimated (CodeCarbon CPU model)"
TDP_TIME = "estimated (TDP × time)"
NOT_MEASURED = "not measured"
TIME_PROPORTIONAL = (CPU_MODEL, TDP_TIME)  # estimates that grow with duration

# energy_status of a charged record
MEASURED = "measured"
PARTIAL = "partial: session killed, energy up to its last checkpoint"
MISSING = "missing: no surviving session record"
REMOTE = "not measured: remote endpoint"
NOT_ABOVE_IDLE = "net ≤ 0: a window measured no more than the idle baseline"

REPEAT = re.compile(r".+\.\d+")  # a repeated window, "answer.2": averaged with its phase, never added
SUMMED = ("duration_s", "energy_wh", "co2_kg", "cpu_energy_wh", "gpu_energy_wh", "ram_energy_wh")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


# --------------------------------------------------------------------------- measuring


class EnergyMeter:
    """One CodeCarbon tracker for one served model; ``gpus`` are the GPUs it may count (none: CPU only)."""

    def __init__(self, settings: Energy, gpus: Sequence[int | str] = ()):
        from codecarbon import OfflineEmissionsTracker

        self.settings = settings
        self.gpus = [int(g) if str(g).isdigit() else str(g) for g in gpus]
        logging.getLogger("codecarbon").setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.tracker = OfflineEmissionsTracker(
                country_iso_code=settings.country_iso_code,
                save_to_file=False,
                log_level="error",
                measure_power_secs=1,
                tracking_mode="machine",
                allow_multiple_runs=True,  # two documents may be processed at once
                gpu_ids=self.gpus,  # never None: CodeCarbon would then count every GPU of the machine
            )
            self.tracker.get_detected_hardware()  # sets the hardware up now, not inside the first window
        self._only_pinned_gpus()

    def _only_pinned_gpus(self) -> None:
        """Workaround, codecarbon 3.3.2: its per-process hardware cache (``core/hardware_cache.py``,
        ``_canonical_gpu_ids``) files ``gpu_ids=[]`` under the same key as ``gpu_ids=None``, so a
        second tracker asked for no GPU can inherit a plan that counts every GPU. A meter for a
        model that uses no GPU drops CodeCarbon's GPU hardware (no public accessor exists)."""
        if not self.gpus:
            self.tracker._hardware = [hw for hw in self.tracker._hardware if type(hw).__name__ != "GPU"]

    def measured_gpus(self) -> list[int | str]:
        """The GPUs CodeCarbon actually counts (NVML indices)."""
        return sorted({g for hw in self.tracker._hardware if type(hw).__name__ == "GPU" for g in (hw.gpu_ids or [])},
                      key=str)

    def method(self) -> str:
        """How the figure is obtained: 'measured (RAPL + NVML)', 'estimated (CodeCarbon CPU model)', ..."""
        measured, cpu_estimated = [], False
        for hw in self.tracker._hardware:
            kind = type(hw).__name__
            if kind == "CPU":
                mode = getattr(hw, "_mode", None)
                if mode in MEASURED_CPU_MODES:
                    measured.append("RAPL" if "rapl" in mode else mode)
                else:
                    cpu_estimated = True
            elif kind == "GPU" and hw.gpu_ids:
                measured.append("NVML")
        if not measured:
            return CPU_MODEL
        label = f"measured ({' + '.join(measured)})"
        return label + (" + CPU " + CPU_MODEL if cpu_estimated else "")

    def _segment(self, data) -> dict:
        return {"duration_s": data.duration, "energy_wh": data.energy_consumed * 1000.0, "co2_kg": data.emissions,
                "cpu_energy_wh": data.cpu_energy * 1000.0, "gpu_energy_wh": data.gpu_energy * 1000.0,
                "ram_energy_wh": data.ram_energy * 1000.0, "cpu_model": data.cpu_model, "gpu_model": data.gpu_model,
                "country_iso_code": data.country_iso_code}

    def _summary(self, name: str, started: str, segments: list[dict]) -> dict:
        record = {"phase": name, "started": started, **{k: sum(s[k] for s in segments) for k in SUMMED}}
        last = segments[-1] if segments else {}
        record.update(cpu_model=last.get("cpu_model"), gpu_model=last.get("gpu_model"),
                      country_iso_code=last.get("country_iso_code"), gpus_measured=self.measured_gpus(),
                      energy_method=self.method(), segments=len(segments))
        record["duration_s"] = round(record["duration_s"], 3)
        return record

    @contextlib.contextmanager
    def phase(self, name: str, checkpoint: Callable[[dict], None] | None = None):
        """Measure the block; ``record`` is filled at its end. ``checkpoint(partial)`` gets running totals."""
        record: dict = {}
        segments: list[dict] = []
        lock, done = threading.Lock(), threading.Event()
        started = _now()

        def cut() -> None:  # close the current CodeCarbon task and open the next one
            data = self.tracker.stop_task()
            if data is not None:
                segments.append(self._segment(data))
            self.tracker.start_task(name)

        def loop() -> None:
            while not done.wait(self.settings.checkpoint_s):
                with lock:
                    if done.is_set():
                        return
                    cut()
                    partial = self._summary(name, started, segments)
                checkpoint(partial)

        self.tracker.start_task(name)
        thread = threading.Thread(target=loop, name=f"energy-{name}", daemon=True) if checkpoint else None
        if thread:
            thread.start()
        try:
            yield record
        finally:
            done.set()
            with lock:
                data = self.tracker.stop_task()
            if thread:
                thread.join()
            if data is not None:
                segments.append(self._segment(data))
            record.update(self._summary(name, started, segments))


SHARED_IDLE_MAX_AGE_S = 600.0  # a shared idle baseline is measured again after this long (GPUs warm and cool)
_SHARED_IDLE: dict[tuple, dict] = {}  # this process's idle baselines by how they were measured (Session.idle)


class Session:
    """One run of a stage on one model, appended to ``path`` as it goes (see the module docstring).

    ``with Session(path, meter, fingerprint=..., ...) as session:`` then
    ``session.idle()``, ``with session.phase("load"): ...``, ``with session.phase("answer"): ...``.
    Extra fields go in ``session.record`` (written with the next line). The
    outcome is "finished", or "interrupted" when the block raised.
    """

    def __init__(self, path: Path, meter: EnergyMeter, **fields):
        self.path, self.meter = Path(path), meter
        self.id = uuid.uuid4().hex[:12]
        self.record: dict = {"session": self.id, "started": _now(), "outcome": "running", **fields,
                             "gpus_measured": meter.measured_gpus(), "energy_method": meter.method()}
        self._lock = threading.Lock()

    def write(self) -> None:
        with self._lock:
            append_jsonl(self.path, self.record)

    def __enter__(self) -> Session:
        self.write()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.record["outcome"] = "finished" if exc_type is None else "interrupted"
        self.write()

    @contextlib.contextmanager
    def phase(self, name: str):
        def checkpoint(partial: dict) -> None:
            self.record[name] = partial
            self.write()

        try:
            with self.meter.phase(name, checkpoint=checkpoint) as record:
                yield record
        finally:
            self.record[name] = record
            self.write()

    def idle(self, seconds: float | None = None, share: bool = False) -> dict | None:
        """The idle baseline: ``seconds`` (default ``energy.idle_s``) with nothing running.

        ``share``: one process that serves models one after the other (the answer stage's candidates) measures
        the baseline once and gives each later session the same record, with ``shared_from`` naming the session
        that measured it, while it is younger than :data:`SHARED_IDLE_MAX_AGE_S` and was measured the same way
        (the same method, GPUs and length). The machine's floor does not change between two candidates a minute
        apart, and one baseline for all makes their net energies more comparable, not less; each candidate no
        longer waits ``seconds`` for it (2 × 5 s of the sample's answer stage, 8 × 10 s for the paper's nine)."""
        seconds = self.meter.settings.idle_s if seconds is None else seconds
        if seconds <= 0:
            return None
        how = (self.meter.method(), tuple(map(str, self.meter.measured_gpus())), seconds)
        shared = _SHARED_IDLE.get(how) if share else None
        if shared is not None and time.time() - shared["measured_at"] <= SHARED_IDLE_MAX_AGE_S:
            self.record["idle"] = dict(shared["record"], shared_from=shared["session"])
            self.write()
            return self.record["idle"]
        with self.phase("idle") as record:
            time.sleep(seconds)
        if share:
            _SHARED_IDLE[how] = {"record": dict(record), "session": self.id, "measured_at": time.time()}
        return record


# --------------------------------------------------------------------------- reading


def read_sessions(path: Path) -> list[dict]:
    """The sessions in ``path``, one per session id (its last line), in order of first appearance.

    A session whose last line is still "running" did not reach its end (kill -9,
    power cut): it is returned with outcome "killed" and the energy of its last
    checkpoint. Lines without a session id are sessions of their own.
    """
    sessions: dict[str, dict] = {}
    for i, line in enumerate(read_jsonl(Path(path))):
        sessions[line.get("session") or f"line-{i}"] = line
    found = []
    for session in sessions.values():
        if session.get("outcome") == "running":
            session = {**session, "outcome": "killed"}
        found.append(session)
    return found


def windows(session: dict, phase: str) -> list[dict]:
    """The measured windows of ``phase`` in a session: ``phase``, then its repeats ``phase.2``, ``phase.3`` ..."""
    found = [session[phase]] if isinstance(session.get(phase), dict) else []
    repeat = 2
    while isinstance(session.get(f"{phase}.{repeat}"), dict):
        found.append(session[f"{phase}.{repeat}"])
        repeat += 1
    return found


def idle_power_w(session: dict) -> float | None:
    """Mean power of the session's idle baseline (W), or None when it has none."""
    idle = session.get("idle")
    if not isinstance(idle, dict) or not idle.get("duration_s"):
        return None
    return idle["energy_wh"] * 3600.0 / idle["duration_s"]


def net_energy(record: dict, idle_w: float | None) -> dict:
    """Gross, idle and net energy of one window: net = gross - idle_w x duration.

    Net is not clipped: a window at or below the baseline (net <= 0) is a measurement problem that the
    report shows (:data:`NOT_ABOVE_IDLE`), not a free model; and clipping each window before repeats are
    averaged would bias the mean upwards. Without a baseline (``idle_w`` None) the idle share is unknown
    (NaN) and net = gross. CO2 is scaled with the energy (one carbon intensity per run).
    """
    gross, duration = record["energy_wh"], record["duration_s"]
    idle = math.nan if idle_w is None else idle_w * duration / 3600.0
    net = gross if idle_w is None else gross - idle
    co2 = record.get("co2_kg", 0.0) * (net / gross) if gross > 0 else 0.0
    return {"gross_wh": gross, "idle_wh": idle, "net_wh": net, "duration_s": duration, "co2_kg": co2}


def session_energy(session: dict, phase: str) -> dict | None:
    """A session's ``phase``: mean gross / idle / net over its windows, the spread of net, and how measured.

    ``sd_wh`` is the sample standard deviation of the windows' net energy (NaN for one window);
    ``not_above_idle`` counts the windows whose net is <= 0; ``idle_s`` is how long the idle baseline was
    measured (NaN: none). None when the session has no measured window of ``phase``.
    """
    found = windows(session, phase)
    if not found:
        return None
    idle_w = idle_power_w(session)
    nets = [net_energy(w, idle_w) for w in found]
    mean = {key: statistics.fmean(n[key] for n in nets) for key in nets[0]}
    idle_s = session["idle"]["duration_s"] if idle_w is not None else math.nan
    return {**mean, "sd_wh": statistics.stdev([n["net_wh"] for n in nets]) if len(nets) > 1 else math.nan,
            "windows": len(nets), "not_above_idle": sum(n["net_wh"] <= 0 for n in nets), "idle_s": idle_s,
            "idle_w": idle_w if idle_w is not None else math.nan,
            "method": found[0].get("energy_method", NOT_MEASURED),
            "gpus_measured": found[0].get("gpus_measured", []),
            "hardware": " + ".join(filter(None, [found[0].get("cpu_model"), found[0].get("gpu_model")])),
            "killed": session.get("outcome") == "killed"}


def phase_total(sessions: list[dict], phase: str | None = None) -> dict:
    """Net energy and duration of ``phase`` summed over sessions (loading, calibration ...);
    ``phase`` None: every measured phase but the idle baseline (a stage's whole cost, e.g. generation)."""
    names = [phase] if phase else sorted({k for s in sessions for k, v in s.items() if isinstance(v, dict)
                                          and "energy_wh" in v and k != "idle" and not REPEAT.fullmatch(k)})
    found = [e for name in names for e in (session_energy(s, name) for s in sessions) if e]
    return {"net_wh": sum(e["net_wh"] for e in found), "gross_wh": sum(e["gross_wh"] for e in found),
            "duration_s": sum(e["duration_s"] for e in found), "sessions": len(found),
            "killed": sum(e["killed"] for e in found), "not_above_idle": sum(e["not_above_idle"] > 0 for e in found),
            "method": found[-1]["method"] if found else NOT_MEASURED}


def charge(records: pd.DataFrame, sessions: list[dict], phase: str, weight: str) -> pd.DataFrame:
    """Each session's ``phase`` energy shared among the records it produced, in proportion to ``weight``.

    ``records``: every record produced (in use or not), with a ``session`` column
    and the ``weight`` column (e.g. latency). A record's share is
    weight / (sum of the weights of its session's records); equal shares when
    that sum is 0. Returns ``records`` with, per record: ``energy_wh`` (net),
    ``energy_gross_wh``, ``energy_idle_wh``, ``energy_sd_wh`` (the share of the
    session's spread over repeated windows), ``duration_s``, ``co2_kg``,
    ``energy_method``, ``gpus_measured``, ``hardware``, what the session recorded
    of its measurement (``energy_windows``: windows of ``phase``; ``idle_baseline_s``)
    and ``energy_status`` (measured; partial when the session was killed; net ≤ 0
    when a window measured no more than the idle baseline; missing when the session
    left no measured window).
    """
    by_id = {s.get("session"): s for s in sessions if s.get("session")}
    out = records.copy()
    columns = {"energy_wh": "net_wh", "energy_gross_wh": "gross_wh", "energy_idle_wh": "idle_wh",
               "energy_sd_wh": "sd_wh", "duration_s": "duration_s", "co2_kg": "co2_kg"}
    for column in columns:
        out[column] = math.nan
    out["energy_method"], out["gpus_measured"], out["hardware"], out["energy_status"] = NOT_MEASURED, "", "", MISSING
    out["energy_windows"], out["idle_baseline_s"] = math.nan, math.nan
    weights = pd.to_numeric(out[weight], errors="coerce").fillna(0.0) if weight in out else pd.Series(0.0, out.index)
    for session_id, rows in out.groupby("session", dropna=True).groups.items():
        energy = session_energy(by_id[session_id], phase) if session_id in by_id else None
        if energy is None:
            continue
        w = weights.loc[rows]
        share = w / w.sum() if w.sum() > 0 else pd.Series(1.0 / len(rows), index=rows)
        for column, key in columns.items():
            out.loc[rows, column] = share * energy[key]
        out.loc[rows, "energy_method"] = energy["method"]
        out.loc[rows, "gpus_measured"] = ",".join(map(str, energy["gpus_measured"]))
        out.loc[rows, "hardware"] = energy["hardware"]
        out.loc[rows, "energy_windows"], out.loc[rows, "idle_baseline_s"] = energy["windows"], energy["idle_s"]
        out.loc[rows, "energy_status"] = PARTIAL if energy["killed"] else \
            NOT_ABOVE_IDLE if energy["not_above_idle"] else MEASURED
    return out


# --------------------------------------------------------------------------- estimates


def tdp_estimate_wh(tdp_watts: float, devices: int, duration_s) -> float:
    """The study's estimate: TDP x devices x duration, in Wh."""
    return tdp_watts * devices * duration_s / 3600.0


def ecologits_wh(params_b: float, output_tokens: float, latency_s: float, zone: str) -> float:
    """EcoLogits' estimate of one request's energy (Wh): its LLM inference model from the
    parameter count, the output tokens and the latency, at PUE 1 (CodeCarbon's default too).
    A range (EcoLogits gives one for some inputs) is reported by its midpoint."""
    from ecologits.electricity_mix_repository import electricity_mixes
    from ecologits.impacts.llm import compute_llm_impacts

    if not output_tokens or pd.isna(output_tokens):
        return 0.0
    mix = electricity_mixes.find_electricity_mix(zone=zone) or electricity_mixes.find_electricity_mix(zone="WOR")
    impacts = compute_llm_impacts(
        model_active_parameter_count=params_b, model_total_parameter_count=params_b,
        output_token_count=float(output_tokens), request_latency=float(latency_s) if latency_s else None,
        if_electricity_mix_adpe=mix.adpe, if_electricity_mix_pe=mix.pe, if_electricity_mix_gwp=mix.gwp,
        if_electricity_mix_wue=mix.wue, datacenter_pue=1.0, datacenter_wue=0.0)
    value = impacts.energy.value
    kwh = (value.min + value.max) / 2 if hasattr(value, "min") else value
    return kwh * 1000.0


@functools.lru_cache(maxsize=32)
def carbon_intensity_kg_per_kwh(country_iso_code: str) -> float:
    """The country's grid carbon intensity as CodeCarbon computes emissions offline (its energy-mix data)."""
    from codecarbon.core.emissions import Emissions
    from codecarbon.core.units import Energy as Kwh
    from codecarbon.external.geography import GeoMetadata
    from codecarbon.input import DataSource

    return Emissions(DataSource()).get_country_emissions(Kwh.from_energy(kWh=1.0), GeoMetadata(country_iso_code))


def answer_energy(answers: pd.DataFrame, produced: pd.DataFrame, sessions: list[dict], candidate: Candidate,
                  settings: Energy) -> pd.DataFrame:
    """Energy columns for one candidate's answers in use (one row per question).

    ``answers``: the answers in use (``question_id``, ``session``, ``latency_s``, ``output_tokens``);
    ``produced``: every answer record of the candidate's current configuration
    (``question_id``, ``session``, ``latency_s``), in use or not: the base of each session's shares;
    ``sessions``: its ``answers/<name>.sessions.jsonl``.

    Local candidates: the net energy charged by :func:`charge` ("answer" windows).
    Remote candidates: never the client machine's energy; the TDP x devices x
    duration estimate when the profile declares the endpoint's hardware, else
    "not measured". Every row also gets the study's TDP estimate and EcoLogits'.
    """
    charged = charge(produced.drop_duplicates(["question_id", "session"]), sessions, "answer", "latency_s")
    columns = ["energy_wh", "energy_gross_wh", "energy_idle_wh", "energy_sd_wh", "duration_s", "co2_kg",
               "energy_method", "gpus_measured", "hardware", "energy_status", "energy_windows", "idle_baseline_s"]
    out = answers.drop(columns=[c for c in columns if c in answers]).merge(
        charged[["question_id", "session", *columns]], on=["question_id", "session"], how="left")
    out["energy_method"] = out["energy_method"].fillna(NOT_MEASURED)
    out["energy_status"] = out["energy_status"].fillna(MISSING)
    # CO2 = the net energy x the profile's country's carbon intensity (CodeCarbon's data): another country needs
    # no new measurement (energy.country_iso_code is in the report's key only).
    out["co2_kg"] = out["energy_wh"] / 1000.0 * carbon_intensity_kg_per_kwh(settings.country_iso_code)
    out[["gpus_measured", "hardware"]] = out[["gpus_measured", "hardware"]].fillna("")
    hardware = candidate.endpoint_hardware
    tdp, what = (hardware.tdp_watts, hardware) if hardware else (settings.tdp_watts, None)
    out["tdp_energy_wh"] = tdp_estimate_wh(tdp, candidate.devices, out["duration_s"])
    out["ecologits_wh"] = [ecologits_wh(candidate.params_b, tokens, latency, settings.country_iso_code)
                           for tokens, latency in zip(out["output_tokens"], out["latency_s"])]
    if candidate.engine == "openai":  # the client's energy is not the model's
        for column in ("energy_gross_wh", "energy_idle_wh", "energy_sd_wh"):
            out[column] = math.nan
        out["gpus_measured"], out["hardware"] = "", what.description if what else ""
        if what:
            out["energy_wh"] = out["tdp_energy_wh"]
            out["co2_kg"] = math.nan
            out["energy_method"], out["energy_status"] = TDP_TIME, f"estimated: {what.description}"
        else:
            out["energy_wh"], out["co2_kg"] = math.nan, math.nan
            out["energy_method"], out["energy_status"] = NOT_MEASURED, REMOTE
    return out


def ranked(status: str) -> bool:
    """Whether an answer's energy counts in the energy per query that ranks the models: measured in full
    (or a declared estimate). Partial windows (a killed session) and windows at or below the idle
    baseline are measurement problems, flagged and kept out of the ranking; missing ones have no energy."""
    return status == MEASURED or str(status).startswith("estimated")


def is_estimate(method: str) -> bool:
    return str(method).startswith("estimated")


def time_proportional(method: str) -> bool:
    """Whether a method's figure grows with duration alone (its ranking is then the duration ranking)."""
    return str(method) in TIME_PROPORTIONAL
