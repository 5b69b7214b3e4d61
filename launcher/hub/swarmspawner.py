"""SwarmCourseSpawner: the course spawner of ``docker.mode: swarm``; each student's server is a
swarm service on one node of the swarm.

It is the CourseSpawner (the same steps, sentences, quotas, queue and start line), with what
is a container there a service here (built by launcher.hub.service):

* **Placement.** A student's workspace is a local volume of one node. Their first server of
  a course runs where the GPU the ledger chose is (or anywhere, for a CPU course), and the
  node it ran on is written down (the store's ``workspace_nodes``); every later server of the
  course runs on that node only, so a home is never split between nodes. When that node is
  drained or down, the start is refused with a sentence; the admin moves the workspace with
  ``launcher workspaces move``. GPUs of drained or down nodes are never handed out.
* **GPUs.** The ledger (launcher.gpu.broker) keeps admission, quotas, the queue and the
  course pools, and chooses the node; the engine enforces that a GPU is held by one task (the
  service asks for a count of the nodes' GPU resource) and chooses which one. Once the task
  runs, the ledger is made to say the GPU the engine gave (``GpuBroker.settle``), and that is
  what the student, the dashboard and ``launcher gpus`` show. A shared-GPU course (several
  students per GPU) asks nothing of the engine: it runs on the node of the ledger's GPU with
  ``NVIDIA_VISIBLE_DEVICES`` naming it, as in local mode.
* **Reaching the server.** It publishes its port on its node's address (a port the engine
  picks); the hub and the proxy reach it there. The nodes' containers reach the hub's API at
  ``docker.hub_address``.
* **A node that goes away.** ``poll`` finds the server's task gone with its node (drained or
  down): the server stops, its GPU is freed, and the student reads why at the top of their
  pages (launcher.hub.notices); nobody else is affected.
"""

from __future__ import annotations

import asyncio

import docker.errors
from jupyterhub.spawner import SpawnException
from traitlets import Unicode

from launcher import swarm
from launcher.gpu.allocator import GpuPolicy, eligible_units
from launcher.gpu.broker import CourseRules, GpuRefusal, Grant
from launcher.gpu.inventory import SwarmNode, parse_node
from launcher.hub import service
from launcher.hub.spawner import CourseSpawner
from launcher.settings import Course
from launcher.sshendpoint import CONTAINER_SSH_PORT
from launcher.store import off_loop, utcnow

#: task states on the way to running
STARTING = {"new", "pending", "assigned", "accepted", "preparing", "ready", "starting"}
#: seconds a stopped server's task may take to go (it frees its GPU and workspace then)
GONE_TIMEOUT = 30


class SwarmCourseSpawner(CourseSpawner):
    """One swarm service per student and course, from the course's pinned catalog image."""

    object_type = "service"
    object_id_key = "ID"

    gpu_resource = Unicode(
        "NVIDIA-GPU",
        config=True,
        help="""The generic resource the nodes advertise their GPUs as (``docker.gpu_resource``),
        e.g. ``NVIDIA-GPU`` for nodes started with ``--node-generic-resource
        NVIDIA-GPU=GPU-<uuid>``.""",
    )

    node = Unicode(
        "", help="The hostname of the node this server runs on (set when its task runs)."
    )

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._nodes: dict[str, SwarmNode] = {}  # hostname -> node, read at each start
        self._home = ""  # the node holding the workspace ("": none yet)
        self._target = ""  # the node the service must run on ("": any)
        self._engine_gpus = 0  # GPUs asked of the engine (exclusive courses)
        self._policy = GpuPolicy()  # the course's GPU policy (set at each start)
        self._runnable: set[str] = set()  # the GPUs this start may have (the engine's too)
        self._task_seen: dict | None = None  # the task found running by this start

    # --- placement ---

    async def _place(self, course_id: str) -> None:
        """The swarm's nodes, and the node holding the student's workspace: a sentence when
        that node cannot run it now."""
        self._nodes = {n.hostname: n for n in await self._read_nodes()}
        self._home = (
            await off_loop(self.catalog.store.workspace_node, self.user.name, course_id) or ""
        )
        self._target = self._home
        home = self._nodes.get(self._home)
        if self._home and (home is None or not home.usable):
            _ = self.reader._
            if home is None or home.availability != "active":
                text = _(
                    "Your {course} workspace is on the GPU server {node}, which the admin has "
                    "taken out of service. Your files are kept there; please ask the admin to "
                    "move your workspace to another server (launcher workspaces move)."
                )
            else:
                text = _(
                    "Your {course} workspace is on the GPU server {node}, which does not "
                    "answer right now. Your files are kept there; try again when it is back, "
                    "or ask the admin to move your workspace to another server."
                )
            raise SpawnException(
                text.format(course=course_id, node=self._home),
                reason="node_unavailable",
                status_code=503,
            )

    def _runnable_units(self, rules: CourseRules) -> set[str]:
        """The course's GPUs the image runs on, on usable nodes, and only those of the
        workspace's node once it has one (a sentence when that node has none of them)."""
        runnable = super()._runnable_units(rules)
        found = {
            u.uuid
            for u in self.broker.units
            if u.uuid in runnable
            and (u.node in self._nodes and self._nodes[u.node].usable)
            and (not self._home or u.node == self._home)
        }
        self._runnable = found
        if self._home and runnable and not found:
            raise SpawnException(
                self.reader._(
                    "Your {course} workspace is on the GPU server {node}, which has none of "
                    "the GPUs {course} may use. Your files are kept there; please ask the "
                    "admin to move your workspace to a server with them (launcher workspaces "
                    "move)."
                ).format(course=self.course_id, node=self._home),
                reason="node_without_gpus",
                status_code=503,
            )
        return found

    def _queued_message(self, course_id: str, position: int, length: int) -> str:
        if not self._home:
            return super()._queued_message(course_id, position, length)
        return self.reader._(
            "The GPUs of {node}, the server your {course} workspace is on, are busy: you are "
            "number {position} of {length} in the queue; your server starts there as soon as "
            "one of them is free"
        ).format(node=self._home, course=course_id, position=position, length=length)

    def _apply_course(self, course_id: str, course: Course, role: str) -> None:
        super()._apply_course(course_id, course, role)
        self._policy = GpuPolicy.of(course.gpu)

    def _use_grant(self, grant: Grant) -> None:
        if grant.note:
            self._emit(42, grant.note)
        self.gpu_uuids = grant.units  # the ledger's choice until the engine's is known
        units = [u for u in self.broker.units if u.uuid in grant.units]
        if units:
            self._target = units[0].node  # one server's GPUs are on one node (allocator)
        elif not self._target and self._policy.per_student:
            # a GPU course's CPU session (its fallback) makes its first home where the
            # course's GPUs are, so that its next start can have one
            nodes = [u.node for u in eligible_units(self.broker.units, self._policy)]
            usable = [n for n in nodes if n in self._nodes and self._nodes[n].usable]
            self._target = usable[0] if usable else ""
        # a shared-GPU course's students share a GPU: the engine is not asked for it
        self._engine_gpus = 0 if self._policy.mode == "shared" else len(units)

    # --- the service ---

    def get_env(self):
        env = super().get_env()
        if self._engine_gpus:
            # the node's runtime reads the engine's DOCKER_RESOURCE_... first (swarm-resource);
            # a node without that setting exposes no GPU rather than the image's "all"
            env["NVIDIA_VISIBLE_DEVICES"] = "void"
        return env

    async def create_object(self):
        home = await off_loop(self.catalog.store.workspace_node, self.user.name, self.course_id)
        if (home or "") != self._home:  # moved while this start waited (launcher workspaces)
            raise SpawnException(
                self.reader._(
                    "Your {course} workspace was just moved to another GPU server. Your files "
                    "are safe; start your server again."
                ).format(course=self.course_id),
                reason="workspace_moved",
                status_code=409,
            )
        self._emit(50, self.reader._("Creating your server with your workspace"))
        facts = service.ServiceFacts(
            name=self.object_name,
            image=swarm.pinned_ref(self.image, self._image_info or {}),
            command=await self.get_command(),
            env=self.get_env(),
            volumes=self.volume_binds,
            network=self.network_name,
            port=self.port,
            mem_limit=self.mem_limit,
            cpu_limit=self.cpu_limit,
            pids_limit=self.extra_host_config.get("pids_limit"),
            gpus=self._engine_gpus,
            gpu_resource=self.gpu_resource,
            node=self._target,
            labels={"io.launcher.user": self.user.name, "io.launcher.course": self.course_id},
            more_ports=(CONTAINER_SSH_PORT,) if self.ssh_on else (),
        )
        created = await self.docker("create_service", **service.service_kwargs(facts))
        return {"ID": created["ID"]}

    async def start_object(self):
        """Wait until the service's task runs (bounded by ``container_timeout`` around the
        whole start); then the ledger takes the GPUs the engine gave, and the node is the
        workspace's home."""
        _ = self.reader._
        where = self._target or _("a GPU server")
        self._emit(60, _("Starting your server on {node}").format(node=where))
        while True:
            task = await self._task()
            if task is None and await self.get_object() is not None:
                await asyncio.sleep(0.5)  # the orchestrator has not made the task yet
                continue
            state = task["Status"]["State"] if task else "removed"
            if state == "running":
                break
            if state not in STARTING:
                err = (task or {}).get("Status", {}).get("Err") or state
                raise SpawnException(
                    _(
                        "Your server could not start on {node}: {error}. Your files are "
                        "safe; please tell the admin."
                    ).format(node=self._node_of(task) or where, error=err),
                    reason="task_failed",
                    status_code=503,
                )
            await asyncio.sleep(0.5)
        self._task_seen = task
        self.node = self._node_of(task)
        if self._engine_gpus:
            assigned = swarm.assigned_gpus(task, self.gpu_resource)
            try:
                self.gpu_uuids = await self.broker.settle(
                    self.user.name, self.name, assigned, self._runnable, self.reader
                )
            except GpuRefusal as exc:
                raise SpawnException(
                    exc.message, reason=exc.reason, status_code=exc.status
                ) from None
        if self.gpu_uuids:
            self._emit(
                62,
                _("GPU assigned: {units}").format(
                    units=", ".join(self._describe(u) for u in self.gpu_uuids)
                ),
            )
        if self.node != self._home:
            await off_loop(
                self.catalog.store.set_workspace_node,
                self.user.name,
                self.course_id,
                self.node,
                utcnow(),
            )
            self._home = self.node

    def _node_by_id(self, task: dict | None) -> SwarmNode | None:
        """The node (as read at this start) a task was placed on."""
        node_id = (task or {}).get("NodeID", "")
        return next((n for n in self._nodes.values() if n.id == node_id), None)

    def _node_of(self, task: dict | None) -> str:
        node = self._node_by_id(task)
        return node.hostname if node else ""

    async def _read_nodes(self) -> list[SwarmNode]:
        return [parse_node(a, self.gpu_resource) for a in await self.docker("nodes")]

    async def _task(self) -> dict | None:
        """The service's current task: the one meant to run, else the newest."""
        try:
            tasks = await self.docker("tasks", filters={"service": self.object_name})
        except docker.errors.NotFound:
            return None
        if not tasks:
            return None
        tasks.sort(key=lambda t: (t.get("DesiredState") == "running", t.get("CreatedAt", "")))
        return tasks[-1]

    async def get_ip_and_port(self):
        task = self._task_seen or await self._task()
        node = self._node_by_id(task)
        port = swarm.published_port(task, self.port)
        if node is None or port is None:
            raise SpawnException(
                self.reader._(
                    "Your server started but publishes no address; please tell the admin."
                ),
                reason="no_address",
                status_code=503,
            )
        return node.address, port

    async def stop_object(self):
        """A service has no stop: removing it stops its task."""

    async def remove_object(self):
        await self._remove(wait=True)

    async def _remove(self, wait: bool) -> None:
        """Remove the service; ``wait``: until its tasks are gone (bounded), so that its GPU
        and its workspace are free for the next start (not for a task on a node that does
        not answer: the manager cannot see it go)."""
        try:
            tasks = await self.docker("tasks", filters={"service": self.object_name})
            await self.docker("remove_service", self.object_name)
        except docker.errors.NotFound:
            return
        live = [t["ID"] for t in tasks if t["Status"]["State"] in STARTING | {"running"}]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + GONE_TIMEOUT
        while wait and live and loop.time() < deadline:
            await asyncio.sleep(0.5)
            live = [t for t in live if await self._task_alive(t)]

    async def _task_alive(self, task_id: str) -> bool:
        try:
            task = await self.docker("inspect_task", task_id)
        except docker.errors.NotFound:
            return False
        return task["Status"]["State"] in STARTING | {"running"}

    # --- a server that stopped by itself ---

    async def poll(self):
        """None while the server's task runs on a usable node; else why it stopped, noted
        for the student's pages (its node drained or down, its memory, an exit)."""
        try:
            task = await self._task()
            node = await self._node_state(task)
        except docker.errors.APIError as exc:  # no leader right now, say: not a stop
            self.log.warning("Could not read the task of %s: %s", self._log_name, exc)
            return None
        state = task["Status"]["State"] if task else None
        gone = node is not None and (node.state == "down" or node.availability == "drain")
        if state == "running" and not gone:
            return None  # a node "unknown" (a manager restarting) or paused keeps its tasks
        if self._ran and not self.last_stop:
            self._note_task_stop(task, node)
        if task is None:
            return 0
        await self._remove(wait=node is not None and node.state == "ready")
        return f"task {state} on {node.hostname if node else '?'}"

    async def _node_state(self, task: dict | None) -> SwarmNode | None:
        """The node of the server's task; for a task not placed (the engine moved it off a
        drained node), the node the server ran on."""
        if task and task.get("NodeID"):
            try:
                attrs = await self.docker("inspect_node", task["NodeID"])
            except docker.errors.NotFound:
                return None
            return parse_node(attrs, self.gpu_resource)
        if self.node:
            for found in await self._read_nodes():
                if found.hostname == self.node:
                    return found
        return None

    def _note_task_stop(self, task: dict | None, node: SwarmNode | None) -> None:
        exit_code = (task or {}).get("Status", {}).get("ContainerStatus", {}).get("ExitCode")
        if task is None:
            self._record_stop("vanished", "")
        elif node is not None and node.availability == "drain":
            self._record_stop("node_drained", node.hostname)
        elif node is not None and node.state == "down":
            self._record_stop("node_down", node.hostname)
        else:
            self._record_stop("exited", "" if exit_code is None else str(exit_code))

    # --- state ---

    def get_state(self):
        state = super().get_state()
        if self.object_id and self.node:
            state["node"] = self.node
        return state

    def load_state(self, state):
        super().load_state(state)
        self.node = state.get("node", "") or ""

    def clear_state(self):
        super().clear_state()
        self.node = ""
