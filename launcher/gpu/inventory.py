"""What GPUs this host has: from nvidia-smi (MIG instances included) or from the site file.

An allocatable **unit** is a whole GPU, or one MIG instance of a MIG-enabled GPU. Units are
identified by their UUID (``GPU-...`` or ``MIG-...``), which Docker's DeviceRequests accept as
device IDs and which, unlike indices, do not change when the driver re-enumerates devices.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass


@dataclass(frozen=True)
class Unit:
    """One allocatable GPU or MIG instance."""

    uuid: str
    index: str  # "2" for a GPU, "2:1" for MIG device 1 of GPU 2
    model: str
    memory_mib: int
    gpu_uuid: str  # the physical GPU (itself for a whole GPU)
    mig_profile: str = ""  # e.g. "1g.10gb"; empty for a whole GPU
    compute_cap: str = ""  # e.g. "8.0" (A100), "12.0" (RTX 50 series); "" if unknown
    driver_version: str = ""  # the host's NVIDIA driver, e.g. "580.65.06"; "" if unknown

    @property
    def gpu_index(self) -> str:
        return self.index.split(":", 1)[0]

    def matches(self, selector: str) -> bool:
        """A pool entry names a GPU by index or UUID (a MIG unit matches its parent too)."""
        return selector in (self.uuid, self.index, self.gpu_uuid, self.gpu_index)


class InventoryError(RuntimeError):
    """The GPU inventory cannot be read or does not match the site file."""


QUERY = [
    "--query-gpu=index,uuid,name,memory.total,mig.mode.current,compute_cap,driver_version",
    "--format=csv,noheader,nounits",
]
_MIG_LINE = re.compile(
    r"^\s+MIG\s+(?P<profile>\S+)\s+Device\s+(?P<dev>\d+):\s+\(UUID:\s+(?P<uuid>MIG-[^)\s]+)\)"
)
_GPU_LINE = re.compile(r"^GPU\s+(?P<index>\d+):.*\(UUID:\s+(?P<uuid>GPU-[^)\s]+)\)")
_PROFILE_MEM = re.compile(r"(\d+)gb$")


def parse_nvidia_smi(query_csv: str, listing: str) -> list[Unit]:
    """Units from ``nvidia-smi --query-gpu=...`` CSV and ``nvidia-smi -L`` output (pure)."""
    gpus: dict[str, tuple[str, str, int, bool]] = {}
    extra: dict[str, dict[str, str]] = {}
    for line in query_csv.strip().splitlines():
        fields = [f.strip() for f in line.split(",")]
        if len(fields) < 4:
            raise InventoryError(f"unexpected nvidia-smi output line: {line!r}")
        index, uuid, name, memory = fields[:4]
        mig = len(fields) > 4 and fields[4].lower() == "enabled"
        gpus[uuid] = (index, name, int(float(memory)), mig)
        known = [f if f and not f.startswith("[") else "" for f in fields[5:7]]
        extra[uuid] = dict(zip(("compute_cap", "driver_version"), known))

    units: list[Unit] = []
    mig_units: dict[str, list[Unit]] = {}
    current: str | None = None
    for line in listing.splitlines():
        if m := _GPU_LINE.match(line):
            current = m["uuid"]
        elif (m := _MIG_LINE.match(line)) and current in gpus:
            index, name, memory, _ = gpus[current]
            mem = _PROFILE_MEM.search(m["profile"])
            mig_units.setdefault(current, []).append(
                Unit(
                    uuid=m["uuid"],
                    index=f"{index}:{m['dev']}",
                    model=name,
                    memory_mib=int(mem[1]) * 1024 if mem else 0,
                    gpu_uuid=current,
                    mig_profile=m["profile"],
                    **extra.get(current, {}),
                )
            )
    for uuid, (index, name, memory, mig) in gpus.items():
        if mig:
            units.extend(mig_units.get(uuid, []))
        else:
            units.append(
                Unit(
                    uuid=uuid,
                    index=index,
                    model=name,
                    memory_mib=memory,
                    gpu_uuid=uuid,
                    **extra.get(uuid, {}),
                )
            )
    return sorted(units, key=lambda u: [int(p) for p in u.index.split(":")])


def from_nvidia_smi(executable: str = "nvidia-smi", timeout: float = 20) -> list[Unit]:
    """Ask the driver (through nvidia-smi) for every GPU and MIG instance."""
    path = shutil.which(executable)
    if path is None:
        raise InventoryError(f"{executable} is not installed; is the NVIDIA driver installed?")
    try:
        query = subprocess.run([path, *QUERY], capture_output=True, text=True, timeout=timeout)
        listing = subprocess.run([path, "-L"], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise InventoryError(f"{executable} did not answer within {timeout:.0f}s") from None
    for proc in (query, listing):
        if proc.returncode != 0:
            raise InventoryError(
                f"{executable} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}"
            )
    return parse_nvidia_smi(query.stdout, listing.stdout)


def from_declared(devices: list[dict]) -> list[Unit]:
    """Units declared in the site file (``gpus.devices``)."""
    units = []
    for dev in devices:
        index = str(dev["index"])
        units.append(
            Unit(
                uuid=dev["uuid"],
                index=index,
                model=dev.get("model", "GPU"),
                memory_mib=int(dev.get("memory_mib", 0)),
                gpu_uuid=dev.get("gpu_uuid") or dev["uuid"],
                mig_profile=dev.get("mig_profile", ""),
                compute_cap=str(dev.get("compute_cap", "") or ""),
                driver_version=str(dev.get("driver_version", "") or ""),
            )
        )
    return units


def reconcile_declared(declared: list[Unit], found: list[Unit]) -> list[str]:
    """Sentences for every declared unit the host does not have (empty: all present)."""
    present = {u.uuid for u in found} | {u.index for u in found}
    return [
        f"The site file declares GPU {u.index} ({u.uuid}), but this host has no such GPU "
        f"(it has: {', '.join(x.uuid for x in found) or 'none'})."
        for u in declared
        if u.uuid not in present
    ]


def resolve(source: str, declared: list[dict], nvidia_smi: str = "nvidia-smi") -> list[Unit]:
    """The units the hub hands out, per the site file's ``gpus`` section.

    * ``static``: the declared devices, as declared;
    * ``nvidia-smi``: what the driver reports (fails if it cannot be asked);
    * ``auto``: the declared devices, checked against the driver when nvidia-smi is
      installed; with none declared, the driver's, or no GPUs on a host without a driver;
    * ``none``: no GPUs.
    A declared device the driver does not report is refused with a sentence.
    """
    if source == "none":
        return []
    declared_units = from_declared(declared)
    if source == "static":
        return declared_units
    if source == "nvidia-smi" or shutil.which(nvidia_smi):
        found = from_nvidia_smi(nvidia_smi)
        if declared_units:
            problems = reconcile_declared(declared_units, found)
            if problems:
                raise InventoryError(" ".join(problems))
            return declared_units
        return found
    return declared_units


def check_pools(units: list[Unit], pools: dict[str, list[str]]) -> list[str]:
    """Sentences for every pool entry that names no unit of this host."""
    problems = []
    for course, pool in pools.items():
        for selector in pool:
            if not any(u.matches(selector) for u in units):
                problems.append(
                    f"Course {course}'s gpu.pool names GPU {selector!r}, which this host does "
                    f"not have (it has: {', '.join(u.index for u in units) or 'no GPUs'})."
                )
    return problems
