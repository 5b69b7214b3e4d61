"""What each GPU is doing now: utilisation, memory used, temperature (from NVML, through
nvidia-smi). MIG instances report their GPU's figures (NVML has no per-instance utilisation).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

from launcher.gpu.inventory import Unit

QUERY = [
    "--query-gpu=uuid,utilization.gpu,memory.used,temperature.gpu",
    "--format=csv,noheader,nounits",
]


@dataclass(frozen=True)
class Reading:
    utilisation: int | None  # percent; None: NVML could not say ([N/A])
    memory_used_mib: int | None
    temperature_c: int | None


def _number(text: str) -> int | None:
    try:
        return int(float(text.strip()))
    except ValueError:
        return None  # "[N/A]", "[Not Supported]"


def parse(csv: str) -> dict[str, Reading]:
    """GPU UUID -> reading, from nvidia-smi's CSV answer."""
    found = {}
    for line in csv.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 4 or not parts[0].startswith("GPU-"):
            continue
        found[parts[0]] = Reading(_number(parts[1]), _number(parts[2]), _number(parts[3]))
    return found


def per_unit(readings: dict[str, Reading], units: list[Unit]) -> dict[str, Reading]:
    """Unit UUID -> reading; a MIG instance gets its GPU's."""
    unknown = Reading(None, None, None)
    return {u.uuid: readings.get(u.gpu_uuid or u.uuid, unknown) for u in units}


def read(executable: str = "nvidia-smi", timeout: float = 20) -> dict[str, Reading]:
    """Ask nvidia-smi now; an empty answer when it is missing or fails (nothing is idle then)."""
    path = shutil.which(executable)
    if path is None:
        return {}
    try:
        proc = subprocess.run([path, *QUERY], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {}
    return parse(proc.stdout) if proc.returncode == 0 else {}
