"""CodeCarbon around a phase of work: energy (Wh), CO2eq, duration, hardware.

One :class:`EnergyMeter` per process; ``with meter.phase("answer") as record:``
fills ``record`` when the block ends. CodeCarbon measures the whole machine
(``tracking_mode="machine"``), so a local model server's work is included.
Whether the figure is *measured* (RAPL for CPUs, NVML for NVIDIA GPUs) or
*estimated* (CodeCarbon's fallback from CPU load x TDP) is recorded per phase
and shown in the report.
"""

from __future__ import annotations

import contextlib
import logging
import warnings

from pipeline.config import Energy

MEASURED_CPU_MODES = {"intel_rapl", "intel_power_gadget", "windows_emi", "apple_powermetrics"}


class EnergyMeter:
    def __init__(self, settings: Energy):
        from codecarbon import OfflineEmissionsTracker

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
            )

    def method(self) -> str:
        """How the energy figure is obtained, e.g. 'measured (NVML)' or 'estimated (CPU load x TDP)'."""
        sources, estimated = [], False
        for hardware in self.tracker._hardware:  # CodeCarbon exposes no public accessor
            kind = type(hardware).__name__
            mode = getattr(hardware, "_mode", None)
            if kind == "GPU":
                sources.append("NVML")
            elif kind == "CPU":
                if mode in MEASURED_CPU_MODES:
                    sources.append("RAPL" if "rapl" in mode else mode)
                else:
                    estimated = True
        if estimated:
            return "estimated (CodeCarbon CPU load x TDP" + (f"; GPU via {', '.join(sources)})" if sources else ")")
        return f"measured ({', '.join(sources) or 'unknown'})"

    @contextlib.contextmanager
    def phase(self, name: str):
        record: dict = {}
        self.tracker.start_task(name)
        try:
            yield record
        finally:
            data = self.tracker.stop_task(name)
            record.update({
                "phase": name,
                "duration_s": round(data.duration, 3),
                "energy_wh": data.energy_consumed * 1000.0,
                "co2_kg": data.emissions,
                "cpu_energy_wh": data.cpu_energy * 1000.0,
                "gpu_energy_wh": data.gpu_energy * 1000.0,
                "ram_energy_wh": data.ram_energy * 1000.0,
                "cpu_model": data.cpu_model,
                "gpu_model": data.gpu_model,
                "gpu_count": data.gpu_count,
                "country_iso_code": data.country_iso_code,
                "energy_method": self.method(),
            })
