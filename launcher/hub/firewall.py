"""What student containers may reach: the hub's API, and nothing else on this host or the
cloud's metadata address.

Docker isolates containers from other networks, not from each other or from the host. The
students' network is created with inter-container traffic off (Docker's
``enable_icc=false``, :data:`launcher.dockerhost.NO_ICC`: no student reaches another's
ports), and these packet-filter rules,
tied to the network's bridge, keep them from the host's own services (everything but the hub
API port on the network's gateway) and from 169.254.0.0/16 (a cloud's metadata service
hands out the machine's credentials). The internet stays reachable (``pip install``).

:func:`rules` is pure; :func:`apply` and :func:`remove` run ``iptables`` (as root, where the
hub runs), each rule checked first, so a second start adds nothing.
"""

from __future__ import annotations

import shutil
import subprocess

METADATA = "169.254.0.0/16"


class FirewallError(RuntimeError):
    """The rules could not be set; the message is a sentence for the admin."""


def bridge_of(network_attrs: dict) -> str:
    """The host interface of a Docker bridge network."""
    options = network_attrs.get("Options") or {}
    return options.get("com.docker.network.bridge.name") or f"br-{network_attrs['Id'][:12]}"


def rules(
    bridge: str, gateway: str, hub_port: int, host_ports: list[int] = ()
) -> list[tuple[str, list[str]]]:
    """(chain, rule) pairs, in the order they must come first in their chain; ``host_ports``:
    other ports on the gateway the site lets students reach (a pip mirror on this host)."""
    from_students = ["-i", bridge]
    tcp_to_gateway = [*from_students, "-p", "tcp", "-d", gateway, "--dport"]
    answers = ["-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"]
    return [
        # the host: the hub's API on the gateway (and what the site allows), and answers to
        # what the host itself opened; nothing else
        *[("INPUT", [*tcp_to_gateway, str(p), "-j", "ACCEPT"]) for p in [hub_port, *host_ports]],
        ("INPUT", [*from_students, *answers]),
        ("INPUT", [*from_students, "-j", "DROP"]),
        # routed traffic: never the metadata address
        ("DOCKER-USER", [*from_students, "-d", METADATA, "-j", "DROP"]),
    ]


def _iptables(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["iptables", "-w", "10", *args], capture_output=True, text=True)


def apply(wanted: list[tuple[str, list[str]]]) -> None:
    """Insert each rule missing from its chain, in order, at the top of the chain."""
    if shutil.which("iptables") is None:
        raise FirewallError(
            "iptables is not installed, so student containers could reach this host's "
            "services: install it (apt-get install iptables) or set docker.isolate: false."
        )
    position: dict[str, int] = {}
    for chain, rule in wanted:
        position[chain] = position.get(chain, 0) + 1
        if _iptables("-C", chain, *rule).returncode == 0:
            continue
        done = _iptables("-I", chain, str(position[chain]), *rule)
        if done.returncode != 0:
            raise FirewallError(
                f"Could not add the rule `iptables -I {chain} {' '.join(rule)}`: "
                f"{done.stderr.strip()}. The hub must run as root to isolate student containers "
                "(or set docker.isolate: false)."
            )


def remove(bridge: str) -> int:
    """Delete every rule tied to ``bridge`` (when its network is removed); how many."""
    removed = 0
    for chain in ("INPUT", "DOCKER-USER"):
        listed = _iptables("-S", chain).stdout.splitlines()
        for line in listed:
            parts = line.split()
            if (
                parts[:2] == ["-A", chain]
                and "-i" in parts
                and parts[parts.index("-i") + 1] == bridge
            ):
                removed += _iptables("-D", chain, *parts[2:]).returncode == 0
    return removed
