"""The GPU ledger against the engine, while the hub runs (the hub's periodic reconciliation).

A GPU is in the store's ledger from its grant until its server's container is gone. Two
things can still make the two disagree, and each round mends them:

* an allocation whose container no longer runs (it died, or was removed behind the hub's
  back, and no stop ran): the allocation ends (``vanished``) and the queue is served;
* a running container of this hub holding a GPU the ledger gives to another container (or to
  none): it is reported and stopped, so that no GPU is ever used by two students.

Servers still starting are left alone (their allocation comes before their container).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass

import docker.errors

from launcher import swarm
from launcher.gpu.broker import GpuBroker
from launcher.store import Allocation, off_loop

#: seconds a stray container gets to stop before it is killed
STOP_TIMEOUT = 10


@dataclass(frozen=True)
class Stray:
    container: str
    unit: str
    holders: tuple[str, ...]  # the containers the ledger gives the unit to


def gpu_containers(client, prefix: str) -> dict[str, set[str]]:
    """This hub's running containers -> the GPU units their device requests name."""
    found = {}
    for container in client.containers.list(filters={"name": f"{prefix}_"}):
        if container.name.startswith(f"{prefix}_"):
            requests = container.attrs["HostConfig"].get("DeviceRequests") or []
            found[container.name] = {d for r in requests for d in (r.get("DeviceIDs") or [])}
    return found


def gpu_services(client, prefix: str, gpu_resource: str) -> dict[str, set[str]]:
    """Swarm mode: this hub's services whose task runs -> the GPUs the engine gave it."""
    return {
        name: set(swarm.assigned_gpus(task, gpu_resource))
        for name, task in swarm.running_tasks(client, prefix).items()
    }


def strays(containers: dict[str, set[str]], active: list[Allocation]) -> list[Stray]:
    """The (container, unit) pairs the ledger does not give to that container (pure)."""
    holders: dict[str, set[str]] = defaultdict(set)
    for a in active:
        holders[a.unit_uuid].add(a.container)
    return [
        Stray(name, unit, tuple(sorted(holders[unit])))
        for name, units in sorted(containers.items())
        for unit in sorted(units)
        if name not in holders[unit]
    ]


def _stop(client, name: str, services: bool) -> None:
    with contextlib.suppress(docker.errors.NotFound):
        if services:
            client.api.remove_service(name)
        else:
            client.containers.get(name).stop(timeout=STOP_TIMEOUT)


async def reconcile(
    broker: GpuBroker,
    client,
    prefix: str,
    starting: Callable[[], Collection[tuple[str, str]]],
    gpu_resource: str = "",
) -> tuple[list[Allocation], list[Stray]]:
    """One round; ``starting()``: the (user, server) pairs whose start is under way;
    ``gpu_resource``: swarm mode (services, and the GPUs their tasks were given). Returns the
    allocations ended and the strays stopped."""
    if gpu_resource:
        containers = await asyncio.to_thread(gpu_services, client, prefix, gpu_resource)
    else:
        containers = await asyncio.to_thread(gpu_containers, client, prefix)
    pending = set(starting())
    vanished = await broker.reconcile(
        lambda a: a.container in containers or (a.username, a.server) in pending
    )
    active = await off_loop(broker.store.active)
    # a start under way may run before the ledger has the engine's GPU (swarm mode settles
    # it just after): not a stray
    starting_now = {a.container for a in active if (a.username, a.server) in pending}
    found = [s for s in strays(containers, active) if s.container not in starting_now]
    for name in dict.fromkeys(s.container for s in found):
        await asyncio.to_thread(_stop, client, name, bool(gpu_resource))
    return vanished, found
