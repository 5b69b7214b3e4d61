"""What GPUs this host has: from nvidia-smi (MIG instances included) or from the site file;
in swarm mode, what GPUs each node of the swarm has (its generic resources, or the site file's
devices with their ``node``).

An allocatable **unit** is a whole GPU, or one MIG instance of a MIG-enabled GPU. Units are
identified by their UUID (``GPU-...`` or ``MIG-...``), which Docker's DeviceRequests accept as
device IDs and which, unlike indices, do not change when the driver re-enumerates devices.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, replace


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
    node: str = ""  # swarm mode: the hostname of the node it is in ("": this host)
    node_labels: tuple[tuple[str, str], ...] = ()  # swarm mode: that node's labels

    @property
    def gpu_index(self) -> str:
        return self.index.split(":", 1)[0]

    @property
    def sort_key(self) -> tuple:
        """Lowest index first, then the node: GPU 0 of every node before any GPU 1."""
        return ([int(p) for p in self.index.split(":")], self.node)

    @property
    def name(self) -> str:
        """How a person reads it: ``GPU 2``, or ``GPU 2 on gpu-b`` in a swarm."""
        return f"GPU {self.index} on {self.node}" if self.node else f"GPU {self.index}"

    def matches(self, selector: str) -> bool:
        """A pool entry names a GPU by index or UUID (a MIG unit matches its parent too), or,
        in a swarm, every GPU of a node (``node:gpu-b``) or of the nodes with a label
        (``label:gpu=a100``)."""
        if selector.startswith("node:"):
            return bool(self.node) and selector[5:] == self.node
        if selector.startswith("label:"):
            key, _, value = selector[6:].partition("=")
            return (key, value) in self.node_labels
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
    return sorted(units, key=lambda u: u.sort_key)


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
                node=str(dev.get("node", "") or ""),
            )
        )
    return units


@dataclass(frozen=True)
class SwarmNode:
    """One node of the swarm as the manager reports it (``docker node ls``)."""

    id: str
    hostname: str
    address: str  # where the hub reaches the ports it publishes
    state: str  # ready, down, unknown, disconnected
    availability: str  # active, pause, drain
    labels: tuple[tuple[str, str], ...]
    gpus: tuple[str, ...]  # the UUIDs it advertises as the GPU resource

    @property
    def usable(self) -> bool:
        return self.state == "ready" and self.availability == "active"


def parse_node(attrs: dict, kind: str) -> SwarmNode:
    """A node from the engine's node object (pure); ``kind``: the GPU resource's name."""
    resources = attrs.get("Description", {}).get("Resources", {}).get("GenericResources") or []
    gpus = [
        r["NamedResourceSpec"]["Value"]
        for r in resources
        if r.get("NamedResourceSpec", {}).get("Kind") == kind
    ]
    spec, status = attrs.get("Spec", {}), attrs.get("Status", {})
    address = status.get("Addr", "")
    if address in ("", "0.0.0.0", "127.0.0.1"):  # a manager may report these (moby#35437)
        address = (attrs.get("ManagerStatus") or {}).get("Addr", address).rsplit(":", 1)[0]
    return SwarmNode(
        id=attrs["ID"],
        hostname=attrs.get("Description", {}).get("Hostname", ""),
        address=address,
        state=status.get("State", "unknown"),
        availability=spec.get("Availability", "active"),
        labels=tuple(sorted((spec.get("Labels") or {}).items())),
        gpus=tuple(gpus),
    )


def from_swarm(nodes: list[SwarmNode], declared: list[Unit]) -> list[Unit]:
    """Every node's GPUs: the declared devices (``gpus.devices`` with their ``node``), each
    checked against what its node advertises, else what the nodes advertise (numbered per
    node in their order). Drained or down nodes' GPUs are in it too: the ledger keeps what
    their servers held until they stop, and the spawner places nothing there."""
    by_host = {n.hostname: n for n in nodes}
    if declared:
        problems = []
        for u in declared:
            node = by_host.get(u.node)
            if node is None:
                problems.append(
                    f"The site file declares GPU {u.uuid} on node {u.node!r}, which is not in "
                    f"the swarm (its nodes: {', '.join(sorted(by_host)) or 'none'})."
                )
            elif u.uuid not in node.gpus:
                problems.append(
                    f"The site file declares GPU {u.uuid} on node {u.node}, which does not "
                    f"advertise it (it advertises: {', '.join(node.gpus) or 'no GPUs'})."
                )
        if problems:
            raise InventoryError(" ".join(problems))
        labels = {n.hostname: n.labels for n in nodes}
        return sorted(
            (replace(u, node_labels=labels[u.node]) for u in declared), key=lambda u: u.sort_key
        )
    units = [
        Unit(
            uuid=uuid,
            index=str(i),
            model="GPU",
            memory_mib=0,
            gpu_uuid=uuid,
            node=node.hostname,
            node_labels=node.labels,
        )
        for node in nodes
        for i, uuid in enumerate(node.gpus)
    ]
    return sorted(units, key=lambda u: u.sort_key)


def reconcile_declared(declared: list[Unit], found: list[Unit]) -> list[str]:
    """Sentences for every declared unit the host does not have (empty: all present)."""
    present = {u.uuid for u in found} | {u.index for u in found}
    return [
        f"The site file declares GPU {u.index} ({u.uuid}), but this host has no such GPU "
        f"(it has: {', '.join(x.uuid for x in found) or 'none'})."
        for u in declared
        if u.uuid not in present
    ]


def resolve(
    source: str,
    declared: list[dict],
    nvidia_smi: str = "nvidia-smi",
    swarm_nodes: list[SwarmNode] | None = None,
) -> list[Unit]:
    """The units the hub hands out, per the site file's ``gpus`` section.

    * ``static``: the declared devices, as declared;
    * ``nvidia-smi``: what the driver reports (fails if it cannot be asked);
    * ``auto``: the declared devices, checked against the driver when nvidia-smi is
      installed; with none declared, the driver's, or no GPUs on a host without a driver;
    * ``swarm`` (and ``auto`` in swarm mode, where ``swarm_nodes`` is the swarm's nodes): the
      nodes' GPUs (:func:`from_swarm`);
    * ``none``: no GPUs.
    A declared device the driver (or its node) does not report is refused with a sentence.
    """
    if source == "none":
        return []
    declared_units = from_declared(declared)
    if swarm_nodes is not None and source in ("auto", "swarm"):
        return from_swarm(swarm_nodes, declared_units)
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
                    f"not have (it has: {', '.join(u.name for u in units) or 'no GPUs'})."
                )
    return problems
