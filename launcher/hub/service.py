"""Pure builder of a student's swarm service (``docker.mode: swarm``): the same image, user,
limits and mounts as a local container (launcher.hub.container), as a swarm service can
express them.

What a service cannot express on Docker 20.10 (API 1.41), and what replaces it:

* ``no-new-privileges``: the nodes' engines set it for every container
  (``"no-new-privileges": true`` in their daemon.json, see the multi-host how-to);
* GPU device requests: the node's GPUs are generic resources; the service asks for a count,
  the engine gives each task distinct GPUs (``DOCKER_RESOURCE_<KIND>`` in its environment,
  which the NVIDIA runtime reads when it is the node's default runtime with
  ``swarm-resource``);
* the container's removal: the hub removes the service at each stop; the node's engine keeps
  a few stopped tasks (``docker swarm update --task-history-limit``).

No Docker calls here; the spawner passes the result to docker-py's ``create_service``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from docker.types import (
    ContainerSpec,
    DriverConfig,
    EndpointSpec,
    Mount,
    Placement,
    Resources,
    RestartPolicy,
    TaskTemplate,
)

from launcher.hub.container import CONTAINER_USER, HOME, LOG_CONFIG
from launcher.swarm import SERVICE_LABEL


@dataclass(frozen=True)
class ServiceFacts:
    """What one student's service is made of (found by the spawner)."""

    name: str
    image: str  # pinned: the image's digest or ID, never a tag a node would resolve itself
    command: list[str]
    env: dict[str, str]
    volumes: dict[str, dict[str, str]]  # DockerSpawner's: source -> {"bind", "mode"}
    network: str
    port: int
    mem_limit: int | None = None
    cpu_limit: float | None = None
    pids_limit: int | None = None
    gpus: int = 0  # how many of the nodes' GPU resource (0: none asked of the engine)
    gpu_resource: str = "NVIDIA-GPU"
    node: str = ""  # the node's hostname it must run on ("": any)
    labels: dict[str, str] = field(default_factory=dict)
    more_ports: tuple[int, ...] = ()  # also published on the node (the sshd's: the SSH endpoint)


def mounts(volumes: dict[str, dict[str, str]]) -> list[Mount]:
    """A named volume (the workspace) is a volume mount, a host path a bind mount (which must
    exist at that path on every node: the materials on shared storage)."""
    return [
        Mount(
            target=spec["bind"],
            source=source,
            type="bind" if source.startswith("/") else "volume",
            read_only=spec.get("mode") == "ro",
        )
        for source, spec in volumes.items()
    ]


def service_kwargs(facts: ServiceFacts) -> dict:
    """Keyword arguments of ``APIClient.create_service`` for ``facts``."""
    container = ContainerSpec(
        facts.image,
        args=facts.command,
        env=facts.env,
        user=CONTAINER_USER,
        workdir=HOME,
        mounts=mounts(facts.volumes),
        cap_drop=["ALL"],
        labels={**facts.labels, SERVICE_LABEL: facts.name},
        stop_grace_period=10_000_000_000,
    )
    resources = Resources(
        mem_limit=facts.mem_limit or None,
        cpu_limit=int(facts.cpu_limit * 1e9) if facts.cpu_limit else None,
        generic_resources={facts.gpu_resource: facts.gpus} if facts.gpus else None,
    )
    if facts.pids_limit:
        resources.setdefault("Limits", {})["Pids"] = facts.pids_limit  # API 1.41
    task = TaskTemplate(
        container,
        resources=resources,
        # a server that dies stays dead until the student starts it again: the hub reads
        # why, and frees its GPU
        restart_policy=RestartPolicy(condition="none"),
        placement=Placement(constraints=[f"node.hostname=={facts.node}"] if facts.node else []),
        log_driver=DriverConfig(LOG_CONFIG["type"], LOG_CONFIG["config"]),
        networks=[facts.network],
    )
    return {
        "task_template": task,
        "name": facts.name,
        "labels": {**facts.labels, SERVICE_LABEL: facts.name},
        # the node's address and a port the engine picks: where the hub and proxy reach it
        "endpoint_spec": endpoint(facts),
    }


def endpoint(facts: ServiceFacts) -> EndpointSpec:
    """JupyterLab's port (and ``more_ports``) published on the task's node, each on a port
    the engine picks: where the hub, its proxy and its SSH endpoint reach it."""
    spec = EndpointSpec(ports={None: (facts.port, "tcp", "host")})
    for port in facts.more_ports:
        spec["Ports"].append({"Protocol": "tcp", "TargetPort": port, "PublishMode": "host"})
    return spec
